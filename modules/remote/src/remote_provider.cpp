// cvgen::Provider over the task engine: the asynchronous calls are the engine's, the
// synchronous ones wait on them (std::future over a promise).
#include <algorithm>
#include <future>
#include <memory>

#include "cvgen/remote/callback_server.hpp"
#include "cvgen/remote/client.hpp"

namespace cvgen {
namespace remote {

namespace {

class RemoteProvider final : public Provider {
public:
    explicit RemoteProvider(cv::Ptr<TaskClient> c, cv::Ptr<CallbackServer> callbacks = nullptr)
        : c_(std::move(c)), callbacks_(std::move(callbacks)) {}
    ~RemoteProvider() override {
        if (callbacks_) callbacks_->stop();  // no callback reaches a client being destroyed
    }
    std::string name() const override { return c_->profile().name; }
    Result<TaskOutput> expand(const ExpandRequest& r, const CallOptions& o) override {
        return blocking([&](Completion d) { expandAsync(r, o, std::move(d)); });
    }
    Result<TaskOutput> generate(const GenerateRequest& r, const CallOptions& o) override {
        return blocking([&](Completion d) { generateAsync(r, o, std::move(d)); });
    }
    Result<TaskOutput> omni(const OmniRequest& r, const CallOptions& o) override {
        return blocking([&](Completion d) { omniAsync(r, o, std::move(d)); });
    }
    Result<TaskOutput> upscale(const UpscaleRequest& r, const CallOptions& o) override {
        return blocking([&](Completion d) { upscaleAsync(r, o, std::move(d)); });
    }
    Result<TaskOutput> resume(Operation op, const std::string& id, const CallOptions& o) override {
        return blocking([&](Completion d) { resumeAsync(op, id, o, std::move(d)); });
    }

    void expandAsync(const ExpandRequest& r, const CallOptions& o, Completion d) override {
        c_->runAsync(r, o, std::move(d));
    }
    void generateAsync(const GenerateRequest& r, const CallOptions& o, Completion d) override {
        c_->runAsync(r, o, std::move(d));
    }
    void omniAsync(const OmniRequest& r, const CallOptions& o, Completion d) override {
        c_->runAsync(r, o, std::move(d));
    }
    void upscaleAsync(const UpscaleRequest& r, const CallOptions& o, Completion d) override {
        c_->runAsync(r, o, std::move(d));
    }
    void resumeAsync(Operation op, const std::string& id, const CallOptions& o,
                     Completion d) override {
        if (id.empty()) return d(invalidArgument("task id: is required"));
        if (!c_->profile().supports(op))
            return d(Status(Code::UNIMPLEMENTED,
                            "provider '" + name() + "' has no " + toString(op) + " route"));
        c_->resumeAsync(id, op, o, std::move(d));
    }

private:
    template <typename Start>
    static Result<TaskOutput> blocking(Start start) {
        auto pr = std::make_shared<std::promise<Result<TaskOutput>>>();
        auto f = pr->get_future();
        start([pr](Result<TaskOutput> r) { pr->set_value(std::move(r)); });
        return f.get();
    }
    cv::Ptr<TaskClient> c_;
    cv::Ptr<CallbackServer> callbacks_;
};

}  // namespace

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
    // A download is an idempotent GET: at least as many tries as any other exchange.
    p.downloadAttempts = std::max(p.downloadAttempts, rp.retry.maxAttempts);
    p.maxSlots = rp.maxSlots;
    p.log = rp.log;
    p.webhookSecret = rp.webhookSecret;
    p.callbackUrl = rp.callbackUrl;
    if (rp.callbackListen.empty()) return createProvider(p);

    auto hostPort = parseHostPort(rp.callbackListen);
    if (!hostPort.ok()) return hostPort.status().withContext("callback listen address");
    // The receiver starts first (its port may be ephemeral), the client after; the handler
    // reaches the client through a slot filled once it exists.
    auto slot = std::make_shared<std::weak_ptr<TaskClient>>();
    CallbackServer::Params cp;
    cp.host = hostPort->first;
    cp.port = hostPort->second;
    cp.log = rp.log;
    auto server = CallbackServer::start(
        cp, [slot](const std::string& body, const CallbackServer::Headers& headers) {
            auto client = slot->lock();
            if (!client) return Status(Code::UNAVAILABLE, "no client");
            return client->deliverCallback(body, headers);
        });
    if (!server.ok()) return server.status();
    if (p.callbackUrl.empty())
        p.callbackUrl =
            "http://" + cp.host + ":" + std::to_string((*server)->port()) + "/cvgen-callback";
    auto c = TaskClient::create(p);
    if (!c.ok()) return c.status();
    *slot = *c;
    return cv::Ptr<Provider>(cv::makePtr<RemoteProvider>(*c, *server));
}

}  // namespace remote
}  // namespace cvgen
