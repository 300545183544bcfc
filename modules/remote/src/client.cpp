// The task engine: submit (idempotent) → poll (adaptive) → download → decode, for every task of
// one client on one event loop. State changes run on the loop thread; CPU work (encoding,
// decoding) on WorkerPool::cpu(); completions are delivered on a worker thread.
#include "cvgen/remote/client.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <unordered_set>

#include "curl_transport.hpp"
#include "cvgen/core/base64.hpp"
#include "cvgen/core/worker_pool.hpp"
#include "dialect.hpp"
#include "event_loop.hpp"
#include "poll_schedule.hpp"
#include "retry.hpp"

namespace cvgen {
namespace remote {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

milliseconds msSince(Clock::time_point t0) {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
}

std::string taskRefText(const std::string& id, const std::string& ext) {
    std::string s;
    if (!id.empty()) s += "task_id=" + id;
    if (!ext.empty()) s += std::string(s.empty() ? "" : " ") + "external_task_id=" + ext;
    return s;
}

/** Weighted slots shared by the client's tasks; a release wakes the engine's queue. */
class Slots {
public:
    explicit Slots(int capacity) : cap_(capacity) {}
    bool tryAcquire(int n) {
        std::lock_guard<std::mutex> lock(mu_);
        n = cap_ > 0 ? std::min(n, cap_) : n;  // a task bigger than the pool waits for all of it
        if (cap_ > 0 && used_ + n > cap_) return false;
        used_ += n;
        return true;
    }
    void release(int n) {
        std::function<void()> wake;
        {
            std::lock_guard<std::mutex> lock(mu_);
            used_ -= cap_ > 0 ? std::min(n, cap_) : n;
            wake = onFree_;
        }
        if (wake) wake();
    }
    int used() const {
        std::lock_guard<std::mutex> lock(mu_);
        return used_;
    }
    void onFree(std::function<void()> fn) {
        std::lock_guard<std::mutex> lock(mu_);
        onFree_ = std::move(fn);
    }

private:
    int cap_;
    int used_ = 0;
    mutable std::mutex mu_;
    std::function<void()> onFree_;
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
    Clock::time_point createdAt{};  // when the create answer arrived
    std::shared_ptr<Slots> slots;
    int held = 0;
    void releaseSlots() {
        std::shared_ptr<Slots> s;
        int n = 0;
        {
            std::lock_guard<std::mutex> lock(mu);
            s = slots;
            n = held;
            held = 0;
        }
        if (s && n > 0) s->release(n);
    }
    ~TaskState() {
        if (slots && held > 0) slots->release(held);
    }
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

/** One operation in flight: create (optional) → poll → download → decode. Loop thread only,
 * except the fields set before it is started. */
struct Job {
    enum class Phase { QUEUED, CREATE, POLL, DOWNLOAD, DONE };
    Operation op = Operation::EXPAND;
    Phase phase = Phase::QUEUED;
    std::shared_ptr<TaskState> state;
    CallOptions opt;
    Clock::time_point start, deadline;
    // Create.
    std::string path, ext;
    std::function<HttpRequest()> make;
    int slots = 1;
    bool canLookup = true;
    int attempt = 0;
    bool afterAmbiguous = false;
    // What to do after the create: stop (submit) or run to the end.
    bool createOnly = false;
    bool waitOnly = false;  // resume/wait: no create
    bool oneQuery = false;  // poll(): a single query
    std::function<void(Result<TaskHandle>)> onCreated;
    std::function<void(Result<TaskObject>)> onQueried;
    Completion done;
    // Poll.
    int queries = 0;
    milliseconds lastQueryAt{0};  // since the create answer
    bool firstWaitDone = false;
    // Download.
    std::vector<TaskImage> images;
    std::vector<std::string> bodies;
    size_t downloaded = 0;
    int downloadAttempt = 0;
    Clock::time_point downloadStart;
    milliseconds waited{0};
    // Control.
    std::shared_ptr<std::atomic<bool>> abort = std::make_shared<std::atomic<bool>>(false);
    EventLoop::TimerId timer = 0;
    bool finished = false;
};
using JobPtr = std::shared_ptr<Job>;

class TaskClientImpl final : public TaskClient {
public:
    TaskClientImpl(ClientParams p, std::shared_ptr<EventLoop> loop, cv::Ptr<HttpTransport> api,
                   cv::Ptr<HttpTransport> plain, std::vector<std::string> secrets)
        : p_(std::move(p)),
          loop_(std::move(loop)),
          api_(std::move(api)),
          plain_(std::move(plain)),
          secrets_(std::move(secrets)),
          slots_(std::make_shared<Slots>(p_.maxSlots)),
          rng_(p_.seed ? p_.seed : std::random_device{}()),
          schedule_(p_.poll, p_.seed ? p_.seed + 1 : std::random_device{}()) {
        std::weak_ptr<EventLoop> weak = loop_;
        alive_ = std::make_shared<std::atomic<bool>>(true);
        auto alive = alive_;
        slots_->onFree([weak, alive, this] {
            if (auto l = weak.lock())
                l->post([alive, this] {
                    if (alive->load()) pump();
                });
        });
        ticker_ = loop_->addTicker([this] { tick(); });
    }

