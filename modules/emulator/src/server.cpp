#include "cvgen/emulator/server.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "capture.hpp"
#include "crypto.hpp"
#include "cvgen/core/codec.hpp"
#include "cvgen/local/local_provider.hpp"
#include "fault_injector.hpp"
#include "growing_pool.hpp"
#include "http_server.hpp"
#include "tasks.hpp"
#include "wire.hpp"

namespace cvgen::emulator {
namespace {

using namespace detail;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

/** Which protocol family a path belongs to: it decides auth and the error body shape. */
enum class Family { KLING, AGGREGATOR, IDEOGRAM, IDEOGRAM_AGG, RESULTS, STATS, UNKNOWN };
enum class Action { CREATE, QUERY, LIST, DOWNLOAD, STATS, REQUESTS, CLEAR_REQUESTS, NONE };

struct Route {
    Family family = Family::UNKNOWN;
    Action action = Action::NONE;
    TaskKind kind = TaskKind::GENERATION;
    std::string id;    // task or external id (QUERY), task id (DOWNLOAD)
    std::string file;  // DOWNLOAD: "<index>.png"
    std::string key;   // stats key, e.g. "GET /v1/images/editing/expand/{id}"
};

Route resolve(const std::string& method, const std::string& path) {
    Route r;
    r.key = method + " " + path;
    if (method == "GET" && path == "/_emulator/stats") {
        r.family = Family::STATS;
        r.action = Action::STATS;
        return r;
    }
    if (path == "/_emulator/requests" && (method == "GET" || method == "DELETE")) {
        r.family = Family::STATS;
        r.action = method == "GET" ? Action::REQUESTS : Action::CLEAR_REQUESTS;
        return r;
    }
    static const std::string kResults = "/_emulator/results/";
    if (path.rfind(kResults, 0) == 0) {
        const std::string rest = path.substr(kResults.size());
        const size_t slash = rest.find('/');
        if (method == "GET" && slash != std::string::npos && slash > 0 &&
            rest.find('/', slash + 1) == std::string::npos) {
            r.family = Family::RESULTS;
            r.action = Action::DOWNLOAD;
            r.id = rest.substr(0, slash);
            r.file = rest.substr(slash + 1);
        }
        r.key = method + " /_emulator/results/{task}/{file}";
        return r;
    }
    if (path == "/upscale") {
        if (method == "POST") {
            r.family = Family::IDEOGRAM;
            r.action = Action::CREATE;
            r.kind = TaskKind::UPSCALE;
        }
        return r;
    }
    static const std::string kAggUpscale = "/ideogram/upscale";
    if (path.rfind(kAggUpscale, 0) == 0) {
        const std::string rest = path.substr(kAggUpscale.size());
        r.kind = TaskKind::UPSCALE;
        if (rest.empty() && method == "POST") {
            r.family = Family::IDEOGRAM_AGG;
            r.action = Action::CREATE;
        } else if (rest.size() > 1 && rest[0] == '/' && rest.find('/', 1) == std::string::npos &&
                   method == "GET") {
            r.family = Family::IDEOGRAM_AGG;
            r.action = Action::QUERY;
            r.id = rest.substr(1);
            r.key = "GET /ideogram/upscale/{id}";
        }
        return r;
    }
    Family family;
    std::string rest;
    if (path.rfind("/v1/images/", 0) == 0) {
        family = Family::KLING;
        rest = path.substr(11);
    } else if (path.rfind("/kling/v1/images/", 0) == 0) {
        family = Family::AGGREGATOR;
        rest = path.substr(17);
    } else {
        return r;
    }
    static const std::pair<const char*, TaskKind> kKinds[] = {
        {"generations", TaskKind::GENERATION},
        {"editing/expand", TaskKind::EXPAND},
        {"omni-image", TaskKind::OMNI},
    };
    for (const auto& [name, kind] : kKinds) {
        const std::string n = name;
        if (rest.rfind(n, 0) != 0) continue;
        const std::string tail = rest.substr(n.size());
        const std::string base = path.substr(0, path.size() - tail.size());
        if (tail.empty()) {
            if (method == "POST") r.action = Action::CREATE;
            if (method == "GET") r.action = Action::LIST;
        } else if (tail.size() > 1 && tail[0] == '/' && tail.find('/', 1) == std::string::npos &&
                   method == "GET") {
            r.action = Action::QUERY;
            r.id = tail.substr(1);
            r.key = "GET " + base + "/{id}";
        }
        if (r.action != Action::NONE) {
            r.family = family;
            r.kind = kind;
        }
        return r;
    }
    return r;
}

std::string isoNow() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000000+00:00", &tm);
    return buf;
}

bool constantTimeEquals(const std::string& a, const std::string& b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

/** The "dropped connection" fault: shut the client's socket down so the response that httplib
 * writes next never arrives. The socket is found through the TLS object or, for plain HTTP, by
 * matching the connection's two ports among this process's descriptors. */
bool dropConnection(const httplib::Request& req) {
    if (req.ssl) {
        const int fd = SSL_get_fd(req.ssl);
        return fd >= 0 && ::shutdown(fd, SHUT_RDWR) == 0;
    }
    DIR* dir = opendir("/proc/self/fd");
    if (!dir) return false;
    auto portOf = [](const sockaddr_storage& s) -> int {
        if (s.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(s).sin_port);
        if (s.ss_family == AF_INET6)
            return ntohs(reinterpret_cast<const sockaddr_in6&>(s).sin6_port);
        return -1;
    };
    bool done = false;
    while (const dirent* e = readdir(dir)) {
        char* end = nullptr;
        const long fd = std::strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0') continue;
        sockaddr_storage local{}, peer{};
        socklen_t ll = sizeof local, pl = sizeof peer;
        if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &ll) != 0)
            continue;
        if (portOf(local) != req.local_port) continue;
        if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &pl) != 0)
            continue;
        if (portOf(peer) != req.remote_port) continue;
        done = ::shutdown(static_cast<int>(fd), SHUT_RDWR) == 0;
        break;
    }
    closedir(dir);
    return done;
}

