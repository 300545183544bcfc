// Way 1 — cvgen stages inside an existing OpenCV pipeline.
//
// The "existing pipeline" reads images, finds a region of interest with stock OpenCV operations
// (Canny edges, a morphological close and the largest external contour — no model file needed)
// and crops it. cvgen then adds two stages: expand each crop to a 16:9 canvas at a target size,
// and upscale it; the result is written next to the crop.
//
// Usage: sample_embed_pipeline [INPUT_DIR] [OUTPUT_DIR] [TARGET] [SCALE]
//   INPUT_DIR   folder of .png/.jpg photos (default: samples/data)
//   OUTPUT_DIR  where <stem>_roi.png and <stem>_<W>x<H>.png go (default: out/embed_pipeline)
//   TARGET      16:9 canvas of the expand stage, WxH (default: 960x540)
//   SCALE       upscale factor after the expand (default: 2, so 960x540 → 1920x1080)
// Exit status: 0 when every image went through, 1 when any failed, 2 for bad arguments.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cvgen/core.hpp"
#include "cvgen/local.hpp"
#include "cvgen/stages.hpp"

namespace fs = std::filesystem;

namespace {

// The part of the pipeline that existed before cvgen: a region of interest from edges.
cv::Rect findRegionOfInterest(const cv::Mat& bgr) {
    cv::Mat gray, edges;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    cv::GaussianBlur(gray, gray, cv::Size(5, 5), 0);
    cv::Canny(gray, edges, 100, 200);
    cv::morphologyEx(edges, edges, cv::MORPH_CLOSE,
                     cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(9, 9)));
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(edges, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    const cv::Rect whole(0, 0, bgr.cols, bgr.rows);
    if (contours.empty()) return whole;
    const auto largest = std::max_element(
        contours.begin(), contours.end(),
        [](const auto& a, const auto& b) { return cv::contourArea(a) < cv::contourArea(b); });
    cv::Rect roi = cv::boundingRect(*largest);
    // A little context around the object, and never a sliver.
    const int padX = roi.width / 10, padY = roi.height / 10;
    roi = cv::Rect(roi.x - padX, roi.y - padY, roi.width + 2 * padX, roi.height + 2 * padY);
    roi &= whole;
    if (roi.width < 64 || roi.height < 64) return whole;
    return roi;
}

// What to tell the operator for each kind of failure (the Code says what to do next).
const char* advice(cvgen::Code code) {
    switch (code) {
        case cvgen::Code::INVALID_ARGUMENT:
            return "fix the input or the parameters";
        case cvgen::Code::UNAUTHENTICATED:
        case cvgen::Code::PERMISSION_DENIED:
            return "fix the key or the account";
        case cvgen::Code::RESOURCE_EXHAUSTED:
            return "back off (rate limit) or top up (funds)";
        case cvgen::Code::UNAVAILABLE:
            return "transient: retry later";
        case cvgen::Code::DEADLINE_EXCEEDED:
            return "the remote task may still finish: resume it";
        default:
            return "see the message";
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::string inputDir = argc > 1 ? argv[1] : "samples/data";
    const std::string outputDir = argc > 2 ? argv[2] : "out/embed_pipeline";
    const std::string targetText = argc > 3 ? argv[3] : "960x540";
    const double scale = argc > 4 ? std::atof(argv[4]) : 2.0;

    auto target = cvgen::parseSize(targetText);
    if (!target.ok() || !(scale > 1.0)) {
        std::cerr << "usage: sample_embed_pipeline [INPUT_DIR] [OUTPUT_DIR] [WxH] [SCALE>1]\n";
        return 2;
    }
    std::error_code ec;
    if (!fs::is_directory(inputDir, ec)) {
        std::cerr << "no such folder: " << inputDir << " (run from the repository root)\n";
        return 2;
    }
    fs::create_directories(outputDir, ec);

    // Provider choice: the offline engine here (no key, no network, a classical fill).
    // For generated content, swap in a remote provider — the stages do not change:
    //   cvgen::remote::RemoteParams rp; rp.profile = "anyapi"; rp.apiKey = key;
    //   auto remote = cvgen::remote::createProvider(rp);   // then provider = *remote
    //   and set expand.preflight = true (remote providers' input rules).
    cvgen::local::LocalProvider::Params engine;
    engine.mode = cvgen::local::ExpandMode::SOFT;
    std::shared_ptr<cvgen::Provider> provider = cvgen::local::LocalProvider::create(engine);

    // Stage 1: expand the crop onto a 16:9 canvas of exactly `target`, the crop centred and
    // untouched; crops larger than the canvas are scaled down first.
    cvgen::stages::ExpandToTarget::Params expand;
    expand.target = cvgen::TargetSpec::exact(*target);
    expand.placement = cvgen::Placement::centred();
    expand.planner.smallerTarget = cvgen::SmallerTarget::SCALE_DOWN;
    expand.provider = provider;
    // Stage 2: upscale.
    cvgen::stages::UpscaleStage::Params upscale;
    upscale.scale = scale;
    upscale.provider = provider;

    cv::Ptr<cvgen::stages::Pipeline> pipeline = cvgen::stages::Pipeline::create();
    pipeline->add(cvgen::stages::ExpandToTarget::create(expand))
        .add(cvgen::stages::UpscaleStage::create(upscale));

    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(inputDir)) {
        std::string ext = e.path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
        if (e.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg"))
            files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
        std::cerr << "no images in " << inputDir << "\n";
        return 1;
    }

    int failed = 0;
    for (const fs::path& file : files) {
        const cv::Mat image = cv::imread(file.string(), cv::IMREAD_COLOR);
        if (image.empty()) {
            std::cerr << file.filename().string() << ": unreadable\n";
            ++failed;
            continue;
        }
        const cv::Rect roi = findRegionOfInterest(image);
        const cv::Mat crop = image(roi).clone();
        const std::string stem = file.stem().string();
        cv::imwrite((fs::path(outputDir) / (stem + "_roi.png")).string(), crop);

        cvgen::Result<cvgen::stages::Frame> out =
            pipeline->run(cvgen::stages::Frame(crop, file.string()));
        if (!out.ok()) {
            // Errors are values: the code says what to do, the message names the stage.
            const cvgen::Status st = out.status();
            std::cerr << stem << ": " << st.toString() << " — " << advice(st.code()) << "\n";
            ++failed;
            continue;
        }
        const cv::Mat& result = out->image;
        const fs::path dst = fs::path(outputDir) / (stem + "_" + std::to_string(result.cols) + "x" +
                                                    std::to_string(result.rows) + ".png");
        if (!cv::imwrite(dst.string(), result)) {
            std::cerr << stem << ": cannot write " << dst.string() << "\n";
            ++failed;
            continue;
        }
        std::cout << stem << ": roi " << roi.width << "x" << roi.height << "+" << roi.x << "+"
                  << roi.y << " -> " << result.cols << "x" << result.rows << " by "
                  << out->meta.provider << " (";
        for (const auto& [stage, ms] : out->meta.timings) std::cout << stage << " " << ms << " ms ";
        std::cout << ") -> " << dst.string() << "\n";
        for (const std::string& t : out->meta.transforms) std::cout << "    " << t << "\n";
    }
    std::cout << files.size() - failed << " of " << files.size() << " images done\n";
    return failed == 0 ? 0 : 1;
}
