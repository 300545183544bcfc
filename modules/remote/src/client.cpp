// The public task client: validation and request encoding (on the CPU pool), then the task
// engine (task_engine.*) runs create → poll → download → decode on the client's event loop.
// The blocking calls (submit, poll, wait, waitAll) are facades over the asynchronous ones.
#include "cvgen/remote/client.hpp"

#include <atomic>
#include <future>
#include <mutex>
#include <random>

#include "curl_transport.hpp"
#include "cvgen/core/worker_pool.hpp"
#include "cvgen/remote/capabilities.hpp"
#include "dialect.hpp"
#include "task_engine.hpp"

namespace cvgen {
namespace remote {

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
    if (!st.taskId().empty() || !st.externalTaskId().empty())
        return TaskRef{st.taskId(), st.externalTaskId()};
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

using detail::JobPtr;

/** `done` with TaskOutput::model set to the model the request went to (its default when the
 * request named none), so a caller's history names what really served it. */
Completion withModel(Completion done, Endpoint e, const std::string& named) {
    const ModelCaps* m = named.empty() ? defaultModel(e) : findModel(e, named);
    const std::string model = m ? m->name : named;
    return [done = std::move(done), model](Result<TaskOutput> r) {
        if (r.ok()) r->model = model;
        done(std::move(r));
    };
}

class TaskClientImpl final : public TaskClient {
public:
    TaskClientImpl(const ClientParams& p, std::shared_ptr<EventLoop> loop,
                   cv::Ptr<HttpTransport> api, cv::Ptr<HttpTransport> plain,
                   std::vector<std::string> secrets)
        : p_(p),
          engine_(std::make_shared<detail::TaskEngine>(p, std::move(loop), std::move(api),
                                                       std::move(plain), std::move(secrets))),
          rng_(p_.seed ? p_.seed : std::random_device{}()) {}

    ~TaskClientImpl() override {
        // The engine joins its loop thread when it goes, so it must never go on that thread.
        // Completions leave the engine before they run, so this does not happen; should a
        // caller's last reference still be dropped there, a worker finishes the job.
        if (engine_->loop().onLoopThread())
            WorkerPool::blocking().post([e = std::move(engine_)]() mutable { e.reset(); });
    }

    const Profile& profile() const override { return p_.profile; }
    int slotsInUse() const override { return engine_->slotsInUse(); }

    // ---------------- public API ----------------

    Result<TaskHandle> submit(const ExpandRequest& r, const CallOptions& opt) override {
        return blockingSubmit([&](auto cb) { return prepare(r, opt, std::move(cb)); });
    }
    Result<TaskHandle> submit(const GenerateRequest& r, const CallOptions& opt) override {
        return blockingSubmit([&](auto cb) { return prepare(r, opt, std::move(cb)); });
    }
    Result<TaskHandle> submit(const OmniRequest& r, const CallOptions& opt) override {
        return blockingSubmit([&](auto cb) { return prepare(r, opt, std::move(cb)); });
    }
    Result<TaskHandle> submit(const UpscaleRequest& r, const CallOptions& opt) override {
        return blockingSubmit([&](auto cb) { return prepare(r, opt, std::move(cb)); });
    }

    void runAsync(const ExpandRequest& r, const CallOptions& opt, Completion done) override {
        runWith(r, opt, std::move(done));
    }
    void runAsync(const GenerateRequest& r, const CallOptions& opt, Completion done) override {
        CV_Assert(done);
        runWith(r, opt, withModel(std::move(done), Endpoint::GENERATE, r.model));
    }
    void runAsync(const OmniRequest& r, const CallOptions& opt, Completion done) override {
        CV_Assert(done);
        runWith(r, opt, withModel(std::move(done), Endpoint::OMNI, r.model));
    }
    void runAsync(const UpscaleRequest& r, const CallOptions& opt, Completion done) override {
        runWith(r, opt, std::move(done));
    }

    TaskHandle resume(const std::string& idOrExt, Operation op) override {
        CV_Assert(!idOrExt.empty());
        auto s = std::make_shared<TaskState>();
        s->op = op;
        s->taskId = idOrExt;  // the query route accepts either id
        s->queryBase = p_.profile.createPath(op);
        return TaskHandle(s);
    }

