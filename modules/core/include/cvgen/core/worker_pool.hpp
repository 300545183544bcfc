#ifndef CVGEN_CORE_WORKER_POOL_HPP
#define CVGEN_CORE_WORKER_POOL_HPP

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cvgen {

/** @brief A pool of threads running posted jobs in FIFO order (urgent ones first).
 *
 * Bounded (`maxThreads` > 0): at most that many threads, started lazily; this is where CPU work
 * runs (codecs, base64, composition, the offline engine, file writes) so a batch uses about as
 * many threads as the machine has cores, whatever the number of tasks in flight.
 * Unbounded (`maxThreads` = 0): a thread is added whenever a job finds none idle; idle threads
 * end after `idleTimeout`. Only for jobs that block on something else than the CPU (a legacy
 * synchronous Provider called through the asynchronous API).
 *
 * Jobs must not throw (an escaping exception terminates, as from any std::thread). The
 * destructor waits for queued jobs to finish.
 * @note Thread-safe.
 */
class WorkerPool {
public:
    explicit WorkerPool(size_t maxThreads,
                        std::chrono::milliseconds idleTimeout = std::chrono::seconds(10));
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    /** @brief Queues `job`; it runs on one of the pool's threads. */
    void post(std::function<void()> job);
    /** @brief Queues `job` ahead of every job queued with post() (FIFO among urgent ones): for
     * the short steps that put an idle resource back to work, such as encoding the request that
     * fills a free provider slot, so they never wait behind a wave of result decoding. */
    void postUrgent(std::function<void()> job);
    /** @brief Threads started and still alive. */
    size_t threads() const;
    /** @brief The bound given at construction (0 = unbounded). */
    size_t maxThreads() const noexcept { return max_; }

    /** @brief The process-wide CPU pool: std::thread::hardware_concurrency() threads (at least
     * 2). Never destroyed (jobs may still run while the process exits). */
    static WorkerPool& cpu();
    /** @brief The process-wide unbounded pool for blocking calls. Never destroyed. */
    static WorkerPool& blocking();

private:
    void run();

    const size_t max_;
    const std::chrono::milliseconds idle_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    void enqueue(std::function<void()> job, bool urgent);

    std::deque<std::function<void()>> jobs_;
    size_t urgent_ = 0;  ///< the first urgent_ entries of jobs_ are urgent ones
    std::vector<std::thread> threads_;
    size_t alive_ = 0, idleCount_ = 0;
    bool stopping_ = false;
};

}  // namespace cvgen

#endif  // CVGEN_CORE_WORKER_POOL_HPP
