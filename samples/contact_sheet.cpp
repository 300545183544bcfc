// Contact sheet of the offline engine's expand modes: every photo of a folder expanded to a wider
// (or taller) canvas with each mode, laid out before/after in one PNG so a person can look.
//
// Usage: sample_contact_sheet [INPUT_DIR] [OUTPUT.png] [ASPECT] [GROW]
//   INPUT_DIR  folder of .png/.jpg/.jpeg photos (default: samples/data)
//   OUTPUT.png the montage to write (default: contact_sheet.png)
//   ASPECT     target aspect W:H (default: 16:9)
//   GROW       the canvas is the smallest one of ASPECT that holds the photo, times GROW
//              (default: 1.5), with the photo centred
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cvgen/local.hpp"

namespace fs = std::filesystem;
using cvgen::local::ExpandMode;

namespace {

constexpr int kRowHeight = 260;
constexpr int kGap = 8;

cv::Mat toBgr(const cv::Mat& m) {
    cv::Mat out = m;
    if (out.depth() != CV_8U) out.convertTo(out, CV_8U, 1.0 / 257.0);
    if (out.channels() == 1) cv::cvtColor(out, out, cv::COLOR_GRAY2BGR);
    if (out.channels() == 4) cv::cvtColor(out, out, cv::COLOR_BGRA2BGR);
    return out;
}

// Scales to the row height and draws a caption; the original's rectangle is outlined when given.
cv::Mat tile(const cv::Mat& img, const std::string& caption, cv::Rect original = cv::Rect()) {
    const double s = double(kRowHeight) / img.rows;
    cv::Mat t;
    cv::resize(toBgr(img), t, cv::Size(std::max(1, int(std::lround(img.cols * s))), kRowHeight), 0,
               0, cv::INTER_AREA);
    if (original.area() > 0) {
        const cv::Rect r(int(std::lround(original.x * s)), int(std::lround(original.y * s)),
                         int(std::lround(original.width * s)),
                         int(std::lround(original.height * s)));
        // Dashed outline: short ticks at the corners only, so the seam itself stays visible.
        const int k = 10;
        const cv::Scalar c(255, 255, 255);
        for (const cv::Point& p :
             {r.tl(), cv::Point(r.br().x, r.y), r.br(), cv::Point(r.x, r.br().y)}) {
            const int sx = p.x == r.x ? 1 : -1, sy = p.y == r.y ? 1 : -1;
            cv::line(t, p, p + cv::Point(sx * k, 0), c, 1);
            cv::line(t, p, p + cv::Point(0, sy * k), c, 1);
        }
    }
    cv::rectangle(t, cv::Rect(0, 0, t.cols, 22), cv::Scalar(0, 0, 0), cv::FILLED);
    cv::putText(t, caption, cv::Point(6, 16), cv::FONT_HERSHEY_SIMPLEX, 0.5,
                cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
    return t;
}

cv::Mat hstack(const std::vector<cv::Mat>& tiles) {
    int w = 0;
    for (const auto& t : tiles) w += t.cols + kGap;
    cv::Mat row(kRowHeight, std::max(1, w - kGap), CV_8UC3, cv::Scalar(40, 40, 40));
    int x = 0;
    for (const auto& t : tiles) {
        t.copyTo(row(cv::Rect(x, 0, t.cols, t.rows)));
        x += t.cols + kGap;
    }
    return row;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string inDir = argc > 1 ? argv[1] : "samples/data";
    const std::string outPath = argc > 2 ? argv[2] : "contact_sheet.png";
    const std::string aspect = argc > 3 ? argv[3] : "16:9";
    const double grow = argc > 4 ? std::atof(argv[4]) : 1.5;
    double aw = 0, ah = 0;
    if (std::sscanf(aspect.c_str(), "%lf:%lf", &aw, &ah) != 2 || aw <= 0 || ah <= 0 ||
        !(grow >= 1.0 && grow <= 3.0)) {
        std::cerr << "usage: sample_contact_sheet [INPUT_DIR] [OUTPUT.png] [W:H] [GROW in 1..3]\n";
        return 2;
    }
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(inDir, ec)) {
        std::string ext = e.path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
        if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") files.push_back(e.path());
    }
    if (ec || files.empty()) {
        std::cerr << "sample_contact_sheet: no .png/.jpg photos in " << inDir << "\n";
        return 1;
    }
    std::sort(files.begin(), files.end());

    std::vector<cv::Mat> rows;
    for (const auto& f : files) {
        const cv::Mat photo = cv::imread(f.string(), cv::IMREAD_UNCHANGED);
        if (photo.empty()) {
            std::cerr << "skipping unreadable " << f << "\n";
            continue;
        }
        // Smallest canvas of the aspect that holds the photo, grown, photo centred.
        const double ratio = aw / ah;
        double W = photo.cols, H = photo.rows;
        if (W / H < ratio)
            W = H * ratio;
        else
            H = W / ratio;
        const int cw = std::max(photo.cols, int(std::lround(W * grow)));
        const int ch = std::max(photo.rows, int(std::lround(H * grow)));
        cvgen::local::Margins m;
        m.left = (cw - photo.cols) / 2;
        m.right = cw - photo.cols - m.left;
        m.top = (ch - photo.rows) / 2;
        m.bottom = ch - photo.rows - m.top;
        const cv::Rect orig(m.left, m.top, photo.cols, photo.rows);

        std::vector<cv::Mat> tiles{tile(photo, f.filename().string() + " (before)")};
        for (ExpandMode mode : {ExpandMode::BLUR, ExpandMode::SOFT, ExpandMode::EDGE}) {
            const cv::Mat out = cvgen::local::expandCanvas(photo, m, mode);
            const double seam = cvgen::local::seamScore(out, m);
            char cap[96];
            std::snprintf(cap, sizeof cap, "%s %dx%d seam %.2f", cvgen::local::toString(mode),
                          out.cols, out.rows, seam);
            tiles.push_back(tile(out, cap, orig));
        }
        rows.push_back(hstack(tiles));
    }
    if (rows.empty()) return 1;
    int width = 0, height = 0;
    for (const auto& r : rows) {
        width = std::max(width, r.cols);
        height += r.rows + kGap;
    }
    cv::Mat sheet(height - kGap, width, CV_8UC3, cv::Scalar(40, 40, 40));
    int y = 0;
    for (const auto& r : rows) {
        r.copyTo(sheet(cv::Rect(0, y, r.cols, r.rows)));
        y += r.rows + kGap;
    }
    try {
        if (!cv::imwrite(outPath, sheet)) {
            std::cerr << "sample_contact_sheet: could not write " << outPath << "\n";
            return 1;
        }
    } catch (const cv::Exception& e) {
        std::cerr << "sample_contact_sheet: could not write " << outPath << ": " << e.what()
                  << "\n";
        return 1;
    }
    std::cout << "wrote " << outPath << " (" << sheet.cols << "x" << sheet.rows << ", "
              << rows.size() << " photos x 3 modes)\n";
    return 0;
}
