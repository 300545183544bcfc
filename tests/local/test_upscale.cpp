#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "cvgen/local.hpp"

namespace {

using cvgen::local::upscaledSize;
using cvgen::local::upscaleImage;

cv::Mat pattern(cv::Size size, int type) {
    cv::Mat m(size, type);
    cv::randu(m, 0, CV_MAT_DEPTH(type) == CV_16U ? 65535 : 255);
    cv::GaussianBlur(m, m, cv::Size(5, 5), 1.5);
    return m;
}

TEST(Local_Upscale, outputSizeIsRoundedScaleForIntegerAndFractionalScales) {
    struct Case {
        cv::Size src;
        double scale;
        cv::Size expect;
    };
    const std::vector<Case> cases = {
        {{64, 48}, 2.0, {128, 96}},  {{64, 48}, 4.0, {256, 192}}, {{64, 48}, 1.0, {64, 48}},
        {{64, 48}, 1.5, {96, 72}},   {{33, 17}, 1.5, {50, 26}},   {{33, 17}, 2.25, {74, 38}},
        {{10, 10}, 0.5, {5, 5}},     {{3, 1}, 0.1, {1, 1}},       {{7, 5}, 3.3, {23, 17}},
        {{100, 1}, 1.234, {123, 1}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(std::to_string(c.src.width) + "x" + std::to_string(c.src.height) + " *" +
                     std::to_string(c.scale));
        EXPECT_EQ(upscaledSize(c.src, c.scale), c.expect);
        for (bool sharpen : {false, true}) {
            const cv::Mat out = upscaleImage(pattern(c.src, CV_8UC3), c.scale, sharpen);
            EXPECT_EQ(out.size(), c.expect);
            EXPECT_EQ(out.type(), CV_8UC3);
        }
    }
}

TEST(Local_Upscale, keepsTypeForEverySupportedType) {
    for (int type : {CV_8UC1, CV_8UC3, CV_8UC4, CV_16UC1, CV_16UC3, CV_16UC4}) {
        SCOPED_TRACE(cv::typeToString(type));
        const cv::Mat out = upscaleImage(pattern({20, 16}, type), 2.5, true);
        EXPECT_EQ(out.type(), type);
        EXPECT_EQ(out.size(), cv::Size(50, 40));
    }
}

TEST(Local_Upscale, preservesContentAndIsDeterministic) {
    const cv::Mat src = pattern({40, 30}, CV_8UC3);
    const cv::Mat up = upscaleImage(src, 2.0);
    cv::Mat back;
    cv::resize(up, back, src.size(), 0, 0, cv::INTER_AREA);
    // A smooth image survives up- and down-sampling almost unchanged.
    EXPECT_LT(cv::norm(back, src, cv::NORM_L1) / double(src.total() * 3), 2.0);
    EXPECT_EQ(cv::norm(up, upscaleImage(src, 2.0), cv::NORM_INF), 0.0);
    // Scale 1 without sharpening is an exact copy.
    EXPECT_EQ(cv::norm(upscaleImage(src, 1.0), src, cv::NORM_INF), 0.0);
}

TEST(Local_Upscale, sharpeningAddsContrastAtEdges) {
    cv::Mat src(20, 20, CV_8UC1, cv::Scalar(60));
    src(cv::Rect(10, 0, 10, 20)).setTo(180);
    const cv::Mat plain = upscaleImage(src, 2.0, false);
    const cv::Mat sharp = upscaleImage(src, 2.0, true);
    double minP, maxP, minS, maxS;
    cv::minMaxLoc(plain, &minP, &maxP);
    cv::minMaxLoc(sharp, &minS, &maxS);
    EXPECT_GE(maxS - minS, maxP - minP);
    EXPECT_GT(cv::norm(plain, sharp, cv::NORM_L1), 0.0);
}

TEST(Local_Upscale, callerBugsThrow) {
    const cv::Mat src = pattern({8, 8}, CV_8UC3);
    EXPECT_THROW(upscaleImage(cv::Mat(), 2.0), cv::Exception);
    EXPECT_THROW(upscaleImage(src, 0.0), cv::Exception);
    EXPECT_THROW(upscaleImage(src, -1.0), cv::Exception);
    EXPECT_THROW(upscaleImage(src, std::numeric_limits<double>::quiet_NaN()), cv::Exception);
    EXPECT_THROW(upscaleImage(src, std::numeric_limits<double>::infinity()), cv::Exception);
    EXPECT_THROW(upscaleImage(cv::Mat(8, 8, CV_32FC1), 2.0), cv::Exception);
    EXPECT_THROW(upscaleImage(src, 10000.0), cv::Exception);  // 80000 px wide
}

}  // namespace
