// Way 3 — one image to several target canvases and placements, with the planner's passes
// printed. Each output is exactly its target size and holds the original's pixels untouched
// where the plan put them (checked here, bit for bit).
//
// The offline engine runs here with the remote providers' per-call limits (each side ratio ≤ 2,
// area factor ≤ 3), so it rehearses exactly the passes a remote provider would get. Left to its
// own rule it reaches any target in one pass.
//
// Usage: sample_target_size_outpaint [IMAGE] [OUTPUT_DIR]
//   IMAGE       the photo (default: samples/data/coffee.png)
//   OUTPUT_DIR  one PNG per target, named target_<k>_<W>x<H>_<anchor>.png
//               (default: out/target_size_outpaint)
// Exit status: 0 when every target was reached with the original intact, 1 otherwise.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "cvgen/core.hpp"
#include "cvgen/local.hpp"
#include "cvgen/stages.hpp"

namespace fs = std::filesystem;

namespace {

struct Job {
    const char* target;  // as `cvgen expand --target` spells it
    const char* anchor;  // as `--anchor`
};

// Exact sizes, an aspect with a scale, a short-side preset, gravities and an explicit offset.
const Job kJobs[] = {
    {"1920x1080", "center"},  // wider and taller than one call allows: several passes
    {"16:9@1.5x", "left"},    // the smallest 16:9 canvas holding the photo, times 1.5
    {"1080x1920", "top"},     // portrait from landscape
    {"1:1@720p", "bottom-right"},
    {"1000x500", "40,20"},  // the original's top-left corner at (40, 20)
};

}  // namespace

int main(int argc, char** argv) {
    const std::string imagePath = argc > 1 ? argv[1] : "samples/data/coffee.png";
    const std::string outputDir = argc > 2 ? argv[2] : "out/target_size_outpaint";

    const cv::Mat image = cv::imread(imagePath, cv::IMREAD_COLOR);
    if (image.empty()) {
        std::cerr << "cannot read " << imagePath << " (run from the repository root)\n";
        return 1;
    }
    std::error_code ec;
    fs::create_directories(outputDir, ec);
    std::printf("source %s: %dx%d\n", imagePath.c_str(), image.cols, image.rows);

    // Rehearse a remote provider offline: the engine accepts, and reports, Kling's limits.
    cvgen::local::LocalProvider::Params engine;
    engine.enforceExpandLimits = true;
    const std::shared_ptr<cvgen::Provider> provider = cvgen::local::LocalProvider::create(engine);

    int failed = 0, k = 0;
    for (const Job& job : kJobs) {
        ++k;
        auto target = cvgen::parseTarget(job.target);
        auto placement = cvgen::parsePlacement(job.anchor);
        if (!target.ok() || !placement.ok()) {
            std::cerr << job.target << " " << job.anchor << ": bad spec\n";
            ++failed;
            continue;
        }
        // The plan: exact pixel margins and the passes that stay within one call's limits
        // (PlannerParams' defaults: each side ratio ≤ 2, area factor ≤ 3 — Kling's rules).
        cvgen::Result<cvgen::Plan> plan = cvgen::planCanvas(image.size(), *target, *placement);
        if (!plan.ok()) {
            std::cerr << job.target << ": " << plan.status() << "\n";
            ++failed;
            continue;
        }
        std::printf(
            "\n[%d] target %s anchor %s -> %dx%d, original at (%d,%d) %dx%d, %zu pass(es)\n", k,
            job.target, job.anchor, plan->target.width, plan->target.height, plan->sourceRect.x,
            plan->sourceRect.y, plan->sourceRect.width, plan->sourceRect.height,
            plan->passes.size());
        for (size_t i = 0; i < plan->passes.size(); ++i) {
            const cvgen::ExpandPass& pass = plan->passes[i];
            std::printf(
                "    pass %zu: %dx%d -> %dx%d  margins t%d b%d l%d r%d  ratios "
                "up %.4f down %.4f left %.4f right %.4f%s%s\n",
                i + 1, pass.source.width, pass.source.height, pass.canvas.width, pass.canvas.height,
                pass.top, pass.bottom, pass.left, pass.right, pass.ratios.up, pass.ratios.down,
                pass.ratios.left, pass.ratios.right, pass.sideBound ? "  [side-bound]" : "",
                pass.areaBound ? "  [area-bound]" : "");
        }

        // The stage plans the same way and runs one provider call per pass.
        cvgen::stages::ExpandToTarget::Params params;
        params.target = *target;
        params.placement = *placement;
        params.provider = provider;
        cvgen::Result<cvgen::stages::Frame> frame =
            cvgen::stages::ExpandToTarget::create(params)->process(cvgen::stages::Frame(image));
        if (!frame.ok()) {
            std::cerr << job.target << ": " << frame.status() << "\n";
            ++failed;
            continue;
        }
        const cv::Mat* out = &frame->image;
        const bool sized = out->size() == plan->target;
        const bool intact = sized && cv::norm((*out)(plan->sourceRect), image, cv::NORM_INF) == 0.0;
        std::string anchorName = job.anchor;
        for (char& c : anchorName)
            if (c == ',') c = '_';
        const fs::path dst =
            fs::path(outputDir) / ("target_" + std::to_string(k) + "_" + std::to_string(out->cols) +
                                   "x" + std::to_string(out->rows) + "_" + anchorName + ".png");
        const bool written = cv::imwrite(dst.string(), *out);
        std::printf("    -> %s: %dx%d, original untouched: %s\n", dst.string().c_str(), out->cols,
                    out->rows, intact ? "yes" : "NO");
        for (const std::string& t : frame->meta.transforms) std::printf("    ran: %s\n", t.c_str());
        if (!sized || !intact || !written) ++failed;
    }
    std::printf("\n%d of %zu targets done\n", k - failed, sizeof(kJobs) / sizeof(kJobs[0]));
    return failed == 0 ? 0 : 1;
}
