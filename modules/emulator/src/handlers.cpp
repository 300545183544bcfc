// The API routes of the emulator: auth, Kling-style creates, queries and lists, and the
// Ideogram upscale (synchronous or as a task).
#include <strings.h>
#include <cstdlib>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "crypto.hpp"
#include "cvgen/core/hmac.hpp"
#include "responses.hpp"
#include "server_impl.hpp"
#include "wire.hpp"

namespace cvgen::emulator::detail {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

}  // namespace

bool ServerImpl::keyAccepted(const std::string& key) const {
    bool ok = false;
    for (const auto& k : p_.apiKeys) ok = constantTimeEqual(k, key) || ok;
    return ok;
}

/** Bearer auth of the Kling and aggregator routes; fills the account or answers 401. */
bool ServerImpl::authBearer(const httplib::Request& req, Family fam, const std::string& rid,
                            httplib::Response& res, std::string* account) {
    const std::string h = req.get_header_value("Authorization");
    auto fail = [&](int code, const std::string& msg) {
        envelopeError(res, fam, 401, code, msg, rid);
        return false;
    };
    size_t start = 0;
    while (start < h.size() && h[start] == ' ') ++start;
    if (start == h.size()) return fail(1001, "Authorization header is empty");
    if (h.size() - start == 6 && strncasecmp(h.c_str() + start, "Bearer", 6) == 0)
        return fail(1001, "Authorization header is empty");
    if (h.size() - start < 7 || strncasecmp(h.c_str() + start, "Bearer ", 7) != 0)
        return fail(1002, "Authorization is invalid: expected 'Bearer <token>'");
    std::string token = h.substr(start + 7);
    while (!token.empty() && token.front() == ' ') token.erase(token.begin());
    while (!token.empty() && token.back() == ' ') token.pop_back();
    if (token.empty()) return fail(1001, "Authorization header is empty");
    if (openMode()) {
        const std::string iss = looksLikeJwt(token) ? jwtIssuerUnverified(token) : "";
        *account = iss.empty() ? "key:" + token : "ak:" + iss;
        return true;
    }
    if (keyAccepted(token)) {
        *account = "key:" + token;
        return true;
    }
    if (looksLikeJwt(token) && !p_.accessKey.empty()) {
        const JwtCheck c = verifyKlingJwt(token, p_.accessKey, p_.secretKey, nowMs() / 1000);
        if (c.code != 0) return fail(c.code, c.message);
        *account = "ak:" + c.issuer;
        return true;
    }
    return fail(1000, "Authentication failed: unknown API key");
}

/** Ideogram's `Api-Key` header (the official /upscale route). */
bool ServerImpl::authApiKey(const httplib::Request& req, const std::string& rid,
                            httplib::Response& res, std::string* account) {
    const std::string key = req.get_header_value("Api-Key");
    if (key.empty()) {
        envelopeError(res, Family::IDEOGRAM, 401, 1001, "missing Api-Key header", rid);
        return false;
    }
    if (!openMode() && !keyAccepted(key)) {
        envelopeError(res, Family::IDEOGRAM, 401, 1000, "invalid Api-Key", rid);
        return false;
    }
    *account = "key:" + key;
    return true;
}

std::string ServerImpl::resultBase(const httplib::Request& req) const {
    const std::string host = req.get_header_value("Host");
    if (host.empty()) return baseUrl();
    return std::string(tls_ ? "https" : "http") + "://" + host;
}

