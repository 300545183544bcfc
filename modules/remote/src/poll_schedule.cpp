#include "poll_schedule.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace cvgen {
namespace remote {
namespace detail {

using std::chrono::milliseconds;

namespace {
// Polls placed at these quantiles of the learned duration distribution: a task is seen within
// one quantile gap of its end, and a task ending at quantile u costs about 1 + Σ P(q_i < u)
// queries (≈ 3.9 on average for this list).
constexpr std::array<double, 8> kQuantiles = {0.1, 0.25, 0.4, 0.55, 0.7, 0.82, 0.92, 0.97};
constexpr size_t kMinSamples = 3;
constexpr size_t kMaxSamples = 256;
}  // namespace

PollSchedule::PollSchedule(const PollPolicy& policy, uint64_t seed) : p_(policy), rng_(seed) {}

void PollSchedule::record(Operation op, milliseconds d) {
    if (d.count() < 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto& h = history_[size_t(op)];
    h.push_back(d.count());
    if (h.size() > kMaxSamples) h.pop_front();
}

size_t PollSchedule::samples(Operation op) const {
    std::lock_guard<std::mutex> lock(mu_);
    return history_[size_t(op)].size();
}

milliseconds PollSchedule::due(Operation op, int k, milliseconds prev) {
    std::lock_guard<std::mutex> lock(mu_);
    std::uniform_real_distribution<double> u(1.0 - p_.jitter, 1.0 + p_.jitter);
    const auto& h = history_[size_t(op)];
    if (!p_.adaptive || h.size() < kMinSamples) {
        // Nothing learned yet: the fixed schedule.
        if (k == 0) return milliseconds(int64_t(p_.firstDelay.count() * u(rng_)));
        double iv = double(p_.interval.count());
        for (int i = 1; i < k; ++i)
            iv = std::min(iv * p_.multiplier, double(p_.maxInterval.count()));
        return prev + milliseconds(int64_t(iv * u(rng_)));
    }
    std::vector<int64_t> s(h.begin(), h.end());
    std::sort(s.begin(), s.end());
    auto q = [&](double p) {
        const double x = p * double(s.size() - 1);
        const size_t i = size_t(x);
        const double f = x - double(i);
        return i + 1 < s.size() ? double(s[i]) * (1 - f) + double(s[i + 1]) * f : double(s[i]);
    };
    const double spread = q(0.95) - q(0.05);
    // Never closer than this: 5 % of the median, at least 50 ms (one poll for equal durations).
    const double minGap = std::max(50.0, 0.05 * q(0.5));
    double t = 0;
    if (k == 0) {
        t = q(kQuantiles[0]);
    } else {
        for (double p : kQuantiles)
            if (q(p) >= double(prev.count()) + minGap) {
                t = q(p);
                break;
            }
    }
    if (t <= 0 || (k > 0 && t < double(prev.count()) + minGap)) {
        // Past the learned distribution (or on a later query): spaced by the spread, growing.
        double gap = std::max(minGap, spread / 4);
        const double late = double(prev.count()) - q(0.97);
        if (late > 0) gap = std::max(gap, late / 2);  // far past the usual end: slow down
        gap = std::min(gap, double(p_.maxInterval.count()));
        t = double(prev.count()) + gap * u(rng_);
    }
    return milliseconds(int64_t(std::max(t, double(prev.count()) + 1)));
}

}  // namespace detail
}  // namespace remote
}  // namespace cvgen
