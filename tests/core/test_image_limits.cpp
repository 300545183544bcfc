#include <gtest/gtest.h>

#include "core/test_image_util.hpp"
#include "cvgen/core/codec.hpp"
#include "cvgen/core/image_limits.hpp"

using namespace cvgen;
using cvgen::testutil::encodeOrDie;
using cvgen::testutil::insertExifOrientation;
using cvgen::testutil::pngClaiming;
using cvgen::testutil::TempDir;

namespace {

std::vector<ViolationCode> codes(const CheckReport& r) {
    std::vector<ViolationCode> out;
    for (const auto& v : r.violations) out.push_back(v.code);
    return out;
}

}  // namespace

TEST(Core_ImageLimits, geometryAtBelowAndAboveEachLimit) {
    const ImageLimits l;
    using V = ViolationCode;
    const struct {
        int w, h;
        std::vector<V> expected;
    } cases[] = {
        {300, 300, {}},
        {299, 300, {V::TOO_SMALL}},
        {300, 299, {V::TOO_SMALL}},
        {301, 301, {}},
        {750, 300, {}},                      // exactly 2.5:1
        {751, 300, {V::ASPECT_TOO_WIDE}},    // just above
        {749, 300, {}},                      // just below
        {300, 750, {}},                      // exactly 1:2.5
        {300, 751, {V::ASPECT_TOO_TALL}},    // just above
        {2500, 1000, {}},                    // 2.5 on larger sides
        {2501, 1000, {V::ASPECT_TOO_WIDE}},  // 2.501
        {1000, 2501, {V::ASPECT_TOO_TALL}},
        {299, 750, {V::TOO_SMALL, V::ASPECT_TOO_TALL}},  // every violation at once
        {10000, 10000, {}},                              // exactly 100 MP
        {10000, 10001, {V::TOO_MANY_PIXELS}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(std::to_string(c.w) + "x" + std::to_string(c.h));
        CheckReport r;
        if (int64_t(c.w) * c.h <= 4'000'000) {
            r = check(cv::Mat(c.h, c.w, CV_8UC1, cv::Scalar(0)), l);
        } else {
            // Large geometries go through a synthetic PNG header (no pixels are allocated).
            auto rr = check(pngClaiming(uint32_t(c.w), uint32_t(c.h)), l);
            ASSERT_TRUE(rr.ok());
            r = *rr;
        }
        EXPECT_EQ(r.width, c.w);
        EXPECT_EQ(r.height, c.h);
        EXPECT_EQ(codes(r), c.expected);
        EXPECT_EQ(r.ok(), c.expected.empty());
        for (const auto& v : r.violations) EXPECT_FALSE(v.message.empty());
    }
}

TEST(Core_ImageLimits, violationsCarryMeasuredValueLimitAndMessage) {
    const ImageLimits l;
    const CheckReport r = check(cv::Mat(299, 800, CV_8UC3, cv::Scalar::all(0)), l);
    ASSERT_EQ(r.violations.size(), 2u);
    EXPECT_EQ(r.violations[0].code, ViolationCode::TOO_SMALL);
    EXPECT_EQ(r.violations[0].measured, 299);
    EXPECT_EQ(r.violations[0].limit, 300);
    EXPECT_EQ(r.violations[0].message, "height 299 px is below the minimum side of 300 px");
    EXPECT_EQ(r.violations[1].code, ViolationCode::ASPECT_TOO_WIDE);
    EXPECT_NEAR(r.violations[1].measured, 800.0 / 299.0, 1e-12);
    EXPECT_EQ(r.violations[1].limit, 2.5);
    EXPECT_TRUE(r.has(ViolationCode::ASPECT_TOO_WIDE));
    EXPECT_FALSE(r.has(ViolationCode::TOO_MANY_BYTES));
}

TEST(Core_ImageLimits, byteBudgetIsInclusiveAndExact) {
    const auto bytes =
        encodeOrDie(cv::Mat(300, 300, CV_8UC3, cv::Scalar(10, 20, 30)), ImageFormat::PNG);
    ImageLimits l;
    l.maxBytes = bytes.size();
    auto at = check(bytes, l);
    ASSERT_TRUE(at.ok());
    EXPECT_TRUE(at->ok());
    EXPECT_EQ(at->bytes, bytes.size());
    l.maxBytes = bytes.size() - 1;  // one byte over budget
    auto over = check(bytes, l);
    ASSERT_TRUE(over.ok());
    ASSERT_EQ(over->violations.size(), 1u);
    EXPECT_EQ(over->violations[0].code, ViolationCode::TOO_MANY_BYTES);
    EXPECT_EQ(over->violations[0].measured, double(bytes.size()));
    EXPECT_EQ(over->violations[0].limit, double(bytes.size() - 1));
    EXPECT_EQ(ImageLimits().maxBytes, 10'000'000u);
}

TEST(Core_ImageLimits, formatsAllowedOrNot) {
    const cv::Mat img(300, 400, CV_8UC3, cv::Scalar(1, 2, 3));
    const struct {
        ImageFormat f;
        bool klingOk;
        bool upscaleOk;
    } cases[] = {{ImageFormat::JPEG, true, true},
                 {ImageFormat::PNG, true, true},
                 {ImageFormat::WEBP, false, true},
                 {ImageFormat::TIFF, false, false},
                 {ImageFormat::BMP, false, false}};
    for (const auto& c : cases) {
        SCOPED_TRACE(formatName(c.f));
        const auto bytes = encodeOrDie(img, c.f);
        // The defaults (JPEG/PNG), and a set that also takes WebP (as Ideogram's upscale does;
        // the per-endpoint sets are the provider layer's, tested in tests/remote).
        ImageLimits withWebp;
        withWebp.formats.push_back(ImageFormat::WEBP);
        for (bool webp : {false, true}) {
            SCOPED_TRACE(webp ? "with WebP" : "defaults");
            auto r = check(bytes, webp ? withWebp : ImageLimits());
            ASSERT_TRUE(r.ok());
            EXPECT_EQ(r->format, c.f);
            const bool expectOk = webp ? c.upscaleOk : c.klingOk;
            EXPECT_EQ(r->ok(), expectOk);
            if (!expectOk) {
                EXPECT_EQ(codes(*r), std::vector<ViolationCode>{ViolationCode::FORMAT_NOT_ALLOWED});
            }
        }
    }
}

TEST(Core_ImageLimits, encodedBytesUseTheDisplayedOrientation) {
    const auto jpeg =
        encodeOrDie(cv::Mat(300, 760, CV_8UC3, cv::Scalar::all(90)), ImageFormat::JPEG);
    auto plain = check(jpeg, ImageLimits());
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(codes(*plain), std::vector<ViolationCode>{ViolationCode::ASPECT_TOO_WIDE});
    auto rotated = check(insertExifOrientation(jpeg, 6), ImageLimits());
    ASSERT_TRUE(rotated.ok());
    EXPECT_EQ(rotated->width, 300);
    EXPECT_EQ(rotated->height, 760);
    EXPECT_EQ(codes(*rotated), std::vector<ViolationCode>{ViolationCode::ASPECT_TOO_TALL});
}

TEST(Core_ImageLimits, unreadableBytesAreAViolationNotAnError) {
    const struct {
        const char* name;
        std::vector<uint8_t> bytes;
        ImageFormat format;
    } cases[] = {
        {"empty", {}, ImageFormat::UNKNOWN},
        {"text", {'h', 'e', 'l', 'l', 'o'}, ImageFormat::UNKNOWN},
        {"truncated jpeg", {0xFF, 0xD8, 0xFF, 0xE0, 0x00}, ImageFormat::JPEG},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto r = check(c.bytes, ImageLimits());
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r->format, c.format);
        ASSERT_FALSE(r->ok());
        EXPECT_EQ(r->violations[0].code, ViolationCode::UNREADABLE);
    }
    auto huge = check(pngClaiming(100000, 100000), ImageLimits());
    ASSERT_TRUE(huge.ok());
    EXPECT_EQ(codes(*huge), std::vector<ViolationCode>{ViolationCode::TOO_MANY_PIXELS});
}

