#include "cvgen/remote/task.hpp"

#include <cctype>
#include <ctime>
#include <iomanip>
#include <locale>
#include <sstream>

#include "cvgen/core/base64.hpp"
#include "cvgen/core/hmac.hpp"
#include "json_util.hpp"

namespace cvgen {
namespace remote {

const char* toString(TaskStatus s) noexcept {
    switch (s) {
        case TaskStatus::SUBMITTED:
            return "submitted";
        case TaskStatus::PROCESSING:
            return "processing";
        case TaskStatus::SUCCEED:
            return "succeed";
        case TaskStatus::FAILED:
            return "failed";
        case TaskStatus::UNKNOWN:
            break;
    }
    return "unknown";
}

namespace {

TaskStatus parseStatus(const std::string& s) {
    if (s == "submitted" || s == "queued" || s == "pending") return TaskStatus::SUBMITTED;
    if (s == "processing" || s == "running") return TaskStatus::PROCESSING;
    if (s == "succeed" || s == "succeeded" || s == "success") return TaskStatus::SUCCEED;
    if (s == "failed" || s == "fail" || s == "error") return TaskStatus::FAILED;
    return TaskStatus::UNKNOWN;
}

void appendImages(const rapidjson::Value& arr, std::vector<TaskImage>& out) {
    if (!arr.IsArray()) return;
    for (const auto& e : arr.GetArray()) {
        if (!e.IsObject()) continue;
        TaskImage img;
        img.index = int(detail::getInt(e, "index").value_or(int64_t(out.size())));
        img.url = detail::getString(e, "url");
        img.watermarkUrl = detail::getString(e, "watermark_url");
        out.push_back(std::move(img));
    }
}

Result<TaskObject> taskFromValue(const rapidjson::Value& v) {
    if (!v.IsObject()) return internalError("task object is not a JSON object");
    TaskObject t;
    t.taskId = detail::getString(v, "task_id");
    if (t.taskId.empty()) t.taskId = detail::getString(v, "id");
    if (t.taskId.empty()) return internalError("task object without task_id");
    t.statusText = detail::getString(v, "task_status");
    if (t.statusText.empty()) t.statusText = detail::getString(v, "status");
    t.status = parseStatus(t.statusText);
    t.statusMessage = detail::getString(v, "task_status_msg");
    if (const auto* info = detail::member(v, "task_info"))
        t.externalTaskId = detail::getString(*info, "external_task_id");
    if (t.externalTaskId.empty()) t.externalTaskId = detail::getString(v, "external_task_id");
    t.createdAtMs = detail::getInt(v, "created_at").value_or(0);
    t.updatedAtMs = detail::getInt(v, "updated_at").value_or(0);
    t.unitsDeducted = detail::getDouble(v, "final_unit_deduction").value_or(0);
    if (const auto* res = detail::member(v, "task_result")) {  // {} or null before success
        if (const auto* imgs = detail::member(*res, "images")) appendImages(*imgs, t.images);
        if (const auto* ser = detail::member(*res, "series_images")) appendImages(*ser, t.images);
    }
    return t;
}

bool looksLikeJson(const std::string& body) {
    for (char c : body) {
        if (std::isspace(static_cast<unsigned char>(c))) continue;
        return c == '{' || c == '[';
    }
    return false;
}

Status fromHttpStatus(int http) {
    if (http == 400 || http == 422) return invalidArgument("request rejected");
    if (http == 401) return unauthenticated("authentication failed");
    if (http == 402) return resourceExhausted("insufficient funds");
    if (http == 403) return permissionDenied("permission denied");
    if (http == 404) return notFound("not found");
    if (http == 408) return unavailable("request timeout").withRetryable(true);
    if (http == 409) return Status(Code::ALREADY_EXISTS, "conflict");
    if (http == 429) return resourceExhausted("too many requests").withRetryable(true);
    if (http >= 500) return unavailable("server error").withRetryable(true);
    return Status(Code::UNKNOWN, "unexpected HTTP status");
}

Status fromBusinessCode(int code, int http) {
    if (code >= 1000 && code <= 1002) return unauthenticated("authentication failed");
    if (code == 1003 || code == 1004)
        return unauthenticated(code == 1003 ? "token not yet valid" : "token expired")
            .withRetryable(true);
    if (code >= 1100 && code <= 1102)
        return resourceExhausted("account abnormal, in arrears or resource pack exhausted");
    if (code == 1103) return permissionDenied("no permission for this API or model");
    if (code == 1200 || code == 1201) return invalidArgument("invalid request");
    if (code == 1202 || code == 1203) return notFound("method or resource not found");
    if (code == 1300 || code == 1301) return invalidArgument("rejected by content policy");
    if (code == 1302) return resourceExhausted("request rate too high").withRetryable(true);
    if (code == 1303) return resourceExhausted("concurrent task limit reached").withRetryable(true);
    if (code == 1304) return permissionDenied("IP whitelist policy");
    if (code >= 5000 && code <= 5002)
        return unavailable("provider server error").withRetryable(true);
    return fromHttpStatus(http >= 400 ? http : 500);
}

}  // namespace

Result<TaskObject> parseTaskObject(const std::string& body) {
    rapidjson::Document d;
    if (!detail::parseJson(body, d)) return internalError("task object: malformed JSON");
    // Accept an envelope too, for convenience.
    if (d.IsObject() && detail::member(d, "data") && !detail::member(d, "task_id"))
        return taskFromValue(*detail::member(d, "data"));
    return taskFromValue(d);
}

std::optional<std::chrono::milliseconds> parseRetryAfter(
    const std::string& value, std::chrono::system_clock::time_point now) {
    if (value.empty()) return std::nullopt;
    bool digits = true;
    for (char c : value) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (digits) {
        if (value.size() > 9) return std::nullopt;
        return std::chrono::milliseconds(std::stoll(value) * 1000);
    }
    std::tm tm{};
    std::istringstream ss(value);
    ss.imbue(std::locale::classic());
    ss >> std::get_time(&tm, "%a, %d %b %Y %H:%M:%S");
    if (ss.fail()) return std::nullopt;
    const auto when = std::chrono::system_clock::from_time_t(timegm(&tm));
    const auto d = std::chrono::duration_cast<std::chrono::milliseconds>(when - now);
    return d.count() > 0 ? d : std::chrono::milliseconds(0);
}

Status statusFromResponse(const HttpResponse& r, const std::string& route, bool createRoute) {
    if (!r.status.ok()) return r.status.withContext(route);
    const int http = r.httpStatus;
    rapidjson::Document d;
    const bool json = detail::parseJson(r.body, d) && d.IsObject();
    Status st;
    std::string message, requestId;
    int code = 0;
    if (json) {
        code = int(detail::getInt(d, "code").value_or(0));
        message = detail::getString(d, "message");
        if (message.empty()) message = detail::getString(d, "error");
        if (message.empty()) message = detail::getString(d, "detail");
        requestId = detail::getString(d, "request_id");
    }
    if (http >= 200 && http < 300) {
        if (!json) {
            if (looksLikeJson(r.body))
                return internalError(route + ": malformed JSON in the provider's answer")
                    .withHttpStatus(http);
            return unavailable(route + ": the answer is not JSON (an HTML page from a gateway?)")
                .withHttpStatus(http)
                .withRetryable(true);
        }
        if (code == 0) return Status();
        st = fromBusinessCode(code, http);
    } else if (http == 404 && createRoute && (code == 0 || code == 1202)) {
        st = notFound("route not available at this provider (" + route + ")");
        message.clear();
    } else if (code != 0) {
        st = fromBusinessCode(code, http);
    } else {
        st = fromHttpStatus(http);
        if (!json && !r.body.empty()) message = "non-JSON error body";
    }
    std::string text = route + ": " + st.message();
    if (!message.empty() && message != st.message()) text += ": " + message;
    Status out = Status(st.code(), text)
                     .withRetryable(st.retryable())
                     .withHttpStatus(http)
                     .withProviderCode(code)
                     .withRequestId(requestId);
    if (const std::string* ra = r.header("retry-after"))
        if (auto d2 = parseRetryAfter(*ra)) out.withRetryAfter(*d2);
    return out;
}

namespace {

std::string hmacB64(const std::vector<uint8_t>& key, const std::string& msg) {
    return base64Encode(hmacSha256(std::string(key.begin(), key.end()), msg));
}

Result<std::vector<uint8_t>> webhookKey(const std::string& secret) {
    std::string s = secret;
    if (s.rfind("whsec_", 0) == 0) s = s.substr(6);
    auto key = base64Decode(s);
    if (!key.ok() || key->empty()) return invalidArgument("webhook secret: not valid base64");
    return key;
}

}  // namespace

std::string signWebhook(const std::string& secret, const std::string& webhookId,
                        const std::string& webhookTimestamp, const std::string& body) {
    auto key = webhookKey(secret);
    if (!key.ok()) return {};
    return "v1," + hmacB64(*key, webhookId + "." + webhookTimestamp + "." + body);
}

Status verifyWebhook(const std::string& secret, const std::string& webhookId,
                     const std::string& webhookTimestamp, const std::string& signatureHeader,
                     const std::string& body, std::chrono::system_clock::time_point now,
                     std::chrono::seconds tolerance) {
    auto key = webhookKey(secret);
    if (!key.ok()) return key.status();
    if (webhookId.empty()) return invalidArgument("webhook-id: missing");
    if (webhookTimestamp.empty() || webhookTimestamp.size() > 12)
        return invalidArgument("webhook-timestamp: missing or malformed");
    for (char c : webhookTimestamp)
        if (!std::isdigit(static_cast<unsigned char>(c)))
            return invalidArgument("webhook-timestamp: not Unix seconds");
    const long long ts = std::stoll(webhookTimestamp);
    const long long nowS =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    if (ts < nowS - tolerance.count() || ts > nowS + tolerance.count())
        return unauthenticated("webhook-timestamp outside the tolerance window");
    const std::string expected = hmacB64(*key, webhookId + "." + webhookTimestamp + "." + body);
    std::istringstream sigs(signatureHeader);
    std::string entry;
    while (sigs >> entry) {
        if (entry.rfind("v1,", 0) != 0) continue;
        const std::string sig = entry.substr(3);
        if (constantTimeEqual(sig, expected)) return Status();
    }
    return unauthenticated("webhook signature does not match");
}

}  // namespace remote
}  // namespace cvgen
