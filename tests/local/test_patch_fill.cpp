// Invariants of the patch fill (ExpandMode::PATCH / AUTO): no golden images, no timing.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "cvgen/local.hpp"

namespace {

using cvgen::local::expandCanvas;
using cvgen::local::ExpandMode;
using cvgen::local::Margins;
using cvgen::local::patchFill;
using cvgen::local::PatchFillParams;

// Textured, every value in [40, 230] so an unfilled (zero) pixel cannot hide.
cv::Mat texture(cv::Size size, int type = CV_8UC3, int salt = 0) {
    cv::Mat bgr(size, CV_8UC3);
    for (int y = 0; y < size.height; ++y)
        for (int x = 0; x < size.width; ++x)
            bgr.at<cv::Vec3b>(y, x) =
                cv::Vec3b(cv::saturate_cast<uchar>(40 + (x * 7 + y * 3 + salt) % 150),
                          cv::saturate_cast<uchar>(60 + ((x / 4 + y / 3) % 2) * 90),
                          cv::saturate_cast<uchar>(90 + ((x * x + y * 5) % 97)));
    cv::circle(bgr, cv::Point(size.width / 2, size.height / 3), std::max(1, size.width / 6),
               cv::Scalar(200, 50, 90), cv::FILLED);
    cv::Mat out;
    const int cn = CV_MAT_CN(type);
    if (cn == 1)
        cv::cvtColor(bgr, out, cv::COLOR_BGR2GRAY);
    else if (cn == 4)
        cv::cvtColor(bgr, out, cv::COLOR_BGR2BGRA);
    else
        out = bgr;
    if (cn == 4) {  // a varying alpha, so alpha is filled like a channel
        std::vector<cv::Mat> ch;
        cv::split(out, ch);
        ch[3] = 255 - ch[1] / 2;
        cv::merge(ch, out);
    }
    if (CV_MAT_DEPTH(type) == CV_16U) out.convertTo(out, CV_16U, 257.0);
    return out;
}

cv::Rect origRect(const cv::Mat& src, const Margins& m) {
    return cv::Rect(m.left, m.top, src.cols, src.rows);
}

std::string describe(const cv::Mat& src, const Margins& m) {
    return cv::typeToString(src.type()) + " " + std::to_string(src.cols) + "x" +
           std::to_string(src.rows) + " t" + std::to_string(m.top) + " b" +
           std::to_string(m.bottom) + " l" + std::to_string(m.left) + " r" +
           std::to_string(m.right);
}

// The checks every output must pass.
void checkInvariants(const cv::Mat& src, const Margins& m, const cvgen::local::PatchFillResult& r) {
    const cv::Size canvas(src.cols + m.left + m.right, src.rows + m.top + m.bottom);
    ASSERT_EQ(r.image.size(), canvas);
    ASSERT_EQ(r.image.type(), src.type());
    EXPECT_EQ(cv::norm(r.image(origRect(src, m)), src, cv::NORM_INF), 0.0);
    // No unfilled pixel: every value within the photo's range (its minimum is far above 0).
    double lo, hi, flo, fhi;
    cv::minMaxLoc(src.reshape(1), &lo, &hi);
    cv::minMaxLoc(r.image.reshape(1), &flo, &fhi);
    EXPECT_GE(flo, lo);
    EXPECT_LE(fhi, hi);
    ASSERT_EQ(r.confidence.type(), CV_32FC1);
    ASSERT_EQ(r.confidence.size(), canvas);
    EXPECT_TRUE(cv::checkRange(r.confidence, true, nullptr, 0.0, 1.0 + 1e-6));
    double clo, chi;
    cv::minMaxLoc(r.confidence, &clo, &chi);
    EXPECT_GE(clo, 0.0);
    EXPECT_LE(chi, 1.0);
    EXPECT_EQ(cv::countNonZero(r.confidence(origRect(src, m)) != 1.f), 0);
    EXPECT_GE(r.meanConfidence, 0.0);
    EXPECT_LE(r.meanConfidence, 1.0);
}

TEST(Local_PatchFill, everyTypeKeepsTheOriginalAndFillsEveryPixel) {
    const Margins m{20, 9, 31, 14};
    for (int type : {CV_8UC1, CV_8UC3, CV_8UC4, CV_16UC1, CV_16UC3, CV_16UC4}) {
        const cv::Mat src = texture({72, 54}, type);
        SCOPED_TRACE(describe(src, m));
        checkInvariants(src, m, patchFill(src, m));
    }
}

TEST(Local_PatchFill, tinyAndHugeMarginsAndOddGeometries) {
    const std::vector<std::pair<cv::Size, Margins>> cases = {
        {{64, 48}, {1, 0, 0, 0}},         {{64, 48}, {0, 0, 0, 1}},   {{64, 48}, {1, 1, 1, 1}},
        {{64, 48}, {0, 0, 0, 0}},         {{60, 40}, {0, 0, 0, 300}}, {{40, 30}, {200, 200, 0, 0}},
        {{40, 30}, {150, 150, 150, 150}}, {{11, 11}, {5, 5, 5, 5}},   {{5, 5}, {3, 4, 5, 6}},
        {{1, 1}, {2, 2, 2, 2}},           {{1, 40}, {0, 0, 3, 3}},    {{97, 13}, {13, 7, 0, 40}},
    };
    for (const auto& [size, m] : cases) {
        const cv::Mat src = texture(size, CV_8UC3, 5);
        SCOPED_TRACE(describe(src, m));
        checkInvariants(src, m, patchFill(src, m));
        const cv::Mat viaMode = expandCanvas(src, m, ExpandMode::PATCH);
        EXPECT_EQ(cv::norm(viaMode, patchFill(src, m).image, cv::NORM_INF), 0.0);
    }
}

TEST(Local_PatchFill, sameSeedSameOutputAndThreadCountDoesNotMatter) {
    const cv::Mat src = texture({120, 90}, CV_8UC3, 11);
    const Margins m{30, 20, 45, 60};
    PatchFillParams p;
    p.seed = 7;
    p.solveMegapixels = 0.01;  // a multi-level solve (refine levels, upscaled field) at this size
    const int threads = cv::getNumThreads();
    cv::setNumThreads(1);
    const auto one = patchFill(src, m, p);
    cv::setNumThreads(2);
    const auto two = patchFill(src, m, p);
    const auto again = patchFill(src, m, p);
    cv::setNumThreads(threads);
    EXPECT_EQ(cv::norm(one.image, two.image, cv::NORM_INF), 0.0);
    EXPECT_EQ(cv::norm(one.confidence, two.confidence, cv::NORM_INF), 0.0);
    EXPECT_EQ(cv::norm(two.image, again.image, cv::NORM_INF), 0.0);
    p.seed = 8;
    EXPECT_GT(cv::norm(one.image, patchFill(src, m, p).image, cv::NORM_L1), 0.0);
    // expandCanvas passes its seed through.
    EXPECT_EQ(cv::norm(expandCanvas(src, m, ExpandMode::PATCH, 7),
                       patchFill(src, m, PatchFillParams{7}).image, cv::NORM_INF),
              0.0);
}

TEST(Local_PatchFill, farFromThePhotoItIsTheBackdropWithZeroConfidence) {
    const cv::Mat src = texture({40, 30}, CV_8UC3, 3);
    const Margins m{0, 0, 0, 200};
    const auto r = patchFill(src, m);
    const cv::Mat blur = expandCanvas(src, m, ExpandMode::BLUR);
    // Beyond farEnd (0.7 of the short side, 21 px) plus the patch reach.
    const cv::Rect far(40 + 40, 0, 160, 30);
    EXPECT_EQ(cv::norm(r.image(far), blur(far), cv::NORM_INF), 0.0);
    EXPECT_EQ(cv::countNonZero(r.confidence(far)), 0);
    // Near the photo the patches are used.
    EXPECT_GT(r.confidence.at<float>(15, 42), 0.f);
    EXPECT_TRUE(r.usedPatch);
}

TEST(Local_PatchFill, tooSmallForPatchesGivesTheBackdrop) {
    const cv::Mat src = texture({8, 30}, CV_8UC3);
    const Margins m{4, 4, 10, 10};
    const auto r = patchFill(src, m);
    checkInvariants(src, m, r);
    EXPECT_EQ(cv::norm(r.image, expandCanvas(src, m, ExpandMode::BLUR), cv::NORM_INF), 0.0);
    EXPECT_EQ(r.meanConfidence, 0.0);
}

TEST(Local_PatchFill, autoPicksPatchOrBlurFromTheConfidence) {
    const cv::Mat src = texture({80, 60}, CV_8UC3, 2);
    const Margins m{10, 10, 30, 30};
    PatchFillParams p;
    p.autoThreshold = 1.01;  // never confident enough: blur
    auto r = patchFill(src, m, p, true);
    EXPECT_FALSE(r.usedPatch);
    EXPECT_EQ(cv::norm(r.image, expandCanvas(src, m, ExpandMode::BLUR), cv::NORM_INF), 0.0);
    checkInvariants(src, m, r);
    p.autoThreshold = 0.0;  // always: the patch fill
    r = patchFill(src, m, p, true);
    EXPECT_TRUE(r.usedPatch);
    EXPECT_EQ(cv::norm(r.image, patchFill(src, m, p).image, cv::NORM_INF), 0.0);
    // AUTO through expandCanvas is one of the two.
    const cv::Mat a = expandCanvas(src, m, ExpandMode::AUTO);
    const bool isBlur = cv::norm(a, expandCanvas(src, m, ExpandMode::BLUR), cv::NORM_INF) == 0.0;
    const bool isPatch = cv::norm(a, expandCanvas(src, m, ExpandMode::PATCH), cv::NORM_INF) == 0.0;
    EXPECT_TRUE(isBlur || isPatch);
}

TEST(Local_PatchFill, constantPhotoStaysConstant) {
    const cv::Mat src(40, 50, CV_8UC3, cv::Scalar(10, 120, 230));
    const Margins m{12, 5, 30, 0};
    const auto r = patchFill(src, m);
    EXPECT_LE(cv::norm(r.image, cv::Mat(r.image.size(), r.image.type(), cv::Scalar(10, 120, 230)),
                       cv::NORM_INF),
              1.0);
}

TEST(Local_PatchFill, roiInputIsHandled) {
    const cv::Mat big = texture({140, 100}, CV_8UC3, 9);
    const cv::Mat roi = big(cv::Rect(10, 20, 70, 50));
    ASSERT_FALSE(roi.isContinuous());
    const Margins m{5, 6, 20, 8};
    EXPECT_EQ(cv::norm(patchFill(roi, m).image, patchFill(roi.clone(), m).image, cv::NORM_INF),
              0.0);
}

TEST(Local_PatchFill, callerBugsThrow) {
    const cv::Mat src = texture({20, 20});
    EXPECT_THROW(patchFill(cv::Mat(), {1, 1, 1, 1}), cv::Exception);
    EXPECT_THROW(patchFill(src, {-1, 0, 0, 0}), cv::Exception);
    EXPECT_THROW(patchFill(cv::Mat(10, 10, CV_32FC3), {1, 1, 1, 1}), cv::Exception);
    EXPECT_THROW(patchFill(cv::Mat(10, 10, CV_8UC2), {1, 1, 1, 1}), cv::Exception);
    PatchFillParams p;
    p.farEnd = p.farStart;
    EXPECT_THROW(patchFill(src, {1, 1, 1, 1}, p), cv::Exception);
    p = PatchFillParams();
    p.iterations = 0;
    EXPECT_THROW(patchFill(src, {1, 1, 1, 1}, p), cv::Exception);
}

TEST(Local_PatchFill, localProviderUsesItsModeAndSeed) {
    const cv::Mat src = texture({80, 60}, CV_8UC3, 4);
    cvgen::local::LocalProvider::Params params;
    params.mode = ExpandMode::PATCH;
    params.seed = 5;
    const auto provider = cvgen::local::LocalProvider::create(params);
    cvgen::ExpandRequest req;
    req.image = cvgen::ImageSource::fromMat(src);
    req.ratios = {0.25, 0.25, 0.5, 0.5};  // up, down, left, right
    const auto out = provider->expand(req, cvgen::CallOptions());
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->images.size(), 1u);
    const Margins m = cvgen::local::marginsFromRatios(src.size(), req.ratios);
    EXPECT_EQ(
        cv::norm(out->images[0].image, expandCanvas(src, m, ExpandMode::PATCH, 5), cv::NORM_INF),
        0.0);
    EXPECT_NE(out->note.find("PatchMatch"), std::string::npos) << out->note;
    EXPECT_FALSE(out->synthetic);
}

TEST(Local_PatchFill, modesParseAndPrint) {
    for (ExpandMode mode : {ExpandMode::PATCH, ExpandMode::AUTO})
        EXPECT_EQ(cvgen::local::parseExpandMode(cvgen::local::toString(mode)), mode);
    EXPECT_EQ(std::string(cvgen::local::toString(ExpandMode::PATCH)), "patch");
    EXPECT_EQ(std::string(cvgen::local::toString(ExpandMode::AUTO)), "auto");
}

}  // namespace