    ~TaskClientImpl() override {
        loop_->removeTicker(ticker_);
        // Every job still running ends as CANCELLED, on the loop thread, before we go.
        std::promise<void> drained;
        loop_->post([this, &drained] {
            std::vector<JobPtr> all(jobs_.begin(), jobs_.end());
            for (auto& j : all) end(j, cancelled("client destroyed"));
            alive_->store(false);
            drained.set_value();
        });
        drained.get_future().wait();
        slots_->onFree(nullptr);
        // Transfers still running end now (their callbacks see alive_ = false), before the
        // transports they belong to are destroyed.
        loop_->stop();
    }

    const Profile& profile() const override { return p_.profile; }
    int slotsInUse() const override { return slots_->used(); }

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
        runWith(r, opt, std::move(done));
    }
    void runAsync(const OmniRequest& r, const CallOptions& opt, Completion done) override {
        runWith(r, opt, std::move(done));
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
        startWait(h.state(), opt, std::move(done), false);
    }

    Result<TaskObject> poll(TaskHandle& h, const CallOptions& opt) override {
        CV_Assert(h.valid());
        CV_Assert(!loop_->onLoopThread());
        auto pr = std::make_shared<std::promise<Result<TaskObject>>>();
        auto f = pr->get_future();
        auto job = newJob(h.state()->op, opt);
        job->state = h.state();
        job->waitOnly = true;
        job->oneQuery = true;
        job->onQueried = [pr](Result<TaskObject> r) { pr->set_value(std::move(r)); };
        loop_->post([this, job] {
            {
                std::lock_guard<std::mutex> lock(job->state->mu);
                if (job->state->createdAt == Clock::time_point{})
                    job->state->createdAt = Clock::now();
            }
            jobs_.insert(job);
            query(job);
        });
        return f.get();
    }

    Result<TaskOutput> wait(TaskHandle& h, const CallOptions& opt) override {
        std::vector<TaskHandle> one{h};
        return std::move(waitAll(one, opt)[0]);
    }

