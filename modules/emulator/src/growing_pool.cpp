#include "growing_pool.hpp"

#include <algorithm>

namespace cvgen::emulator::detail {

void raisePeak(std::atomic<int64_t>& peak, int64_t value) {
    int64_t seen = peak.load();
    while (value > seen && !peak.compare_exchange_weak(seen, value)) {
    }
}

GrowingPool::GrowingPool(const Params& p, std::shared_ptr<ConnCounters> counters,
                         bool jobsAreConnections)
    : p_(p), counters_(std::move(counters)), jobsAreConnections_(jobsAreConnections) {
    p_.maxThreads = std::max<size_t>(1, p_.maxThreads);
    p_.stackBytes = std::max<size_t>(PTHREAD_STACK_MIN, p_.stackBytes);
}

GrowingPool::~GrowingPool() {
    shutdown();
}

void GrowingPool::enqueue(std::function<void()> fn) {
    reapFinished();
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(std::move(fn));
    if (jobsAreConnections_) ++counters_->accepted;
    ++counters_->waiting;
    // Every queued job needs an idle thread of its own: a job may hold its thread for long (a
    // keep-alive connection, a slow-answer fault).
    // A thread still starting counts as idle: it takes the next job, so a busy machine that
    // is slow to schedule new threads does not get one spawned per enqueue.
    if (jobs_.size() > idle_ + starting_ && threads_ < p_.maxThreads) spawnLocked();
    cv_.notify_one();
}

bool GrowingPool::spawnLocked() {
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return false;
    pthread_attr_setstacksize(&attr, p_.stackBytes);
    pthread_t tid;
    const bool ok = pthread_create(&tid, &attr, &GrowingPool::threadMain, this) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) {
        // Out of threads or memory: the job waits for a thread that frees up.
        ++counters_->spawnFailed;
        return false;
    }
    ++threads_;
    ++starting_;
    ++counters_->threads;
    return true;
}

void* GrowingPool::threadMain(void* self) {
    static_cast<GrowingPool*>(self)->work();
    return nullptr;
}

void GrowingPool::work() {
    std::unique_lock<std::mutex> lock(mu_);
    --starting_;
    for (;;) {
        if (jobs_.empty() && !shutdown_) {
            ++idle_;
            const bool woken =
                cv_.wait_for(lock, p_.idleExit, [&] { return !jobs_.empty() || shutdown_; });
            --idle_;
            if (!woken && threads_ > p_.keepThreads) break;
            continue;
        }
        if (jobs_.empty()) break;  // shutting down and drained
        std::function<void()> fn = std::move(jobs_.front());
        jobs_.pop_front();
        --counters_->waiting;
        ++counters_->busy;
        if (jobsAreConnections_) raisePeak(counters_->peakOpen, ++counters_->open);
        lock.unlock();
        fn();
        fn = nullptr;
        lock.lock();
        --counters_->busy;
        if (jobsAreConnections_) --counters_->open;
    }
    --threads_;
    --counters_->threads;
    finished_.push_back(pthread_self());
    doneCv_.notify_all();
}

void GrowingPool::reapFinished() {
    std::vector<pthread_t> done;
    {
        std::lock_guard<std::mutex> lock(mu_);
        done.swap(finished_);
    }
    for (pthread_t t : done) pthread_join(t, nullptr);
}

void GrowingPool::shutdown() {
    {
        std::unique_lock<std::mutex> lock(mu_);
        shutdown_ = true;
        cv_.notify_all();
        doneCv_.wait(lock, [&] { return threads_ == 0; });
    }
    reapFinished();
}

}  // namespace cvgen::emulator::detail
