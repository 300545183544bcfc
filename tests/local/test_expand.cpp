#include <cmath>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cvgen/local.hpp"

namespace {

using cvgen::local::expandCanvas;
using cvgen::local::ExpandMode;
using cvgen::local::Margins;

const ExpandMode kModes[] = {ExpandMode::BLUR, ExpandMode::SOFT, ExpandMode::EDGE};

// A textured test image: gradients plus a few shapes, so fills and seams have something to show.
cv::Mat testImage(cv::Size size, int type = CV_8UC3, int salt = 0) {
    cv::Mat bgr(size, CV_8UC3);
    for (int y = 0; y < size.height; ++y)
        for (int x = 0; x < size.width; ++x)
            bgr.at<cv::Vec3b>(y, x) = cv::Vec3b(cv::saturate_cast<uchar>(40 + (x * 3 + salt) % 180),
                                                cv::saturate_cast<uchar>(60 + (y * 2) % 150),
                                                cv::saturate_cast<uchar>(90 + ((x + y) * 5) % 120));
    cv::circle(bgr, cv::Point(size.width / 2, size.height / 2), std::max(1, size.width / 4),
               cv::Scalar(200, 30, 90), cv::FILLED);
    cv::Mat out;
    const int cn = CV_MAT_CN(type);
    if (cn == 1)
        cv::cvtColor(bgr, out, cv::COLOR_BGR2GRAY);
    else if (cn == 4)
        cv::cvtColor(bgr, out, cv::COLOR_BGR2BGRA);
    else
        out = bgr;
    if (CV_MAT_DEPTH(type) == CV_16U) out.convertTo(out, CV_16U, 257.0);
    return out;
}

double originalDiff(const cv::Mat& canvas, const cv::Mat& src, const Margins& m) {
    return cv::norm(canvas(cv::Rect(m.left, m.top, src.cols, src.rows)), src, cv::NORM_INF);
}

TEST(Local_Expand, exactSizeAndOriginalUntouchedForManyGeometries) {
    struct Case {
        cv::Size src;
        Margins m;
    };
    const std::vector<Case> cases = {
        {{64, 48}, {0, 0, 0, 0}},      {{64, 48}, {1, 0, 0, 0}},     {{64, 48}, {0, 1, 0, 0}},
        {{64, 48}, {0, 0, 1, 0}},      {{64, 48}, {0, 0, 0, 1}},     {{64, 48}, {1, 1, 1, 1}},
        {{64, 48}, {96, 96, 0, 0}},    {{64, 48}, {0, 0, 128, 128}}, {{64, 48}, {96, 0, 128, 0}},
        {{64, 48}, {0, 96, 0, 128}},   {{1, 1}, {3, 4, 5, 6}},       {{1, 40}, {0, 0, 2, 2}},
        {{40, 1}, {2, 2, 0, 0}},       {{3, 2}, {6, 4, 6, 6}},       {{200, 120}, {13, 7, 31, 0}},
        {{97, 131}, {262, 0, 0, 194}}, {{50, 50}, {100, 100, 0, 0}}, {{50, 50}, {0, 0, 100, 100}},
    };
    for (ExpandMode mode : kModes) {
        for (const auto& c : cases) {
            SCOPED_TRACE(std::string(cvgen::local::toString(mode)) + " " +
                         std::to_string(c.src.width) + "x" + std::to_string(c.src.height) + " t" +
                         std::to_string(c.m.top) + " b" + std::to_string(c.m.bottom) + " l" +
                         std::to_string(c.m.left) + " r" + std::to_string(c.m.right));
            const cv::Mat src = testImage(c.src);
            const cv::Mat out = expandCanvas(src, c.m, mode);
            EXPECT_EQ(out.cols, c.src.width + c.m.left + c.m.right);
            EXPECT_EQ(out.rows, c.src.height + c.m.top + c.m.bottom);
            EXPECT_EQ(out.type(), src.type());
            EXPECT_EQ(originalDiff(out, src, c.m), 0.0);
        }
    }
}

TEST(Local_Expand, everySupportedTypeKeepsTheOriginalBitExact) {
    // The small canvas is evaluated in full; the large one (≥ 64k px) partly on a coarse grid.
    const Margins m{9, 5, 11, 3};
    for (cv::Size size : {cv::Size(40, 30), cv::Size(300, 220)}) {
        for (int type : {CV_8UC1, CV_8UC3, CV_8UC4, CV_16UC1, CV_16UC3, CV_16UC4}) {
            for (ExpandMode mode : kModes) {
                SCOPED_TRACE(cv::typeToString(type) + " " + cvgen::local::toString(mode) + " " +
                             std::to_string(size.width));
                const cv::Mat src = testImage(size, type);
                const cv::Mat out = expandCanvas(src, m, mode);
                ASSERT_EQ(out.type(), type);
                EXPECT_EQ(out.size(), cv::Size(size.width + 14, size.height + 14));
                EXPECT_EQ(originalDiff(out, src, m), 0.0);
                // The fill stays in the range of the photo (no overflow in 16-bit or alpha).
                double lo, hi, flo, fhi;
                cv::minMaxLoc(src.reshape(1), &lo, &hi);
                cv::minMaxLoc(out.reshape(1), &flo, &fhi);
                EXPECT_GE(flo, lo);
                EXPECT_LE(fhi, hi);
            }
        }
    }
}

TEST(Local_Expand, roiInputIsHandled) {
    const cv::Mat big = testImage({120, 100});
    const cv::Mat roi = big(cv::Rect(10, 20, 60, 50));
    ASSERT_FALSE(roi.isContinuous());
    const Margins m{5, 6, 7, 8};
    for (ExpandMode mode : kModes) {
        const cv::Mat out = expandCanvas(roi, m, mode);
        EXPECT_EQ(originalDiff(out, roi, m), 0.0);
        EXPECT_EQ(cv::norm(out, expandCanvas(roi.clone(), m, mode), cv::NORM_INF), 0.0);
    }
}

TEST(Local_Expand, deterministic) {
    const cv::Mat src = testImage({80, 60});
    const Margins m{20, 10, 30, 40};
    for (ExpandMode mode : kModes) {
        SCOPED_TRACE(cvgen::local::toString(mode));
        const cv::Mat a = expandCanvas(src, m, mode);
        const cv::Mat b = expandCanvas(src, m, mode);
        EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0);
    }
}

