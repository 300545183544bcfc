// When to query a running task: learned from the tasks already finished in this client (same
// operation), so a task is seen soon after it ends with few queries.
#ifndef CVGEN_REMOTE_POLL_SCHEDULE_HPP
#define CVGEN_REMOTE_POLL_SCHEDULE_HPP

#include <array>
#include <chrono>
#include <deque>
#include <mutex>
#include <random>

#include "cvgen/core/provider.hpp"
#include "cvgen/remote/client.hpp"

namespace cvgen {
namespace remote {
namespace detail {

class PollSchedule {
public:
    explicit PollSchedule(const PollPolicy& policy, uint64_t seed);

    /** A finished task of `op` took `d` (provider clock when known). */
    void record(Operation op, std::chrono::milliseconds d);
    /** Time since the create answer at which query number `k` (0-based) of a task of `op` is
     * due, given the previous one was at `prev`. */
    std::chrono::milliseconds due(Operation op, int k, std::chrono::milliseconds prev);
    /** Samples known for `op`. */
    size_t samples(Operation op) const;

private:
    PollPolicy p_;
    mutable std::mutex mu_;
    std::array<std::deque<int64_t>, 4> history_;  // per Operation, most recent last
    std::mt19937_64 rng_;
};

}  // namespace detail
}  // namespace remote
}  // namespace cvgen

#endif  // CVGEN_REMOTE_POLL_SCHEDULE_HPP