    std::vector<Result<TaskOutput>> waitAll(std::vector<TaskHandle>& handles,
                                            const CallOptions& opt) override {
        CV_Assert(!loop_->onLoopThread());
        std::vector<std::future<Result<TaskOutput>>> fs;
        for (auto& h : handles) {
            CV_Assert(h.valid());
            auto pr = std::make_shared<std::promise<Result<TaskOutput>>>();
            fs.push_back(pr->get_future());
            startWait(
                h.state(), opt, [pr](Result<TaskOutput> r) { pr->set_value(std::move(r)); }, true);
        }
        std::vector<Result<TaskOutput>> out;
        for (auto& f : fs) out.push_back(f.get());
        return out;
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

    double jitter() {
        std::lock_guard<std::mutex> lock(rngMu_);
        std::uniform_real_distribution<double> u(1.0 - p_.poll.jitter, 1.0 + p_.poll.jitter);
        return u(rng_);
    }

    JobPtr newJob(Operation op, const CallOptions& opt) {
        auto j = std::make_shared<Job>();
        j->op = op;
        j->opt = opt;
        j->start = Clock::now();
        const milliseconds d = opt.deadline.count() > 0 ? opt.deadline : p_.defaultDeadline;
        j->deadline = j->start + d;
        return j;
    }

    HttpRequest jsonPost(const std::string& path, const std::string& body) const {
        HttpRequest req;
        req.method = HttpMethod::POST;
        req.url = p_.profile.baseUrl + path;
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
        Status st = validate(r);
        if (st.ok()) st = supported(op);
        if (!st.ok()) return failEarly(st, std::move(onCreated), std::move(done));
        auto job = newJob(op, opt);
        job->ext = externalId(givenExt);
        job->path = p_.profile.createPath(op);
        job->slots = slots;
        job->onCreated = std::move(onCreated);
        job->done = std::move(done);
        job->createOnly = !job->done;
        WorkerPool::cpu().post([this, alive = alive_, job, r, body] {
            if (!alive->load()) return;
            auto encoded = body(p_.profile, r, job->ext);
            if (!encoded.ok()) {
                loop_->post([this, job, st = encoded.status()] { end(job, st); });
                return;
            }
            job->make = [this, path = job->path, b = std::move(encoded).value()] {
                return jsonPost(path, b);
            };
            loop_->post([this, job] { enqueue(job); });
        });
    }

    void failEarly(const Status& st, CreatedFn onCreated, Completion done) {
        if (onCreated) onCreated(st);
        if (done) done(st);
    }

    void prepare(const ExpandRequest& r, const CallOptions& opt, CreatedFn cb,
                 Completion done = nullptr) {
        prepareJson(r, opt, Operation::EXPAND, r.task.n, r.task.externalTaskId, detail::expandBody,
                    std::move(cb), std::move(done));
    }
    void prepare(const GenerateRequest& r, const CallOptions& opt, CreatedFn cb,
                 Completion done = nullptr) {
        prepareJson(r, opt, Operation::GENERATE, r.task.n, r.task.externalTaskId,
                    detail::generateBody, std::move(cb), std::move(done));
    }
    void prepare(const OmniRequest& r, const CallOptions& opt, CreatedFn cb,
                 Completion done = nullptr) {
        const int slots = r.resultType == OmniResultType::SERIES ? r.seriesAmount : r.task.n;
        prepareJson(r, opt, Operation::OMNI, slots, r.task.externalTaskId, detail::omniBody,
                    std::move(cb), std::move(done));
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
        CV_Assert(!loop_->onLoopThread());
        auto pr = std::make_shared<std::promise<Result<TaskHandle>>>();
        auto f = pr->get_future();
        start([pr](Result<TaskHandle> h) { pr->set_value(std::move(h)); });
        return f.get();
    }

    // ---------------- the engine (loop thread) ----------------

    /** Waits in `wait` (a timer) unless the test hook makes waits instant. */
    void later(const JobPtr& j, milliseconds wait, std::function<void()> fn) {
        if (p_.sleep) {
            p_.sleep(wait);
            wait = milliseconds(0);
        }
        // Never past the deadline: the tick reports it then.
        j->timer = loop_->after(std::max(milliseconds(0), wait), std::move(fn));
    }

    /** Runs `fn` when the shared rate-limit gate is open (and, for queries, within the cap). */
    void gated(const JobPtr& j, bool isQuery, std::function<void()> fn) {
        auto now = Clock::now();
        auto at = std::max(now, gateOpenAt_);
        if (isQuery && p_.poll.maxQueriesPerSecond > 0) {
            at = std::max(at, nextQueryAt_);
            nextQueryAt_ =
                at + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(1.0 / p_.poll.maxQueriesPerSecond));
        }
        if (at <= now) return fn();
        j->timer = loop_->at(at, std::move(fn));
    }

    void closeGate(milliseconds d) { gateOpenAt_ = std::max(gateOpenAt_, Clock::now() + d); }

    HttpRequest timed(HttpRequest req, const JobPtr& j) const {
        const auto left = std::chrono::duration_cast<milliseconds>(j->deadline - Clock::now());
        req.timeout = std::max(milliseconds(1), std::min(left, p_.transportParams.totalTimeout));
        req.cancel = j->abort;
        return req;
    }

    HttpRequest apiGet(const std::string& path, const JobPtr& j) const {
        HttpRequest req;
        req.url = p_.profile.baseUrl + path;
        req.headers.emplace_back("Accept", "application/json");
        return timed(std::move(req), j);
    }

    void enqueue(const JobPtr& j) {
        jobs_.insert(j);
        queue_.push_back(j);
        pump();
    }

    /** Starts queued creates while slots are free (in order). */
    void pump() {
        while (!queue_.empty()) {
            JobPtr j = queue_.front();
            if (j->finished) {
                queue_.pop_front();
                continue;
            }
            if (!slots_->tryAcquire(j->slots)) return;
            queue_.pop_front();
            j->state = std::make_shared<TaskState>();
            j->state->op = j->op;
            j->state->externalTaskId = j->ext;
            j->state->queryBase = j->path;
            j->state->slots = slots_;
            j->state->held = j->slots;
            j->phase = Job::Phase::CREATE;
            create(j);
        }
    }

    void create(const JobPtr& j) {
        if (j->finished) return;
        gated(j, false, [this, j] {
            if (j->finished) return;
            ++j->attempt;
            api_->sendAsync(timed(j->make(), j), [this, alive = alive_, j](HttpResponse r) {
                loop_->post([this, alive, j, r = std::move(r)]() mutable {
                    if (alive->load()) onCreateAnswer(j, std::move(r));
                });
            });
        });
    }