class ServerImpl final : public Server {
public:
    explicit ServerImpl(const Params& p) : p_(p), masker_(knownSecrets(p)) {
        StoreParams sp;
        sp.latency = p.latency;
        sp.latencySd = p.latencySd;
        sp.resultTtl = p.resultTtl;
        sp.concurrencyLimit = p.concurrencyLimit;
        sp.queue = p.queue;
        sp.webhookSecret = p.webhookSecret;
        sp.seed = p.seed;
        store_ = std::make_unique<TaskStore>(sp);
        faults_ = std::make_unique<FaultInjector>(p.faults, p.seed);
        local::LocalProvider::Params lp;
        lp.seed = p.seed;
        engine_ = local::LocalProvider::create(lp);
    }

    ~ServerImpl() override { stop(); }

    Status start() override {
        std::lock_guard<std::mutex> lock(lifeMu_);
        if (started_) return failedPrecondition("the emulator was already started");
        tls_ = !p_.tlsCertFile.empty();
        {
            std::lock_guard<std::mutex> sl(sleepMu_);
            stopping_ = false;
        }
        auto handler = [this](const httplib::Request& req, httplib::Response& res) {
            handle(req, res);
        };
        auto onException = [this](const httplib::Request&, httplib::Response& res) {
            envelopeError(res, Family::KLING, 500, 5000, "internal server error", store_->newId());
        };
        if (!tls_) {
            // Plain HTTP: event-driven keep-alive (http_server.hpp), so an idle client holds no
            // thread.
            HttpServer::Params hp;
            hp.maxConnections = static_cast<size_t>(p_.maxConnections);
            http_ = std::make_unique<HttpServer>(hp, handler, onException, conns_);
            {
                // Pool threads inherit the mask: a client gone mid-answer is EPIPE, not SIGPIPE.
                sigset_t set, old;
                sigemptyset(&set);
                sigaddset(&set, SIGPIPE);
                pthread_sigmask(SIG_BLOCK, &set, &old);
                port_ = http_->start(p_.host, p_.port);
                pthread_sigmask(SIG_SETMASK, &old, nullptr);
            }
            if (port_ <= 0) {
                http_.reset();
                return unavailable("cannot listen on " + p_.host + ":" + std::to_string(p_.port));
            }
            store_->start();
            started_ = true;
            return Status();
        }
        for (const std::string& f : {p_.tlsCertFile, p_.tlsKeyFile})
            if (!std::ifstream(f).good()) return invalidArgument("TLS file cannot be read: " + f);
        auto ssl =
            std::make_unique<httplib::SSLServer>(p_.tlsCertFile.c_str(), p_.tlsKeyFile.c_str());
        if (!ssl->is_valid()) return invalidArgument("TLS certificate or key could not be loaded");
        svr_ = std::move(ssl);
        // httplib serves a connection per task and a keep-alive connection keeps its thread
        // until idle for the keep-alive timeout: grow a thread per connection up to
        // maxConnections (growing_pool.hpp) instead of httplib's fixed pool.
        GrowingPool::Params pp;
        pp.maxThreads = static_cast<size_t>(p_.maxConnections);
        auto counters = conns_;
        svr_->new_task_queue = [pp, counters] { return new GrowingPool(pp, counters, true); };
        svr_->set_payload_max_length(size_t(64) << 20);
        svr_->set_keep_alive_timeout(2);
        svr_->set_keep_alive_max_count(1000);
        // Headers and body are separate writes: without TCP_NODELAY, Nagle plus the client's
        // delayed ACK adds ~40 ms to every small answer.
        svr_->set_tcp_nodelay(true);
        // httplib's default also sets SO_REUSEPORT, which lets a second server bind a port that
        // is in use; keep only SO_REUSEADDR so a taken port is an error.
        int listenFd = -1;
        svr_->set_socket_options([&listenFd](int sock) {
            int yes = 1;
            setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
            listenFd = sock;
        });
        svr_->Get(".*", handler);
        svr_->Post(".*", handler);
        svr_->Delete(".*", handler);
        svr_->set_exception_handler([onException](const httplib::Request& req,
                                                  httplib::Response& res,
                                                  std::exception_ptr) { onException(req, res); });
        if (p_.port == 0) {
            port_ = svr_->bind_to_any_port(p_.host);
        } else {
            port_ = svr_->bind_to_port(p_.host, p_.port) ? p_.port : -1;
        }
        svr_->set_socket_options(nullptr);
        if (port_ <= 0) {
            svr_.reset();
            return unavailable("cannot listen on " + p_.host + ":" + std::to_string(p_.port));
        }
        // httplib 0.11 listens with a backlog of 5: many clients connecting at once overflow
        // the accept queue and wait for SYN retransmits (1 s, 3 s…). listen() again on the bound
        // socket only raises the backlog (capped by net.core.somaxconn).
        if (listenFd >= 0) ::listen(listenFd, std::max(SOMAXCONN, p_.maxConnections));
        store_->start();
        listener_ = std::thread([this] {
            blockSigpipe();  // the worker threads created by listen inherit the mask
            svr_->listen_after_bind();
        });
        for (int i = 0; i < 500 && !svr_->is_running(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        started_ = true;
        return Status();
    }

    int port() const override { return port_; }

    std::string baseUrl() const override {
        std::string host = p_.host;
        if (host.find(':') != std::string::npos) host = "[" + host + "]";
        return std::string(tls_ ? "https" : "http") + "://" + host + ":" + std::to_string(port_);
    }

    void stop() override {
        std::lock_guard<std::mutex> lock(lifeMu_);
        if (!started_) return;
        started_ = false;
        {
            std::lock_guard<std::mutex> sl(sleepMu_);
            stopping_ = true;
        }
        sleepCv_.notify_all();
        if (http_) http_->stop();
        if (svr_) svr_->stop();
        if (listener_.joinable()) listener_.join();
        store_->stop();
    }

    std::string statsJson() const override {
        rapidjson::StringBuffer sb;
        Writer w(sb);
        w.StartObject();
        w.Key("requests_by_route");
        w.StartObject();
        {
            std::lock_guard<std::mutex> lock(statsMu_);
            for (const auto& [k, n] : byRoute_) {
                w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
                w.Int64(n);
            }
        }
        w.EndObject();
        w.Key("connections");
        w.StartObject();
        const std::pair<const char*, const std::atomic<int64_t>*> counters[] = {
            {"open", &conns_->open},         {"peak_open", &conns_->peakOpen},
            {"accepted", &conns_->accepted}, {"threads", &conns_->threads},
            {"busy", &conns_->busy},         {"waiting", &conns_->waiting}};
        for (const auto& [name, value] : counters) {
            w.Key(name);
            w.Int64(value->load());
        }
        w.Key("max");
        w.Int(p_.maxConnections);
        w.EndObject();
        w.Key("faults_injected");
        w.StartObject();
        for (const auto& [k, n] : faults_->injected()) {
            w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
            w.Int64(n);
        }
        w.EndObject();
        w.EndObject();
        std::string s = sb.GetString();
        s.pop_back();  // '}'
        return s + "," + store_->statsMembers() + "}";
    }

private:
    // ---- responses -------------------------------------------------------------------------

    // With a charset parameter httplib does not compress the body: its brotli runs at quality
    // 11 (~2 ms per small answer), which made the emulator's CPU, not the client, bound loopback
    // batches (bench_batch: brotli was half of all CPU time).
    static constexpr const char* kJson = "application/json; charset=utf-8";

    static void json(httplib::Response& res, int status, const std::string& body) {
        res.status = status;
        res.set_content(body, kJson);
    }

    static void envelopeError(httplib::Response& res, Family family, int status, int code,
                              const std::string& message, const std::string& requestId,
                              std::chrono::seconds retryAfter = std::chrono::seconds(-1)) {
        rapidjson::StringBuffer sb;
        Writer w(sb);
        w.StartObject();
        if (family == Family::IDEOGRAM) {
            w.Key("error");
            w.String(message);
        } else {
            w.Key("code");
            w.Int(code);
            w.Key("message");
            w.String(message);
            w.Key("request_id");
            w.String(requestId);
        }
        w.EndObject();
        json(res, status, sb.GetString());
        if (retryAfter.count() >= 0)
            res.set_header("Retry-After", std::to_string(retryAfter.count()));
    }

    static void envelopeOk(httplib::Response& res, const std::string& dataJson,
                           const std::string& requestId) {
        json(res, 200,
             "{\"code\":0,\"message\":\"SUCCEED\",\"request_id\":\"" + requestId +
                 "\",\"data\":" + dataJson + "}");
    }

    // ---- the request pipeline ------------------------------------------------------------

    static std::vector<std::string> knownSecrets(const Params& p) {
        std::vector<std::string> s = p.apiKeys;
        s.push_back(p.accessKey);
        s.push_back(p.secretKey);
        s.push_back(p.webhookSecret);
        if (p.webhookSecret.rfind("whsec_", 0) == 0) s.push_back(p.webhookSecret.substr(6));
        return s;
    }

    void handle(const httplib::Request& req, httplib::Response& res) {
        const Route route = resolve(req.method, req.path);
        const std::string routeKey = route.family == Family::UNKNOWN ? "unknown" : route.key;
        {
            std::lock_guard<std::mutex> lock(statsMu_);
            ++byRoute_[routeKey];
        }
        switch (route.action) {
            case Action::STATS:
                json(res, 200, statsJson());
                return;
            case Action::REQUESTS:
                listRequests(req, res);
                return;
            case Action::CLEAR_REQUESTS:
                json(res, 200, "{\"cleared\":" + std::to_string(requests_.clear()) + "}");
                return;
            default:
                break;
        }
        const uint64_t seq = requests_.nextSeq();
        dispatch(req, route, res);
        requests_.add(captureRequest(req, routeKey, res.status, seq, nowMs(), masker_));
    }

    /** `GET /_emulator/requests?limit=N`: the last N captured requests (N in [1,1000], 100). */
    void listRequests(const httplib::Request& req, httplib::Response& res) {
        long n = 100;
        if (req.has_param("limit")) {
            const std::string v = req.get_param_value("limit");
            char* end = nullptr;
            n = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0' || n < 1 || n > long(kCaptureCapacity)) {
                envelopeError(res, Family::STATS, 400, 1201,
                              "limit: must be an integer in [1," +
                                  std::to_string(kCaptureCapacity) + "], got \"" + v + "\"",
                              store_->newId());
                return;
            }
        }
        json(res, 200, requests_.lastJson(static_cast<size_t>(n)));
    }

    void dispatch(const httplib::Request& req, const Route& route, httplib::Response& res) {
        const std::string rid = store_->newId();
        if (auto f = faults_->draw(FaultPhase::BEFORE, req.method, req.path)) {
            applyBefore(*f, route, rid, res);
            return;
        }
        bool downloadStreamed = false;
        switch (route.action) {
            case Action::DOWNLOAD:
                downloadStreamed = download(req, route, rid, res);
                break;
            case Action::CREATE:
            case Action::QUERY:
            case Action::LIST:
                serveApi(req, route, rid, res);
                break;
            default:
                envelopeError(res, route.family, 404, 1202,
                              "no such route: " + req.method + " " + req.path, rid);
                break;
        }
        if (downloadStreamed) return;
        if (auto f = faults_->draw(FaultPhase::AFTER, req.method, req.path))
            applyAfter(*f, req, res);
    }

    void applyBefore(const FaultSpec& f, const Route& route, const std::string& rid,
                     httplib::Response& res) {
        const Family fam = route.family;
        switch (f.kind) {
            case FaultKind::RATE_LIMIT:
                envelopeError(res, fam, 429, 1302, "request rate too high (emulated fault)", rid,
                              f.retryAfter);
                return;
            case FaultKind::CONCURRENCY:
                envelopeError(res, fam, 429, 1303,
                              "concurrency over the resource pack limit (emulated fault)", rid,
                              f.retryAfter);
                return;
            case FaultKind::SERVER_ERROR:
                envelopeError(res, fam, 500, 5000, "server internal error (emulated fault)", rid);
                return;
            case FaultKind::SERVICE_UNAVAILABLE:
                envelopeError(res, fam, 503, 5001, "server under maintenance (emulated fault)", rid,
                              f.retryAfter);
                return;
            case FaultKind::GATEWAY_TIMEOUT:
                envelopeError(res, fam, 504, 5002, "server internal timeout (emulated fault)", rid);
                return;
            case FaultKind::TOKEN_EXPIRED:
                envelopeError(res, fam, 401, 1004, "Authorization has expired (emulated fault)",
                              rid);
                return;
            case FaultKind::ROUTE_NOT_FOUND:
                res.status = 404;
                res.set_content("404 page not found", "text/plain");
                return;
            case FaultKind::HTML_ERROR: {
                const int status = f.httpStatus ? f.httpStatus : 502;
                const std::string title =
                    std::to_string(status) + " " + (status == 502 ? "Bad Gateway" : "Error");
                res.status = status;
                res.set_content("<html>\r\n<head><title>" + title +
                                    "</title></head>\r\n<body>\r\n<center><h1>" + title +
                                    "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n"
                                    "</html>\r\n",
                                "text/html");
                return;
            }
            default:
                return;
        }
    }

    void applyAfter(const FaultSpec& f, const httplib::Request& req, httplib::Response& res) {
        switch (f.kind) {
            case FaultKind::DROP_CONNECTION:
                dropConnection(req);
                return;
            case FaultKind::MALFORMED_JSON: {
                std::string body = res.body;
                body = body.size() >= 4 ? body.substr(0, body.size() / 2) : "{\"code\":";
                res.set_content(body, kJson);
                return;
            }
            case FaultKind::SLOW: {
                std::unique_lock<std::mutex> lock(sleepMu_);
                sleepCv_.wait_for(lock, f.delay, [&] { return stopping_; });
                return;
            }
            default:
                return;
        }
    }

    /** Serves a result file; returns true when the body is streamed (truncated fault). */
    bool download(const httplib::Request& req, const Route& route, const std::string& rid,
                  httplib::Response& res) {
        auto bytes = std::make_shared<std::vector<uint8_t>>();
        switch (store_->result(route.id, route.file, bytes.get())) {
            case ResultLookup::MISSING:
                envelopeError(res, Family::RESULTS, 404, 1203, "result not found", rid);
                return false;
            case ResultLookup::EXPIRED:
                envelopeError(res, Family::RESULTS, 410, 1203, "result expired", rid);
                return false;
            case ResultLookup::FOUND:
                break;
        }
        if (faults_->draw(FaultPhase::DOWNLOAD, req.method, req.path)) {
            const size_t half = bytes->size() / 2;
            res.status = 200;
            res.set_content_provider(
                bytes->size(), "image/png",
                [bytes, half](size_t offset, size_t, httplib::DataSink& sink) {
                    if (offset < half)
                        sink.write(reinterpret_cast<const char*>(bytes->data()) + offset,
                                   half - offset);
                    return false;  // abort: the connection closes short of Content-Length
                });
            return true;
        }
        res.status = 200;
        res.set_content(std::string(bytes->begin(), bytes->end()), "image/png");
        return false;
    }

    // ---- auth ------------------------------------------------------------------------------

    bool openMode() const { return p_.apiKeys.empty() && p_.accessKey.empty(); }

    bool keyAccepted(const std::string& key) const {
        bool ok = false;
        for (const auto& k : p_.apiKeys) ok = constantTimeEquals(k, key) || ok;
        return ok;
    }

    /** Bearer auth of the Kling and aggregator routes; fills the account or answers 401. */
    bool authBearer(const httplib::Request& req, Family fam, const std::string& rid,
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
    bool authApiKey(const httplib::Request& req, const std::string& rid, httplib::Response& res,
                    std::string* account) {
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

    // ---- API routes ------------------------------------------------------------------------

    std::string resultBase(const httplib::Request& req) const {
        const std::string host = req.get_header_value("Host");
        if (host.empty()) return baseUrl();
        return std::string(tls_ ? "https" : "http") + "://" + host;
    }

    /** Image URLs: only this emulator's own result URLs can be read. */
    Result<std::vector<uint8_t>> fetchOwn(const httplib::Request& req, const std::string& url) {
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

    void serveApi(const httplib::Request& req, const Route& route, const std::string& rid,
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
            req.body, [&](const std::string& url) { return fetchOwn(req, url); }, engine_,
            p_.render);
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

    void createTask(const httplib::Request& req, const Route& route, const std::string& rid,
                    TaskSpec spec, httplib::Response& res) {
        if (auto f = faults_->draw(FaultPhase::CREATE, req.method, req.path))
            spec.fate = f->kind == FaultKind::TASK_STUCK ? TaskFate::STUCK : TaskFate::FAIL;
        spec.nullResultBeforeSuccess =
            p_.nullTaskResultBeforeSuccess && route.family != Family::KLING;
        std::string taskJson;
        const std::string ext = spec.externalId;
        switch (store_->create(std::move(spec), &taskJson)) {
            case TaskStore::CreateError::DUPLICATE:
                envelopeError(res, route.family, 400, 1201,
                              "external_task_id: \"" + ext + "\" already exists for this account",
                              rid);
                return;
            case TaskStore::CreateError::CONCURRENCY:
                envelopeError(res, route.family, 429, 1303,
                              "concurrency over the resource pack limit", rid,
                              std::chrono::seconds(1));
                return;
            case TaskStore::CreateError::NONE:
                break;
        }
        envelopeOk(res, taskJson, rid);
    }

    void upscale(const httplib::Request& req, const Route& route, const std::string& rid,
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
            parseUpscale(hasRequest ? &requestText : nullptr, &fileBytes, p_.upscaleFactor);
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

    Params p_;
    static constexpr size_t kCaptureCapacity = 1000;
    SecretMasker masker_;
    RequestLog requests_{kCaptureCapacity};
    std::unique_ptr<HttpServer> http_;      // plain HTTP
    std::unique_ptr<httplib::Server> svr_;  // HTTPS
    std::shared_ptr<ConnCounters> conns_ = std::make_shared<ConnCounters>();
    std::unique_ptr<TaskStore> store_;
    std::unique_ptr<FaultInjector> faults_;
    cv::Ptr<local::LocalProvider> engine_;
    std::thread listener_;
    std::mutex lifeMu_;
    bool started_ = false;
    int port_ = 0;
    bool tls_ = false;
    mutable std::mutex statsMu_;
    std::map<std::string, int64_t> byRoute_;
    std::mutex sleepMu_;
    std::condition_variable sleepCv_;
    bool stopping_ = false;
};

void checkParams(const Params& p) {
    auto bad = [](const std::string& what) {
        throw std::invalid_argument("cvgen::emulator::Params: " + what);
    };
    if (p.host.empty()) bad("host is empty");
    if (p.port < 0 || p.port > 65535) bad("port must be in [0,65535]");
    if (p.tlsCertFile.empty() != p.tlsKeyFile.empty())
        bad("tlsCertFile and tlsKeyFile go together");
    if (p.accessKey.empty() != p.secretKey.empty()) bad("accessKey and secretKey go together");
    for (const auto& k : p.apiKeys)
        if (k.empty()) bad("an API key is empty");
    if (p.latency.count() < 0) bad("latency must be >= 0");
    if (p.latencySd.count() < 0) bad("latencySd must be >= 0");
    if (p.resultTtl.count() < 0) bad("resultTtl must be >= 0");
    if (p.concurrencyLimit < 0) bad("concurrencyLimit must be >= 0");
    if (p.maxConnections < 1 || p.maxConnections > 100000)
        bad("maxConnections must be in [1,100000]");
    if (!(p.upscaleFactor > 1.0 && p.upscaleFactor <= 8.0)) bad("upscaleFactor must be in (1,8]");
    if (!p.webhookSecret.empty() && !webhookSignature(p.webhookSecret, "x", 0, "").ok())
        bad("webhookSecret must be whsec_<base64>");
    for (size_t i = 0; i < p.faults.size(); ++i) {
        const FaultSpec& f = p.faults[i];
        if (!(f.rate >= 0 && f.rate <= 1))
            bad("faults[" + std::to_string(i) + "].rate must be in [0,1]");
        if (f.skip < 0 || f.delay.count() < 0 || f.retryAfter.count() < 0)
            bad("faults[" + std::to_string(i) + "]: negative skip, delay or retryAfter");
    }
}

}  // namespace

cv::Ptr<Server> Server::create(const Params& params) {
    checkParams(params);
    return cv::makePtr<ServerImpl>(params);
}

}  // namespace cvgen::emulator
