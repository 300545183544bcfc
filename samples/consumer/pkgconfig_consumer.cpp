// Built by CI with plain g++ against the installed Debian package:
//   g++ -std=c++17 pkgconfig_consumer.cpp $(pkg-config --cflags --libs cvgen)
// Proves cvgen.pc: headers, the static libraries in link order (stages -> local -> core) and the
// OpenCV dependency. Expands a synthetic image with the offline engine and checks the canvas size,
// that the original is back bit for bit, and (given as an argument) the version pkg-config reports.
#include <cvgen/core.hpp>
#include <cvgen/stages.hpp>

#include <opencv2/core.hpp>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
    cv::Mat image(300, 400, CV_8UC3);
    cv::randu(image, cv::Scalar::all(0), cv::Scalar::all(255));
    const cv::Size target(960, 540);

    const cvgen::Result<cvgen::Plan> plan =
        cvgen::planCanvas(image.size(), cvgen::TargetSpec::exact(target));
    const cvgen::Result<cv::Mat> canvas = cvgen::stages::expandToTarget(image, target);
    if (!plan.ok() || !canvas.ok()) {
        std::cerr << "expand failed: " << (plan.ok() ? canvas.status() : plan.status()) << "\n";
        return 1;
    }
    const bool sizeOk = canvas->size() == target;
    const bool originalKept =
        sizeOk && cv::norm((*canvas)(plan->sourceRect), image, cv::NORM_INF) == 0;
    const std::string version = cvgen::versionString();
    const bool versionOk = argc < 2 || version == argv[1];

    std::cout << "cvgen " << version << " (pkg-config): " << image.cols << "x" << image.rows
              << " -> " << canvas->cols << "x" << canvas->rows << ", original "
              << (originalKept ? "kept bit for bit" : "CHANGED")
              << (versionOk ? "" : ", version differs from pkg-config's " + std::string(argv[1]))
              << "\n";
    return sizeOk && originalKept && versionOk ? 0 : 1;
}
