// JPEG decoding through TurboJPEG: the same pixels as OpenCV's own decoder, for every kind of
// JPEG it takes, and OpenCV's behaviour kept for whatever it hands back (truncated, CMYK…).
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "../modules/core/src/jpeg_decode.hpp"
#include "cvgen/core/codec.hpp"

namespace cvgen {
namespace {

cv::Mat photoLike(cv::Size s, int seed) {
    cv::Mat m(s, CV_8UC3);
    cv::RNG rng{uint64_t(seed)};
    rng.fill(m, cv::RNG::UNIFORM, 0, 255);
    cv::GaussianBlur(m, m, cv::Size(0, 0), 3);  // smooth, like a photo
    cv::circle(m, {s.width / 3, s.height / 2}, s.height / 4, {20, 200, 90}, -1);
    return m;
}

std::vector<uint8_t> jpeg(const cv::Mat& m, std::vector<int> params) {
    std::vector<uint8_t> out;
    EXPECT_TRUE(cv::imencode(".jpg", m, out, params));
    return out;
}

void expectSameAsOpenCv(const std::vector<uint8_t>& bytes, const char* what) {
    SCOPED_TRACE(what);
    const cv::Mat ref = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(ref.empty());
    const cv::Mat fast = detail::decodeJpegFast(bytes.data(), bytes.size(), ref.cols, ref.rows);
    ASSERT_FALSE(fast.empty()) << "the fast path refused a clean JPEG";
    ASSERT_EQ(fast.type(), ref.type());
    ASSERT_EQ(fast.size(), ref.size());
    EXPECT_EQ(cv::norm(fast, ref, cv::NORM_INF), 0.0);
    auto viaCore = decodeImage(bytes);
    ASSERT_TRUE(viaCore.ok()) << viaCore.status();
    EXPECT_EQ(cv::norm(*viaCore, ref, cv::NORM_INF), 0.0);
}

TEST(Core_JpegDecode, samePixelsAsOpenCvForEveryKind) {
    const cv::Mat m = photoLike({333, 251}, 1);  // odd sizes: partial MCUs
    expectSameAsOpenCv(jpeg(m, {cv::IMWRITE_JPEG_QUALITY, 90}), "4:2:0");
    expectSameAsOpenCv(jpeg(m, {cv::IMWRITE_JPEG_QUALITY, 100}), "quality 100");
    expectSameAsOpenCv(jpeg(photoLike({1, 1}, 3), {}), "1x1");
    expectSameAsOpenCv(jpeg(photoLike({1201, 7}, 4), {}), "1201x7");
    expectSameAsOpenCv(jpeg(m, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}), "progressive");
    expectSameAsOpenCv(jpeg(m, {cv::IMWRITE_JPEG_OPTIMIZE, 1, cv::IMWRITE_JPEG_RST_INTERVAL, 4}),
                       "optimised, restart markers");
    cv::Mat gray;
    cv::cvtColor(m, gray, cv::COLOR_BGR2GRAY);
    expectSameAsOpenCv(jpeg(gray, {}), "grayscale");
    // A bundled photo, when present (samples/data is filled by scripts/setup.sh).
    const cv::Mat photo = cv::imread(std::string(CVGEN_SAMPLES_DATA) + "/chelsea.png");
    if (!photo.empty()) expectSameAsOpenCv(jpeg(photo, {}), "chelsea.png as JPEG");
}

TEST(Core_JpegDecode, unusualFilesGoBackToOpenCv) {
    const cv::Mat m = photoLike({200, 150}, 2);
    std::vector<uint8_t> bytes = jpeg(m, {});
    // Truncated: a warning for libjpeg; the fast path declines and core answers as before.
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + std::ptrdiff_t(bytes.size() / 2));
    EXPECT_TRUE(detail::decodeJpegFast(cut.data(), cut.size(), 200, 150).empty());
    // A header that disagrees with the caller's size.
    EXPECT_TRUE(detail::decodeJpegFast(bytes.data(), bytes.size(), 201, 150).empty());
    // Not a JPEG at all.
    const std::vector<uint8_t> junk(100, 0x5a);
    EXPECT_TRUE(detail::decodeJpegFast(junk.data(), junk.size(), 10, 10).empty());
    EXPECT_TRUE(detail::decodeJpegFast(nullptr, 0, 10, 10).empty());
}

}  // namespace
}  // namespace cvgen