    void onCreateAnswer(const JobPtr& j, HttpResponse r) {
        if (j->finished) return;
        const std::string route = "POST " + j->path;
        Status st = statusFromResponse(r, route, true);
        Result<TaskObject> created = internalError("no answer");
        bool parsed = false;
        if (st.ok()) {
            created = detail::parseCreateAnswer(r, route, &j->state->requestId);
            parsed = created.ok();
            if (!parsed) st = created.status();
        }
        if (r.status.code() == Code::CANCELLED)
            return end(j, cancelled("cancelled during the create (it may have reached the "
                                    "server; resume by external id)"));
        using detail::CreateStep;
        switch (detail::classifyCreate(r, st, parsed, j->canLookup, j->afterAmbiguous,
                                       !j->ext.empty())) {
            case CreateStep::CREATED:
                return created_(j, std::move(created).value());
            case CreateStep::LOOKUP:
                log(LogLevel::WARN, route + ": no definite answer (" + st.message() +
                                        "); looking the task up by external_task_id");
                return later(j, detail::backoff(p_.retry, 1, st, jitter()),
                             [this, j] { lookup(j, 1, false); });
            case CreateStep::ADOPT:
                return lookup(j, 1, true);
            case CreateStep::UNKNOWN_SENT:
                return end(j, outcomeUnknown(route +
                                             ": the request may have been processed but no "
                                             "answer came back (" +
                                             st.message() +
                                             "); not re-sent, since this route has no lookup by "
                                             "external id: check the provider's account before "
                                             "trying again")
                                  .withTask("", j->ext));
            case CreateStep::RETRY:
                if (isRateLimit(st)) closeGate(detail::backoff(p_.retry, j->attempt, st, jitter()));
                if (j->attempt >= p_.retry.maxAttempts) return end(j, st);
                return later(j, detail::backoff(p_.retry, j->attempt, st, jitter()),
                             [this, j] { create(j); });
            case CreateStep::FAIL:
                return end(j, st);
        }
    }

    static bool isRateLimit(const Status& st) { return st.code() == Code::RESOURCE_EXHAUSTED; }

    /** Looks the task up by external id (after an ambiguous create, or to adopt a duplicate). */
    void lookup(const JobPtr& j, int attempt, bool adopting) {
        if (j->finished) return;
        gated(j, true, [this, j, attempt, adopting] {
            if (j->finished) return;
            api_->sendAsync(apiGet(j->path + "/" + j->ext, j),
                            [this, alive = alive_, j, attempt, adopting](HttpResponse r) {
                                loop_->post([this, alive, j, attempt, adopting, r = std::move(r)] {
                                    if (alive->load()) onLookup(j, r, attempt, adopting);
                                });
                            });
        });
    }

    void onLookup(const JobPtr& j, const HttpResponse& r, int attempt, bool adopting) {
        if (j->finished) return;
        const std::string route = "GET " + j->path + "/" + j->ext;
        Status st = statusFromResponse(r, route, false);
        if (st.ok()) {
            auto t = detail::parseEnvelopeTask(r, route, &j->state->requestId);
            if (t.ok()) return created_(j, std::move(t).value());
            st = t.status();
        }
        if (st.code() == Code::NOT_FOUND && !adopting) {
            // Certainly not created: safe to send again.
            j->afterAmbiguous = true;
            if (j->attempt >= p_.retry.maxAttempts)
                return end(j, unavailable("POST " + j->path + ": no task was created after " +
                                          std::to_string(j->attempt) + " attempts")
                                  .withTask("", j->ext));
            return create(j);
        }
        if (st.code() != Code::NOT_FOUND && detail::mayRetry(st, attempt, 2 * p_.retry.maxAttempts))
            return later(j, detail::backoff(p_.retry, attempt, st, jitter()),
                         [this, j, attempt, adopting] { lookup(j, attempt + 1, adopting); });
        // Unknown whether it exists: never re-send; the caller resumes by external id.
        end(j, Status(st.code() == Code::NOT_FOUND ? Code::OUTCOME_UNKNOWN : st.code(),
                      "POST " + j->path + ": create outcome unknown (" + st.message() + ")")
                   .withRetryable(false)
                   .withTask("", j->ext));
    }