    void resumeAsync(const std::string& idOrExt, Operation op, const CallOptions& opt,
                     Completion done) override {
        CV_Assert(!idOrExt.empty());
        TaskHandle h = resume(idOrExt, op);
        engine_->startWait(h.state(), opt, std::move(done), false);
    }

    Result<TaskObject> poll(TaskHandle& h, const CallOptions& opt) override {
        CV_Assert(h.valid());
        CV_Assert(!engine_->loop().onLoopThread());
        auto pr = std::make_shared<std::promise<Result<TaskObject>>>();
        auto f = pr->get_future();
        auto job = engine_->newJob(h.state()->op, opt);
        job->state = h.state();
        job->waitOnly = true;
        job->oneQuery = true;
        job->onQueried = [pr](Result<TaskObject> r) { pr->set_value(std::move(r)); };
        engine_->pollOnce(job);
        return f.get();
    }

    Result<TaskOutput> wait(TaskHandle& h, const CallOptions& opt) override {
        std::vector<TaskHandle> one{h};
        return std::move(waitAll(one, opt)[0]);
    }

    std::vector<Result<TaskOutput>> waitAll(std::vector<TaskHandle>& handles,
                                            const CallOptions& opt) override {
        CV_Assert(!engine_->loop().onLoopThread());
        std::vector<std::future<Result<TaskOutput>>> fs;
        for (auto& h : handles) {
            CV_Assert(h.valid());
            auto pr = std::make_shared<std::promise<Result<TaskOutput>>>();
            fs.push_back(pr->get_future());
            engine_->startWait(
                h.state(), opt, [pr](Result<TaskOutput> r) { pr->set_value(std::move(r)); }, true);
        }
        std::vector<Result<TaskOutput>> out;
        for (auto& f : fs) out.push_back(f.get());
        return out;
    }

    Status deliverCallback(
        const std::string& body,
        const std::vector<std::pair<std::string, std::string>>& headers) override {
        if (!p_.webhookSecret.empty()) {
            auto header = [&](const char* name) {
                for (const auto& [k, v] : headers)
                    if (k == name) return v;
                return std::string();
            };
            const std::string id = header("webhook-id"), ts = header("webhook-timestamp"),
                              sig = header("webhook-signature");
            if (id.empty() || ts.empty() || sig.empty())
                return unauthenticated("callback without a Standard Webhooks signature");
            Status v = verifyWebhook(p_.webhookSecret, id, ts, sig, body,
                                     std::chrono::system_clock::now());
            if (!v.ok()) return Status(v.code(), "callback: " + v.message());
        }
        Result<TaskObject> t = parseTaskObject(body);
        if (!t.ok()) return invalidArgument("callback body is not a task: " + t.status().message());
        engine_->notify(std::move(t).value());
        return Status();
    }

    void cancel(TaskHandle& h) override {
        if (!h.valid()) return;
        {
            std::lock_guard<std::mutex> lock(h.state()->mu);
            h.state()->pollable = false;
        }
        h.state()->releaseSlots();
    }

private:
    // ---------------- request preparation (CPU pool) ----------------

    using CreatedFn = std::function<void(Result<TaskHandle>)>;

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

    static HttpRequest jsonPost(const std::string& url, const std::string& body) {
        HttpRequest req;
        req.method = HttpMethod::POST;
        req.url = url;
        req.headers.emplace_back("Content-Type", "application/json");
        req.headers.emplace_back("Accept", "application/json");
        req.body = body;
        return req;
    }

    /** Validates at once (caller's thread), encodes on the CPU pool, then queues the create.
     * `onCreated` gets the handle (or the error) once the create is answered. */
    template <typename Req, typename Body>
    void prepareJson(const Req& r, const CallOptions& opt, Operation op, int slots,
                     const std::string& givenExt, Body body, CreatedFn onCreated, Completion done) {
        // The model's rules first: their messages name the model (validate() keeps the
        // model-independent ranges, lengths and images).
        Status st = checkCapabilities(r);
        if (st.ok()) st = validate(r);
        if (st.ok()) st = supported(op);
        if (!st.ok()) return failEarly(st, std::move(onCreated), std::move(done));
        auto job = engine_->newJob(op, opt);
        job->ext = externalId(givenExt);
        job->path = p_.profile.createPath(op);
        job->slots = slots;
        job->onCreated = std::move(onCreated);
        job->done = std::move(done);
        job->createOnly = !job->done;
        // The CPU job holds the engine weakly and copies what it needs: it never touches a
        // client destroyed meanwhile.
        // Urgent: this request fills a provider slot (or will as soon as one is free).
        WorkerPool::cpu().postUrgent([weak = std::weak_ptr<detail::TaskEngine>(engine_),
                                      profile = p_.profile, job, r, body] {
            auto engine = weak.lock();
            if (!engine || !engine->alive()->load()) return;
            auto encoded = body(profile, r, job->ext);
            if (!encoded.ok()) return engine->fail(job, encoded.status());
            job->make = [url = profile.baseUrl + job->path, b = std::move(encoded).value()] {
                return jsonPost(url, b);
            };
            engine->submit(job);
        });
    }

