#include "compose_util.hpp"

#include <opencv2/imgproc.hpp>

namespace cvgen::stages::detail {

cv::Mat matchType(const cv::Mat& img, int type) {
    cv::Mat out = img;
    const int cn = CV_MAT_CN(type), depth = CV_MAT_DEPTH(type);
    if (out.depth() != depth) {
        cv::Mat d;
        if (depth == CV_16U && out.depth() == CV_8U)
            out.convertTo(d, CV_16U, 257.0);
        else if (depth == CV_8U && out.depth() == CV_16U)
            out.convertTo(d, CV_8U, 1.0 / 257.0);
        else
            out.convertTo(d, depth);
        out = d;
    }
    if (out.channels() != cn) {
        static const int codes[5][5] = {
            {-1, -1, -1, -1, -1},
            {-1, -1, -1, cv::COLOR_GRAY2BGR, cv::COLOR_GRAY2BGRA},
            {-1, -1, -1, -1, -1},
            {-1, cv::COLOR_BGR2GRAY, -1, -1, cv::COLOR_BGR2BGRA},
            {-1, cv::COLOR_BGRA2GRAY, -1, cv::COLOR_BGRA2BGR, -1},
        };
        const int from = out.channels();
        CV_Assert(from >= 1 && from <= 4 && cn >= 1 && cn <= 4);
        const int code = codes[from][cn];
        CV_Assert(code >= 0);
        cv::Mat c;
        cv::cvtColor(out, c, code);
        out = c;
    }
    return out;
}

}  // namespace cvgen::stages::detail