    void created_(const JobPtr& j, TaskObject t) {
        TaskState& s = *j->state;
        {
            std::lock_guard<std::mutex> lock(s.mu);
            s.taskId = t.taskId;
            if (s.externalTaskId.empty()) s.externalTaskId = t.externalTaskId;
            s.last = t;
            s.haveObject = true;
            s.pollable = !t.taskId.empty();
            s.submitTime = msSince(j->start);
            s.createdAt = Clock::now();
        }
        log(LogLevel::INFO,
            std::string(toString(j->op)) + " created: " + taskRefText(s.taskId, s.externalTaskId));
        if (j->onCreated) {
            auto cb = std::move(j->onCreated);
            j->onCreated = nullptr;
            deliver([cb, h = TaskHandle(j->state)] { cb(h); });
        }
        if (j->createOnly) return forget(j);
        j->phase = Job::Phase::POLL;
        if (isTerminal(t.status)) return terminal(j);
        schedulePoll(j);
    }

    // ---------------- polling ----------------

    void startWait(std::shared_ptr<TaskState> s, const CallOptions& opt, Completion done,
                   bool fromHandle) {
        auto j = newJob(s->op, opt);
        j->state = std::move(s);
        j->waitOnly = true;
        j->done = std::move(done);
        j->phase = Job::Phase::POLL;
        loop_->post([this, j, fromHandle] {
            jobs_.insert(j);
            TaskState& st = *j->state;
            bool terminalNow, pollable, have;
            {
                std::lock_guard<std::mutex> lock(st.mu);
                if (st.createdAt == Clock::time_point{}) st.createdAt = Clock::now();
                have = st.haveObject;
                terminalNow = st.haveObject && isTerminal(st.last.status);
                pollable = st.pollable;
            }
            if (terminalNow) return terminal(j);
            if (!pollable) return end(j, cancelled("task cancelled"));
            if (fromHandle && have)
                return schedulePoll(j);  // just created: give it the first delay
            query(j);
        });
    }

    void schedulePoll(const JobPtr& j) {
        const milliseconds since = msSince(j->state->createdAt);
        const milliseconds due = schedule_.due(j->op, j->queries, j->lastQueryAt);
        milliseconds wait = due - since;
        later(j, std::max(milliseconds(0), wait), [this, j] { query(j); });
    }

    void query(const JobPtr& j) {
        if (j->finished) return;
        std::string id;
        {
            std::lock_guard<std::mutex> lock(j->state->mu);
            id = j->state->taskId.empty() ? j->state->externalTaskId : j->state->taskId;
            if (!j->state->pollable) {
                if (j->oneQuery && j->state->haveObject) {
                    auto cb = std::move(j->onQueried);
                    TaskObject last = j->state->last;
                    j->finished = true;
                    return deliver([cb, last] { cb(last); });
                }
                return end(j, cancelled("task no longer tracked"));
            }
        }
        gated(j, true, [this, j, id] { sendQuery(j, id, 1); });
    }

    void sendQuery(const JobPtr& j, const std::string& id, int attempt) {
        if (j->finished) return;
        ++j->queries;
        j->lastQueryAt = msSince(j->state->createdAt);
        api_->sendAsync(apiGet(j->state->queryBase + "/" + id, j),
                        [this, alive = alive_, j, id, attempt](HttpResponse r) {
                            loop_->post([this, alive, j, id, attempt, r = std::move(r)] {
                                if (alive->load()) onQuery(j, id, attempt, r);
                            });
                        });
    }

    void onQuery(const JobPtr& j, const std::string& id, int attempt, const HttpResponse& r) {
        if (j->finished) return;
        if (r.status.code() == Code::CANCELLED) return;  // the tick reports why
        const std::string route = "GET " + j->state->queryBase + "/" + id;
        Status st = statusFromResponse(r, route, false);
        std::optional<TaskObject> t;
        if (st.ok()) {
            std::string rid;
            auto parsed = detail::parseEnvelopeTask(r, route, &rid);
            if (parsed.ok()) {
                t = std::move(parsed).value();
                TaskState& s = *j->state;
                std::lock_guard<std::mutex> lock(s.mu);
                if (s.taskId.empty() || s.taskId == s.externalTaskId || s.taskId == id)
                    s.taskId = t->taskId;
                if (s.externalTaskId.empty()) s.externalTaskId = t->externalTaskId;
                if (s.requestId.empty()) s.requestId = rid;
                s.last = *t;
                s.haveObject = true;
            } else {
                st = parsed.status();
            }
        }
        if (!t) {
            if (isRateLimit(st) && st.retryable())
                closeGate(detail::backoff(p_.retry, attempt, st, jitter()));
            if (detail::mayRetry(st, attempt, p_.retry.maxAttempts))
                return later(j, detail::backoff(p_.retry, attempt, st, jitter()),
                             [this, j, id, attempt] {
                                 gated(j, true, [this, j, id, attempt] {
                                     --j->queries;  // a retry of the same query
                                     sendQuery(j, id, attempt + 1);
                                 });
                             });
            if (j->oneQuery) {
                j->finished = true;
                jobs_.erase(j);
                auto cb = std::move(j->onQueried);
                return deliver([cb, st] { cb(st); });
            }
            return end(j, st);
        }
        if (j->oneQuery) {
            j->finished = true;
            jobs_.erase(j);
            auto cb = std::move(j->onQueried);
            return deliver([cb, obj = *t] { cb(obj); });
        }
        if (isTerminal(t->status)) {
            learn(j, *t);
            return terminal(j);
        }
        schedulePoll(j);
    }