    void failEarly(const Status& st, CreatedFn onCreated, Completion done) {
        if (onCreated) onCreated(st);
        if (done) done(st);
    }

    /** The request with the client's callback URL when it has none of its own. */
    template <typename Req>
    Req withCallback(const Req& r) const {
        if (p_.callbackUrl.empty() || !r.task.callbackUrl.empty()) return r;
        Req out = r;
        out.task.callbackUrl = p_.callbackUrl;
        return out;
    }

    void prepare(const ExpandRequest& r, const CallOptions& opt, CreatedFn cb,
                 Completion done = nullptr) {
        prepareJson(withCallback(r), opt, Operation::EXPAND, r.task.n, r.task.externalTaskId,
                    detail::expandBody, std::move(cb), std::move(done));
    }
    void prepare(const GenerateRequest& r, const CallOptions& opt, CreatedFn cb,
                 Completion done = nullptr) {
        prepareJson(withCallback(r), opt, Operation::GENERATE, r.task.n, r.task.externalTaskId,
                    detail::generateBody, std::move(cb), std::move(done));
    }
    void prepare(const OmniRequest& r, const CallOptions& opt, CreatedFn cb,
                 Completion done = nullptr) {
        // A series of "auto" length holds as many slots as it may produce: "it will consume
        // concurrency corresponding to the actual generated quantity" (OMNI L84), at most 9.
        const int series = r.seriesAuto ? 9 : r.seriesAmount;
        const int slots = r.resultType == OmniResultType::SERIES ? series : r.task.n;
        prepareJson(withCallback(r), opt, Operation::OMNI, slots, r.task.externalTaskId,
                    detail::omniBody, std::move(cb), std::move(done));
    }
    void prepare(const UpscaleRequest& r, const CallOptions& opt, CreatedFn cb,
                 Completion done = nullptr);

    template <typename Req>
    void runWith(const Req& r, const CallOptions& opt, Completion done) {
        CV_Assert(done);
        prepare(r, opt, nullptr, std::move(done));
    }

    template <typename Start>
    Result<TaskHandle> blockingSubmit(Start start) {
        CV_Assert(!engine_->loop().onLoopThread());
        auto pr = std::make_shared<std::promise<Result<TaskHandle>>>();
        auto f = pr->get_future();
        start([pr](Result<TaskHandle> h) { pr->set_value(std::move(h)); });
        return f.get();
    }

