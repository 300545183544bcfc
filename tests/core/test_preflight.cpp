#include <random>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "core/test_image_util.hpp"
#include "cvgen/core/codec.hpp"
#include "cvgen/core/preflight.hpp"

using namespace cvgen;
using cvgen::testutil::encodeOrDie;
using cvgen::testutil::insertExifOrientation;

namespace {

using Policy = ConformPolicy;

Policy pngPolicy(Policy::Aspect aspect = Policy::Aspect::PAD,
                 Policy::PadStyle style = Policy::PadStyle::CONSTANT) {
    Policy p;
    p.preferred = ImageFormat::PNG;
    p.aspect = aspect;
    p.padStyle = style;
    p.padColor = cv::Scalar(0, 0, 255, 255);
    return p;
}

cv::Mat decodeOrDie(const std::vector<uint8_t>& bytes) {
    auto m = decodeImage(bytes);
    if (!m.ok()) {
        ADD_FAILURE() << m.status();
        return {};
    }
    return *m;
}

cv::Mat noise(int w, int h, unsigned seed) {
    cv::Mat m(h, w, CV_8UC3);
    cv::RNG rng(seed);
    rng.fill(m, cv::RNG::UNIFORM, 0, 256);
    return m;
}

bool samePixels(const cv::Mat& a, const cv::Mat& b) {
    if (a.size() != b.size() || a.type() != b.type()) return false;
    return cv::norm(a, b, cv::NORM_INF) == 0;
}

bool passes(const PreparedImage& p, const ImageLimits& l) {
    auto r = check(p.bytes, l);
    return r.ok() && r->ok();
}

}  // namespace

TEST(Core_Preflight, compliantMatIsOnlyEncoded) {
    const ImageLimits l;
    auto p = conform(noise(400, 300, 1), l);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_FALSE(p->passthrough);
    EXPECT_EQ(p->format, ImageFormat::JPEG);
    EXPECT_EQ(p->mime, "image/jpeg");
    EXPECT_EQ(p->size, cv::Size(400, 300));
    EXPECT_TRUE(p->transform.isIdentity());
    ASSERT_EQ(p->actions.size(), 1u);
    EXPECT_EQ(p->actions[0].rfind("encoded as JPEG", 0), 0u) << p->actions[0];
    EXPECT_TRUE(passes(*p, l));
}

