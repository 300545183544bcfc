#include "cvgen/emulator/server.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include <openssl/ssl.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "crypto.hpp"
#include "responses.hpp"
#include "server_impl.hpp"

namespace cvgen::emulator {
namespace detail {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

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

}  // namespace

ServerImpl::ServerImpl(const Params& p) : p_(p), masker_(knownSecrets(p)) {
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

Status ServerImpl::start() {
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
    auto ssl = std::make_unique<httplib::SSLServer>(p_.tlsCertFile.c_str(), p_.tlsKeyFile.c_str());
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
    svr_->set_exception_handler([onException](const httplib::Request& req, httplib::Response& res,
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

std::string ServerImpl::baseUrl() const {
    std::string host = p_.host;
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return std::string(tls_ ? "https" : "http") + "://" + host + ":" + std::to_string(port_);
}

void ServerImpl::stop() {
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

std::string ServerImpl::statsJson() const {
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

std::vector<std::string> ServerImpl::knownSecrets(const Params& p) {
    std::vector<std::string> s = p.apiKeys;
    s.push_back(p.accessKey);
    s.push_back(p.secretKey);
    s.push_back(p.webhookSecret);
    if (p.webhookSecret.rfind("whsec_", 0) == 0) s.push_back(p.webhookSecret.substr(6));
    return s;
}

void ServerImpl::handle(const httplib::Request& req, httplib::Response& res) {
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
void ServerImpl::listRequests(const httplib::Request& req, httplib::Response& res) {
    long n = 100;
    if (req.has_param("limit")) {
        const std::string v = req.get_param_value("limit");
        char* end = nullptr;
        n = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || n < 1 || n > long(kCaptureCapacity)) {
            envelopeError(res, Family::STATS, 400, 1201,
                          "limit: must be an integer in [1," + std::to_string(kCaptureCapacity) +
                              "], got \"" + v + "\"",
                          store_->newId());
            return;
        }
    }
    json(res, 200, requests_.lastJson(static_cast<size_t>(n)));
}

void ServerImpl::dispatch(const httplib::Request& req, const Route& route, httplib::Response& res) {
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
    if (auto f = faults_->draw(FaultPhase::AFTER, req.method, req.path)) applyAfter(*f, req, res);
}

void ServerImpl::applyBefore(const FaultSpec& f, const Route& route, const std::string& rid,
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
            envelopeError(res, fam, 401, 1004, "Authorization has expired (emulated fault)", rid);
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

void ServerImpl::applyAfter(const FaultSpec& f, const httplib::Request& req,
                            httplib::Response& res) {
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
bool ServerImpl::download(const httplib::Request& req, const Route& route, const std::string& rid,
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

}  // namespace detail

namespace {

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
    return cv::makePtr<detail::ServerImpl>(params);
}

}  // namespace cvgen::emulator
