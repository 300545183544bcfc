// Task lifecycle: submit (idempotent) → poll (backoff, deadline) → download → decode.
#include "cvgen/remote/client.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cvgen/core/base64.hpp"
#include "cvgen/core/image_limits.hpp"
#include "cvgen/core/preflight.hpp"
#include "json_util.hpp"

namespace cvgen {
namespace remote {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

milliseconds msSince(Clock::time_point t0) {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
}

/** Counting semaphore over n-slot tasks. */
class Slots {
public:
    explicit Slots(int capacity) : cap_(capacity) {}
    /** Waits until `n` slots are free; false at the deadline or on cancel. */
    bool acquire(int n, Clock::time_point deadline, const std::atomic<bool>* cancel) {
        if (cap_ <= 0) {
            std::lock_guard<std::mutex> lock(mu_);
            used_ += n;
            return true;
        }
        n = std::min(n, cap_);  // a task bigger than the pool waits for all of it
        std::unique_lock<std::mutex> lock(mu_);
        while (used_ + n > cap_) {
            if (cancel && cancel->load()) return false;
            if (Clock::now() >= deadline) return false;
            cv_.wait_until(lock, std::min(deadline, Clock::now() + milliseconds(50)));
        }
        used_ += n;
        return true;
    }
    void release(int n) {
        if (cap_ > 0) n = std::min(n, cap_);
        {
            std::lock_guard<std::mutex> lock(mu_);
            used_ -= n;
        }
        cv_.notify_all();
    }
    int used() const {
        std::lock_guard<std::mutex> lock(mu_);
        return used_;
    }

private:
    int cap_;
    int used_ = 0;
    mutable std::mutex mu_;
    std::condition_variable cv_;
};

}  // namespace

struct TaskState {
    mutable std::mutex mu;
    Operation op = Operation::EXPAND;
    std::string taskId, externalTaskId, requestId;
    TaskObject last;
    bool haveObject = false;
    bool pollable = true;   // false for a synchronous upscale (finished at submit)
    std::string queryBase;  // create path; query = queryBase + "/" + id
    milliseconds submitTime{0};
    // Slots held until the task ends.
    std::shared_ptr<Slots> slots;
    int held = 0;
    void releaseSlots() {
        if (slots && held > 0) slots->release(held);
        held = 0;
    }
    ~TaskState() { releaseSlots(); }
};

std::string TaskHandle::taskId() const {
    if (!s_) return {};
    std::lock_guard<std::mutex> lock(s_->mu);
    return s_->taskId;
}
std::string TaskHandle::externalTaskId() const {
    if (!s_) return {};
    std::lock_guard<std::mutex> lock(s_->mu);
    return s_->externalTaskId;
}
Operation TaskHandle::operation() const {
    CV_Assert(s_);
    return s_->op;
}
TaskStatus TaskHandle::status() const {
    if (!s_) return TaskStatus::UNKNOWN;
    std::lock_guard<std::mutex> lock(s_->mu);
    return s_->last.status;
}

std::optional<TaskRef> taskRefFromStatus(const Status& st) {
    auto grab = [&](const std::string& key) -> std::string {
        const std::string& m = st.message();
        for (size_t pos = m.find(key); pos != std::string::npos; pos = m.find(key, pos + 1)) {
            if (pos > 0 && m[pos - 1] != ' ' && m[pos - 1] != '(' && m[pos - 1] != ';') continue;
            size_t b = pos + key.size(), e = b;
            while (e < m.size() && m[e] != ' ' && m[e] != ';' && m[e] != ')' && m[e] != ',') ++e;
            return m.substr(b, e - b);
        }
        return {};
    };
    TaskRef r{grab("task_id="), grab("external_task_id=")};
    if (r.taskId.empty() && r.externalTaskId.empty()) return std::nullopt;
    return r;
}

namespace {

// ---------- request encoding ----------

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

struct EncodedImage {
    std::vector<uint8_t> bytes;
    std::string mime;
};

// The one place images are prepared for upload: core's preflight conform() (pass-through of
// compliant bytes, otherwise decode → fix → encode within the endpoint's limits). For expand and
// upscale the geometry must stay the caller's (a result maps back onto the input), so a too
// small or too elongated image is refused (INVALID_ARGUMENT naming the rule) instead of padded;
// a too large one is scaled down, which keeps every ratio. Generation and omni references may be
// fixed freely.
Result<EncodedImage> encodeImage(const ImageSource& src, const char* field, Operation op) {
    ConformPolicy policy;
    if (op == Operation::EXPAND || op == Operation::UPSCALE) {
        policy.small = ConformPolicy::Small::FAIL;
        policy.aspect = ConformPolicy::Aspect::FAIL;
    }
    const Endpoint ep = op == Operation::EXPAND     ? Endpoint::EXPAND
                        : op == Operation::GENERATE ? Endpoint::GENERATE
                        : op == Operation::OMNI     ? Endpoint::OMNI
                                                    : Endpoint::UPSCALE;
    auto prepared = conform(src, ImageLimits::forEndpoint(ep), policy);
    if (!prepared.ok()) {
        const Status st = prepared.status();
        return Status(st.code(), std::string(field) + ": " + st.message());
    }
    EncodedImage out;
    out.bytes = std::move(prepared->bytes);
    out.mime = prepared->mime;
    return out;
}

Result<std::string> imageField(const ImageSource& src, const char* field, Operation op) {
    if (!src.url.empty()) return src.url;
    auto enc = encodeImage(src, field, op);
    if (!enc.ok()) return enc.status();
    return base64Encode(enc->bytes);
}

void writeKey(Writer& w, const Profile& p, const char* canonical) {
    const std::string k = p.field(canonical);
    w.Key(k.c_str(), rapidjson::SizeType(k.size()));
}
void writeStr(Writer& w, const std::string& s) {
    w.String(s.c_str(), rapidjson::SizeType(s.size()));
}

void writeCommon(Writer& w, const Profile& p, const TaskOptions& t, const std::string& ext,
                 bool withN = true) {
    if (withN) {
        writeKey(w, p, "n");
        if (p.nAsString)
            writeStr(w, std::to_string(t.n));
        else
            w.Int(t.n);
    }
    if (t.watermark) {
        writeKey(w, p, "watermark_info");
        w.StartObject();
        w.Key("enabled");
        w.Bool(true);
        w.EndObject();
    }
    if (!t.callbackUrl.empty()) {
        writeKey(w, p, "callback_url");
        writeStr(w, t.callbackUrl);
    }
    writeKey(w, p, "external_task_id");
    writeStr(w, ext);
}

Result<std::string> expandBody(const Profile& p, const ExpandRequest& r, const std::string& ext) {
    auto img = imageField(r.image, "image", Operation::EXPAND);
    if (!img.ok()) return img.status();
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    writeKey(w, p, "image");
    writeStr(w, *img);
    writeKey(w, p, "up_expansion_ratio");
    w.Double(r.ratios.up);
    writeKey(w, p, "down_expansion_ratio");
    w.Double(r.ratios.down);
    writeKey(w, p, "left_expansion_ratio");
    w.Double(r.ratios.left);
    writeKey(w, p, "right_expansion_ratio");
    w.Double(r.ratios.right);
    if (!r.prompt.empty()) {
        writeKey(w, p, "prompt");
        writeStr(w, r.prompt);
    }
    writeCommon(w, p, r.task, ext);
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
}

Result<std::string> generateBody(const Profile& p, const GenerateRequest& r,
                                 const std::string& ext) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    writeKey(w, p, "model_name");
    writeStr(w, r.model);
    writeKey(w, p, "prompt");
    writeStr(w, r.prompt);
    if (!r.negativePrompt.empty()) {
        writeKey(w, p, "negative_prompt");
        writeStr(w, r.negativePrompt);
    }
    if (!r.image.empty()) {
        auto img = imageField(r.image, "image", Operation::GENERATE);
        if (!img.ok()) return img.status();
        writeKey(w, p, "image");
        writeStr(w, *img);
        if (r.imageReference != ImageReference::NONE) {
            writeKey(w, p, "image_reference");
            w.String(toString(r.imageReference));
        }
        writeKey(w, p, "image_fidelity");
        w.Double(r.imageFidelity);
        if (r.imageReference == ImageReference::SUBJECT) {
            writeKey(w, p, "human_fidelity");
            w.Double(r.humanFidelity);
        }
    }
    writeKey(w, p, "resolution");
    w.String(toString(r.resolution));
    writeKey(w, p, "aspect_ratio");
    w.String(toString(r.aspectRatio));
    writeCommon(w, p, r.task, ext);
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
}

Result<std::string> omniBody(const Profile& p, const OmniRequest& r, const std::string& ext) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    writeKey(w, p, "model_name");
    writeStr(w, r.model);
    writeKey(w, p, "prompt");
    writeStr(w, r.prompt);
    if (!r.images.empty()) {
        writeKey(w, p, "image_list");
        w.StartArray();
        for (size_t i = 0; i < r.images.size(); ++i) {
            const std::string field = "image_list[" + std::to_string(i) + "]";
            auto img = imageField(r.images[i], field.c_str(), Operation::OMNI);
            if (!img.ok()) return img.status();
            w.StartObject();
            w.Key("image");
            writeStr(w, *img);
            w.EndObject();
        }
        w.EndArray();
    }
    if (!r.elementIds.empty()) {
        writeKey(w, p, "element_list");
        w.StartArray();
        for (const auto& id : r.elementIds) {
            w.StartObject();
            w.Key("element_id");
            const bool digits =
                !id.empty() && id.size() < 19 &&
                std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
            if (digits)
                w.Int64(std::stoll(id));
            else
                writeStr(w, id);
            w.EndObject();
        }
        w.EndArray();
    }
    writeKey(w, p, "resolution");
    w.String(toString(r.resolution));
    writeKey(w, p, "result_type");
    w.String(toString(r.resultType));
    if (r.resultType == OmniResultType::SERIES) {
        writeKey(w, p, "series_amount");
        w.Int(r.seriesAmount);
    }
    writeKey(w, p, "aspect_ratio");
    w.String(toString(r.aspectRatio));
    writeCommon(w, p, r.task, ext, r.resultType == OmniResultType::SINGLE);
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
}

