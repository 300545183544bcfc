#include "cvgen/core/worker_pool.hpp"

#include <algorithm>
#include <chrono>

namespace cvgen {

WorkerPool::WorkerPool(size_t maxThreads, std::chrono::milliseconds idleTimeout)
    : max_(maxThreads), idle_(idleTimeout) {}

WorkerPool::~WorkerPool() {
    std::vector<std::thread> ts;
    {
        std::unique_lock<std::mutex> lock(mu_);
        stopping_ = true;
        cv_.notify_all();
        ts.swap(threads_);
    }
    for (auto& t : ts)
        if (t.joinable()) t.join();
}

void WorkerPool::post(std::function<void()> job) {
    enqueue(std::move(job), false);
}

void WorkerPool::postUrgent(std::function<void()> job) {
    enqueue(std::move(job), true);
}

void WorkerPool::enqueue(std::function<void()> job, bool urgent) {
    std::lock_guard<std::mutex> lock(mu_);
    if (urgent) {
        jobs_.insert(jobs_.begin() + std::ptrdiff_t(urgent_), std::move(job));
        ++urgent_;
    } else {
        jobs_.push_back(std::move(job));
    }
    // Start a thread when every live one is busy and the bound allows it.
    if (idleCount_ < jobs_.size() && (max_ == 0 || alive_ < max_)) {
        ++alive_;
        // Unbounded pools let idle threads end; their std::thread objects are detached then.
        std::thread t([this] { run(); });
        if (max_ == 0)
            t.detach();
        else
            threads_.push_back(std::move(t));
    }
    cv_.notify_one();
}

size_t WorkerPool::threads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return alive_;
}

void WorkerPool::run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
        if (jobs_.empty()) {
            if (stopping_) break;
            ++idleCount_;
            bool timedOut = false;
            if (max_ == 0) {
                timedOut = !cv_.wait_for(lock, idle_, [&] { return !jobs_.empty() || stopping_; });
            } else {
                cv_.wait(lock, [&] { return !jobs_.empty() || stopping_; });
            }
            --idleCount_;
            if (timedOut) break;
            continue;
        }
        std::function<void()> job = std::move(jobs_.front());
        jobs_.pop_front();
        if (urgent_ > 0) --urgent_;
        lock.unlock();
        job();
        job = nullptr;  // destroy captures outside the lock
        lock.lock();
    }
    --alive_;
}

WorkerPool& WorkerPool::cpu() {
    static WorkerPool* pool =
        new WorkerPool(std::max<size_t>(2, std::thread::hardware_concurrency()));
    return *pool;
}

WorkerPool& WorkerPool::blocking() {
    static WorkerPool* pool = new WorkerPool(0);
    return *pool;
}

}  // namespace cvgen