    ClientParams p_;
    // Shared: encoding jobs on the CPU pool hold a weak reference, so a client destroyed
    // meanwhile is never used after it is gone.
    std::shared_ptr<detail::TaskEngine> engine_;
    std::mutex rngMu_;
    std::mt19937_64 rng_;  // generated external ids
};

void TaskClientImpl::prepare(const UpscaleRequest& r, const CallOptions& opt, CreatedFn cb,
                             Completion done) {
    Status st = checkCapabilities(r);
    if (st.ok()) st = validate(r);
    if (st.ok()) st = supported(Operation::UPSCALE);
    if (!st.ok()) return failEarly(st, std::move(cb), std::move(done));
    auto job = engine_->newJob(Operation::UPSCALE, opt);
    job->ext = externalId(r.externalTaskId);
    job->path = p_.profile.createPath(Operation::UPSCALE);
    job->slots = 1;
    // A synchronous route cannot be looked up: an ambiguous upscale is reported, not re-sent.
    job->canLookup = false;
    job->onCreated = std::move(cb);
    job->done = std::move(done);
    job->createOnly = !job->done;
    std::weak_ptr<detail::TaskEngine> weak = engine_;
    auto build = [weak, job, r, profile = p_.profile](ImageSource src) {
        auto engine = weak.lock();
        if (!engine || !engine->alive()->load()) return;
        auto enc =
            detail::encodeImage(src, "image_file", endpointRules(profile, Endpoint::UPSCALE));
        if (!enc.ok()) {
            engine->fail(job, enc.status());
            return;
        }
        const std::string json = detail::upscaleRequestJson(r);
        const bool aggregator = profile.auth != AuthStyle::API_KEY;
        const std::string mime = enc->mime;
        const std::string fileName = mime == "image/jpeg"   ? "image.jpg"
                                     : mime == "image/webp" ? "image.webp"
                                                            : "image.png";
        std::string bytes(enc->bytes.begin(), enc->bytes.end());
        job->make = [url = profile.baseUrl + job->path, json, mime, fileName,
                     bytes = std::move(bytes), aggregator, ext = job->ext] {
            HttpRequest req;
            req.method = HttpMethod::POST;
            req.url = url;
            req.headers.emplace_back("Accept", "application/json");
            req.parts.push_back({"image_request", "application/json", "", json});
            req.parts.push_back({"image_file", mime, fileName, bytes});
            if (aggregator) req.parts.push_back({"external_task_id", "", "", ext});
            return req;
        };
        engine->submit(job);
    };
    if (r.image.url.empty()) {
        WorkerPool::cpu().postUrgent([build, src = r.image] { build(src); });
        return;
    }
    // Ideogram takes a file part only: fetch the URL first (size-capped, no auth header).
    HttpRequest req;
    req.url = r.image.url;
    req.followRedirects = true;
    req.maxResponseBytes = size_t(10) << 20;
    req = engine_->timed(std::move(req), job);
    engine_->plainTransport().sendAsync(std::move(req), [weak, job, build](HttpResponse resp) {
        // Off the loop thread at once: the engine is only ever locked on a worker.
        WorkerPool::cpu().post([weak, job, build, resp = std::move(resp)] {
            auto engine = weak.lock();
            if (!engine || !engine->alive()->load()) return;
            if (!resp.status.ok()) return engine->fail(job, resp.status.withContext("image URL"));
            if (resp.httpStatus != 200)
                return engine->fail(job, invalidArgument("image: URL answered HTTP " +
                                                         std::to_string(resp.httpStatus)));
            build(ImageSource::fromBytes(std::vector<uint8_t>(resp.body.begin(), resp.body.end())));
        });
    });
}

}  // namespace

Result<cv::Ptr<TaskClient>> TaskClient::create(const ClientParams& params) {
    CV_Assert(params.poll.multiplier >= 1.0 && params.poll.jitter >= 0 && params.poll.jitter < 1);
    CV_Assert(params.poll.maxQueriesPerSecond >= 0);
    CV_Assert(params.retry.maxAttempts >= 1 && params.downloadAttempts >= 1);
    CV_Assert(params.defaultDeadline.count() > 0 && params.maxSlots >= 0);
    CV_Assert(params.maxResultPixels > 0);
    if (params.profile.baseUrl.rfind("http://", 0) != 0 &&
        params.profile.baseUrl.rfind("https://", 0) != 0)
        return invalidArgument("profile base URL must start with http:// or https://");
    auto auth = Authenticator::create(params.profile.auth, params.credentials, params.jwt);
    if (!auth.ok()) return auth.status().withContext("provider '" + params.profile.name + "'");
    auto loop = std::make_shared<EventLoop>(loopParamsFor(params.transportParams));
    cv::Ptr<HttpTransport> wire =
        params.transport ? params.transport : createCurlTransportOn(loop, params.transportParams);
    std::vector<std::string> secrets = (*auth)->secrets();
    for (const auto* s :
         {&params.credentials.apiKey, &params.credentials.secretKey, &params.credentials.accessKey})
        if (!s->empty()) secrets.push_back(*s);
    cv::Ptr<HttpTransport> logged = params.log ? withLogging(wire, params.log, secrets) : wire;
    return cv::Ptr<TaskClient>(
        std::make_shared<TaskClientImpl>(params, loop, withAuth(logged, *auth), logged, secrets));
}

}  // namespace remote
}  // namespace cvgen
