// The callback receiver: cpp-httplib on a thread of its own; each POST goes to the handler.
#include "cvgen/remote/callback_server.hpp"

#include <httplib.h>

#include <atomic>
#include <thread>

#include "cvgen/remote/http.hpp"

namespace cvgen {
namespace remote {

namespace {

class CallbackServerImpl final : public CallbackServer {
public:
    CallbackServerImpl(const Params& p, Handler h) : p_(p), handler_(std::move(h)) {
        svr_.set_payload_max_length(size_t(1) << 20);
        svr_.set_keep_alive_timeout(1);  // a stop() waits for idle keep-alive connections
        svr_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
            Headers headers;
            for (const auto& [k, v] : req.headers) headers.emplace_back(toLowerAscii(k), v);
            const Status st = handler_(req.body, headers);
            if (st.ok()) {
                res.status = 204;
                return;
            }
            res.status = st.code() == Code::UNAUTHENTICATED    ? 401
                         : st.code() == Code::INVALID_ARGUMENT ? 400
                                                               : 500;
            res.set_content("{\"error\":\"" + std::string(codeName(st.code())) + "\"}",
                            "application/json");
            if (p_.log)
                p_.log(LogLevel::WARN, "callback refused (HTTP " + std::to_string(res.status) +
                                           " from " + req.remote_addr + "): " + st.message());
        });
    }
    ~CallbackServerImpl() override { stop(); }

    Status listen() {
        port_ = p_.port == 0 ? svr_.bind_to_any_port(p_.host) : p_.port;
        if (p_.port != 0 && !svr_.bind_to_port(p_.host, p_.port)) port_ = -1;
        if (port_ <= 0)
            return unavailable("callback receiver: cannot listen on " + p_.host + ":" +
                               std::to_string(p_.port))
                .withRetryable(false);
        thread_ = std::thread([this] { svr_.listen_after_bind(); });
        return Status();
    }

    int port() const override { return port_; }
    void stop() override {
        if (stopped_.exchange(true)) return;
        svr_.stop();
        if (thread_.joinable()) thread_.join();
    }

private:
    Params p_;
    Handler handler_;
    httplib::Server svr_;
    std::thread thread_;
    int port_ = -1;
    std::atomic<bool> stopped_{false};
};

}  // namespace

Result<cv::Ptr<CallbackServer>> CallbackServer::start(const Params& params, Handler handler) {
    CV_Assert(handler && params.port >= 0 && params.port <= 65535);
    auto s = std::make_shared<CallbackServerImpl>(params, std::move(handler));
    CVGEN_RETURN_IF_ERROR(s->listen());
    return cv::Ptr<CallbackServer>(s);
}

Result<std::pair<std::string, int>> parseHostPort(const std::string& hostPort) {
    const auto colon = hostPort.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == hostPort.size())
        return invalidArgument("expected HOST:PORT, got '" + hostPort + "'");
    const std::string portText = hostPort.substr(colon + 1);
    int port = 0;
    for (char c : portText) {
        if (c < '0' || c > '9' || port > 65535)
            return invalidArgument("port must be a number in [0,65535], got '" + portText + "'");
        port = port * 10 + (c - '0');
    }
    if (port > 65535)
        return invalidArgument("port must be a number in [0,65535], got '" + portText + "'");
    return std::make_pair(hostPort.substr(0, colon), port);
}

}  // namespace remote
}  // namespace cvgen
