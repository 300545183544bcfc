#include "poll_schedule.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace cvgen {
namespace remote {
namespace detail {

using std::chrono::milliseconds;

namespace {
constexpr size_t kMinSamples = 3;
constexpr size_t kMaxSamples = 512;
constexpr int64_t kMaxCells = 400;    // grid resolution of a plan: O(cells²) to build
constexpr double kTailGrowth = 0.15;  // past the longest task seen: each gap 15 % of the age
}  // namespace

PollSchedule::PollSchedule(const PollPolicy& policy, uint64_t seed, bool callbacks)
    : p_(policy), cost_(callbacks ? policy.queryCostWithCallbacks : policy.queryCost), rng_(seed) {
    if (callbacks) {
        // Nothing learned yet and callbacks expected: a slower fixed schedule as well.
        p_.firstDelay *= 4;
        p_.interval *= 4;
    }
}

void PollSchedule::record(Operation op, milliseconds d) {
    if (d.count() < 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto& h = history_[size_t(op)];
    h.push_back(d.count());
    if (h.size() > kMaxSamples) h.pop_front();
    ++recorded_[size_t(op)];
}

size_t PollSchedule::samples(Operation op) const {
    std::lock_guard<std::mutex> lock(mu_);
    return history_[size_t(op)].size();
}

milliseconds PollSchedule::fixed(int k, milliseconds prev) {
    // Jitter only delays here too: a task that takes exactly the first delay is seen at once.
    std::uniform_real_distribution<double> u(1.0, 1.0 + p_.jitter);
    if (k == 0) return milliseconds(int64_t(double(p_.firstDelay.count()) * u(rng_)));
    double iv = double(p_.interval.count());
    for (int i = 1; i < k; ++i) iv = std::min(iv * p_.multiplier, double(p_.maxInterval.count()));
    return prev + milliseconds(int64_t(iv * u(rng_)));
}

void PollSchedule::rebuild(Operation op) {
    // A dynamic programme over a grid of query times. A task ending in (t_i, t_j] is seen at
    // t_j; V(i) = the least expected cost still to pay when the last query was at t_i and the
    // task had not ended: min over j of cost·P(T > t_i) + E[(t_j − T)·1{t_i < T ≤ t_j}] + V(j)
    // (probability masses unnormalised, in ms).
    const auto& h = history_[size_t(op)];
    std::vector<int64_t> s(h.begin(), h.end());
    std::sort(s.begin(), s.end());
    Plan plan;
    plan.horizon = s.back();
    plan.median = s[s.size() / 2];
    plan.spread = s[s.size() * 3 / 4] - s[s.size() / 4];
    plan.builtFrom = recorded_[size_t(op)];
    plan.step = std::max<int64_t>(5, (plan.horizon + kMaxCells - 1) / kMaxCells);
    const int64_t cells = plan.horizon / plan.step + 2;
    std::vector<double> mass(size_t(cells), 0.0), sum(size_t(cells), 0.0);
    const double w = 1.0 / double(s.size());
    for (int64_t d : s) {
        const int64_t c = std::min(cells - 1, (d + plan.step - 1) / plan.step);  // first t_c ≥ d
        mass[size_t(c)] += w;
        sum[size_t(c)] += w * double(d);
    }
    std::vector<double> F(size_t(cells), 0.0), G(size_t(cells), 0.0);  // cumulative
    for (int64_t c = 0; c < cells; ++c) {
        F[size_t(c)] = (c ? F[size_t(c - 1)] : 0.0) + mass[size_t(c)];
        G[size_t(c)] = (c ? G[size_t(c - 1)] : 0.0) + sum[size_t(c)];
    }
    const double lambda = cost_ * double(std::max<int64_t>(plan.median, 1));
    std::vector<double> V(size_t(cells), 0.0);
    plan.next.assign(size_t(cells), int32_t(cells - 1));
    for (int64_t i = cells - 2; i >= 0; --i) {
        const double surv = 1.0 - F[size_t(i)];
        if (surv <= 1e-12) {
            V[size_t(i)] = 0;
            plan.next[size_t(i)] = int32_t(cells - 1);
            continue;
        }
        double best = std::numeric_limits<double>::max();
        int64_t arg = cells - 1;
        for (int64_t j = i + 1; j < cells; ++j) {
            const double tj = double(j * plan.step);
            const double lag = tj * (F[size_t(j)] - F[size_t(i)]) - (G[size_t(j)] - G[size_t(i)]);
            const double c = lambda * surv + lag + V[size_t(j)];
            if (c < best) {
                best = c;
                arg = j;
            }
            if (F[size_t(j)] >= 1.0 - 1e-12) break;  // every learned task seen by t_j
        }
        V[size_t(i)] = best;
        plan.next[size_t(i)] = int32_t(arg);
    }
    plan_[size_t(op)] = std::move(plan);
}

milliseconds PollSchedule::due(Operation op, int k, milliseconds prev) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto& h = history_[size_t(op)];
    if (!p_.adaptive || h.size() < kMinSamples) return fixed(k, prev);
    Plan& plan = plan_[size_t(op)];
    const size_t n = recorded_[size_t(op)];
    // Rebuilt on every new sample while few are known, then every n/16 (a build is ~cells²/2).
    if (plan.next.empty() || (n > plan.builtFrom && (n < 64 || n - plan.builtFrom >= n / 16)))
        rebuild(op);
    // Jitter only delays (a query before the learned end would mostly be wasted), by a fraction
    // of the gap, so queries of tasks created together spread out.
    std::uniform_real_distribution<double> u(0.0, 0.5 * p_.jitter);
    const int64_t at = prev.count();
    const int64_t minGap = std::max<int64_t>(plan.step, 10);
    int64_t t;
    if (at < plan.horizon) {
        const int64_t cell = k == 0 ? 0 : at / plan.step;
        t = int64_t(plan.next[size_t(std::min<int64_t>(cell, int64_t(plan.next.size()) - 1))]) *
            plan.step;
        // By a fraction of the gap, never more than the spread of the learned times: tasks
        // that all take the same time are queried right at that time.
        t += int64_t(double(std::min(t - at, plan.spread)) * u(rng_));
    } else {
        // Past every task seen: geometric gaps, never longer than maxInterval.
        const double gap = std::min(std::max(double(minGap), kTailGrowth * double(at)),
                                    double(p_.maxInterval.count()));
        t = at + int64_t(gap * (1.0 + u(rng_)));
    }
    return milliseconds(std::max(t, at + (k == 0 ? 1 : minGap)));
}

}  // namespace detail
}  // namespace remote
}  // namespace cvgen
