// Core figures:
//  - base64 encode/decode throughput next to memcpy of the same 8 MiB payload, measured in the same
//    run on one core (targets: encode >= 1.5 GB/s, decode >= 1.2 GB/s). Throughput is counted on
//    the binary side (the 8 MiB of raw bytes) for all three, so the figures compare directly.
//  - preflight of a compliant 12 MP JPEG (generated here): pass-through (header read + copy) vs
//    the decode + conform + re-encode path (target: pass-through >= 10x faster), with a check that
//    the pass-through output is byte-identical to the input.
// A summary with the GB/s figures and the speed ratio is printed after the Google Benchmark table;
// with --benchmark_repetitions=N it uses the best repetition of each (the machine is shared).
//
// Usage: bench_core [google-benchmark flags]
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <opencv2/imgproc.hpp>

#include "cvgen/core/base64.hpp"
#include "cvgen/core/codec.hpp"
#include "cvgen/core/preflight.hpp"

namespace {

constexpr size_t kPayload = size_t(8) << 20;

const std::vector<uint8_t>& payload() {
    static const std::vector<uint8_t> bytes = [] {
        std::vector<uint8_t> b(kPayload);
        uint64_t x = 0x9E3779B97F4A7C15ull;
        for (auto& v : b) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v = uint8_t(x);
        }
        return b;
    }();
    return bytes;
}

void BM_Memcpy(benchmark::State& state) {
    const auto& src = payload();
    std::vector<uint8_t> dst(src.size());
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), src.size());
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(src.size()));
}
BENCHMARK(BM_Memcpy)->Unit(benchmark::kMicrosecond);

void BM_Base64Encode(benchmark::State& state) {
    const auto& src = payload();
    for (auto _ : state) {
        std::string s = cvgen::base64Encode(src);
        benchmark::DoNotOptimize(s.data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(src.size()));
}
BENCHMARK(BM_Base64Encode)->Unit(benchmark::kMicrosecond);

void BM_Base64Decode(benchmark::State& state) {
    const std::string text = cvgen::base64Encode(payload());
    for (auto _ : state) {
        auto r = cvgen::base64Decode(text);
        if (!r.ok()) {
            state.SkipWithError("decode failed");
            break;
        }
        benchmark::DoNotOptimize(r->data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kPayload));
}
BENCHMARK(BM_Base64Decode)->Unit(benchmark::kMicrosecond);

// A photo-like 4000x3000 image: smooth colour fields, edges and mild texture, so the JPEG has a
// realistic size (a few MB, under the 10 MB budget).
const std::vector<uint8_t>& jpeg12mp() {
    static const std::vector<uint8_t> bytes = [] {
        cv::Mat small(300, 400, CV_8UC3);
        cv::RNG rng(12);
        rng.fill(small, cv::RNG::UNIFORM, 0, 256);
        cv::GaussianBlur(small, small, cv::Size(0, 0), 6);
        cv::normalize(small, small, 0, 255, cv::NORM_MINMAX);
        cv::Mat big;
        cv::resize(small, big, cv::Size(4000, 3000), 0, 0, cv::INTER_CUBIC);
        for (int i = 0; i < 200; ++i)
            cv::circle(big, cv::Point(rng.uniform(0, 4000), rng.uniform(0, 3000)),
                       rng.uniform(20, 300),
                       cv::Scalar(rng.uniform(0, 256), rng.uniform(0, 256), rng.uniform(0, 256)),
                       rng.uniform(2, 12), cv::LINE_AA);
        cv::Mat texture(big.size(), CV_8UC3);
        rng.fill(texture, cv::RNG::NORMAL, 0, 6);
        big += texture;
        auto enc = cvgen::encodeImage(big, cvgen::ImageFormat::JPEG, 90);
        return enc.ok() ? *enc : std::vector<uint8_t>();
    }();
    return bytes;
}

void BM_PreflightPassThrough(benchmark::State& state) {
    const auto& bytes = jpeg12mp();
    const cvgen::ImageLimits limits;
    for (auto _ : state) {
        auto p = cvgen::conformBytes(bytes, limits);
        if (!p.ok() || !p->passthrough || p->bytes != bytes) {
            state.SkipWithError("pass-through did not return the input bytes unchanged");
            break;
        }
        benchmark::DoNotOptimize(p->bytes.data());
    }
    state.counters["jpeg_bytes"] = double(bytes.size());
}
BENCHMARK(BM_PreflightPassThrough)->Unit(benchmark::kMillisecond);

void BM_PreflightDecodeReencode(benchmark::State& state) {
    const auto& bytes = jpeg12mp();
    const cvgen::ImageLimits limits;
    for (auto _ : state) {
        auto m = cvgen::decodeImage(bytes);
        if (!m.ok()) {
            state.SkipWithError("decode failed");
            break;
        }
        auto p = cvgen::conform(*m, limits);
        if (!p.ok()) {
            state.SkipWithError("conform failed");
            break;
        }
        benchmark::DoNotOptimize(p->bytes.data());
    }
}
BENCHMARK(BM_PreflightDecodeReencode)->Unit(benchmark::kMillisecond);

// Console output as usual, plus the per-iteration real time of each benchmark for the summary.
class SummaryReporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const auto& r : runs) {
            if (r.error_occurred || r.run_type != Run::RT_Iteration) continue;
            const double seconds = r.real_accumulated_time / double(r.iterations);
            const std::string name = r.run_name.function_name;
            auto it = seconds_.find(name);
            if (it == seconds_.end() || seconds < it->second) seconds_[name] = seconds;
        }
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

    auto gbps = [&](const char* name) {
        const double s = reporter.seconds(name);
        return s > 0 ? double(kPayload) / s / 1e9 : 0.0;
    };
    std::printf("\nsummary (one core, 8 MiB payload, GB/s = 10^9 bytes/s of binary data):\n");
    std::printf("  memcpy          %6.2f GB/s\n", gbps("BM_Memcpy"));
    std::printf("  base64 encode   %6.2f GB/s  (target >= 1.5)\n", gbps("BM_Base64Encode"));
    std::printf("  base64 decode   %6.2f GB/s  (target >= 1.2)\n", gbps("BM_Base64Decode"));
    const double pass = reporter.seconds("BM_PreflightPassThrough");
    const double full = reporter.seconds("BM_PreflightDecodeReencode");
    std::printf("  12 MP JPEG (%zu bytes): pass-through %.3f ms, decode+re-encode %.1f ms",
                jpeg12mp().size(), pass * 1e3, full * 1e3);
    if (pass > 0 && full > 0)
        std::printf(", ratio %.0fx (target >= 10x)\n", full / pass);
    else
        std::printf(" (not measured: filtered out or failed)\n");
    return 0;
}