    void learn(const JobPtr& j, const TaskObject& t) {
        // The provider's own clock when it gives both ends; ours otherwise (an upper bound).
        milliseconds d = msSince(j->state->createdAt);
        if (t.createdAtMs > 0 && t.updatedAtMs >= t.createdAtMs &&
            t.updatedAtMs - t.createdAtMs <= d.count() + 1000)
            d = milliseconds(t.updatedAtMs - t.createdAtMs);
        const bool providerClock = d != msSince(j->state->createdAt);
        if (providerClock || !j->waitOnly) schedule_.record(j->op, d);
    }

    // ---------------- download and decode ----------------

    void terminal(const JobPtr& j) {
        TaskObject t;
        {
            std::lock_guard<std::mutex> lock(j->state->mu);
            t = j->state->last;
        }
        j->waited = msSince(j->start);
        if (t.status == TaskStatus::FAILED)
            return end(j, failedPrecondition(
                              std::string(toString(j->op)) + " task failed: " +
                              (t.statusMessage.empty() ? "no reason given" : t.statusMessage) +
                              " (" + ref(j) + ")")
                              .withRequestId(j->state->requestId));
        j->images = t.images;
        std::sort(j->images.begin(), j->images.end(),
                  [](const TaskImage& a, const TaskImage& b) { return a.index < b.index; });
        if (j->images.empty())
            return end(j, dataLoss("task succeeded without result images (" + ref(j) + ")"));
        j->phase = Job::Phase::DOWNLOAD;
        j->bodies.assign(j->images.size(), std::string());
        j->downloadStart = Clock::now();
        for (size_t i = 0; i < j->images.size(); ++i) download(j, i, 1);
    }

    void download(const JobPtr& j, size_t i, int attempt) {
        if (j->finished) return;
        const std::string& url = j->images[i].url;
        if (url.rfind("data:", 0) == 0) {
            auto bytes = base64Decode(url);
            if (!bytes.ok())
                return end(j, dataLoss("result data URL: " + bytes.status().message()));
            j->bodies[i].assign(bytes->begin(), bytes->end());
            return downloaded(j);
        }
        HttpRequest req;
        req.url = url;
        req.followRedirects = true;
        req.maxResponseBytes = p_.maxDownloadBytes;
        plain_->sendAsync(timed(std::move(req), j),
                          [this, alive = alive_, j, i, attempt](HttpResponse r) {
                              loop_->post([this, alive, j, i, attempt, r = std::move(r)]() mutable {
                                  if (alive->load()) onDownload(j, i, attempt, std::move(r));
                              });
                          });
    }

    void onDownload(const JobPtr& j, size_t i, int attempt, HttpResponse r) {
        if (j->finished) return;
        if (r.status.code() == Code::CANCELLED) return;
        Status st;
        if (!r.status.ok()) {
            st = r.status;
        } else if (r.httpStatus == 200) {
            const std::string* cl = r.header("content-length");
            if (cl && std::strtoull(cl->c_str(), nullptr, 10) != r.body.size()) {
                st = dataLoss("download truncated: " + std::to_string(r.body.size()) + " of " +
                              *cl + " bytes")
                         .withRetryable(true);
            } else if (!detail::looksCompleteImage(r.body)) {
                st = dataLoss(r.body.empty() ? "empty image body" : "image truncated")
                         .withRetryable(true);
            } else {
                j->bodies[i] = std::move(r.body);
                return downloaded(j);
            }
        } else {
            st = statusFromResponse(r, "GET result image", false);
            if (r.httpStatus == 403 || r.httpStatus == 404 || r.httpStatus == 410)
                st = notFound("result image gone (expired URL?), HTTP " +
                              std::to_string(r.httpStatus));
            if (st.ok()) st = unavailable("unexpected HTTP " + std::to_string(r.httpStatus));
        }
        if (detail::mayRetry(st, attempt, p_.downloadAttempts)) {
            log(LogLevel::WARN, "download failed (" + st.message() + "), retrying");
            return later(j, detail::backoff(p_.retry, attempt, st, jitter()),
                         [this, j, i, attempt] { download(j, i, attempt + 1); });
        }
        end(j, imageError(j, i, st.withContext("download")));
    }