/** Image URLs: only this emulator's own result URLs can be read. */
Result<std::vector<uint8_t>> ServerImpl::fetchOwn(const httplib::Request& req,
                                                  const std::string& url) {
    const std::string notReachable =
        "image URL not reachable from the emulator (it only reads its own result URLs)";
    const size_t sep = url.find("://");
    const size_t slash = url.find('/', sep + 3);
    if (sep == std::string::npos || slash == std::string::npos)
        return invalidArgument(notReachable);
    const std::string hostPort = url.substr(sep + 3, slash - sep - 3);
    const std::string path = url.substr(slash);
    bool own = hostPort == req.get_header_value("Host");
    const std::string suffix = ":" + std::to_string(port_);
    if (!own && hostPort.size() > suffix.size() &&
        hostPort.compare(hostPort.size() - suffix.size(), suffix.size(), suffix) == 0) {
        const std::string h = hostPort.substr(0, hostPort.size() - suffix.size());
        own = h == "127.0.0.1" || h == "localhost" || h == "[::1]" || h == p_.host;
    }
    const Route r = resolve("GET", path.substr(0, path.find('?')));
    if (!own || r.action != Action::DOWNLOAD) return invalidArgument(notReachable);
    std::vector<uint8_t> bytes;
    switch (store_->result(r.id, r.file, &bytes)) {
        case ResultLookup::FOUND:
            return bytes;
        case ResultLookup::EXPIRED:
            return invalidArgument("image URL has expired");
        case ResultLookup::MISSING:
            break;
    }
    return invalidArgument("image URL not found on the emulator");
}

void ServerImpl::serveApi(const httplib::Request& req, const Route& route, const std::string& rid,
                          httplib::Response& res) {
    std::string account;
    if (route.family == Family::IDEOGRAM) {
        if (!authApiKey(req, rid, res, &account)) return;
    } else if (!authBearer(req, route.family, rid, res, &account)) {
        return;
    }
    if (route.kind == TaskKind::UPSCALE && route.action == Action::CREATE) {
        upscale(req, route, rid, account, res);
        return;
    }
    if (route.action == Action::QUERY) {
        auto task = store_->find(route.kind, account, route.id);
        if (!task) {
            envelopeError(res, route.family, 404, 1203, "task not found: " + route.id, rid);
            return;
        }
        envelopeOk(res, *task, rid);
        return;
    }
    if (route.action == Action::LIST) {
        int page[2] = {1, 30};
        const char* names[2] = {"pageNum", "pageSize"};
        const int limits[2] = {1000, 500};
        for (int i = 0; i < 2; ++i) {
            if (!req.has_param(names[i])) continue;
            const std::string v = req.get_param_value(names[i]);
            char* end = nullptr;
            const long n = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0' || n < 1 || n > limits[i]) {
                envelopeError(res, route.family, 400, 1201,
                              std::string(names[i]) + ": must be an integer in [1," +
                                  std::to_string(limits[i]) + "], got \"" + v + "\"",
                              rid);
                return;
            }
            page[i] = static_cast<int>(n);
        }
        std::string data = "[";
        for (const auto& t : store_->list(route.kind, account, page[0], page[1]))
            data += (data.size() > 1 ? "," : "") + t;
        envelopeOk(res, data + "]", rid);
        return;
    }
    // CREATE of a Kling-style task.
    auto parsed = parseCreate(
        route.kind,
        route.family == Family::KLING
            ? Dialect::KLING
            : (p_.aggregatorStrict ? Dialect::AGGREGATOR_STRICT : Dialect::AGGREGATOR),
        req.body, [&](const std::string& url) { return fetchOwn(req, url); }, engine_, p_.render,
        p_.strict);
    if (!parsed.ok()) {
        envelopeError(res, route.family, 400, parsed.status().providerCode(),
                      parsed.status().message(), rid);
        return;
    }
    TaskSpec spec;
    spec.kind = route.kind;
    spec.account = account;
    spec.externalId = parsed->externalId;
    spec.callbackUrl = parsed->callbackUrl;
    spec.slots = parsed->slots;
    spec.watermark = parsed->watermark;
    spec.watermarkGiven = parsed->watermarkGiven;
    spec.resultType = parsed->resultType;
    spec.resultBase = resultBase(req);
    spec.render = std::move(parsed->render);
    createTask(req, route, rid, std::move(spec), res);
}

