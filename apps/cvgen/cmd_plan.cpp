// cvgen plan --source 800x600 --target 1920x1080 [--anchor center|top-left|...|X,Y] [--json]
// Prints the expand plan: where the original lands, the margins and ratios, and each pass.
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>

#include "command.hpp"
#include "cvgen/core/planner.hpp"

namespace {

struct PlanArgs {
    std::string source, target, anchor = "center", smaller = "fail", reach = "multi-pass";
    std::string prePad;
    double preScale = 1.0;
    double maxSide = 2.0, maxArea = 3.0;
    int maxPasses = 16;
    bool json = false;
};

std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

std::string sz(cv::Size s) {
    return std::to_string(s.width) + "x" + std::to_string(s.height);
}

void printHuman(const cvgen::Plan& p) {
    const cv::Rect& r = p.sourceRect;
    std::cout << "source " << sz(p.source) << " -> target " << sz(p.target) << "\n";
    if (p.sourceCrop != cv::Rect(cv::Point(), p.source))
        std::cout << "kept:    x=" << p.sourceCrop.x << " y=" << p.sourceCrop.y << " "
                  << sz(p.sourceCrop.size()) << " of the source\n";
    std::cout << "original at x=" << r.x << " y=" << r.y << " " << sz(r.size());
    if (p.sourceScale != 1.0) std::cout << " (scaled " << fmt(p.sourceScale) << "x)";
    std::cout << "\nmargins: top " << p.top << ", bottom " << p.bottom << ", left " << p.left
              << ", right " << p.right << "\n";
    std::cout << "ratios:  up " << fmt(p.ratios.up) << ", down " << fmt(p.ratios.down) << ", left "
              << fmt(p.ratios.left) << ", right " << fmt(p.ratios.right) << " (area factor "
              << fmt(p.ratios.areaFactor()) << ")\n";
    if (p.workSource != p.workContent.size() || p.workCanvas != p.target)
        std::cout << "work frame: first input " << sz(p.workSource) << ", final canvas "
                  << sz(p.workCanvas) << ", target region x=" << p.targetInWork.x
                  << " y=" << p.targetInWork.y << " " << sz(p.targetInWork.size()) << "\n";
    std::cout << "passes:  " << p.passes.size();
    if (p.limitedByArea || p.limitedBySide)
        std::cout << " (limited by " << (p.limitedByArea ? "area" : "")
                  << (p.limitedByArea && p.limitedBySide ? " and " : "")
                  << (p.limitedBySide ? "side ratio" : "") << ")";
    std::cout << "\n";
    for (size_t i = 0; i < p.passes.size(); ++i) {
        const cvgen::ExpandPass& e = p.passes[i];
        std::cout << "  " << (i + 1) << ": " << sz(e.source) << " -> " << sz(e.canvas)
                  << "  px top " << e.top << " bottom " << e.bottom << " left " << e.left
                  << " right " << e.right << "  ratios up " << fmt(e.ratios.up) << " down "
                  << fmt(e.ratios.down) << " left " << fmt(e.ratios.left) << " right "
                  << fmt(e.ratios.right) << " area " << fmt(e.ratios.areaFactor());
        if (e.sideBound) std::cout << "  [side-bound]";
        if (e.areaBound) std::cout << "  [area-bound]";
        std::cout << "\n";
    }
    for (const std::string& n : p.notes) std::cout << "note: " << n << "\n";
}

std::string jsonError(const cvgen::Status& st) {
    std::string msg;
    for (char c : st.message()) {
        if (c == '"' || c == '\\') msg += '\\';
        if (static_cast<unsigned char>(c) < 0x20) continue;
        msg += c;
    }
    return std::string("{\"ok\":false,\"error\":{\"code\":\"") + cvgen::codeName(st.code()) +
           "\",\"message\":\"" + msg + "\"}}";
}

int runPlan(const PlanArgs& a) {
    auto usage = [&](const cvgen::Status& st) {
        if (a.json)
            std::cout << jsonError(st) << "\n";
        else
            std::cerr << "cvgen plan: " << st.message() << "\n";
        return cvgen::cli::EXIT_USAGE;
    };
    auto source = cvgen::parseSize(a.source);
    if (!source.ok()) return usage(source.status().withContext("--source"));
    auto target = cvgen::parseTarget(a.target);
    if (!target.ok()) return usage(target.status().withContext("--target"));
    auto placement = cvgen::parsePlacement(a.anchor);
    if (!placement.ok()) return usage(placement.status().withContext("--anchor"));
    cvgen::PlannerParams prm;
    if (a.smaller == "fail")
        prm.smallerTarget = cvgen::SmallerTarget::FAIL;
    else if (a.smaller == "crop")
        prm.smallerTarget = cvgen::SmallerTarget::CROP;
    else if (a.smaller == "scale-down")
        prm.smallerTarget = cvgen::SmallerTarget::SCALE_DOWN;
    else
        return usage(cvgen::invalidArgument("--smaller must be fail, crop or scale-down"));
    if (a.reach == "multi-pass")
        prm.reach = cvgen::Reach::MULTI_PASS;
    else if (a.reach == "scale-to-fit")
        prm.reach = cvgen::Reach::SCALE_TO_FIT;
    else
        return usage(cvgen::invalidArgument("--reach must be multi-pass or scale-to-fit"));
    if (!(a.preScale > 0) || !(a.maxSide > 0) || !(a.maxArea > 1) || a.maxPasses < 1)
        return usage(cvgen::invalidArgument(
            "--pre-scale and --max-side-ratio must be > 0, --max-area > 1, --max-passes >= 1"));
    prm.pre.scale = a.preScale;
    prm.maxSideRatio = a.maxSide;
    prm.maxArea = a.maxArea;
    prm.maxPasses = a.maxPasses;
    if (!a.prePad.empty()) {
        std::istringstream in(a.prePad);
        char c1 = 0, c2 = 0, c3 = 0;
        int t = -1, b = -1, l = -1, r = -1;
        if (!(in >> t >> c1 >> b >> c2 >> l >> c3 >> r) || c1 != ',' || c2 != ',' || c3 != ',' ||
            t < 0 || b < 0 || l < 0 || r < 0 || !(in >> std::ws).eof())
            return usage(cvgen::invalidArgument("--pre-pad must be TOP,BOTTOM,LEFT,RIGHT pixels"));
        prm.pre.padTop = t;
        prm.pre.padBottom = b;
        prm.pre.padLeft = l;
        prm.pre.padRight = r;
    }
    auto plan = cvgen::planCanvas(*source, *target, *placement, prm);
    if (!plan.ok()) {
        if (a.json)
            std::cout << jsonError(plan.status()) << "\n";
        else
            std::cerr << "cvgen plan: " << plan.status() << "\n";
        return cvgen::cli::EXIT_FAILED;
    }
    if (a.json) {
        std::string j = cvgen::toJson(*plan);
        std::cout << "{\"ok\":true," << j.substr(1) << "\n";
    } else {
        printHuman(*plan);
    }
    return cvgen::cli::EXIT_OK;
}

void setupPlan(CLI::App& app) {
    auto args = std::make_shared<PlanArgs>();
    auto* sub = app.add_subcommand(
        "plan", "Plan an expand to a target canvas: placement, margins, ratios and passes");
    sub->add_option("--source", args->source, "Source size WxH, e.g. 800x600")->required();
    sub->add_option("--target", args->target,
                    "Target: WxH, or W:H[@1.5x|@1080p|@4k|@LONGSIDE] (aspect with scale, "
                    "short-side preset or long side)")
        ->required();
    sub->add_option("--anchor", args->anchor,
                    "center, top-left, top, top-right, left, right, bottom-left, bottom, "
                    "bottom-right, or X,Y (offset of the source in the target)")
        ->capture_default_str();
    sub->add_option("--smaller", args->smaller,
                    "Target smaller than the source: fail, crop or scale-down")
        ->capture_default_str();
    sub->add_option("--reach", args->reach,
                    "Beyond one pass: multi-pass, or scale-to-fit (one pass, result upscaled)")
        ->capture_default_str();
    sub->add_option("--pre-scale", args->preScale,
                    "Preflight upscale of the source before the first pass")
        ->capture_default_str();
    sub->add_option("--pre-pad", args->prePad, "Preflight padding TOP,BOTTOM,LEFT,RIGHT (px)");
    sub->add_option("--max-side-ratio", args->maxSide, "Per-side ratio limit of one pass")
        ->capture_default_str();
    sub->add_option("--max-area", args->maxArea, "Area-factor limit of one pass")
        ->capture_default_str();
    sub->add_option("--max-passes", args->maxPasses, "Refuse plans needing more passes")
        ->capture_default_str();
    sub->add_flag("--json", args->json, "Print one JSON object");
    sub->callback([args] { cvgen::cli::setExitCode(runPlan(*args)); });
}

const cvgen::cli::Registrar kRegister("plan", 15, setupPlan);

}  // namespace