    static Status imageError(const JobPtr& j, size_t i, const Status& st) {
        return Status(st.code(), st.message() + " (image " + std::to_string(j->images[i].index) +
                                     ", " + ref(j) + ")")
            .withRetryable(st.retryable())
            .withHttpStatus(st.httpStatus())
            .withTask(j->state->taskId, j->state->externalTaskId);
    }

    void downloaded(const JobPtr& j) {
        if (++j->downloaded < j->images.size()) return;
        // All bytes are in: decode on the CPU pool, then deliver from there.
        j->phase = Job::Phase::DONE;
        j->finished = true;
        jobs_.erase(j);
        j->state->releaseSlots();
        loop_->cancelTimer(j->timer);
        TaskOutput out;
        {
            std::lock_guard<std::mutex> lock(j->state->mu);
            out.taskId = j->state->taskId;
            out.externalTaskId = j->state->externalTaskId;
            out.requestId = j->state->requestId;
            out.timings.submit = j->state->submitTime;
            out.taskStatus =
                j->state->last.statusText.empty() ? "succeed" : j->state->last.statusText;
            out.unitsDeducted = j->state->last.unitsDeducted;
        }
        out.provider = p_.profile.name;
        out.timings.wait = j->waited;
        out.timings.download = msSince(j->downloadStart);
        const int64_t maxPixels = p_.maxResultPixels;
        WorkerPool::cpu().post([this, j, out = std::move(out), maxPixels]() mutable {
            for (size_t i = 0; i < j->images.size(); ++i) {
                auto m = detail::decodeResultImage(j->bodies[i], maxPixels);
                if (!m.ok()) return j->done(imageError(j, i, m.status()));
                ResultImage ri;
                ri.image = std::move(m).value();
                ri.index = j->images[i].index;
                ri.url = j->images[i].url;
                ri.watermarkUrl = j->images[i].watermarkUrl;
                out.images.push_back(std::move(ri));
                j->bodies[i].clear();
                j->bodies[i].shrink_to_fit();
            }
            out.timings.total = out.timings.submit + msSince(j->start);
            j->done(std::move(out));
        });
    }

    // ---------------- ending ----------------

    static std::string ref(const JobPtr& j) {
        std::lock_guard<std::mutex> lock(j->state->mu);
        return taskRefText(j->state->taskId, j->state->externalTaskId);
    }

    /** Ends a job with an error (loop thread): stops its timer and transfer, frees its slots
     * when it never got a task, and delivers the status with the task's ids. */
    void end(const JobPtr& j, Status st) {
        if (j->finished) return;
        j->finished = true;
        j->phase = Job::Phase::DONE;
        jobs_.erase(j);
        loop_->cancelTimer(j->timer);
        j->abort->store(true);
        std::string tid, ext = j->ext;
        if (j->state) {
            std::lock_guard<std::mutex> lock(j->state->mu);
            tid = j->state->taskId;
            if (!j->state->externalTaskId.empty()) ext = j->state->externalTaskId;
        }
        st.withTask(tid, ext);
        // A task that was created and is not collected keeps running remotely; its handle
        // (if the caller has one) keeps the slots until it is waited for or cancelled.
        if (j->state) j->state->releaseSlots();
        auto onCreated = std::move(j->onCreated);
        auto done = std::move(j->done);
        auto onQueried = std::move(j->onQueried);
        deliver([onCreated, done, onQueried, st] {
            if (onCreated) onCreated(st);
            if (done) done(st);
            if (onQueried) onQueried(st);
        });
    }

    /** The job finished its part without an error of its own (submit only). */
    void forget(const JobPtr& j) {
        j->finished = true;
        jobs_.erase(j);
    }

    /** Completions run on a worker, never on the loop thread and never under a lock. */
    void deliver(std::function<void()> fn) { WorkerPool::cpu().post(std::move(fn)); }

    /** Every loop iteration: cancel flags and deadlines of the jobs in flight. */
    void tick() {
        if (jobs_.empty()) return;
        const auto now = Clock::now();
        std::vector<std::pair<JobPtr, Status>> ending;
        for (const auto& j : jobs_) {
            if (j->opt.cancel && j->opt.cancel->load()) {
                ending.emplace_back(j, cancelled(j->phase == Job::Phase::QUEUED
                                                     ? "cancelled before the create was sent"
                                                     : "cancelled"));
            } else if (now >= j->deadline) {
                if (j->phase == Job::Phase::QUEUED)
                    ending.emplace_back(
                        j, deadlineExceeded("no free task slots before the "
                                            "deadline (" +
                                            std::to_string(slots_->used()) + " in use)"));
                else if (j->phase == Job::Phase::CREATE)
                    ending.emplace_back(
                        j, deadlineExceeded("POST " + j->path +
                                            ": deadline passed before the task was created"));
                else
                    ending.emplace_back(
                        j, deadlineExceeded(std::string(toString(j->op)) + " task still " +
                                            toString(j->state->last.status) +
                                            " at the deadline; resume it later (" + ref(j) + ")"));
            }
        }
        for (auto& [j, st] : ending) end(j, st);
    }