std::string upscaleRequestJson(const UpscaleRequest& r) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    if (!r.prompt.empty()) {
        w.Key("prompt");
        writeStr(w, r.prompt);
    }
    w.Key("resemblance");
    w.Int(r.resemblance);
    w.Key("detail");
    w.Int(r.detail);
    w.Key("magic_prompt_option");
    w.String(toString(r.magicPrompt));
    w.Key("num_images");
    w.Int(r.numImages);
    if (r.seed) {
        w.Key("seed");
        w.Int64(*r.seed);
    }
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
}

// ---------- decoding results ----------

// A cheap end-of-stream check so a truncated PNG/JPEG is DATA_LOSS, not a half-grey image.
bool looksComplete(const std::string& b) {
    if (b.size() >= 8 && static_cast<unsigned char>(b[0]) == 0x89 && b.compare(1, 3, "PNG") == 0)
        return b.size() >= 12 && b.compare(b.size() - 8, 4, "IEND") == 0;
    if (b.size() >= 3 && static_cast<unsigned char>(b[0]) == 0xFF &&
        static_cast<unsigned char>(b[1]) == 0xD8) {
        size_t e = b.size();
        while (e > 2 && b[e - 1] == '\0') --e;  // some encoders pad
        return e >= 4 && static_cast<unsigned char>(b[e - 2]) == 0xFF &&
               static_cast<unsigned char>(b[e - 1]) == 0xD9;
    }
    return true;
}

