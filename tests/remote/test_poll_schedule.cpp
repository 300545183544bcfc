// The adaptive poll schedule, simulated: tasks drawn from a known distribution are "queried" at
// the times the schedule gives, with no clock involved, so queries per task and the time a
// finished task goes unseen are exact for a seed.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "../modules/remote/src/poll_schedule.hpp"

namespace cvgen::remote {
namespace {

using std::chrono::milliseconds;

struct Outcome {
    double queries = 0;  // per task
    double unseen = 0;   // mean ms between a task's end and the query that sees it
};

/** Learns `learn` tasks from `draw`, then runs `n` more through the schedule. */
template <class Draw>
Outcome simulate(detail::PollSchedule& s, Draw draw, int learn, int n) {
    for (int i = 0; i < learn; ++i) s.record(Operation::EXPAND, milliseconds(draw()));
    Outcome o;
    for (int i = 0; i < n; ++i) {
        const int64_t end = draw();
        milliseconds prev{0};
        for (int k = 0;; ++k) {
            const milliseconds at = s.due(Operation::EXPAND, k, prev);
            EXPECT_GT(at.count(), prev.count()) << "queries must move forward";
            o.queries += 1;
            if (at.count() >= end) {
                o.unseen += double(at.count() - end);
                break;
            }
            prev = at;
            if (k > 1000) {
                ADD_FAILURE() << "no end in sight";
                return o;
            }
        }
    }
    o.queries /= n;
    o.unseen /= n;
    return o;
}

TEST(Remote_PollSchedule, spreadTaskTimesAreSeenSoonWithFewQueries) {
    // Lognormal task times, mean 6 s and sd 2 s (what the benchmark uses).
    std::mt19937_64 rng(7);
    const double sigma = std::sqrt(std::log(1 + 1.0 / 9)),
                 mu = std::log(6000.0) - sigma * sigma / 2;
    std::lognormal_distribution<double> ln(mu, sigma);
    auto draw = [&] { return int64_t(ln(rng)); };
    PollPolicy p;  // the defaults
    detail::PollSchedule s(p, 1);
    const Outcome o = simulate(s, draw, 200, 4000);
    // Measured 3.3 queries and ~540 ms unseen. The best any schedule can do at that many queries
    // is ~500 ms (a dynamic programme on the true distribution); the quantile schedule this one
    // replaced needed over 5 queries for ~700 ms.
    EXPECT_LE(o.queries, 3.6);
    EXPECT_LE(o.unseen, 650.0);
    // A cheaper query buys a shorter wait.
    p.queryCost = 0.005;
    detail::PollSchedule eager(p, 1);
    const Outcome e = simulate(eager, draw, 200, 4000);
    EXPECT_GT(e.queries, o.queries);
    EXPECT_LT(e.unseen, o.unseen * 0.7);
}

TEST(Remote_PollSchedule, equalTaskTimesTakeOneQuery) {
    PollPolicy p;
    p.jitter = 0;
    detail::PollSchedule s(p, 1);
    const Outcome o = simulate(
        s, [] { return int64_t(500); }, 10, 100);
    EXPECT_DOUBLE_EQ(o.queries, 1.0);
    EXPECT_LE(o.unseen, 10.0);
}

TEST(Remote_PollSchedule, withCallbacksQueriesAreAFallback) {
    std::mt19937_64 rng(3);
    std::uniform_int_distribution<int64_t> u(4000, 8000);
    auto draw = [&] { return u(rng); };
    PollPolicy p;
    detail::PollSchedule polling(p, 1, false), fallback(p, 1, true);
    const Outcome a = simulate(polling, draw, 100, 1000);
    const Outcome b = simulate(fallback, draw, 100, 1000);
    EXPECT_LT(b.queries, 2.0);
    EXPECT_LT(b.queries, a.queries / 1.5);
}

TEST(Remote_PollSchedule, beforeAnythingIsLearnedTheFixedScheduleApplies) {
    PollPolicy p;
    p.firstDelay = milliseconds(500);
    p.interval = milliseconds(500);
    p.multiplier = 2;
    p.maxInterval = milliseconds(1500);
    p.jitter = 0;
    detail::PollSchedule s(p, 1);
    EXPECT_EQ(s.due(Operation::EXPAND, 0, milliseconds(0)).count(), 500);
    EXPECT_EQ(s.due(Operation::EXPAND, 1, milliseconds(500)).count(), 1000);
    EXPECT_EQ(s.due(Operation::EXPAND, 2, milliseconds(1000)).count(), 2000);
    EXPECT_EQ(s.due(Operation::EXPAND, 3, milliseconds(2000)).count(), 3500);
    // Learning one operation leaves the others on the fixed schedule.
    for (int i = 0; i < 5; ++i) s.record(Operation::EXPAND, milliseconds(3000));
    EXPECT_GE(s.due(Operation::EXPAND, 0, milliseconds(0)).count(), 3000);
    EXPECT_EQ(s.due(Operation::UPSCALE, 0, milliseconds(0)).count(), 500);
}

TEST(Remote_PollSchedule, pastEveryLearnedTimeGapsGrowUpToTheCap) {
    PollPolicy p;
    p.jitter = 0;
    p.maxInterval = milliseconds(2000);
    detail::PollSchedule s(p, 1);
    for (int i = 0; i < 10; ++i) s.record(Operation::EXPAND, milliseconds(1000 + 10 * i));
    milliseconds prev{0};
    std::vector<int64_t> gaps;
    for (int k = 0; k < 40; ++k) {
        const milliseconds at = s.due(Operation::EXPAND, k, prev);
        gaps.push_back(at.count() - prev.count());
        prev = at;
    }
    EXPECT_EQ(gaps.back(), 2000);
    EXPECT_GT(prev.count(), 40000);  // a task that never ends is not queried in a tight loop
}

}  // namespace
}  // namespace cvgen::remote