TEST(Core_ImageLimits, checkFileSeparatesIoErrorsFromViolations) {
    TempDir dir;
    EXPECT_EQ(checkFile(dir.path("missing.png"), ImageLimits()).code(), Code::NOT_FOUND);
    EXPECT_EQ(checkFile(dir.root(), ImageLimits()).code(), Code::INVALID_ARGUMENT);
    ASSERT_TRUE(
        writeImageAtomic(dir.path("ok.png"), cv::Mat(300, 300, CV_8UC3, cv::Scalar::all(5))).ok());
    auto ok = checkFile(dir.path("ok.png"), ImageLimits());
    ASSERT_TRUE(ok.ok());
    EXPECT_TRUE(ok->ok());
    EXPECT_EQ(ok->format, ImageFormat::PNG);
}

TEST(Core_ImageLimits, namesAndParsing) {
    EXPECT_STREQ(mimeType(ImageFormat::JPEG), "image/jpeg");
    EXPECT_STREQ(mimeType(ImageFormat::PNG), "image/png");
    EXPECT_STREQ(mimeType(ImageFormat::WEBP), "image/webp");
    EXPECT_STREQ(mimeType(ImageFormat::UNKNOWN), "application/octet-stream");
    EXPECT_EQ(formatFromExtension("/a/b.JpEg"), ImageFormat::JPEG);
    EXPECT_EQ(formatFromExtension("/a.png/b"), ImageFormat::UNKNOWN);
    EXPECT_EQ(parseEndpoint("upscale"), Endpoint::UPSCALE);
    EXPECT_EQ(parseEndpoint("Upscale"), std::nullopt);
    EXPECT_STREQ(toString(ViolationCode::ASPECT_TOO_TALL), "ASPECT_TOO_TALL");
}