    void log(LogLevel level, const std::string& line) {
        if (p_.log) p_.log(level, redact(line, secrets_));
    }

    ClientParams p_;
    std::shared_ptr<EventLoop> loop_;
    cv::Ptr<HttpTransport> api_, plain_;
    std::vector<std::string> secrets_;
    std::shared_ptr<Slots> slots_;
    std::mutex rngMu_;
    std::mt19937_64 rng_;
    detail::PollSchedule schedule_;
    std::shared_ptr<std::atomic<bool>> alive_;
    uint64_t ticker_ = 0;
    // Loop thread only.
    std::unordered_set<JobPtr> jobs_;
    std::deque<JobPtr> queue_;
    Clock::time_point gateOpenAt_{};
    Clock::time_point nextQueryAt_{};
};

void TaskClientImpl::prepare(const UpscaleRequest& r, const CallOptions& opt, CreatedFn cb,
                             Completion done) {
    Status st = validate(r);
    if (st.ok()) st = supported(Operation::UPSCALE);
    if (!st.ok()) return failEarly(st, std::move(cb), std::move(done));
    auto job = newJob(Operation::UPSCALE, opt);
    job->ext = externalId(r.externalTaskId);
    job->path = p_.profile.createPath(Operation::UPSCALE);
    job->slots = 1;
    // A synchronous route cannot be looked up: an ambiguous upscale is reported, not re-sent.
    job->canLookup = false;
    job->onCreated = std::move(cb);
    job->done = std::move(done);
    job->createOnly = !job->done;
    auto build = [this, job, r](ImageSource src) {
        auto enc = detail::encodeImage(src, "image", Operation::UPSCALE);
        if (!enc.ok()) {
            loop_->post([this, job, st = enc.status()] { end(job, st); });
            return;
        }
        const std::string json = detail::upscaleRequestJson(r);
        const bool aggregator = p_.profile.auth != AuthStyle::API_KEY;
        const std::string mime = enc->mime;
        const std::string fileName = mime == "image/jpeg"   ? "image.jpg"
                                     : mime == "image/webp" ? "image.webp"
                                                            : "image.png";
        std::string bytes(enc->bytes.begin(), enc->bytes.end());
        job->make = [this, path = job->path, json, mime, fileName, bytes = std::move(bytes),
                     aggregator, ext = job->ext] {
            HttpRequest req;
            req.method = HttpMethod::POST;
            req.url = p_.profile.baseUrl + path;
            req.headers.emplace_back("Accept", "application/json");
            req.parts.push_back({"image_request", "application/json", "", json});
            req.parts.push_back({"image_file", mime, fileName, bytes});
            if (aggregator) req.parts.push_back({"external_task_id", "", "", ext});
            return req;
        };
        loop_->post([this, job] { enqueue(job); });
    };
    if (r.image.url.empty()) {
        WorkerPool::cpu().post([alive = alive_, build, src = r.image] {
            if (alive->load()) build(src);
        });
        return;
    }
    // Ideogram takes a file part only: fetch the URL first (size-capped, no auth header).
    HttpRequest req;
    req.url = r.image.url;
    req.followRedirects = true;
    req.maxResponseBytes = size_t(10) << 20;
    req = timed(std::move(req), job);
    plain_->sendAsync(std::move(req), [this, alive = alive_, job, build](HttpResponse resp) {
        if (!alive->load()) return;
        if (!resp.status.ok())
            return loop_->post(
                [this, job, st = resp.status.withContext("image URL")] { end(job, st); });
        if (resp.httpStatus != 200)
            return loop_->post([this, job, code = resp.httpStatus] {
                end(job, invalidArgument("image: URL answered HTTP " + std::to_string(code)));
            });
        WorkerPool::cpu().post([build, body = std::move(resp.body)] {
            build(ImageSource::fromBytes(std::vector<uint8_t>(body.begin(), body.end())));
        });
    });
}

// ---------- the Provider over the engine ----------

class RemoteProvider final : public Provider {
public:
    explicit RemoteProvider(cv::Ptr<TaskClient> c) : c_(std::move(c)) {}
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
};

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
