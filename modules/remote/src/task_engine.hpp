// The task engine (src only): every task of one client as a state machine on the client's event
// loop — slots, create (idempotent, lookups by external id), adaptive polling, downloads, the
// shared rate-limit gate, deadlines and cancel flags. CPU work (decoding) runs on the CPU pool;
// completions are delivered there, never on the loop thread and never under a lock.
#ifndef CVGEN_REMOTE_TASK_ENGINE_HPP
#define CVGEN_REMOTE_TASK_ENGINE_HPP

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "cvgen/remote/client.hpp"
#include "event_loop.hpp"
#include "poll_schedule.hpp"

namespace cvgen {
namespace remote {

using Clock = std::chrono::steady_clock;

namespace detail {

using std::chrono::milliseconds;

inline milliseconds msSince(Clock::time_point t0) {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
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

}  // namespace detail

/** What a TaskHandle shares: the task's ids and last state, and the slots it holds. */
struct TaskState {
    mutable std::mutex mu;
    Operation op = Operation::EXPAND;
    std::string taskId, externalTaskId, requestId;
    TaskObject last;
    bool haveObject = false;
    bool pollable = true;   // false for a synchronous upscale (finished at submit)
    std::string queryBase;  // create path; query = queryBase + "/" + id
    std::chrono::milliseconds submitTime{0};
    Clock::time_point createdAt{};  // when the create answer arrived
    std::shared_ptr<detail::Slots> slots;
    int held = 0;
    void releaseSlots() {
        std::shared_ptr<detail::Slots> s;
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

namespace detail {

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
    // Download.
    std::vector<TaskImage> images;
    std::vector<std::string> bodies;
    size_t downloaded = 0;
    Clock::time_point downloadStart;
    milliseconds waited{0};
    // Control.
    std::shared_ptr<std::atomic<bool>> abort = std::make_shared<std::atomic<bool>>(false);
    EventLoop::TimerId timer = 0;
    bool finished = false;
};
using JobPtr = std::shared_ptr<Job>;

class TaskEngine {
public:
    TaskEngine(ClientParams p, std::shared_ptr<EventLoop> loop, cv::Ptr<HttpTransport> api,
               cv::Ptr<HttpTransport> plain, std::vector<std::string> secrets);
    /** Ends every job still running as CANCELLED, then stops the loop. */
    ~TaskEngine();
    TaskEngine(const TaskEngine&) = delete;
    TaskEngine& operator=(const TaskEngine&) = delete;

    const ClientParams& params() const { return p_; }
    EventLoop& loop() { return *loop_; }
    HttpTransport& plainTransport() { return *plain_; }
    /** False once the engine is being destroyed (checked by work posted elsewhere). */
    std::shared_ptr<std::atomic<bool>> alive() const { return alive_; }
    int slotsInUse() const { return slots_->used(); }

    /** A job for `op` with the call's deadline. Any thread. */
    JobPtr newJob(Operation op, const CallOptions& opt) const;
    /** A random factor in [1-jitter, 1+jitter]. Any thread. */
    double jitter();
    /** `req` with the job's remaining time as timeout and its abort flag. */
    HttpRequest timed(HttpRequest req, const JobPtr& j) const;

    /** Queues a prepared create (it starts when its slots are free). Any thread. */
    void submit(const JobPtr& j);
    /** Ends a job with an error. Any thread. */
    void fail(const JobPtr& j, Status st);
    /** Polls an existing task to its end, downloads and decodes it. Any thread. */
    void startWait(std::shared_ptr<TaskState> s, const CallOptions& opt, Completion done,
                   bool fromHandle);
    /** One query of an existing task (job->oneQuery, job->onQueried set). Any thread. */
    void pollOnce(const JobPtr& j);
    /** A provider callback reported `t`: a job polling that task takes it as its latest state,
     * and one that ended goes on to its download at once. Any thread. False when no job in
     * flight has that task. */
    void notify(TaskObject t);
    /** Redacted log line. */
    void log(LogLevel level, const std::string& line);

private:
    // ---------------- the engine (loop thread) ----------------
    /** Waits in `wait` (a timer) unless the test hook makes waits instant. */
    void later(const JobPtr& j, milliseconds wait, std::function<void()> fn);
    /** Runs `fn` when the shared rate-limit gate is open (and, for queries, within the cap). */
    void gated(const JobPtr& j, bool isQuery, std::function<void()> fn);

    void closeGate(milliseconds d);

    HttpRequest apiGet(const std::string& path, const JobPtr& j) const;

    void enqueue(const JobPtr& j);
    /** Starts queued creates while slots are free (in order). */
    void pump();

    void create(const JobPtr& j);

    void onCreateAnswer(const JobPtr& j, HttpResponse r);

    static bool isRateLimit(const Status& st);
    /** Looks the task up by external id (after an ambiguous create, or to adopt a duplicate). */
    void lookup(const JobPtr& j, int attempt, bool adopting);

    void onLookup(const JobPtr& j, const HttpResponse& r, int attempt, bool adopting);

    void created_(const JobPtr& j, TaskObject t);
    // ---------------- polling ----------------

    void schedulePoll(const JobPtr& j);

    void query(const JobPtr& j);

    void sendQuery(const JobPtr& j, const std::string& id, int attempt);

    void onQuery(const JobPtr& j, const std::string& id, int attempt, const HttpResponse& r);

    void learn(const JobPtr& j, const TaskObject& t);
    // ---------------- download and decode ----------------
    void terminal(const JobPtr& j);

    void download(const JobPtr& j, size_t i, int attempt);

    void onDownload(const JobPtr& j, size_t i, int attempt, HttpResponse r);

    static Status imageError(const JobPtr& j, size_t i, const Status& st);

    void downloaded(const JobPtr& j);
    // ---------------- ending ----------------
    static std::string ref(const JobPtr& j);
    /** Ends a job with an error (loop thread): stops its timer and transfer, frees its slots
     * when it never got a task, and delivers the status with the task's ids. */
    void end(const JobPtr& j, Status st);
    /** The job finished its part without an error of its own (submit only). */
    void forget(const JobPtr& j);
    /** Completions run on a worker, never on the loop thread and never under a lock. */
    void deliver(std::function<void()> fn);
    /** Every loop iteration: cancel flags and deadlines of the jobs in flight. */
    void tick();

    ClientParams p_;
    std::shared_ptr<EventLoop> loop_;
    cv::Ptr<HttpTransport> api_, plain_;
    std::vector<std::string> secrets_;
    std::shared_ptr<Slots> slots_;
    std::mutex rngMu_;
    std::mt19937_64 rng_;  // jitter
    detail::PollSchedule schedule_;
    std::shared_ptr<std::atomic<bool>> alive_;
    uint64_t ticker_ = 0;
    // Loop thread only.
    std::unordered_set<JobPtr> jobs_;
    std::deque<JobPtr> queue_;
    Clock::time_point gateOpenAt_{};
    std::deque<Clock::time_point> recentQueries_;  // the last queries' send times, sorted
};

}  // namespace detail
}  // namespace remote
}  // namespace cvgen

#endif  // CVGEN_REMOTE_TASK_ENGINE_HPP
