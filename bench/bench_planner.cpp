// Planner and composition figures:
//  - planCanvas for a one-pass, a two-pass and a three-pass target (microseconds; it is planning
//    only, no pixels).
//  - compose() of a single-pass expand at 2 MP and 24 MP (6000x4000, 8-bit BGR, original
//    4000x3000 centred), default seam (16 px feather), with colour matching, and with a provider
//    result that came back rescaled (so the whole canvas is resampled). Target: 24 MP composition
//    <= 150 ms on 2 cores (default seam, exact-size result).
// A summary with the 24 MP figures is printed after the Google Benchmark table.
//
// Usage: bench_planner [google-benchmark flags]
#include <cstdio>
#include <map>
#include <string>

#include <benchmark/benchmark.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "cvgen/core/compose.hpp"
#include "cvgen/core/planner.hpp"

namespace {

void BM_PlanOnePass(benchmark::State& state) {
    for (auto _ : state) {
        auto p = cvgen::planCanvas({1200, 900}, cvgen::TargetSpec::exact({1920, 1080}));
        benchmark::DoNotOptimize(p);
    }
}
BENCHMARK(BM_PlanOnePass);

void BM_PlanTwoPasses(benchmark::State& state) {
    for (auto _ : state) {
        auto p = cvgen::planCanvas({800, 600}, cvgen::TargetSpec::exact({1920, 1080}));
        benchmark::DoNotOptimize(p);
    }
}
BENCHMARK(BM_PlanTwoPasses);

void BM_PlanThreePassesPreset(benchmark::State& state) {
    for (auto _ : state) {
        auto p = cvgen::planCanvas({800, 600}, cvgen::TargetSpec::aspectShortSide(16, 9, 2160),
                                   cvgen::Placement::at(cvgen::Gravity::LEFT));
        benchmark::DoNotOptimize(p);
    }
}
BENCHMARK(BM_PlanThreePassesPreset);

struct Scene {
    cv::Mat original, result;
    cvgen::Plan plan;
};

/** A single-pass scene: source 2/3 of the target's sides, centred; the provider result is
 * noise with the original re-rendered slightly brighter (so the seam code has work to do). */
const Scene& scene(int megapixels, bool rescaled) {
    static std::map<std::pair<int, bool>, Scene> cache;
    auto key = std::make_pair(megapixels, rescaled);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    const cv::Size target = megapixels == 24 ? cv::Size(6000, 4000) : cv::Size(1728, 1152);
    const cv::Size src(target.width * 2 / 3, target.height * 2 / 3);
    Scene s;
    s.original.create(src, CV_8UC3);
    cv::randu(s.original, 0, 256);
    s.plan = cvgen::planCanvas(src, cvgen::TargetSpec::exact(target)).value();
    cv::Mat canvas(target, CV_8UC3);
    cv::randu(canvas, 0, 256);
    cv::Mat inner = canvas(s.plan.sourceRect);
    s.original.convertTo(inner, CV_8U, 1.0, 12);
    if (rescaled)
        cv::resize(canvas, s.result, cv::Size(target.width / 2 + 3, target.height / 2 + 1), 0, 0,
                   cv::INTER_AREA);
    else
        s.result = canvas;
    return cache.emplace(key, std::move(s)).first->second;
}

void runCompose(benchmark::State& state, int mp, bool rescaled, bool colour) {
    const Scene& s = scene(mp, rescaled);
    cvgen::ComposeParams prm;
    prm.colorMatch = colour;
    for (auto _ : state) {
        auto out = cvgen::compose(s.original, s.result, s.plan, prm);
        if (!out.ok()) state.SkipWithError(out.status().toString().c_str());
        benchmark::DoNotOptimize(out);
    }
    state.counters["MPix/s"] = benchmark::Counter(double(s.plan.target.area()) / 1e6,
                                                  benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Compose2MP(benchmark::State& st) {
    runCompose(st, 2, false, false);
}
void BM_Compose24MP(benchmark::State& st) {
    runCompose(st, 24, false, false);
}
void BM_Compose24MPColour(benchmark::State& st) {
    runCompose(st, 24, false, true);
}
void BM_Compose24MPRescaled(benchmark::State& st) {
    runCompose(st, 24, true, false);
}
BENCHMARK(BM_Compose2MP)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Compose24MP)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Compose24MPColour)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Compose24MPRescaled)->Unit(benchmark::kMillisecond)->UseRealTime();

/** Remembers each benchmark's real time per iteration for the summary. */
class SummaryReporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& r : runs)
            if (!r.error_occurred && r.iterations > 0)
                seconds_[r.benchmark_name()] = r.real_accumulated_time / double(r.iterations);
        ConsoleReporter::ReportRuns(runs);
    }
    double seconds(const std::string& name) const {
        auto it = seconds_.find(name);
        return it == seconds_.end() ? 0.0 : it->second;
    }

private:
    std::map<std::string, double> seconds_;
};

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    SummaryReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    auto ms = [&](const char* name) { return reporter.seconds(name) * 1e3; };
    std::printf("\nsummary (%d threads available to OpenCV):\n", cv::getNumThreads());
    std::printf("  plan (2 passes)              %8.1f us\n", ms("BM_PlanTwoPasses") * 1e3);
    std::printf("  compose  2 MP                %8.1f ms\n", ms("BM_Compose2MP/real_time"));
    std::printf("  compose 24 MP                %8.1f ms  (target <= 150 ms)\n",
                ms("BM_Compose24MP/real_time"));
    std::printf("  compose 24 MP, colour match  %8.1f ms\n", ms("BM_Compose24MPColour/real_time"));
    std::printf("  compose 24 MP, rescaled      %8.1f ms\n",
                ms("BM_Compose24MPRescaled/real_time"));
    return 0;
}