Result<cv::Mat> decodeImage(const std::string& bytes) {
    if (bytes.empty()) return dataLoss("empty image body").withRetryable(true);
    if (!looksComplete(bytes)) return dataLoss("image truncated").withRetryable(true);
    cv::Mat buf(1, int(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
    cv::Mat m = cv::imdecode(buf, cv::IMREAD_UNCHANGED);
    if (m.empty()) return dataLoss("result is not a decodable image").withRetryable(true);
    if (m.depth() == CV_16U) m.convertTo(m, CV_8U, 1.0 / 257.0);
    if (m.depth() != CV_8U) m.convertTo(m, CV_8U);
    if (m.channels() == 1) cv::cvtColor(m, m, cv::COLOR_GRAY2BGR);
    return m;
}

// ---------- the client ----------

struct Deadline {
    Clock::time_point at;
    milliseconds left() const {
        return std::max(milliseconds(0),
                        std::chrono::duration_cast<milliseconds>(at - Clock::now()));
    }
    bool passed() const { return Clock::now() >= at; }
};

std::string taskRefText(const std::string& id, const std::string& ext) {
    std::string s;
    if (!id.empty()) s += "task_id=" + id;
    if (!ext.empty()) s += std::string(s.empty() ? "" : " ") + "external_task_id=" + ext;
    return s;
}

class TaskClientImpl final : public TaskClient {
public:
    TaskClientImpl(ClientParams p, cv::Ptr<HttpTransport> api, cv::Ptr<HttpTransport> plain)
        : p_(std::move(p)),
          api_(std::move(api)),
          plain_(std::move(plain)),
          slots_(std::make_shared<Slots>(p_.maxSlots)),
          rng_(p_.seed ? p_.seed : std::random_device{}()) {}

    const Profile& profile() const override { return p_.profile; }
    int slotsInUse() const override { return slots_->used(); }

    Result<TaskHandle> submit(const ExpandRequest& r, const CallOptions& opt) override {
        CVGEN_RETURN_IF_ERROR(validate(r));
        CVGEN_RETURN_IF_ERROR(supported(Operation::EXPAND));
        const std::string ext = externalId(r.task.externalTaskId);
        auto body = expandBody(p_.profile, r, ext);
        if (!body.ok()) return body.status();
        return submitJson(Operation::EXPAND, *body, ext, r.task.n, opt);
    }
    Result<TaskHandle> submit(const GenerateRequest& r, const CallOptions& opt) override {
        CVGEN_RETURN_IF_ERROR(validate(r));
        CVGEN_RETURN_IF_ERROR(supported(Operation::GENERATE));
        const std::string ext = externalId(r.task.externalTaskId);
        auto body = generateBody(p_.profile, r, ext);
        if (!body.ok()) return body.status();
        return submitJson(Operation::GENERATE, *body, ext, r.task.n, opt);
    }
    Result<TaskHandle> submit(const OmniRequest& r, const CallOptions& opt) override {
        CVGEN_RETURN_IF_ERROR(validate(r));
        CVGEN_RETURN_IF_ERROR(supported(Operation::OMNI));
        const std::string ext = externalId(r.task.externalTaskId);
        auto body = omniBody(p_.profile, r, ext);
        if (!body.ok()) return body.status();
        const int slots = r.resultType == OmniResultType::SERIES ? r.seriesAmount : r.task.n;
        return submitJson(Operation::OMNI, *body, ext, slots, opt);
    }
    Result<TaskHandle> submit(const UpscaleRequest& r, const CallOptions& opt) override;

    TaskHandle resume(const std::string& idOrExt, Operation op) override {
        CV_Assert(!idOrExt.empty());
        auto s = std::make_shared<TaskState>();
        s->op = op;
        s->taskId = idOrExt;  // the query route accepts either id
        s->queryBase = p_.profile.createPath(op);
        return TaskHandle(s);
    }

    Result<TaskObject> poll(TaskHandle& h, const CallOptions& opt) override {
        CV_Assert(h.valid());
        return queryTask(*h.state(), deadlineOf(opt), opt.cancel.get());
    }

    Result<TaskOutput> wait(TaskHandle& h, const CallOptions& opt) override {
        std::vector<TaskHandle> one{h};
        return std::move(waitAll(one, opt)[0]);
    }

    std::vector<Result<TaskOutput>> waitAll(std::vector<TaskHandle>& handles,
                                            const CallOptions& opt) override;

    void cancel(TaskHandle& h) override {
        if (!h.valid()) return;
        std::lock_guard<std::mutex> lock(h.state()->mu);
        h.state()->releaseSlots();
        h.state()->pollable = false;
    }

    ClientParams p_;

private:
    Status supported(Operation op) const {
        if (!p_.profile.supports(op))
            return Status(Code::UNIMPLEMENTED, std::string("provider '") + p_.profile.name +
                                                   "' has no " + toString(op) + " route");
        return Status();
    }

    std::string externalId(const std::string& given) {
        if (!given.empty()) return given;
        std::lock_guard<std::mutex> lock(rngMu_);
        static const char* hex = "0123456789abcdef";
        std::string s = "cvgen-";
        uint64_t a = rng_(), b = rng_();
        for (int i = 0; i < 16; ++i) s += hex[(i < 8 ? a >> (4 * i) : b >> (4 * (i - 8))) & 15];
        return s;
    }

    Deadline deadlineOf(const CallOptions& opt) const {
        const milliseconds d = opt.deadline.count() > 0 ? opt.deadline : p_.defaultDeadline;
        return Deadline{Clock::now() + d};
    }

    double jitter() {
        std::lock_guard<std::mutex> lock(rngMu_);
        std::uniform_real_distribution<double> u(1.0 - p_.poll.jitter, 1.0 + p_.poll.jitter);
        return u(rng_);
    }

    /** Sleeps `d` (clamped to the deadline); false if cancelled. */
    bool sleepFor(milliseconds d, const Deadline& dl, const std::atomic<bool>* cancel) {
        d = std::min(d, dl.left());
        if (d.count() <= 0) return !(cancel && cancel->load());
        if (p_.sleep) {
            p_.sleep(d);
        } else {
            const auto until = Clock::now() + d;
            while (Clock::now() < until) {
                if (cancel && cancel->load()) return false;
                std::this_thread::sleep_for(std::min(milliseconds(20), msSince(until) * -1));
            }
        }
        return !(cancel && cancel->load());
    }

    milliseconds backoff(int attempt, const Status& st) {
        double b = double(p_.retry.initialBackoff.count());
        for (int i = 1; i < attempt; ++i) b *= 2;
        milliseconds d(int64_t(std::min(b, double(p_.retry.maxBackoff.count())) * jitter()));
        if (st.code() == Code::RESOURCE_EXHAUSTED) d = std::max(d, p_.retry.rateLimitBackoff);
        if (st.retryAfter()) d = std::max(d, *st.retryAfter());
        return d;
    }

    HttpRequest apiRequest(HttpMethod m, const std::string& path, const Deadline& dl,
                           const std::atomic<bool>*) const {
        HttpRequest req;
        req.method = m;
        req.url = p_.profile.baseUrl + path;
        req.headers.emplace_back("Accept", "application/json");
        const milliseconds left = dl.left();
        req.timeout = std::max(milliseconds(1), std::min(left, p_.transportParams.totalTimeout));
        return req;
    }

    /** Looks the task up by external id. OK+object: exists; NOT_FOUND: certainly not created. */
    Result<TaskObject> lookup(const std::string& base, const std::string& ext, const Deadline& dl,
                              const std::atomic<bool>* cancel, std::string* requestId) {
        const std::string route = "GET " + base + "/" + ext;
        for (int attempt = 1;; ++attempt) {
            HttpRequest req = apiRequest(HttpMethod::GET, base + "/" + ext, dl, cancel);
            HttpResponse r = api_->send(req);
            Status st = statusFromResponse(r, route, false);
            if (st.ok()) return parseEnvelopeTask(r, route, requestId);
            if (st.code() == Code::NOT_FOUND) return st;
            if (!st.retryable() || attempt >= p_.retry.maxAttempts * 2 || dl.passed()) return st;
            if (!sleepFor(backoff(attempt, st), dl, cancel)) return cancelled("cancelled");
        }
    }

    Result<TaskObject> parseEnvelopeTask(const HttpResponse& r, const std::string& route,
                                         std::string* requestId) {
        rapidjson::Document d;
        if (!detail::parseJson(r.body, d) || !d.IsObject())
            return internalError(route + ": malformed JSON");
        if (requestId) *requestId = detail::getString(d, "request_id");
        const auto* data = detail::member(d, "data");
        if (!data) return internalError(route + ": answer without data");
        if (data->IsArray()) {  // a list answer: take the first task
            if (data->Empty()) return notFound(route + ": no such task");
            auto t = [&]() -> Result<TaskObject> {
                rapidjson::StringBuffer sb;
                rapidjson::Writer<rapidjson::StringBuffer> w(sb);
                (*data)[0].Accept(w);
                return parseTaskObject(sb.GetString());
            }();
            return t;
        }
        rapidjson::StringBuffer sb;
        rapidjson::Writer<rapidjson::StringBuffer> w(sb);
        data->Accept(w);
        auto t = parseTaskObject(sb.GetString());
        if (!t.ok()) return t.status().withContext(route);
        return t;
    }

    /** Creates the task exactly once (see the class comment). */
    Result<TaskObject> createOnce(const std::string& path, const std::function<HttpRequest()>& make,
                                  const std::string& ext, const Deadline& dl,
                                  const std::atomic<bool>* cancel, std::string* requestId,
                                  bool canLookup) {
        const std::string route = "POST " + path;
        bool wasAmbiguous = false;
        for (int attempt = 1;; ++attempt) {
            if (cancel && cancel->load()) return cancelled("cancelled before the create was sent");
            HttpRequest req = make();
            req.timeout =
                std::max(milliseconds(1), std::min(dl.left(), p_.transportParams.totalTimeout));
            HttpResponse r = api_->send(req);
            Status st = statusFromResponse(r, route, true);
            if (st.ok()) {
                auto created = parseCreateAnswer(r, route, requestId);
                if (created.ok()) return created;
                st = created.status();  // 2xx without a readable task: ambiguous below
            }
            // The create may have happened: no answer after sending, a 5xx, or a 2xx whose body
            // is unreadable (HTML from a gateway, cut-off JSON).
            const bool ambiguous =
                (!r.status.ok() && r.mayHaveReachedServer) ||
                (r.status.ok() && r.httpStatus >= 500) ||
                (r.status.ok() && r.httpStatus >= 200 && r.httpStatus < 300 &&
                 (st.code() == Code::INTERNAL || st.code() == Code::UNAVAILABLE));
            if (ambiguous) {
                if (!canLookup)
                    return unavailable(route +
                                       ": the request may have been processed but no "
                                       "answer came back; not re-sent (this route has no "
                                       "lookup by external id); " +
                                       taskRefText("", ext))
                        .withRetryable(false);
                log(LogLevel::WARN, route + ": no definite answer (" + st.message() +
                                        "); looking the task up by external_task_id");
                if (!sleepFor(backoff(1, st), dl, cancel)) return cancelled("cancelled");
                auto found = lookup(path, ext, dl, cancel, requestId);
                if (found.ok()) return found;
                if (found.code() != Code::NOT_FOUND) {
                    // Unknown whether it exists: never re-send; let the caller resume by ext id.
                    if (dl.passed())
                        return deadlineExceeded(route +
                                                ": create outcome unknown at the deadline; " +
                                                taskRefText("", ext));
                    return found.status().withContext(route + ": create outcome unknown; " +
                                                      taskRefText("", ext));
                }
                // Certainly not created: safe to send again.
                wasAmbiguous = true;
            } else if (st.providerCode() == 1201 && canLookup && !ext.empty() &&
                       (wasAmbiguous ||
                        st.message().find("external_task_id") != std::string::npos)) {
                // "external_task_id already exists": either an earlier create was still being
                // processed when a lookup said not found, or libcurl silently re-sent a create
                // whose reused keep-alive connection died without an answer (it does that for
                // any method). Our external id is the idempotency key: adopt that task.
                auto found = lookup(path, ext, dl, cancel, requestId);
                if (found.ok()) return found;
                return st;
            } else if (!st.retryable()) {
                return st;
            }
            if (attempt >= p_.retry.maxAttempts) return st;
            if (dl.passed())
                return deadlineExceeded(route + ": deadline passed before the task was created (" +
                                        st.message() + ")");
            if (!sleepFor(backoff(attempt, st), dl, cancel)) return cancelled("cancelled");
            if (dl.passed())
                return deadlineExceeded(route + ": deadline passed before the task was created (" +
                                        st.message() + ")");
        }
    }

    Result<TaskObject> parseCreateAnswer(const HttpResponse& r, const std::string& route,
                                         std::string* requestId) {
        rapidjson::Document d;
        if (!detail::parseJson(r.body, d) || !d.IsObject())
            return internalError(route + ": malformed JSON");
        const auto* data = detail::member(d, "data");
        if (data && data->IsArray() && !detail::member(d, "code")) {
            // Ideogram's synchronous body: {"created": …, "data": [{"url", "is_image_safe", …}]}.
            TaskObject t;
            t.status = TaskStatus::SUCCEED;
            t.statusText = "succeed";
            int i = 0;
            for (const auto& e : data->GetArray()) {
                TaskImage img;
                img.index = i++;
                img.url = detail::getString(e, "url");
                const auto* safe = detail::member(e, "is_image_safe");
                if (safe && safe->IsBool() && !safe->GetBool() && img.url.empty())
                    t.statusMessage = "result flagged unsafe by the provider";
                if (!img.url.empty()) t.images.push_back(img);
            }
            if (t.images.empty()) {
                t.status = TaskStatus::FAILED;
                t.statusText = "failed";
                if (t.statusMessage.empty()) t.statusMessage = "no result images";
            }
            return t;
        }
        return parseEnvelopeTask(r, route, requestId);
    }

    Result<TaskHandle> submitJson(Operation op, const std::string& body, const std::string& ext,
                                  int slots, const CallOptions& opt) {
        const std::string path = p_.profile.createPath(op);
        auto make = [&] {
            HttpRequest req;
            req.method = HttpMethod::POST;
            req.url = p_.profile.baseUrl + path;
            req.headers.emplace_back("Content-Type", "application/json");
            req.headers.emplace_back("Accept", "application/json");
            req.body = body;
            return req;
        };
        return submitWith(op, path, make, ext, slots, opt, true);
    }

    Result<TaskHandle> submitWith(Operation op, const std::string& path,
                                  const std::function<HttpRequest()>& make, const std::string& ext,
                                  int slots, const CallOptions& opt, bool canLookup) {
        const auto t0 = Clock::now();
        const Deadline dl = deadlineOf(opt);
        auto s = std::make_shared<TaskState>();
        s->op = op;
        s->externalTaskId = ext;
        s->queryBase = path;
        if (!slots_->acquire(slots, dl.at, opt.cancel.get())) {
            if (opt.cancel && opt.cancel->load()) return cancelled("cancelled waiting for slots");
            return deadlineExceeded("no free task slots before the deadline (" +
                                    std::to_string(slots_->used()) + " in use)");
        }
        s->slots = slots_;
        s->held = slots;
        auto t = createOnce(path, make, ext, dl, opt.cancel.get(), &s->requestId, canLookup);
        if (!t.ok()) return t.status();  // ~TaskState releases the slots
        s->taskId = t->taskId;
        if (s->externalTaskId.empty()) s->externalTaskId = t->externalTaskId;
        s->last = *t;
        s->haveObject = true;
        s->pollable = !t->taskId.empty();
        s->submitTime = msSince(t0);
        log(LogLevel::INFO,
            std::string(toString(op)) + " created: " + taskRefText(s->taskId, s->externalTaskId));
        return TaskHandle(s);
    }

    Result<TaskObject> queryTask(TaskState& s, const Deadline& dl,
                                 const std::atomic<bool>* cancel) {
        std::string id;
        {
            std::lock_guard<std::mutex> lock(s.mu);
            id = s.taskId.empty() ? s.externalTaskId : s.taskId;
            if (!s.pollable) {
                if (s.haveObject) return s.last;
                return cancelled("task no longer tracked");
            }
        }
        const std::string route = "GET " + s.queryBase + "/" + id;
        Status st;
        for (int attempt = 1;; ++attempt) {
            HttpRequest req = apiRequest(HttpMethod::GET, s.queryBase + "/" + id, dl, cancel);
            HttpResponse r = api_->send(req);
            st = statusFromResponse(r, route, false);
            if (st.ok()) {
                std::string rid;
                auto t = parseEnvelopeTask(r, route, &rid);
                if (!t.ok()) return t.status();
                std::lock_guard<std::mutex> lock(s.mu);
                if (s.taskId.empty() || s.taskId == s.externalTaskId || s.taskId == id)
                    s.taskId = t->taskId;
                if (s.externalTaskId.empty()) s.externalTaskId = t->externalTaskId;
                if (s.requestId.empty()) s.requestId = rid;
                s.last = *t;
                s.haveObject = true;
                return t;
            }
            if (!st.retryable() || attempt >= p_.retry.maxAttempts || dl.passed()) break;
            if (!sleepFor(backoff(attempt, st), dl, cancel)) return cancelled("cancelled");
        }
        return st;
    }

    Result<cv::Mat> download(const std::string& url, const Deadline& dl,
                             const std::atomic<bool>* cancel, const CallOptions& opt) {
        if (url.rfind("data:", 0) == 0) {
            auto bytes = base64Decode(url);
            if (!bytes.ok()) return dataLoss("result data URL: " + bytes.status().message());
            return decodeImage(std::string(bytes->begin(), bytes->end()));
        }
        Status st;
        for (int attempt = 1;; ++attempt) {
            HttpRequest req;
            req.method = HttpMethod::GET;
            req.url = url;
            req.followRedirects = true;
            req.maxResponseBytes = p_.maxDownloadBytes;
            req.timeout =
                std::max(milliseconds(1), std::min(dl.left(), p_.transportParams.totalTimeout));
            req.cancel = opt.cancel;
            HttpResponse r = plain_->send(req);
            if (!r.status.ok()) {
                st = r.status;
            } else if (r.httpStatus == 200) {
                const std::string* cl = r.header("content-length");
                if (cl && std::strtoull(cl->c_str(), nullptr, 10) != r.body.size()) {
                    st = dataLoss("download truncated: " + std::to_string(r.body.size()) + " of " +
                                  *cl + " bytes")
                             .withRetryable(true);
                } else {
                    auto m = decodeImage(r.body);
                    if (m.ok()) return m;
                    st = m.status();
                }
            } else {
                st = statusFromResponse(r, "GET result image", false);
                if (r.httpStatus == 403 || r.httpStatus == 404 || r.httpStatus == 410)
                    st = notFound("result image gone (expired URL?), HTTP " +
                                  std::to_string(r.httpStatus));
                if (st.ok()) st = unavailable("unexpected HTTP " + std::to_string(r.httpStatus));
            }
            if (!st.retryable() || attempt >= p_.downloadAttempts || dl.passed()) break;
            log(LogLevel::WARN, "download failed (" + st.message() + "), retrying");
            if (!sleepFor(backoff(attempt, st), dl, cancel)) return cancelled("cancelled");
        }
        return st.withContext("download");
    }

    Result<TaskOutput> finish(TaskState& s, const Deadline& dl, const CallOptions& opt,
                              Clock::time_point t0, milliseconds waited) {
        TaskObject t;
        TaskOutput out;
        {
            std::lock_guard<std::mutex> lock(s.mu);
            t = s.last;
            out.taskId = s.taskId;
            out.externalTaskId = s.externalTaskId;
            out.requestId = s.requestId;
            out.timings.submit = s.submitTime;
            s.releaseSlots();
        }
        out.provider = p_.profile.name;
        if (t.status == TaskStatus::FAILED) {
            return failedPrecondition(
                       std::string(toString(s.op)) + " task failed: " +
                       (t.statusMessage.empty() ? "no reason given" : t.statusMessage) + " (" +
                       taskRefText(out.taskId, out.externalTaskId) + ")")
                .withRequestId(out.requestId);
        }
        out.taskStatus = t.statusText.empty() ? "succeed" : t.statusText;
        out.unitsDeducted = t.unitsDeducted;
        out.timings.wait = waited;
        const auto d0 = Clock::now();
        std::vector<TaskImage> imgs = t.images;
        std::sort(imgs.begin(), imgs.end(),
                  [](const TaskImage& a, const TaskImage& b) { return a.index < b.index; });
        if (imgs.empty())
            return dataLoss("task succeeded without result images (" +
                            taskRefText(out.taskId, out.externalTaskId) + ")");
        for (const auto& img : imgs) {
            auto m = download(img.url, dl, opt.cancel.get(), opt);
            if (!m.ok()) {
                Status st = m.status();
                return Status(st.code(), st.message() + " (image " + std::to_string(img.index) +
                                             ", " + taskRefText(out.taskId, out.externalTaskId) +
                                             ")")
                    .withRetryable(st.retryable())
                    .withHttpStatus(st.httpStatus());
            }
            ResultImage ri;
            ri.image = std::move(*m);
            ri.index = img.index;
            ri.url = img.url;
            ri.watermarkUrl = img.watermarkUrl;
            out.images.push_back(std::move(ri));
        }
        out.timings.download = msSince(d0);
        out.timings.total = out.timings.submit + msSince(t0);
        return out;
    }

    void log(LogLevel level, const std::string& line) {
        if (p_.log) p_.log(level, redact(line, secrets_));
    }

    cv::Ptr<HttpTransport> api_, plain_;
    std::shared_ptr<Slots> slots_;
    std::mutex rngMu_;
    std::mt19937_64 rng_;

public:
    std::vector<std::string> secrets_;
};

Result<TaskHandle> TaskClientImpl::submit(const UpscaleRequest& r, const CallOptions& opt) {
    CVGEN_RETURN_IF_ERROR(validate(r));
    CVGEN_RETURN_IF_ERROR(supported(Operation::UPSCALE));
    EncodedImage img;
    if (!r.image.url.empty()) {
        // Ideogram takes a file part only: fetch the URL first (size-capped, no auth header).
        const Deadline dl = deadlineOf(opt);
        HttpRequest req;
        req.url = r.image.url;
        req.followRedirects = true;
        req.maxResponseBytes = size_t(10) << 20;
        req.timeout =
            std::max(milliseconds(1), std::min(dl.left(), p_.transportParams.totalTimeout));
        HttpResponse resp = plain_->send(req);
        if (!resp.status.ok()) return resp.status.withContext("image URL");
        if (resp.httpStatus != 200)
            return invalidArgument("image: URL answered HTTP " + std::to_string(resp.httpStatus));
        auto enc = encodeImage(
            ImageSource::fromBytes(std::vector<uint8_t>(resp.body.begin(), resp.body.end())),
            "image", Operation::UPSCALE);
        if (!enc.ok()) return enc.status();
        img = std::move(*enc);
    } else {
        auto enc = encodeImage(r.image, "image", Operation::UPSCALE);
        if (!enc.ok()) return enc.status();
        img = std::move(*enc);
    }
    const std::string ext = externalId(r.externalTaskId);
    const std::string json = upscaleRequestJson(r);
    const std::string path = p_.profile.createPath(Operation::UPSCALE);
    const bool aggregator = p_.profile.auth != AuthStyle::API_KEY;
    const std::string fileName = img.mime == "image/jpeg"   ? "image.jpg"
                                 : img.mime == "image/webp" ? "image.webp"
                                                            : "image.png";
    const std::string bytes(img.bytes.begin(), img.bytes.end());
    auto make = [&] {
        HttpRequest req;
        req.method = HttpMethod::POST;
        req.url = p_.profile.baseUrl + path;
        req.headers.emplace_back("Accept", "application/json");
        req.parts.push_back({"image_request", "application/json", "", json});
        req.parts.push_back({"image_file", img.mime, fileName, bytes});
        if (aggregator) req.parts.push_back({"external_task_id", "", "", ext});
        return req;
    };
    // A synchronous route cannot be looked up: an ambiguous upscale is reported, not re-sent.
    return submitWith(Operation::UPSCALE, path, make, ext, 1, opt, false);
}

std::vector<Result<TaskOutput>> TaskClientImpl::waitAll(std::vector<TaskHandle>& handles,
                                                        const CallOptions& opt) {
    const auto t0 = Clock::now();
    const Deadline dl = deadlineOf(opt);
    const std::atomic<bool>* cancel = opt.cancel.get();
    struct Item {
        Clock::time_point due;
        milliseconds interval;
        bool done = false;
    };
    std::vector<std::optional<Result<TaskOutput>>> results(handles.size());
    std::vector<Item> items(handles.size());
    for (size_t i = 0; i < handles.size(); ++i) {
        CV_Assert(handles[i].valid());
        TaskState& s = *handles[i].state();
        bool terminal, first;
        {
            std::lock_guard<std::mutex> lock(s.mu);
            terminal = s.haveObject && isTerminal(s.last.status);
            first = s.haveObject;  // just created: give it the first delay
            if (!s.pollable && !terminal)
                results[i] = Result<TaskOutput>(cancelled("task cancelled"));
        }
        items[i].interval = p_.poll.interval;
        items[i].due =
            first ? Clock::now() + milliseconds(int64_t(p_.poll.firstDelay.count() * jitter()))
                  : Clock::now();
        if (results[i]) items[i].done = true;
        if (terminal && !results[i]) {
            results[i] = finish(s, dl, opt, t0, milliseconds(0));
            items[i].done = true;
        }
    }
    for (;;) {
        size_t next = handles.size();
        for (size_t i = 0; i < handles.size(); ++i)
            if (!items[i].done && (next == handles.size() || items[i].due < items[next].due))
                next = i;
        if (next == handles.size()) break;
        TaskState& s = *handles[next].state();
        const auto wait = std::chrono::duration_cast<milliseconds>(items[next].due - Clock::now());
        if (cancel && cancel->load()) {
            for (size_t i = 0; i < handles.size(); ++i)
                if (!items[i].done) {
                    results[i] = Result<TaskOutput>(
                        cancelled("wait cancelled; " +
                                  taskRefText(handles[i].taskId(), handles[i].externalTaskId())));
                    items[i].done = true;
                }
            break;
        }
        if (dl.passed() || (wait.count() > 0 && Clock::now() + wait > dl.at)) {
            // Sleep to the deadline, then report every unfinished task with its ids.
            if (!dl.passed()) sleepFor(dl.left(), dl, cancel);
            for (size_t i = 0; i < handles.size(); ++i)
                if (!items[i].done) {
                    results[i] = Result<TaskOutput>(deadlineExceeded(
                        std::string(toString(handles[i].operation())) + " task still " +
                        toString(handles[i].status()) + " at the deadline; resume it later (" +
                        taskRefText(handles[i].taskId(), handles[i].externalTaskId()) + ")"));
                    items[i].done = true;
                }
            break;
        }
        if (wait.count() > 0 && !sleepFor(wait, dl, cancel)) continue;  // cancel handled above
        auto t = queryTask(s, dl, cancel);
        if (!t.ok()) {
            if (t.code() == Code::CANCELLED) continue;
            if (dl.passed() && t.status().retryable()) continue;  // reported as deadline above
            results[next] = Result<TaskOutput>(t.status().withContext(
                taskRefText(handles[next].taskId(), handles[next].externalTaskId())));
            items[next].done = true;
            continue;
        }
        if (isTerminal(t->status)) {
            results[next] = finish(s, dl, opt, t0, msSince(t0));
            items[next].done = true;
            continue;
        }
        items[next].due =
            Clock::now() + milliseconds(int64_t(items[next].interval.count() * jitter()));
        items[next].interval =
            std::min(p_.poll.maxInterval,
                     milliseconds(int64_t(items[next].interval.count() * p_.poll.multiplier)));
    }
    std::vector<Result<TaskOutput>> out;
    out.reserve(handles.size());
    for (auto& r : results)
        out.push_back(r ? std::move(*r) : Result<TaskOutput>(internalError("not waited")));
    return out;
}

// ---------- the synchronous Provider ----------

class RemoteProvider final : public Provider {
public:
    explicit RemoteProvider(cv::Ptr<TaskClient> c) : c_(std::move(c)) {}
    std::string name() const override { return c_->profile().name; }
    Result<TaskOutput> expand(const ExpandRequest& r, const CallOptions& o) override {
        return run(r, o);
    }
    Result<TaskOutput> generate(const GenerateRequest& r, const CallOptions& o) override {
        return run(r, o);
    }
    Result<TaskOutput> omni(const OmniRequest& r, const CallOptions& o) override {
        return run(r, o);
    }
    Result<TaskOutput> upscale(const UpscaleRequest& r, const CallOptions& o) override {
        return run(r, o);
    }
    Result<TaskOutput> resume(Operation op, const std::string& id, const CallOptions& o) override {
        if (id.empty()) return invalidArgument("task id: is required");
        if (!c_->profile().supports(op))
            return Status(Code::UNIMPLEMENTED,
                          "provider '" + name() + "' has no " + toString(op) + " route");
        TaskHandle h = c_->resume(id, op);
        return c_->wait(h, o);
    }

private:
    template <typename R>
    Result<TaskOutput> run(const R& r, const CallOptions& o) {
        const auto t0 = Clock::now();
        auto h = c_->submit(r, o);
        if (!h.ok()) return h.status();
        CallOptions rest = o;
        if (o.deadline.count() > 0)
            rest.deadline = std::max(milliseconds(1), o.deadline - msSince(t0));
        return c_->wait(*h, rest);
    }
    cv::Ptr<TaskClient> c_;
};

}  // namespace

Result<cv::Ptr<TaskClient>> TaskClient::create(const ClientParams& params) {
    CV_Assert(params.poll.multiplier >= 1.0 && params.poll.jitter >= 0 && params.poll.jitter < 1);
    CV_Assert(params.retry.maxAttempts >= 1 && params.downloadAttempts >= 1);
    CV_Assert(params.defaultDeadline.count() > 0 && params.maxSlots >= 0);
    if (params.profile.baseUrl.rfind("http://", 0) != 0 &&
        params.profile.baseUrl.rfind("https://", 0) != 0)
        return invalidArgument("profile base URL must start with http:// or https://");
    auto auth = Authenticator::create(params.profile.auth, params.credentials, params.jwt);
    if (!auth.ok()) return auth.status().withContext("provider '" + params.profile.name + "'");
    cv::Ptr<HttpTransport> wire =
        params.transport ? params.transport : createCurlTransport(params.transportParams);
    std::vector<std::string> secrets = (*auth)->secrets();
    for (const auto* s :
         {&params.credentials.apiKey, &params.credentials.secretKey, &params.credentials.accessKey})
        if (!s->empty()) secrets.push_back(*s);
    cv::Ptr<HttpTransport> logged = params.log ? withLogging(wire, params.log, secrets) : wire;
    auto impl = cv::makePtr<TaskClientImpl>(params, withAuth(logged, *auth), logged);
    impl->secrets_ = secrets;
    return cv::Ptr<TaskClient>(impl);
}

Result<cv::Ptr<Provider>> createProvider(const ClientParams& params) {
    auto c = TaskClient::create(params);
    if (!c.ok()) return c.status();
    return cv::Ptr<Provider>(cv::makePtr<RemoteProvider>(*c));
}

Result<cv::Ptr<Provider>> createProvider(const RemoteParams& rp) {
    auto profile = resolveProfile(rp.profile);
    if (!profile.ok()) return profile.status();
    ClientParams p;
    p.profile = *profile;
    if (!rp.baseUrl.empty()) {
        p.profile.baseUrl = rp.baseUrl;
        while (!p.profile.baseUrl.empty() && p.profile.baseUrl.back() == '/')
            p.profile.baseUrl.pop_back();
    }
    p.credentials = Credentials{rp.apiKey, rp.accessKey, rp.secretKey};
    p.transportParams.caFile = rp.caFile;
    p.transportParams.proxy = rp.proxy;
    p.transportParams.connectTimeout = rp.connectTimeout;
    p.transportParams.totalTimeout = rp.requestTimeout;
    p.defaultDeadline = rp.deadline;
    p.poll = rp.poll;
    p.retry = rp.retry;
    p.maxSlots = rp.maxSlots;
    p.log = rp.log;
    return createProvider(p);
}

}  // namespace remote
}  // namespace cvgen