TEST(Local_Expand, modesDiffer) {
    const cv::Mat src = testImage({80, 60});
    const Margins m{20, 10, 30, 40};
    const cv::Mat blur = expandCanvas(src, m, ExpandMode::BLUR);
    const cv::Mat soft = expandCanvas(src, m, ExpandMode::SOFT);
    const cv::Mat edge = expandCanvas(src, m, ExpandMode::EDGE);
    EXPECT_GT(cv::norm(blur, soft, cv::NORM_L1), 0.0);
    EXPECT_GT(cv::norm(soft, edge, cv::NORM_L1), 0.0);
}

TEST(Local_Expand, constantImageStaysConstant) {
    // A flat photo has nothing to invent: every mode must fill with the same colour.
    // Small canvases are evaluated in full, large ones (≥ 64k px) partly on a coarse grid.
    for (cv::Size size : {cv::Size(40, 30), cv::Size(300, 200)}) {
        const cv::Mat src(size, CV_8UC3, cv::Scalar(10, 120, 230));
        for (ExpandMode mode : kModes) {
            SCOPED_TRACE(std::string(cvgen::local::toString(mode)) + " " +
                         std::to_string(size.width));
            const cv::Mat out = expandCanvas(src, {25, 5, 60, 0}, mode);
            cv::Mat expected(out.size(), out.type(), cv::Scalar(10, 120, 230));
            EXPECT_LE(cv::norm(out, expected, cv::NORM_INF), 1.0);
        }
    }
}

TEST(Local_Expand, fillIsSmoothAwayFromTheBorder) {
    // Far from the original every fill is a blurred field: neighbouring pixels differ by little
    // (no blocks from the coarse grid, no streak edges).
    const cv::Mat src = testImage({240, 180}, CV_8UC3, 3);
    const Margins m{0, 0, 0, 240};
    for (ExpandMode mode : kModes) {
        SCOPED_TRACE(cvgen::local::toString(mode));
        const cv::Mat out = expandCanvas(src, m, mode);
        const cv::Mat far = out(cv::Rect(240 + 40, 0, 200, 180));
        cv::Mat gx, gy;
        cv::Sobel(far, gx, CV_32F, 1, 0, 1);
        cv::Sobel(far, gy, CV_32F, 0, 1, 1);
        double maxX = 0, maxY = 0;
        maxX = cv::norm(gx, cv::NORM_INF);
        maxY = cv::norm(gy, cv::NORM_INF);
        EXPECT_LT(std::max(maxX, maxY), 12.0);
    }
}

