#include "task_engine.hpp"

#include <algorithm>
#include <cmath>
#include <future>

#include "cvgen/core/base64.hpp"
#include "cvgen/core/worker_pool.hpp"
#include "dialect.hpp"
#include "retry.hpp"

namespace cvgen {
namespace remote {
namespace detail {

namespace {

std::string taskRefText(const std::string& id, const std::string& ext) {
    std::string s;
    if (!id.empty()) s += "task_id=" + id;
    if (!ext.empty()) s += std::string(s.empty() ? "" : " ") + "external_task_id=" + ext;
    return s;
}

}  // namespace

TaskEngine::TaskEngine(ClientParams p, std::shared_ptr<EventLoop> loop, cv::Ptr<HttpTransport> api,
                       cv::Ptr<HttpTransport> plain, std::vector<std::string> secrets)
    : p_(std::move(p)),
      loop_(std::move(loop)),
      api_(std::move(api)),
      plain_(std::move(plain)),
      secrets_(std::move(secrets)),
      slots_(std::make_shared<Slots>(p_.maxSlots)),
      rng_(p_.seed ? p_.seed : std::random_device{}()),
      schedule_(p_.poll, p_.seed ? p_.seed + 1 : std::random_device{}(), !p_.callbackUrl.empty()) {
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

TaskEngine::~TaskEngine() {
    // Never on the loop thread: every completion leaves its job before it is called, so no
    // object the loop releases can hold the last reference to the client.
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

JobPtr TaskEngine::newJob(Operation op, const CallOptions& opt) const {
    auto j = std::make_shared<Job>();
    j->op = op;
    j->opt = opt;
    j->start = Clock::now();
    const milliseconds d = opt.deadline.count() > 0 ? opt.deadline : p_.defaultDeadline;
    j->deadline = j->start + d;
    return j;
}

double TaskEngine::jitter() {
    std::lock_guard<std::mutex> lock(rngMu_);
    std::uniform_real_distribution<double> u(1.0 - p_.poll.jitter, 1.0 + p_.poll.jitter);
    return u(rng_);
}

void TaskEngine::submit(const JobPtr& j) {
    loop_->post([this, j] { enqueue(j); });
}

void TaskEngine::fail(const JobPtr& j, Status st) {
    loop_->post([this, j, st = std::move(st)] { end(j, st); });
}

void TaskEngine::notify(TaskObject t) {
    loop_->post([this, t = std::move(t)] {
        JobPtr hit;
        for (const auto& j : jobs_) {
            if (j->finished || j->phase != Job::Phase::POLL || !j->state || j->oneQuery) continue;
            std::lock_guard<std::mutex> lock(j->state->mu);
            const TaskState& s = *j->state;
            if ((!t.taskId.empty() && s.taskId == t.taskId) ||
                (!t.externalTaskId.empty() && s.externalTaskId == t.externalTaskId)) {
                hit = j;
                break;
            }
        }
        if (!hit) return;
        {
            std::lock_guard<std::mutex> lock(hit->state->mu);
            hit->state->last = t;
            hit->state->haveObject = true;
        }
        if (!isTerminal(t.status)) return;  // the next poll stays as it was
        log(LogLevel::DEBUG, std::string(toString(hit->op)) + " completed by callback: " +
                                 taskRefText(t.taskId, t.externalTaskId));
        loop_->cancelTimer(hit->timer);
        learn(hit, t);
        terminal(hit);
    });
}

void TaskEngine::pollOnce(const JobPtr& job) {
    job->phase = Job::Phase::POLL;
    loop_->post([this, job] {
        {
            std::lock_guard<std::mutex> lock(job->state->mu);
            if (job->state->createdAt == Clock::time_point{}) job->state->createdAt = Clock::now();
        }
        jobs_.insert(job);
        query(job);
    });
}

void TaskEngine::later(const JobPtr& j, milliseconds wait, std::function<void()> fn) {
    if (p_.sleep) {
        p_.sleep(wait);
        wait = milliseconds(0);
    }
    // Never past the deadline: the tick reports it then.
    j->timer = loop_->after(std::max(milliseconds(0), wait), std::move(fn));
}

void TaskEngine::gated(const JobPtr& j, bool isQuery, std::function<void()> fn) {
    auto now = Clock::now();
    auto at = std::max(now, gateOpenAt_);
    if (isQuery && p_.poll.maxQueriesPerSecond > 0) {
        // A sliding window: at most k = max(1, ⌊rate⌋) queries in any k / rate seconds — a wave
        // of tasks that end together is queried together (up to k at once), and no window of
        // that length ever holds more.
        const double rate = p_.poll.maxQueriesPerSecond;
        const size_t k = size_t(std::max(1.0, std::floor(rate)));
        const auto window = std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(double(k) / rate));
        if (recentQueries_.size() >= k)
            at = std::max(at, recentQueries_[recentQueries_.size() - k] + window);
        recentQueries_.insert(std::upper_bound(recentQueries_.begin(), recentQueries_.end(), at),
                              at);
        while (recentQueries_.size() > k) recentQueries_.pop_front();
    }
    if (at <= now) return fn();
    j->timer = loop_->at(at, std::move(fn));
}

void TaskEngine::closeGate(milliseconds d) {
    gateOpenAt_ = std::max(gateOpenAt_, Clock::now() + d);
}

HttpRequest TaskEngine::timed(HttpRequest req, const JobPtr& j) const {
    const auto left = std::chrono::duration_cast<milliseconds>(j->deadline - Clock::now());
    req.timeout = std::max(milliseconds(1), std::min(left, p_.transportParams.totalTimeout));
    req.cancel = j->abort;
    return req;
}

HttpRequest TaskEngine::apiGet(const std::string& path, const JobPtr& j) const {
    HttpRequest req;
    req.url = p_.profile.baseUrl + path;
    req.headers.emplace_back("Accept", "application/json");
    return timed(std::move(req), j);
}

void TaskEngine::enqueue(const JobPtr& j) {
    jobs_.insert(j);
    queue_.push_back(j);
    pump();
}

void TaskEngine::pump() {
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

void TaskEngine::create(const JobPtr& j) {
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

void TaskEngine::onCreateAnswer(const JobPtr& j, HttpResponse r) {
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
    switch (
        detail::classifyCreate(r, st, parsed, j->canLookup, j->afterAmbiguous, !j->ext.empty())) {
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

bool TaskEngine::isRateLimit(const Status& st) {
    return st.code() == Code::RESOURCE_EXHAUSTED;
}

void TaskEngine::lookup(const JobPtr& j, int attempt, bool adopting) {
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

void TaskEngine::onLookup(const JobPtr& j, const HttpResponse& r, int attempt, bool adopting) {
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

void TaskEngine::created_(const JobPtr& j, TaskObject t) {
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
        deliver([cb = std::move(cb), h = TaskHandle(j->state)] { cb(h); });
    }
    if (j->createOnly) return forget(j);
    j->phase = Job::Phase::POLL;
    if (isTerminal(t.status)) return terminal(j);
    schedulePoll(j);
}

void TaskEngine::startWait(std::shared_ptr<TaskState> s, const CallOptions& opt, Completion done,
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
        if (fromHandle && have) return schedulePoll(j);  // just created: give it the first delay
        query(j);
    });
}

void TaskEngine::schedulePoll(const JobPtr& j) {
    const milliseconds since = msSince(j->state->createdAt);
    const milliseconds due = schedule_.due(j->op, j->queries, j->lastQueryAt);
    milliseconds wait = due - since;
    later(j, std::max(milliseconds(0), wait), [this, j] { query(j); });
}

void TaskEngine::query(const JobPtr& j) {
    if (j->finished || j->phase != Job::Phase::POLL) return;
    std::string id;
    {
        std::lock_guard<std::mutex> lock(j->state->mu);
        id = j->state->taskId.empty() ? j->state->externalTaskId : j->state->taskId;
        if (!j->state->pollable) {
            if (j->oneQuery && j->state->haveObject) {
                auto cb = std::move(j->onQueried);
                TaskObject last = j->state->last;
                j->finished = true;
                return deliver([cb = std::move(cb), last] { cb(last); });
            }
            return end(j, cancelled("task no longer tracked"));
        }
    }
    gated(j, true, [this, j, id] { sendQuery(j, id, 1); });
}

void TaskEngine::sendQuery(const JobPtr& j, const std::string& id, int attempt) {
    if (j->finished || j->phase != Job::Phase::POLL) return;
    ++j->queries;
    j->lastQueryAt = msSince(j->state->createdAt);
    api_->sendAsync(apiGet(j->state->queryBase + "/" + id, j),
                    [this, alive = alive_, j, id, attempt](HttpResponse r) {
                        loop_->post([this, alive, j, id, attempt, r = std::move(r)] {
                            if (alive->load()) onQuery(j, id, attempt, r);
                        });
                    });
}

void TaskEngine::onQuery(const JobPtr& j, const std::string& id, int attempt,
                         const HttpResponse& r) {
    // Finished, or already downloading (a callback got there first).
    if (j->finished || j->phase != Job::Phase::POLL) return;
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
            return deliver([cb = std::move(cb), st] { cb(st); });
        }
        return end(j, st);
    }
    if (j->oneQuery) {
        j->finished = true;
        jobs_.erase(j);
        auto cb = std::move(j->onQueried);
        return deliver([cb = std::move(cb), obj = *t] { cb(obj); });
    }
    if (isTerminal(t->status)) {
        learn(j, *t);
        return terminal(j);
    }
    schedulePoll(j);
}

void TaskEngine::learn(const JobPtr& j, const TaskObject& t) {
    // The provider's own clock when it gives both ends; ours otherwise (an upper bound).
    // A resumed task's local start is when it was resumed, not created: only the provider's
    // clock can say how long it took.
    const milliseconds local = msSince(j->state->createdAt);
    const bool providerClock = t.createdAtMs > 0 && t.updatedAtMs >= t.createdAtMs &&
                               t.updatedAtMs - t.createdAtMs <= local.count() + 1000;
    if (providerClock)
        schedule_.record(j->op, milliseconds(t.updatedAtMs - t.createdAtMs));
    else if (!j->waitOnly)
        schedule_.record(j->op, local);
}

std::string TaskEngine::ref(const JobPtr& j) {
    std::lock_guard<std::mutex> lock(j->state->mu);
    return taskRefText(j->state->taskId, j->state->externalTaskId);
}

void TaskEngine::end(const JobPtr& j, Status st) {
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
    deliver([onCreated = std::move(onCreated), done = std::move(done),
             onQueried = std::move(onQueried), st] {
        if (onCreated) onCreated(st);
        if (done) done(st);
        if (onQueried) onQueried(st);
    });
}

void TaskEngine::forget(const JobPtr& j) {
    j->finished = true;
    jobs_.erase(j);
}

void TaskEngine::deliver(std::function<void()> fn) {
    WorkerPool::cpu().post(std::move(fn));
}

void TaskEngine::tick() {
    if (jobs_.empty()) return;
    const auto now = Clock::now();
    std::vector<std::pair<JobPtr, Status>> ending;
    for (const auto& j : jobs_) {
        if (j->opt.cancel && j->opt.cancel->load()) {
            ending.emplace_back(
                j, cancelled(j->phase == Job::Phase::QUEUED ? "cancelled before the create was sent"
                                                            : "cancelled"));
        } else if (now >= j->deadline) {
            if (j->phase == Job::Phase::QUEUED)
                ending.emplace_back(j,
                                    deadlineExceeded("no free task slots before the "
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

void TaskEngine::log(LogLevel level, const std::string& line) {
    if (p_.log) p_.log(level, redact(line, secrets_));
}

}  // namespace detail
}  // namespace remote
}  // namespace cvgen