TEST(Core_Preflight, geometryFixesPerPolicy) {
    using A = Policy::Aspect;
    using S = Policy::Small;
    const ImageLimits l;
    const struct {
        cv::Size in;
        A aspect;
        S small;
        bool ok;
        cv::Size out;
        cv::Rect crop;
        int top, bottom, left, right;
    } cases[] = {
        {{300, 300}, A::PAD, S::UPSCALE, true, {300, 300}, {0, 0, 300, 300}, 0, 0, 0, 0},
        {{299, 299}, A::PAD, S::UPSCALE, true, {300, 300}, {0, 0, 299, 299}, 0, 0, 0, 0},
        {{299, 299}, A::PAD, S::FAIL, false, {}, {}, 0, 0, 0, 0},
        {{150, 100}, A::PAD, S::UPSCALE, true, {450, 300}, {0, 0, 150, 100}, 0, 0, 0, 0},
        {{750, 300}, A::FAIL, S::FAIL, true, {750, 300}, {0, 0, 750, 300}, 0, 0, 0, 0},
        {{800, 300}, A::PAD, S::UPSCALE, true, {800, 320}, {0, 0, 800, 300}, 10, 10, 0, 0},
        {{801, 300}, A::PAD, S::UPSCALE, true, {801, 321}, {0, 0, 801, 300}, 10, 11, 0, 0},
        {{800, 300}, A::CROP, S::UPSCALE, true, {750, 300}, {25, 0, 750, 300}, 0, 0, 0, 0},
        {{800, 300}, A::FAIL, S::UPSCALE, false, {}, {}, 0, 0, 0, 0},
        {{300, 800}, A::PAD, S::UPSCALE, true, {320, 800}, {0, 0, 300, 800}, 0, 0, 10, 10},
        {{300, 800}, A::CROP, S::UPSCALE, true, {300, 750}, {0, 25, 300, 750}, 0, 0, 0, 0},
        {{800, 200}, A::PAD, S::FAIL, true, {800, 320}, {0, 0, 800, 200}, 60, 60, 0, 0},
        {{100, 10}, A::PAD, S::UPSCALE, true, {750, 300}, {0, 0, 100, 10}, 112, 113, 0, 0},
        {{100, 10}, A::CROP, S::UPSCALE, true, {750, 300}, {37, 0, 25, 10}, 0, 0, 0, 0},
    };
    for (const auto& c : cases) {
        Policy p;
        p.aspect = c.aspect;
        p.small = c.small;
        SCOPED_TRACE(std::to_string(c.in.width) + "x" + std::to_string(c.in.height) + " aspect " +
                     std::to_string(int(c.aspect)) + " small " + std::to_string(int(c.small)));
        auto t = planConform(c.in, l, p);
        ASSERT_EQ(t.ok(), c.ok) << t.status();
        if (!c.ok) {
            EXPECT_EQ(t.code(), Code::INVALID_ARGUMENT);
            EXPECT_EQ(conform(cv::Mat(c.in, CV_8UC3, cv::Scalar::all(9)), l, p).code(),
                      Code::INVALID_ARGUMENT);
            continue;
        }
        EXPECT_EQ(t->preparedSize, c.out);
        EXPECT_EQ(t->crop, c.crop);
        EXPECT_EQ(t->padTop, c.top);
        EXPECT_EQ(t->padBottom, c.bottom);
        EXPECT_EQ(t->padLeft, c.left);
        EXPECT_EQ(t->padRight, c.right);
        auto prepared = conform(cv::Mat(c.in, CV_8UC3, cv::Scalar::all(9)), l, p);
        ASSERT_TRUE(prepared.ok()) << prepared.status();
        EXPECT_EQ(prepared->size, c.out);
        EXPECT_TRUE(passes(*prepared, l));
    }
}

TEST(Core_Preflight, padStylesNeverTouchTheSourcePixels) {
    const ImageLimits l;
    const cv::Mat src = noise(800, 300, 3);
    for (auto style :
         {Policy::PadStyle::BLUR, Policy::PadStyle::REFLECT, Policy::PadStyle::CONSTANT}) {
        SCOPED_TRACE(int(style));
        auto p = conform(src, l, pngPolicy(Policy::Aspect::PAD, style));
        ASSERT_TRUE(p.ok()) << p.status();
        ASSERT_EQ(p->format, ImageFormat::PNG);
        const cv::Mat out = decodeOrDie(p->bytes);
        ASSERT_EQ(out.size(), cv::Size(800, 320));
        EXPECT_TRUE(samePixels(out(p->transform.sourceRectInPrepared()), src));
        if (style == Policy::PadStyle::CONSTANT) {
            EXPECT_EQ(out.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 255));
            EXPECT_EQ(out.at<cv::Vec3b>(319, 799), cv::Vec3b(0, 0, 255));
        }
        if (style == Policy::PadStyle::REFLECT) {  // row -1 mirrors row 1 (BORDER_REFLECT_101)
            EXPECT_EQ(out.at<cv::Vec3b>(9, 5), src.at<cv::Vec3b>(1, 5));
        }
        bool mentionsPad = false;
        for (const auto& a : p->actions) mentionsPad |= a.find("padded") != std::string::npos;
        EXPECT_TRUE(mentionsPad);
    }
}

