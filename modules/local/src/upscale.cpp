#include "cvgen/local/upscale.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace cvgen::local {

cv::Size upscaledSize(cv::Size size, double scale) {
    CV_Check(size.width, size.width > 0 && size.height > 0, "empty size");
    CV_Check(scale, std::isfinite(scale) && scale > 0 && scale <= 1e4, "scale must be in (0, 1e4]");
    const double w = std::max(1.0, std::round(size.width * scale));
    const double h = std::max(1.0, std::round(size.height * scale));
    CV_Check(w, w <= 65535 && h <= 65535 && w * h <= double(int64_t(1) << 29),
             "upscaled image too large");
    return cv::Size(int(w), int(h));
}

cv::Mat upscaleImage(cv::InputArray _src, double scale, bool sharpen) {
    const cv::Mat src = _src.getMat();
    CV_Assert(!src.empty());
    CV_Check(src.type(), src.depth() == CV_8U || src.depth() == CV_16U, "8U or 16U expected");
    CV_Check(src.channels(), src.channels() == 1 || src.channels() == 3 || src.channels() == 4,
             "1, 3 or 4 channels expected");
    const cv::Size size = upscaledSize(src.size(), scale);
    cv::Mat dst;
    if (size == src.size()) {
        dst = src.clone();
    } else {
        // Lanczos when growing; area averaging when shrinking (Lanczos would alias).
        const bool grows = size.width >= src.cols && size.height >= src.rows;
        cv::resize(src, dst, size, 0, 0, grows ? cv::INTER_LANCZOS4 : cv::INTER_AREA);
    }
    if (sharpen) {
        // Mild unsharp mask: dst + 0.5·(dst − blur(dst)), saturated to the type's range.
        cv::Mat blurred;
        cv::GaussianBlur(dst, blurred, cv::Size(), 1.0, 1.0, cv::BORDER_REFLECT);
        cv::addWeighted(dst, 1.5, blurred, -0.5, 0.0, dst);
    }
    return dst;
}

}  // namespace cvgen::local
