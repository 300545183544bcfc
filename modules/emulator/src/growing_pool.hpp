// Internal: a thread pool that grows a thread for every job that finds no idle one, up to a cap,
// and lets threads that stay idle exit. The plain-HTTP server (http_server.hpp) runs requests on
// it; the TLS server (httplib) runs whole connections on it, since httplib 0.11 keeps a
// connection's thread until the connection has been idle for the keep-alive timeout.
#ifndef CVGEN_EMULATOR_SRC_GROWING_POOL_HPP
#define CVGEN_EMULATOR_SRC_GROWING_POOL_HPP

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <httplib.h>

namespace cvgen::emulator::detail {

/** @brief Connection and thread counters of a server (shared with ServerImpl's stats; httplib
 * creates and destroys its task queue inside listen()). */
struct ConnCounters {
    std::atomic<int64_t> open{0};         ///< connections open now
    std::atomic<int64_t> peakOpen{0};     ///< most connections open at once
    std::atomic<int64_t> accepted{0};     ///< connections accepted so far
    std::atomic<int64_t> threads{0};      ///< live pool threads
    std::atomic<int64_t> busy{0};         ///< jobs running
    std::atomic<int64_t> waiting{0};      ///< jobs waiting for a thread
    std::atomic<int64_t> spawnFailed{0};  ///< thread creations the system refused
};

/** @brief Raises `peak` to `value` if it is lower. */
void raisePeak(std::atomic<int64_t>& peak, int64_t value);

class GrowingPool final : public httplib::TaskQueue {
public:
    struct Params {
        size_t maxThreads = 1024;  ///< at most this many jobs run at once; more wait
        /** The default thread stack size. httplib (the TLS server) matches the path and the
         * Range header with libstdc++'s std::regex, which recurses per character: an 8 KiB path
         * (httplib's limit) needs ~4.7 MB of stack; a smaller one would let one long URL crash
         * the server. The reservation is virtual: an idle thread touches tens of KiB of it. */
        size_t stackBytes = size_t(8) << 20;
        size_t keepThreads = 8;  ///< idle threads beyond this many exit after idleExit
        std::chrono::milliseconds idleExit{5000};
    };

    /** @param jobsAreConnections each job is a whole connection (httplib's TLS server): the
     * pool also counts open/peakOpen/accepted. */
    GrowingPool(const Params& p, std::shared_ptr<ConnCounters> counters,
                bool jobsAreConnections = false);
    ~GrowingPool() override;
    GrowingPool(const GrowingPool&) = delete;
    GrowingPool& operator=(const GrowingPool&) = delete;

    void enqueue(std::function<void()> fn) override;
    /** @brief Runs every queued job, then joins every thread. Idempotent. */
    void shutdown() override;

private:
    static void* threadMain(void* self);
    void work();
    bool spawnLocked();
    void reapFinished();

    Params p_;
    std::shared_ptr<ConnCounters> counters_;
    bool jobsAreConnections_;
    std::mutex mu_;
    std::condition_variable cv_;      // work arrived or shutting down
    std::condition_variable doneCv_;  // a thread exited
    std::deque<std::function<void()>> jobs_;
    size_t threads_ = 0;   // live
    size_t idle_ = 0;      // waiting for a job
    size_t starting_ = 0;  // created, not yet looking for a job
    bool shutdown_ = false;
    std::vector<pthread_t> finished_;  // exited (or exiting), not joined yet
};

}  // namespace cvgen::emulator::detail

#endif  // CVGEN_EMULATOR_SRC_GROWING_POOL_HPP