TEST(Core_Preflight, alphaIsFlattenedOrKept) {
    const ImageLimits l;
    cv::Mat bgra(300, 300, CV_8UC4, cv::Scalar(0, 0, 0, 0));
    bgra(cv::Rect(0, 0, 150, 300)).setTo(cv::Scalar(0, 0, 200, 255));
    bgra(cv::Rect(150, 0, 150, 300)).setTo(cv::Scalar(0, 0, 0, 0));
    Policy p = pngPolicy();
    p.background = cv::Scalar(10, 20, 30);
    auto flat = conform(bgra, l, p);
    ASSERT_TRUE(flat.ok()) << flat.status();
    const cv::Mat f = decodeOrDie(flat->bytes);
    ASSERT_EQ(f.type(), CV_8UC3);
    EXPECT_EQ(f.at<cv::Vec3b>(5, 5), cv::Vec3b(0, 0, 200));
    EXPECT_EQ(f.at<cv::Vec3b>(5, 200), cv::Vec3b(10, 20, 30));
    p.alpha = Policy::Alpha::KEEP_PNG;
    p.preferred = ImageFormat::JPEG;  // ignored: alpha needs PNG
    auto kept = conform(bgra, l, p);
    ASSERT_TRUE(kept.ok()) << kept.status();
    EXPECT_EQ(kept->format, ImageFormat::PNG);
    EXPECT_TRUE(samePixels(decodeOrDie(kept->bytes), bgra));
    ImageLimits jpegOnly;
    jpegOnly.formats = {ImageFormat::JPEG};
    EXPECT_EQ(conform(bgra, jpegOnly, p).code(), Code::INVALID_ARGUMENT);
    // Opaque alpha is just dropped.
    p.alpha = Policy::Alpha::FLATTEN;
    auto opaque = conform(cv::Mat(300, 300, CV_8UC4, cv::Scalar(1, 2, 3, 255)), l, p);
    ASSERT_TRUE(opaque.ok());
    EXPECT_EQ(opaque->actions[0], "opaque alpha channel dropped");
}

