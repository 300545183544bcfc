// The worker pool: bounded thread count, FIFO order, urgent jobs ahead of queued ones.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>

#include "cvgen/core/worker_pool.hpp"

namespace cvgen {
namespace {

TEST(Core_WorkerPool, urgentJobsRunBeforeQueuedOnesInTheirOwnOrder) {
    WorkerPool pool(1);
    std::mutex mu;
    std::condition_variable cv;
    bool go = false;
    std::string order;
    std::promise<void> started, done;
    // Keep the only thread busy while the queue fills.
    pool.post([&] {
        started.set_value();
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return go; });
    });
    started.get_future().wait();
    auto add = [&](char c) {
        return [&, c] {
            std::lock_guard<std::mutex> lock(mu);
            order += c;
        };
    };
    pool.post(add('a'));
    pool.post(add('b'));
    pool.postUrgent(add('U'));
    pool.post(add('c'));
    pool.postUrgent(add('V'));
    pool.post([&] { done.set_value(); });
    {
        std::lock_guard<std::mutex> lock(mu);
        go = true;
    }
    cv.notify_all();
    done.get_future().wait();
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(order, "UVabc");
    EXPECT_EQ(pool.threads(), 1u);
}

TEST(Core_WorkerPool, aBoundedPoolNeverStartsMoreThreadsThanItsBound) {
    WorkerPool pool(3);
    std::promise<void> done;
    std::atomic<int> left{200};
    for (int i = 0; i < 200; ++i)
        pool.post([&] {
            if (--left == 0) done.set_value();
        });
    done.get_future().wait();
    EXPECT_LE(pool.threads(), 3u);
    EXPECT_EQ(pool.maxThreads(), 3u);
}

}  // namespace
}  // namespace cvgen
