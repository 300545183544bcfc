// cvgen expand IN OUT --target WxH [--anchor center|top-left|...|X,Y]
//              [--mode blur|soft|edge|patch|auto]
//              [--prompt T] [--n N] [--smaller fail|crop|scale-down] [--reach multi-pass|
//              scale-to-fit] [--feather PX] [--color-match] [--json] [provider flags]
//
// plan (core planner) → one provider expand per pass (each pass feeds the previous canvas) →
// composition onto exactly the target, the original pasted back bit-exact.
#include <chrono>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "cli_capabilities.hpp"
#include "cli_output.hpp"
#include "command.hpp"
#include "cvgen/core/compose.hpp"
#include "cvgen/core/planner.hpp"
#include "cvgen/local/expand.hpp"
#include "provider_factory.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct ExpandArgs {
    std::string input, output, target, anchor = "center", mode = "blur", prompt;
    std::string smaller = "fail", reach = "multi-pass";
    int n = 1;
    int feather = 16;
    bool colorMatch = false;
    bool json = false;
    cvgen::cli::ProviderOptions provider;
};

double msSince(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

/** Flags the chosen provider ignores: said once each, on stderr. */
void warnIneffective(const cvgen::cli::FlagGiven& given, bool local) {
    using namespace cvgen::cli;
    if (local)
        warnNoEffect("expand", given, {"--prompt"}, "offline (the fill is classical, --mode)");
    else
        warnNoEffect("expand", given, {"--mode"}, "at a remote provider (offline fill only)");
}

int runExpand(const ExpandArgs& a, const cvgen::cli::FlagGiven& given) {
    using namespace cvgen::cli;
    const auto t0 = Clock::now();
    const char* cmd = "expand";
    if (!writableExtension(a.output)) {
        std::cerr << "cvgen expand: OUT must end in .png, .jpg, .jpeg, .webp, .bmp, .tif or "
                     ".tiff\n";
        return EXIT_USAGE;
    }
    auto spec = cvgen::parseTarget(a.target);
    if (!spec.ok()) {
        std::cerr << "cvgen expand: --target: " << spec.status().message() << "\n";
        return EXIT_USAGE;
    }
    auto placement = cvgen::parsePlacement(a.anchor);
    if (!placement.ok()) {
        std::cerr << "cvgen expand: --anchor: " << placement.status().message() << "\n";
        return EXIT_USAGE;
    }
    const auto mode = cvgen::local::parseExpandMode(a.mode);
    if (!mode) {
        std::cerr << "cvgen expand: --mode must be blur, soft, edge, patch or auto\n";
        return EXIT_USAGE;
    }
    cvgen::PlannerParams pp;
    if (a.smaller == "fail")
        pp.smallerTarget = cvgen::SmallerTarget::FAIL;
    else if (a.smaller == "crop")
        pp.smallerTarget = cvgen::SmallerTarget::CROP;
    else if (a.smaller == "scale-down")
        pp.smallerTarget = cvgen::SmallerTarget::SCALE_DOWN;
    else {
        std::cerr << "cvgen expand: --smaller must be fail, crop or scale-down\n";
        return EXIT_USAGE;
    }
    if (a.reach == "multi-pass")
        pp.reach = cvgen::Reach::MULTI_PASS;
    else if (a.reach == "scale-to-fit")
        pp.reach = cvgen::Reach::SCALE_TO_FIT;
    else {
        std::cerr << "cvgen expand: --reach must be multi-pass or scale-to-fit\n";
        return EXIT_USAGE;
    }

    warnIneffective(given, isLocal(a.provider));
    ProviderOptions po = a.provider;
    po.local.mode = *mode;
    auto provider = makeProvider(po);
    if (!provider.ok()) return reportError(cmd, provider.status(), a.json);
    // Plan within what the provider accepts in one call: remote providers side 2 / area 3 (several
    // passes for a far target), the offline engine effectively unlimited (one pass, no chain of
    // passes each re-blurring the previous fill).
    const cvgen::ExpandLimits limits = provider.value()->expandLimits();
    pp.maxSideRatio = limits.maxSideRatio;
    pp.maxArea = limits.maxArea;
    auto original = readImageFile(a.input);
    if (!original.ok()) return reportError(cmd, original.status(), a.json);
    const cv::Mat& src = original.value();

    auto planned = cvgen::planCanvas(src.size(), spec.value(), placement.value(), pp);
    if (!planned.ok()) return reportError(cmd, planned.status(), a.json);
    const cvgen::Plan& plan = planned.value();

    cvgen::ComposeParams cp;
    cp.featherPx = a.feather;
    cp.colorMatch = a.colorMatch;
    const cvgen::CallOptions call = makeCallOptions(po);

    // The first pass's input: the kept part of the source, at the plan's work scale.
    cv::Mat current = cvgen::croppedSource(src, plan);
    if (current.size() != plan.workSource) {
        cv::Mat scaled;
        cv::resize(current, scaled, plan.workSource, 0, 0, cv::INTER_AREA);
        current = scaled;
    }

    cvgen::TaskOutput summary;
    summary.provider = provider.value()->name();
    std::vector<cv::Mat> workCanvases;  // the last pass's composed canvases, one per result
    std::ostringstream passesJson;
    passesJson << "\"passes\":[";
    const size_t passes = plan.passes.size();
    for (size_t k = 0; k < passes; ++k) {
        const cvgen::ExpandPass& pass = plan.passes[k];
        const bool last = k + 1 == passes;
        const std::string where = "pass " + std::to_string(k + 1) + "/" + std::to_string(passes);
        const auto tp = Clock::now();
        cvgen::ExpandRequest req;
        req.image = cvgen::ImageSource::fromMat(current);
        req.ratios = pass.ratios;
        req.prompt = a.prompt;
        req.task.n = last ? a.n : 1;  // intermediate passes need one canvas to continue from
        auto out = provider.value()->expand(req, call);
        if (!out.ok()) return reportError(cmd, out.status().withContext(where), a.json);
        if (out->images.empty())
            return reportError(cmd, cvgen::dataLoss(where + ": the provider returned no image"),
                               a.json);
        std::vector<cv::Mat> canvases;
        for (const auto& r : out->images) {
            auto composed = cvgen::composePass(current, r.image, pass, cp);
            if (!composed.ok())
                return reportError(cmd, composed.status().withContext(where), a.json);
            canvases.push_back(composed.value());
            if (!last) break;
        }
        current = canvases.front();
        if (last) workCanvases = canvases;
        summary.taskId = out->taskId;
        summary.externalTaskId = out->externalTaskId;
        summary.requestId = out->requestId;
        summary.taskStatus = out->taskStatus;
        summary.synthetic = out->synthetic;
        summary.note = out->note;
        summary.unitsDeducted += out->unitsDeducted;
        summary.timings.submit += out->timings.submit;
        summary.timings.wait += out->timings.wait;
        summary.timings.download += out->timings.download;
        summary.timings.total += out->timings.total;
        passesJson << (k ? "," : "") << "{\"task_id\":\"" << out->taskId << "\",\"canvas\":["
                   << pass.canvas.width << "," << pass.canvas.height << "],\"ms\":" << msSince(tp)
                   << "}";
    }
    passesJson << "]";
    if (passes == 0) {
        // The original already fills the target: composition alone (crop/scale) makes it.
        summary.taskStatus = "succeed";
        summary.note = "no expansion needed: the source already fills the target";
        workCanvases.assign(size_t(a.n), current);
    }

    for (size_t i = 0; i < workCanvases.size(); ++i) {
        auto finalImage = cvgen::compose(src, workCanvases[i], plan, cp);
        if (!finalImage.ok()) return reportError(cmd, finalImage.status(), a.json);
        cvgen::ResultImage r;
        r.image = finalImage.value();
        r.index = int(i);
        summary.images.push_back(std::move(r));
    }
    auto written = writeResults(a.output, summary);
    if (!written.ok()) return reportError(cmd, written.status(), a.json);
    const double ms = msSince(t0);
    if (a.json) {
        std::cout << resultJson(cmd, summary, written.value(), ms,
                                "\"plan\":" + cvgen::toJson(plan) + "," + passesJson.str())
                  << "\n";
    } else {
        printSummary(cmd, summary, written.value(), ms);
        std::cout << "original at " << plan.sourceRect.x << "," << plan.sourceRect.y << " ("
                  << passes << (passes == 1 ? " pass" : " passes") << ")\n";
    }
    return EXIT_OK;
}

void setupExpand(CLI::App& app) {
    auto args = std::make_shared<ExpandArgs>();
    auto* sub = app.add_subcommand(
        "expand",
        "Expand (outpaint) an image to exactly a target canvas, the original untouched. Offline "
        "(default): a classical fill (--mode blur|soft|edge|patch|auto), not generated content");
    sub->add_option("IN", args->input, "Input image")->required()->check(CLI::ExistingFile);
    sub->add_option("OUT", args->output, "Output image (n > 1: OUT_0, OUT_1, ...)")->required();
    sub->add_option("--target", args->target,
                    "WxH (exact), or W:H, W:H@1.5, W:H@1080p, W:H@2048 (aspect forms)")
        ->required();
    sub->add_option("--anchor", args->anchor,
                    "Where the original sits: center|top-left|top|top-right|left|right|"
                    "bottom-left|bottom|bottom-right, or X,Y (its top-left corner)")
        ->capture_default_str();
    sub->add_option("--mode", args->mode,
                    "Offline fill: blur | soft | edge | patch (texture copied from the photo's "
                    "border, PatchMatch) | auto (patch when confident, else blur)")
        ->capture_default_str();
    sub->add_option("--prompt", args->prompt, "Optional prompt (remote providers)");
    sub->add_option("--n", args->n, "Number of results [1,9]")
        ->capture_default_str()
        ->check(CLI::Range(1, 9));
    sub->add_option("--smaller", args->smaller,
                    "Target smaller than the source: fail | crop | scale-down")
        ->capture_default_str();
    sub->add_option("--reach", args->reach,
                    "Beyond one call's limits: multi-pass | scale-to-fit (upscales the original)")
        ->capture_default_str();
    sub->add_option("--feather", args->feather, "Seam feather width in the generated ring (px)")
        ->capture_default_str()
        ->check(CLI::Range(0, 512));
    sub->add_flag("--color-match", args->colorMatch, "Match the ring's colours to the original");
    sub->add_flag("--json", args->json, "Print one JSON object with outputs, plan and timings");
    cvgen::cli::addProviderOptions(sub, args->provider);
    sub->callback([args, sub] {
        cvgen::cli::setExitCode(
            runExpand(*args, [sub](const char* flag) { return sub->count(flag) > 0; }));
    });
}

const cvgen::cli::Registrar kRegister("expand", 10, setupExpand);

}  // namespace