void ServerImpl::createTask(const httplib::Request& req, const Route& route, const std::string& rid,
                            TaskSpec spec, httplib::Response& res) {
    if (auto f = faults_->draw(FaultPhase::CREATE, req.method, req.path))
        spec.fate = f->kind == FaultKind::TASK_STUCK ? TaskFate::STUCK : TaskFate::FAIL;
    spec.nullResultBeforeSuccess = p_.nullTaskResultBeforeSuccess && route.family != Family::KLING;
    std::string taskJson;
    const std::string ext = spec.externalId;
    switch (store_->create(std::move(spec), &taskJson)) {
        case TaskStore::CreateError::DUPLICATE:
            envelopeError(res, route.family, 400, 1201,
                          "external_task_id: \"" + ext + "\" already exists for this account", rid);
            return;
        case TaskStore::CreateError::CONCURRENCY:
            envelopeError(res, route.family, 429, 1303, "concurrency over the resource pack limit",
                          rid, std::chrono::seconds(1));
            return;
        case TaskStore::CreateError::NONE:
            break;
    }
    envelopeOk(res, taskJson, rid);
}

void ServerImpl::upscale(const httplib::Request& req, const Route& route, const std::string& rid,
                         const std::string& account, httplib::Response& res) {
    if (!req.is_multipart_form_data()) {
        envelopeError(res, route.family, 400, 1200,
                      "invalid request: expected multipart/form-data with image_request and "
                      "image_file",
                      rid);
        return;
    }
    std::string requestText, fileBytes;
    const bool hasRequest = req.has_file("image_request");
    if (hasRequest) requestText = req.get_file_value("image_request").content;
    if (req.has_file("image_file")) fileBytes = req.get_file_value("image_file").content;
    auto parsed =
        parseUpscale(hasRequest ? &requestText : nullptr, &fileBytes, p_.upscaleFactor, p_.strict);
    if (!parsed.ok()) {
        envelopeError(res, route.family, 400, parsed.status().providerCode(),
                      parsed.status().message(), rid);
        return;
    }
    if (route.family == Family::IDEOGRAM_AGG && p_.upscaleAsTask) {
        TaskSpec spec;
        spec.kind = TaskKind::UPSCALE;
        spec.account = account;
        spec.slots = parsed->request.numImages;
        spec.resultBase = resultBase(req);
        spec.render = upscaleRenderer(engine_, parsed->request, p_.render);
        createTask(req, route, rid, std::move(spec), res);
        return;
    }
    // Synchronous Ideogram answer: render now.
    const auto fate = faults_->draw(FaultPhase::CREATE, req.method, req.path);
    const bool unsafe = fate && fate->kind == FaultKind::TASK_FAILED;
    std::vector<std::string> urls;
    std::string resolution;
    if (!unsafe) {
        auto files = upscaleRenderer(engine_, parsed->request, p_.render)(false);
        if (!files.ok()) {
            envelopeError(res, route.family, 500, 5000, files.status().message(), rid);
            return;
        }
        std::vector<std::vector<uint8_t>> pngs;
        for (ImageFile& f : *files) {
            pngs.push_back(std::move(f.png));
            resolution = std::to_string(f.size.width) + "x" + std::to_string(f.size.height);
        }
        urls = store_->storeImmediate(store_->newId(), resultBase(req), pngs);
    }
    store_->countCreate("");
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("created");
    w.String(isoNow());
    w.Key("data");
    w.StartArray();
    for (int i = 0; i < parsed->request.numImages; ++i) {
        w.StartObject();
        w.Key("url");
        w.String(unsafe ? "" : urls[static_cast<size_t>(i) % urls.size()]);
        w.Key("prompt");
        w.String(parsed->request.prompt);
        w.Key("resolution");
        w.String(resolution);
        w.Key("is_image_safe");
        w.Bool(!unsafe);
        w.Key("seed");
        w.Int64(parsed->seed >= 0 ? parsed->seed : 12345);
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    json(res, 200, sb.GetString());
}

}  // namespace cvgen::emulator::detail
