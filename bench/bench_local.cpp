// Offline engine figures: expand speed per mode (1 MP → 2 MP canvas, target ≤ 60 ms median;
// 12 MP → 24 MP, target ≤ 1.5 s median) and a seam score per mode on the sample photos
// (target ≤ 1.3; about 1.0 = no visible seam), printed as a table before the timings.
//
// Usage: bench_local [--samples=DIR] [google-benchmark flags]
//   DIR defaults to $CVGEN_SAMPLES_DATA, then "samples/data" relative to the working directory.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cvgen/local.hpp"

namespace {

using cvgen::local::ExpandMode;
using cvgen::local::Margins;

std::string g_samples = "samples/data";

// A photo-like source of about `megapixels`: the astronaut sample resized (or textured noise when
// the samples are not found), so the fill works on real content.
cv::Mat source(double megapixels) {
    const int w = int(std::lround(std::sqrt(megapixels * 1e6 * 4.0 / 3.0)));
    const int h = int(std::lround(w * 3.0 / 4.0));
    cv::Mat photo = cv::imread(g_samples + "/astronaut.png", cv::IMREAD_COLOR);
    cv::Mat out;
    if (photo.empty()) {
        photo.create(256, 256, CV_8UC3);
        cv::randu(photo, 0, 255);
        cv::GaussianBlur(photo, photo, cv::Size(0, 0), 3.0);
    }
    cv::resize(photo, out, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
    return out;
}

// Margins that grow the canvas area by `factor`, split evenly (the photo centred).
Margins grow(cv::Size s, double factor) {
    const double k = std::sqrt(factor);
    const int W = int(std::lround(s.width * k)), H = int(std::lround(s.height * k));
    Margins m;
    m.left = (W - s.width) / 2;
    m.right = W - s.width - m.left;
    m.top = (H - s.height) / 2;
    m.bottom = H - s.height - m.top;
    return m;
}

void BM_Expand(benchmark::State& state, ExpandMode mode, double megapixels) {
    const cv::Mat src = source(megapixels);
    const Margins m = grow(src.size(), 2.0);
    for (auto _ : state) {
        cv::Mat out = cvgen::local::expandCanvas(src, m, mode);
        benchmark::DoNotOptimize(out.data);
    }
    state.counters["src_MP"] = double(src.total()) / 1e6;
    state.counters["canvas_MP"] =
        double(src.cols + m.left + m.right) * double(src.rows + m.top + m.bottom) / 1e6;
}

void BM_Upscale(benchmark::State& state, double scale, bool sharpen) {
    const cv::Mat src = source(1.0);
    for (auto _ : state) {
        cv::Mat out = cvgen::local::upscaleImage(src, scale, sharpen);
        benchmark::DoNotOptimize(out.data);
    }
}

void BM_Synthesize1k(benchmark::State& state) {
    const cv::Size size =
        cvgen::local::generationSize(cvgen::AspectRatio::R16_9, cvgen::Resolution::R1K);
    for (auto _ : state) {
        cv::Mat out = cvgen::local::synthesizeImage("a lighthouse at dusk", size, 7);
        benchmark::DoNotOptimize(out.data);
    }
}

void registerAll() {
    const ExpandMode modes[] = {ExpandMode::BLUR, ExpandMode::SOFT, ExpandMode::EDGE};
    for (ExpandMode mode : modes) {
        const std::string name = cvgen::local::toString(mode);
        benchmark::RegisterBenchmark(("BM_Expand/" + name + "/1MP_to_2MP").c_str(), BM_Expand, mode,
                                     1.0)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->Repetitions(5)
            ->ReportAggregatesOnly(true);
    }
    for (ExpandMode mode : modes) {
        const std::string name = cvgen::local::toString(mode);
        benchmark::RegisterBenchmark(("BM_Expand/" + name + "/12MP_to_24MP").c_str(), BM_Expand,
                                     mode, 12.0)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->Iterations(2)
            ->Repetitions(5)
            ->ReportAggregatesOnly(true);
    }
    benchmark::RegisterBenchmark("BM_Upscale/1MP_x2", BM_Upscale, 2.0, false)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_Upscale/1MP_x1.5_sharpen", BM_Upscale, 1.5, true)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_Synthesize/16:9_1k", BM_Synthesize1k)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
}

// Seam score per photo and mode for two geometries: centred 16:9 ×1.5 (all four sides) and a
// one-sided extension to the right by half the width.
void printSeamTable() {
    namespace fs = std::filesystem;
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(g_samples, ec)) {
        const std::string ext = e.path().extension().string();
        if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
        std::printf("seam scores: no sample photos in '%s' (pass --samples=DIR)\n\n",
                    g_samples.c_str());
        return;
    }
    std::printf(
        "Seam score (mean |gradient| across the border / mean |gradient| in the 8-px bands "
        "inside and outside it; ~1.0 = no seam, target <= 1.3)\n");
    std::printf("%-16s %-12s %8s %8s %8s\n", "photo", "geometry", "blur", "soft", "edge");
    double worst = 0;
    for (const auto& f : files) {
        const cv::Mat photo = cv::imread(f.string(), cv::IMREAD_COLOR);
        if (photo.empty()) continue;
        struct Geo {
            const char* name;
            Margins m;
        };
        // 16:9, then ×1.5, centred.
        double W = photo.cols, H = photo.rows;
        if (W / H < 16.0 / 9.0)
            W = H * 16.0 / 9.0;
        else
            H = W * 9.0 / 16.0;
        const int cw = int(std::lround(W * 1.5)), ch = int(std::lround(H * 1.5));
        Margins centred;
        centred.left = (cw - photo.cols) / 2;
        centred.right = cw - photo.cols - centred.left;
        centred.top = (ch - photo.rows) / 2;
        centred.bottom = ch - photo.rows - centred.top;
        Margins right;
        right.right = photo.cols / 2;
        for (const Geo& g : {Geo{"16:9 x1.5", centred}, Geo{"right +50%", right}}) {
            std::printf("%-16s %-12s", f.filename().string().c_str(), g.name);
            for (ExpandMode mode : {ExpandMode::BLUR, ExpandMode::SOFT, ExpandMode::EDGE}) {
                const double s =
                    cvgen::local::seamScore(cvgen::local::expandCanvas(photo, g.m, mode), g.m);
                worst = std::max(worst, s);
                std::printf(" %8.3f", s);
            }
            std::printf("\n");
        }
    }
    std::printf("worst %.3f (%s)\n\n", worst, worst <= 1.3 ? "meets the 1.3 target" : "OVER 1.3");
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    if (const char* env = std::getenv("CVGEN_SAMPLES_DATA")) g_samples = env;
    std::vector<char*> rest;
    for (int i = 0; i < argc; ++i) {
        if (i > 0 && std::strncmp(argv[i], "--samples=", 10) == 0)
            g_samples = argv[i] + 10;
        else
            rest.push_back(argv[i]);
    }
    int n = int(rest.size());
    benchmark::Initialize(&n, rest.data());
    if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 2;
    printSeamTable();
    registerAll();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