TEST(Core_Preflight, sixteenBitAndGreyBecomeEightBitBgr) {
    const ImageLimits l;
    const struct {
        int type;
        cv::Scalar value;
        cv::Vec3b expected;
        const char* action;
    } cases[] = {
        {CV_16UC3,
         cv::Scalar(257 * 10, 257 * 20, 257 * 30),
         {10, 20, 30},
         "16-bit samples scaled to 8-bit"},
        {CV_8UC1, cv::Scalar(77), {77, 77, 77}, "grey expanded to BGR"},
        {CV_16UC1, cv::Scalar(65535), {255, 255, 255}, "16-bit samples scaled to 8-bit"},
        {CV_8UC2, cv::Scalar(40, 255), {40, 40, 40}, "grey+alpha expanded to BGRA"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(cv::typeToString(c.type));
        auto p = conform(cv::Mat(300, 300, c.type, c.value), l, pngPolicy());
        ASSERT_TRUE(p.ok()) << p.status();
        const cv::Mat out = decodeOrDie(p->bytes);
        ASSERT_EQ(out.type(), CV_8UC3);
        EXPECT_EQ(out.at<cv::Vec3b>(100, 100), c.expected);
        EXPECT_EQ(p->actions[0], c.action);
    }
    EXPECT_THROW((void)conform(cv::Mat(300, 300, CV_32FC3), l), cv::Exception);
    EXPECT_THROW((void)conform(cv::Mat(), l), cv::Exception);
}

TEST(Core_Preflight, byteBudgetLowersQualityThenDownscales) {
    const cv::Mat src = noise(600, 600, 5);
    ImageLimits l;
    auto full = encodeImage(src, ImageFormat::JPEG, 92);
    ASSERT_TRUE(full.ok());
    // Just under the q92 size: a lower quality fits, no downscale.
    l.maxBytes = full->size() - 1;
    auto q = conform(src, l);
    ASSERT_TRUE(q.ok()) << q.status();
    EXPECT_LE(q->bytes.size(), l.maxBytes);
    EXPECT_EQ(q->size, cv::Size(600, 600));
    bool lowered = false;
    for (const auto& a : q->actions) lowered |= a.find("JPEG quality lowered") != std::string::npos;
    EXPECT_TRUE(lowered);
    // Far under: downscaled, but never below the minimum side.
    l.maxBytes = 120'000;
    auto d = conform(src, l);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_LE(d->bytes.size(), l.maxBytes);
    EXPECT_LT(d->size.width, 600);
    EXPECT_GE(d->size.width, 300);
    EXPECT_TRUE(passes(*d, l));
    // Impossible at the minimum side.
    l.maxBytes = 2'000;
    EXPECT_EQ(conform(src, l).code(), Code::INVALID_ARGUMENT);
    // Downscaling refused.
    Policy noShrink;
    noShrink.large = Policy::Large::FAIL;
    l.maxBytes = 120'000;
    EXPECT_EQ(conform(src, l, noShrink).code(), Code::INVALID_ARGUMENT);
    // A PNG that is over budget switches to JPEG.
    auto png = conform(src, l, pngPolicy());
    ASSERT_TRUE(png.ok()) << png.status();
    EXPECT_EQ(png->format, ImageFormat::JPEG);
    // ...unless alpha must survive: then the PNG is downscaled until it fits.
    cv::Mat bgra;
    cv::cvtColor(src, bgra, cv::COLOR_BGR2BGRA);
    bgra.col(0).setTo(cv::Scalar(0, 0, 0, 0));
    Policy keep = pngPolicy();
    keep.alpha = Policy::Alpha::KEEP_PNG;
    l.maxBytes = 500'000;
    auto kept = conform(bgra, l, keep);
    ASSERT_TRUE(kept.ok()) << kept.status();
    EXPECT_EQ(kept->format, ImageFormat::PNG);
    EXPECT_LE(kept->bytes.size(), l.maxBytes);
    EXPECT_LT(kept->size.width, 600);
    EXPECT_EQ(decodeOrDie(kept->bytes).channels(), 4);
}

TEST(Core_Preflight, pixelBudgetDownscales) {
    ImageLimits l;
    l.maxPixels = 400 * 400;
    auto t = planConform({1000, 1000}, l);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_LE(int64_t(t->preparedSize.area()), l.maxPixels);
    EXPECT_GE(t->preparedSize.width, 399);
    Policy noShrink;
    noShrink.large = Policy::Large::FAIL;
    EXPECT_EQ(planConform({1000, 1000}, l, noShrink).code(), Code::INVALID_ARGUMENT);
    l.maxPixels = 300 * 300 - 1;  // cannot hold the minimum side
    EXPECT_EQ(planConform({1000, 1000}, l).code(), Code::INVALID_ARGUMENT);
}

TEST(Core_Preflight, compliantBytesPassThroughByteForByte) {
    const ImageLimits l;
    for (ImageFormat f : {ImageFormat::JPEG, ImageFormat::PNG}) {
        SCOPED_TRACE(formatName(f));
        const auto bytes = encodeOrDie(noise(320, 310, 7), f);
        auto p = conformBytes(bytes, l);
        ASSERT_TRUE(p.ok()) << p.status();
        EXPECT_TRUE(p->passthrough);
        EXPECT_EQ(p->bytes, bytes);
        EXPECT_EQ(p->format, f);
        EXPECT_EQ(p->size, cv::Size(320, 310));
        EXPECT_TRUE(p->transform.isIdentity());
        EXPECT_TRUE(p->actions.empty());
    }
}

TEST(Core_Preflight, nonCompliantBytesAreFixed) {
    const ImageLimits kling;
    const cv::Mat src = noise(400, 300, 9);
    // WebP is not accepted by Kling: re-encoded, same geometry.
    auto webp = conformBytes(encodeOrDie(src, ImageFormat::WEBP), kling);
    ASSERT_TRUE(webp.ok()) << webp.status();
    EXPECT_FALSE(webp->passthrough);
    EXPECT_EQ(webp->format, ImageFormat::JPEG);
    EXPECT_EQ(webp->size, cv::Size(400, 300));
    EXPECT_NE(webp->actions[0].find("WEBP is not accepted"), std::string::npos) << webp->actions[0];
    // ...but passes through where WebP is accepted (Ideogram's upscale).
    ImageLimits withWebp;
    withWebp.formats.push_back(ImageFormat::WEBP);
    auto up = conformBytes(encodeOrDie(src, ImageFormat::WEBP), withWebp);
    ASSERT_TRUE(up.ok());
    EXPECT_TRUE(up->passthrough);
    // One byte over budget.
    const auto jpeg = encodeOrDie(src, ImageFormat::JPEG, 95);
    ImageLimits tight;
    tight.maxBytes = jpeg.size() - 1;
    auto over = conformBytes(jpeg, tight);
    ASSERT_TRUE(over.ok()) << over.status();
    EXPECT_FALSE(over->passthrough);
    EXPECT_LE(over->bytes.size(), tight.maxBytes);
    // EXIF orientation 6: what is seen (300x400) is what is sent.
    auto rotated = conformBytes(insertExifOrientation(jpeg, 6), kling);
    ASSERT_TRUE(rotated.ok()) << rotated.status();
    EXPECT_FALSE(rotated->passthrough);
    EXPECT_EQ(rotated->size, cv::Size(300, 400));
    EXPECT_EQ(rotated->transform.sourceSize, cv::Size(300, 400));
    // Alpha in a compliant PNG: flattened by default, passed through when it must survive.
    cv::Mat bgra(300, 300, CV_8UC4, cv::Scalar(1, 2, 3, 128));
    const auto png = encodeOrDie(bgra, ImageFormat::PNG);
    auto flat = conformBytes(png, kling);
    ASSERT_TRUE(flat.ok());
    EXPECT_FALSE(flat->passthrough);
    Policy keep;
    keep.alpha = Policy::Alpha::KEEP_PNG;
    auto kept = conformBytes(png, kling, keep);
    ASSERT_TRUE(kept.ok());
    EXPECT_TRUE(kept->passthrough);
}

TEST(Core_Preflight, unreadableBytesAndSourcesAreTypedErrors) {
    const ImageLimits l;
    EXPECT_EQ(conformBytes({}, l).code(), Code::INVALID_ARGUMENT);
    EXPECT_EQ(conformBytes({'n', 'o', 'p', 'e'}, l).code(), Code::INVALID_ARGUMENT);
    auto jpeg = encodeOrDie(noise(300, 300, 2), ImageFormat::JPEG);
    jpeg.resize(jpeg.size() / 2);
    EXPECT_EQ(conformBytes(jpeg, l).code(), Code::DATA_LOSS);
    EXPECT_EQ(conformBytes(cvgen::testutil::pngClaiming(100000, 100000), l).code(),
              Code::INVALID_ARGUMENT);
    EXPECT_EQ(conform(ImageSource::fromUrl("https://example.com/a.png"), l).code(),
              Code::INVALID_ARGUMENT);
    EXPECT_EQ(conform(ImageSource{}, l).code(), Code::INVALID_ARGUMENT);
    auto fromMat = conform(ImageSource::fromMat(noise(300, 300, 3)), l);
    ASSERT_TRUE(fromMat.ok());
    EXPECT_FALSE(fromMat->passthrough);
    const auto bytes = encodeOrDie(noise(300, 300, 3), ImageFormat::PNG);
    auto fromBytes = conform(ImageSource::fromBytes(bytes), l);
    ASSERT_TRUE(fromBytes.ok());
    EXPECT_TRUE(fromBytes->passthrough);
}

// Property: for thousands of random geometries and policies the plan passes the limits and
// the transform maps the source's corners onto the source rectangle in the prepared frame.
TEST(Core_Preflight, propertyPlansAlwaysPassAndMapCorners) {
    std::mt19937 rng(2024);
    auto side = [&] {
        // Mostly small/medium, sometimes large, sometimes tiny.
        const int k = int(rng() % 10);
        if (k < 2) return 1 + int(rng() % 20);
        if (k < 8) return 1 + int(rng() % 1500);
        return 1 + int(rng() % 20000);
    };
    int checked = 0;
    for (int i = 0; i < 5000; ++i) {
        const cv::Size src(side(), side());
        Policy p;
        p.aspect = rng() % 2 ? Policy::Aspect::PAD : Policy::Aspect::CROP;
        ImageLimits l;
        if (rng() % 4 == 0) l.maxPixels = 2'000'000;
        SCOPED_TRACE(std::to_string(src.width) + "x" + std::to_string(src.height) +
                     (p.aspect == Policy::Aspect::PAD ? " pad" : " crop") + " maxPixels " +
                     std::to_string(l.maxPixels));
        auto t = planConform(src, l, p);
        ASSERT_TRUE(t.ok()) << t.status();
        const cv::Size out = t->preparedSize;
        ASSERT_GE(std::min(out.width, out.height), l.minSide);
        ASSERT_TRUE(l.aspectOk(out.width, out.height));
        ASSERT_LE(int64_t(out.area()), l.maxPixels);
        // The crop lies in the source; the source rect lies in the prepared frame.
        ASSERT_EQ(t->crop & cv::Rect(cv::Point(), src), t->crop);
        const cv::Rect sr = t->sourceRectInPrepared();
        ASSERT_EQ(sr & cv::Rect(cv::Point(), out), sr);
        ASSERT_EQ(out.width, t->padLeft + sr.width + t->padRight);
        ASSERT_EQ(out.height, t->padTop + sr.height + t->padBottom);
        // Corners of the kept part map exactly onto the source rect's corners, and back.
        const cv::Point2d tl = t->toPrepared(cv::Point2d(t->crop.tl()));
        const cv::Point2d br = t->toPrepared(cv::Point2d(t->crop.br()));
        ASSERT_NEAR(tl.x, sr.x, 1e-9);
        ASSERT_NEAR(tl.y, sr.y, 1e-9);
        ASSERT_NEAR(br.x, sr.x + sr.width, 1e-6);
        ASSERT_NEAR(br.y, sr.y + sr.height, 1e-6);
        const cv::Point2d back = t->toSource(br);
        ASSERT_NEAR(back.x, t->crop.br().x, 1e-6);
        ASSERT_NEAR(back.y, t->crop.br().y, 1e-6);
        if (p.aspect == Policy::Aspect::PAD) {
            // Padding never drops source pixels: the whole source is kept.
            ASSERT_EQ(t->crop, cv::Rect(cv::Point(), src));
            // Scaling is uniform up to rounding (at most half a pixel per side, at least 1 px).
            ASSERT_NEAR(sr.width, std::max(1.0, src.width * t->scale), 0.5 + 1e-9);
            ASSERT_NEAR(sr.height, std::max(1.0, src.height * t->scale), 0.5 + 1e-9);
        }
        ++checked;
    }
    EXPECT_EQ(checked, 5000);
}

// Property on pixels: random small images of every accepted type through conform(); the bytes
// always pass check() and (PNG) the constant-coloured source lands exactly on
// sourceRectInPrepared() with only padding around it; (JPEG) noise under random byte budgets.
TEST(Core_Preflight, propertyConformOutputPassesAndLandsWhereTheTransformSays) {
    std::mt19937 rng(99);
    const int types[] = {CV_8UC1, CV_8UC3, CV_8UC4, CV_16UC3};
    int jpegFitted = 0, jpegUnreachable = 0;
    for (int i = 0; i < 100; ++i) {
        const cv::Size src(1 + int(rng() % 400), 1 + int(rng() % 400));
        const int type = types[rng() % 4];
        Policy p = pngPolicy(rng() % 2 ? Policy::Aspect::PAD : Policy::Aspect::CROP);
        const bool jpeg = rng() % 3 == 0;
        if (jpeg) p.preferred = ImageFormat::JPEG;
        SCOPED_TRACE(std::to_string(src.width) + "x" + std::to_string(src.height) + " " +
                     cv::typeToString(type) + (jpeg ? " jpeg" : " png"));
        const cv::Scalar colour = CV_MAT_DEPTH(type) == CV_16U
                                      ? cv::Scalar(40 * 257, 160 * 257, 90 * 257, 65535)
                                      : cv::Scalar(40, 160, 90, 255);
        cv::Mat img(src, type, colour);
        ImageLimits l;
        if (jpeg) {
            // Random content under a random byte budget: the quality search and the downscale
            // loop run; either the result passes or the budget is reported as unreachable.
            cv::RNG(unsigned(i))
                .fill(img, cv::RNG::UNIFORM, 0, CV_MAT_DEPTH(type) == CV_16U ? 65536 : 256);
            l.maxBytes = 40'000 + rng() % 400'000;
        }
        auto prepared = conform(img, l, p);
        if (jpeg && !prepared.ok()) {
            ASSERT_EQ(prepared.code(), Code::INVALID_ARGUMENT);
            ASSERT_NE(prepared.status().message().find("bytes"), std::string::npos)
                << prepared.status();
            ++jpegUnreachable;
            continue;
        }
        jpegFitted += jpeg;
        ASSERT_TRUE(prepared.ok()) << prepared.status();
        ASSERT_TRUE(passes(*prepared, l));
        const cv::Mat out = decodeOrDie(prepared->bytes);
        ASSERT_EQ(out.size(), prepared->transform.preparedSize);
        if (jpeg) continue;
        const cv::Rect sr = prepared->transform.sourceRectInPrepared();
        const cv::Vec3b c = CV_MAT_CN(type) == 1 ? cv::Vec3b(40, 40, 40) : cv::Vec3b(40, 160, 90);
        cv::Mat diff;
        cv::absdiff(out(sr), cv::Scalar(c[0], c[1], c[2]), diff);
        ASSERT_EQ(cv::norm(diff, cv::NORM_INF), 0);
        // Everything outside the source rect is padding colour.
        cv::Mat mask(out.size(), CV_8UC1, cv::Scalar(255));
        mask(sr).setTo(0);
        cv::Mat padDiff;
        cv::absdiff(out, cv::Scalar(0, 0, 255), padDiff);
        padDiff.setTo(cv::Scalar::all(0), ~mask);
        ASSERT_EQ(cv::norm(padDiff, cv::NORM_INF), 0);
    }
    EXPECT_GT(jpegFitted, 5);
    EXPECT_LT(jpegUnreachable, jpegFitted);
}

TEST(Core_Preflight, everyReadableFormatBecomesAnAllowedOne) {
    const ImageLimits kling;
    const cv::Mat src = noise(360, 300, 21);
    const struct {
        ImageFormat in;
        bool passthrough;
    } cases[] = {{ImageFormat::JPEG, true},
                 {ImageFormat::PNG, true},
                 {ImageFormat::WEBP, false},
                 {ImageFormat::TIFF, false},
                 {ImageFormat::BMP, false}};
    for (const auto& c : cases) {
        SCOPED_TRACE(formatName(c.in));
        auto p = conformBytes(encodeOrDie(src, c.in), kling, pngPolicy());
        ASSERT_TRUE(p.ok()) << p.status();
        EXPECT_EQ(p->passthrough, c.passthrough);
        EXPECT_EQ(p->size, cv::Size(360, 300));
        EXPECT_TRUE(passes(*p, kling));
        if (!c.passthrough) {
            EXPECT_EQ(p->format, ImageFormat::PNG);
            if (c.in != ImageFormat::WEBP) {  // lossless inputs survive exactly
                EXPECT_TRUE(samePixels(decodeOrDie(p->bytes), src));
            }
        }
    }
    // GIF is recognised but cannot be decoded here: a typed error, not a crash.
    const std::vector<uint8_t> gif = {'G',  'I',  'F',  '8', '9', 'a', 0x68,
                                      0x01, 0x2C, 0x01, 0,   0,   0,   0x3B};
    EXPECT_EQ(conformBytes(gif, kling).code(), Code::INVALID_ARGUMENT);
}