TEST(Local_Expand, callerBugsThrow) {
    const cv::Mat src = testImage({20, 20});
    EXPECT_THROW(expandCanvas(cv::Mat(), {1, 1, 1, 1}), cv::Exception);
    EXPECT_THROW(expandCanvas(src, {-1, 0, 0, 0}), cv::Exception);
    EXPECT_THROW(expandCanvas(cv::Mat(10, 10, CV_32FC3), {1, 1, 1, 1}), cv::Exception);
    EXPECT_THROW(expandCanvas(cv::Mat(10, 10, CV_8UC2), {1, 1, 1, 1}), cv::Exception);
    EXPECT_THROW(expandCanvas(src, {0, 0, 70000, 0}), cv::Exception);
}

TEST(Local_Expand, marginsFromRatiosRoundsPerSide) {
    using cvgen::ExpansionRatios;
    struct Case {
        cv::Size size;
        ExpansionRatios r;
        Margins expect;
    };
    const std::vector<Case> cases = {
        {{100, 20}, {0.1, 0, 0, 0}, {2, 0, 0, 0}},    // height 20, up 0.1 → 2 px
        {{100, 20}, {0, 0.125, 0, 0}, {0, 3, 0, 0}},  // 2.5 → 3 (half away from zero)
        {{100, 20}, {0, 0, 0.004, 0.006}, {0, 0, 0, 1}},
        {{333, 250}, {0.5, 0.5, 1, 1}, {125, 125, 333, 333}},
        {{1, 1}, {2, 2, 2, 2}, {2, 2, 2, 2}},
        {{640, 480}, {0, 0, 0, 0}, {0, 0, 0, 0}},
    };
    for (const auto& c : cases) {
        const Margins m = cvgen::local::marginsFromRatios(c.size, c.r);
        EXPECT_EQ(m.top, c.expect.top);
        EXPECT_EQ(m.bottom, c.expect.bottom);
        EXPECT_EQ(m.left, c.expect.left);
        EXPECT_EQ(m.right, c.expect.right);
    }
    EXPECT_THROW(cvgen::local::marginsFromRatios({10, 10}, {-0.1, 0, 0, 0}), cv::Exception);
    EXPECT_THROW(cvgen::local::marginsFromRatios({10, 10}, {NAN, 0, 0, 0}), cv::Exception);
}

TEST(Local_Expand, parseAndPrintModes) {
    for (ExpandMode mode : kModes)
        EXPECT_EQ(cvgen::local::parseExpandMode(cvgen::local::toString(mode)), mode);
    EXPECT_FALSE(cvgen::local::parseExpandMode("BLUR").has_value());
    EXPECT_FALSE(cvgen::local::parseExpandMode("").has_value());
}

TEST(Local_Seam, scoreOfAHardStepIsHighAndOfAFlatImageIsOne) {
    const Margins m{0, 0, 10, 0};
    cv::Mat flat(20, 30, CV_8UC1, cv::Scalar(100));
    EXPECT_NEAR(cvgen::local::seamScore(flat, m), 1.0, 1e-9);
    // Textured inside, step at the border, smooth outside.
    cv::Mat step(20, 30, CV_8UC1);
    for (int y = 0; y < 20; ++y)
        for (int x = 0; x < 30; ++x) step.at<uchar>(y, x) = x < 10 ? 0 : uchar(100 + 4 * (x % 2));
    EXPECT_GT(cvgen::local::seamScore(step, m), 10.0);
    EXPECT_TRUE(std::isnan(cvgen::local::seamScore(flat, Margins{})));
}

TEST(Local_Seam, everyModeJoinsWithoutAVisibleSeam) {
    // Measured, not timed: the fills continue the photo's texture across the border.
    const cv::Mat src = testImage({160, 120}, CV_8UC3, 7);
    const Margins m{30, 30, 60, 60};
    for (ExpandMode mode : kModes) {
        SCOPED_TRACE(cvgen::local::toString(mode));
        const double score = cvgen::local::seamScore(expandCanvas(src, m, mode), m);
        EXPECT_LT(score, 1.3);
    }
}

TEST(Local_Seam, samplePhotosJoinWithoutAVisibleSeam) {
    const cv::Mat photo = cv::imread(std::string(CVGEN_SAMPLES_DATA) + "/chelsea.png");
    ASSERT_FALSE(photo.empty());
    const Margins m{60, 60, 150, 150};
    for (ExpandMode mode : kModes) {
        SCOPED_TRACE(cvgen::local::toString(mode));
        EXPECT_LT(cvgen::local::seamScore(expandCanvas(photo, m, mode), m), 1.3);
    }
}

}  // namespace
