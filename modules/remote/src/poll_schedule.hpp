// When to query a running task: learned from the tasks already finished in this client (same
// operation), so a task is seen soon after it ends with few queries.
#ifndef CVGEN_REMOTE_POLL_SCHEDULE_HPP
#define CVGEN_REMOTE_POLL_SCHEDULE_HPP

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <random>
#include <vector>

#include "cvgen/core/provider.hpp"
#include "cvgen/remote/client.hpp"

namespace cvgen {
namespace remote {
namespace detail {

/** The query times of one operation, chosen from the durations seen so far: each next query
 * minimises the expected (time a finished task goes unseen) + cost × (queries) over the learned
 * distribution — dense around the usual end, sparse where few tasks end. Past the longest task
 * seen, queries are spaced geometrically. */
class PollSchedule {
public:
    /** `callbacks`: a callback receiver completes tasks, so queries are only a slow fallback
     * (PollPolicy::queryCostWithCallbacks instead of queryCost). */
    PollSchedule(const PollPolicy& policy, uint64_t seed, bool callbacks = false);

    /** A finished task of `op` took `d` (provider clock when known). */
    void record(Operation op, std::chrono::milliseconds d);
    /** Time since the create answer at which query number `k` (0-based) of a task of `op` is
     * due, given the previous one was at `prev`. */
    std::chrono::milliseconds due(Operation op, int k, std::chrono::milliseconds prev);
    /** Samples known for `op`. */
    size_t samples(Operation op) const;

private:
    /** The best next query time for each time of the last query, on a grid. */
    struct Plan {
        int64_t step = 0;           // grid step (ms)
        int64_t horizon = 0;        // the longest duration learned (ms)
        int64_t median = 0;         // ms
        int64_t spread = 0;         // interquartile range (ms): how far jitter may move a query
        std::vector<int32_t> next;  // cell of the last query -> cell of the next
        size_t builtFrom = 0;       // samples recorded when built
    };
    void rebuild(Operation op);
    std::chrono::milliseconds fixed(int k, std::chrono::milliseconds prev);

    PollPolicy p_;
    double cost_;  // one query's cost as a fraction of the median duration
    mutable std::mutex mu_;
    std::array<std::deque<int64_t>, 4> history_;  // per Operation, most recent last
    std::array<size_t, 4> recorded_{};            // per Operation, all time
    std::array<Plan, 4> plan_;
    std::mt19937_64 rng_;
};

}  // namespace detail
}  // namespace remote
}  // namespace cvgen

#endif  // CVGEN_REMOTE_POLL_SCHEDULE_HPP
