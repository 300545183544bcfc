#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/test_image_util.hpp"
#include "cvgen/core/codec.hpp"

namespace fs = std::filesystem;
using namespace cvgen;
using cvgen::testutil::encodeOrDie;
using cvgen::testutil::insertExifOrientation;
using cvgen::testutil::pngClaiming;
using cvgen::testutil::TempDir;

namespace {

cv::Mat gradient(int w, int h, int type) {
    cv::Mat m(h, w, type);
    const int cn = m.channels();
    const bool wide = m.depth() == CV_16U;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < cn; ++c) {
                const int v = (x * 7 + y * 13 + c * 50) % 256;
                if (wide)
                    m.ptr<uint16_t>(y)[x * cn + c] = uint16_t(v * 257 + c);
                else
                    m.ptr<uint8_t>(y)[x * cn + c] = uint8_t(v);
            }
    return m;
}

bool identical(const cv::Mat& a, const cv::Mat& b) {
    if (a.size() != b.size() || a.type() != b.type()) return false;
    cv::Mat diff;
    cv::absdiff(a.reshape(1), b.reshape(1), diff);
    return cv::countNonZero(diff) == 0;
}

}  // namespace

TEST(Core_Codec, sniffsEveryFormatFromMagicBytes) {
    const cv::Mat img = gradient(32, 24, CV_8UC3);
    const struct {
        ImageFormat f;
    } cases[] = {{ImageFormat::JPEG},
                 {ImageFormat::PNG},
                 {ImageFormat::WEBP},
                 {ImageFormat::TIFF},
                 {ImageFormat::BMP}};
    for (const auto& c : cases) {
        SCOPED_TRACE(formatName(c.f));
        const auto bytes = encodeOrDie(img, c.f);
        EXPECT_EQ(sniffFormat(bytes), c.f);
        auto h = readHeader(bytes);
        ASSERT_TRUE(h.ok()) << h.status();
        EXPECT_EQ(h->format, c.f);
        EXPECT_EQ(h->width, 32);
        EXPECT_EQ(h->height, 24);
        EXPECT_EQ(h->exifOrientation, 1);
    }
    const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a', 0x40, 0x01, 0x2C, 0x01, 0, 0, 0, 0x3B};
    EXPECT_EQ(sniffFormat(gif, sizeof gif), ImageFormat::GIF);
    auto gh = readHeader(gif, sizeof gif);
    ASSERT_TRUE(gh.ok()) << gh.status();
    EXPECT_EQ(gh->width, 320);
    EXPECT_EQ(gh->height, 300);
    EXPECT_EQ(decodeImage(std::vector<uint8_t>(gif, gif + sizeof gif)).code(),
              Code::INVALID_ARGUMENT);
    EXPECT_EQ(sniffFormat(nullptr, 0), ImageFormat::UNKNOWN);
    const uint8_t text[] = "hello, world";
    EXPECT_EQ(sniffFormat(text, sizeof text), ImageFormat::UNKNOWN);
}

TEST(Core_Codec, headerReportsChannelsDepthAndAlpha) {
    const struct {
        int type;
        ImageFormat f;
        int channels;
        int depth;
        bool alpha;
    } cases[] = {
        {CV_8UC1, ImageFormat::PNG, 1, 8, false},   {CV_8UC3, ImageFormat::PNG, 3, 8, false},
        {CV_8UC4, ImageFormat::PNG, 4, 8, true},    {CV_16UC1, ImageFormat::PNG, 1, 16, false},
        {CV_16UC3, ImageFormat::PNG, 3, 16, false}, {CV_16UC4, ImageFormat::PNG, 4, 16, true},
        {CV_8UC1, ImageFormat::JPEG, 1, 8, false},  {CV_8UC3, ImageFormat::JPEG, 3, 8, false},
        {CV_8UC4, ImageFormat::WEBP, 4, 8, true},   {CV_8UC3, ImageFormat::BMP, 3, 8, false},
        {CV_8UC4, ImageFormat::BMP, 4, 8, false},   {CV_16UC3, ImageFormat::TIFF, 3, 16, false},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(cv::typeToString(c.type) + " " + formatName(c.f));
        const cv::Mat img = gradient(40, 30, c.type);
        const auto bytes = encodeOrDie(img, c.f);
        auto h = readHeader(bytes);
        ASSERT_TRUE(h.ok()) << h.status();
        EXPECT_EQ(h->width, 40);
        EXPECT_EQ(h->height, 30);
        EXPECT_EQ(h->channels, c.channels);
        EXPECT_EQ(h->bitDepth, c.depth);
        EXPECT_EQ(h->hasAlpha, c.alpha);
    }
}

TEST(Core_Codec, losslessRoundTripsKeepExactPixels) {
    const struct {
        int type;
        ImageFormat f;
    } cases[] = {
        {CV_8UC1, ImageFormat::PNG},  {CV_8UC3, ImageFormat::PNG},  {CV_8UC4, ImageFormat::PNG},
        {CV_16UC1, ImageFormat::PNG}, {CV_16UC3, ImageFormat::PNG}, {CV_16UC4, ImageFormat::PNG},
        {CV_8UC3, ImageFormat::BMP},  {CV_8UC3, ImageFormat::TIFF}, {CV_16UC3, ImageFormat::TIFF}};
    for (const auto& c : cases) {
        SCOPED_TRACE(cv::typeToString(c.type) + " " + formatName(c.f));
        const cv::Mat img = gradient(33, 17, c.type);
        auto decoded = decodeImage(encodeOrDie(img, c.f));
        ASSERT_TRUE(decoded.ok()) << decoded.status();
        EXPECT_TRUE(identical(*decoded, img));
    }
}

TEST(Core_Codec, jpegRoundTripKeepsSizeAndIsClose) {
    cv::Mat img(48, 64, CV_8UC3);
    for (int y = 0; y < 48; ++y)
        for (int x = 0; x < 64; ++x)
            img.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t(x * 3), uint8_t(y * 4), 128);
    auto decoded = decodeImage(encodeOrDie(img, ImageFormat::JPEG));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ASSERT_EQ(decoded->size(), img.size());
    ASSERT_EQ(decoded->type(), CV_8UC3);
    EXPECT_LT(cv::norm(*decoded, img, cv::NORM_L1) / double(img.total() * 3), 6.0);
}

TEST(Core_Codec, encodeRefusesTypesAFormatCannotHold) {
    EXPECT_EQ(encodeImage(gradient(8, 8, CV_8UC4), ImageFormat::JPEG).code(),
              Code::INVALID_ARGUMENT);
    EXPECT_EQ(encodeImage(gradient(8, 8, CV_16UC3), ImageFormat::JPEG).code(),
              Code::INVALID_ARGUMENT);
    EXPECT_EQ(encodeImage(cv::Mat(8, 8, CV_32FC3, cv::Scalar::all(0.5)), ImageFormat::PNG).code(),
              Code::INVALID_ARGUMENT);
    EXPECT_EQ(encodeImage(gradient(8, 8, CV_8UC3), ImageFormat::GIF).code(),
              Code::INVALID_ARGUMENT);
    EXPECT_THROW((void)encodeImage(cv::Mat(), ImageFormat::PNG), cv::Exception);
    EXPECT_THROW((void)encodeImage(gradient(8, 8, CV_8UC3), ImageFormat::JPEG, 0), cv::Exception);
}

// Where the stored pixel (x, y) of a W×H image appears for each EXIF orientation, written from
// the EXIF definition ("row 0 is at the <top/bottom/left/right>, column 0 at the <…>").
static cv::Point displayed(int o, int x, int y, int W, int H) {
    switch (o) {
        case 1:
            return {x, y};
        case 2:
            return {W - 1 - x, y};
        case 3:
            return {W - 1 - x, H - 1 - y};
        case 4:
            return {x, H - 1 - y};
        case 5:
            return {y, x};
        case 6:
            return {H - 1 - y, x};
        case 7:
            return {H - 1 - y, W - 1 - x};
        case 8:
            return {y, W - 1 - x};
    }
    return {-1, -1};
}

TEST(Core_Codec, exifOrientationsOneToEightAreApplied) {
    const cv::Mat img = gradient(24, 10, CV_8UC3);
    const auto plain = encodeOrDie(img, ImageFormat::JPEG);
    for (bool little : {false, true}) {
        for (int o = 1; o <= 8; ++o) {
            SCOPED_TRACE("orientation " + std::to_string(o) + (little ? " II" : " MM"));
            const auto bytes = insertExifOrientation(plain, o, little);
            auto h = readHeader(bytes);
            ASSERT_TRUE(h.ok()) << h.status();
            EXPECT_EQ(h->exifOrientation, o);
            EXPECT_EQ(h->width, 24);
            EXPECT_EQ(h->displayWidth(), o >= 5 ? 10 : 24);
            auto stored = decodeImage(bytes, {100'000'000, false});
            auto shown = decodeImage(bytes);
            ASSERT_TRUE(stored.ok() && shown.ok());
            ASSERT_EQ(stored->size(), cv::Size(24, 10));
            ASSERT_EQ(shown->size(), o >= 5 ? cv::Size(10, 24) : cv::Size(24, 10));
            int mismatches = 0;
            for (int y = 0; y < 10; ++y)
                for (int x = 0; x < 24; ++x) {
                    const cv::Point d = displayed(o, x, y, 24, 10);
                    mismatches += shown->at<cv::Vec3b>(d) != stored->at<cv::Vec3b>(y, x);
                }
            EXPECT_EQ(mismatches, 0);
        }
    }
}

TEST(Core_Codec, pixelBudgetIsCheckedBeforeDecoding) {
    const auto claim = pngClaiming(100000, 100000);
    auto h = readHeader(claim);
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->width, 100000);
    EXPECT_EQ(h->height, 100000);
    auto d = decodeImage(claim);
    EXPECT_EQ(d.code(), Code::INVALID_ARGUMENT);
    EXPECT_NE(d.status().message().find("10000000000 pixels"), std::string::npos) << d.status();
    // The budget is the caller's: a small image over a tiny budget is refused the same way.
    const auto small = encodeOrDie(gradient(20, 20, CV_8UC3), ImageFormat::PNG);
    EXPECT_EQ(decodeImage(small, {399, true}).code(), Code::INVALID_ARGUMENT);
    EXPECT_TRUE(decodeImage(small, {400, true}).ok());
}

TEST(Core_Codec, hostileInputGivesTypedErrors) {
    EXPECT_EQ(decodeImage(std::vector<uint8_t>{}).code(), Code::INVALID_ARGUMENT);
    EXPECT_EQ(readHeader(nullptr, 0).code(), Code::INVALID_ARGUMENT);
    std::mt19937 rng(7);
    for (int i = 0; i < 50; ++i) {
        std::vector<uint8_t> junk(size_t(rng() % 4096 + 1));
        for (auto& b : junk) b = uint8_t(rng());
        const Code c = decodeImage(junk).code();
        EXPECT_TRUE(c == Code::INVALID_ARGUMENT || c == Code::DATA_LOSS) << c;
    }
    const std::string text = "this is not a JPEG at all\n";
    EXPECT_EQ(decodeImage(std::vector<uint8_t>(text.begin(), text.end())).code(),
              Code::INVALID_ARGUMENT);
    // Only the magic bytes: recognised, then found truncated.
    EXPECT_EQ(decodeImage(std::vector<uint8_t>{0xFF, 0xD8, 0xFF}).code(), Code::DATA_LOSS);
    EXPECT_EQ(decodeImage(std::vector<uint8_t>{0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A}).code(),
              Code::DATA_LOSS);
}

TEST(Core_Codec, everyTruncationOfJpegAndPngIsDataLoss) {
    const cv::Mat img = gradient(40, 30, CV_8UC3);
    for (ImageFormat f :
         {ImageFormat::JPEG, ImageFormat::PNG, ImageFormat::WEBP, ImageFormat::BMP}) {
        SCOPED_TRACE(formatName(f));
        const auto bytes = encodeOrDie(img, f);
        int bad = 0;
        const size_t start = f == ImageFormat::BMP ? 14 : (f == ImageFormat::JPEG ? 3 : 12);
        for (size_t cut = start; cut < bytes.size(); cut += 1 + bytes.size() / 300) {
            const std::vector<uint8_t> part(bytes.begin(), bytes.begin() + long(cut));
            const Code c = decodeImage(part).code();
            bad += c != Code::DATA_LOSS;
        }
        EXPECT_EQ(bad, 0);
        EXPECT_TRUE(decodeImage(bytes).ok());
    }
}

TEST(Core_Codec, mutatedFilesNeverCrash) {
    std::mt19937 rng(11);
    const cv::Mat img = gradient(24, 16, CV_8UC3);
    for (ImageFormat f : {ImageFormat::JPEG, ImageFormat::PNG, ImageFormat::WEBP, ImageFormat::BMP,
                          ImageFormat::TIFF}) {
        SCOPED_TRACE(formatName(f));
        const auto good = encodeOrDie(img, f);
        for (int i = 0; i < 60; ++i) {
            auto bytes = good;
            const int flips = 1 + int(rng() % 8);
            for (int k = 0; k < flips; ++k) bytes[rng() % bytes.size()] = uint8_t(rng());
            auto d = decodeImage(bytes, {1'000'000, true});
            if (d.ok()) {
                EXPECT_LE(d->total(), 1'000'000u);
            } else {
                const Code c = d.code();
                EXPECT_TRUE(c == Code::INVALID_ARGUMENT || c == Code::DATA_LOSS) << d.status();
            }
        }
    }
}

TEST(Core_Codec, readFileBytesMapsErrors) {
    TempDir dir;
    const std::string p = dir.path("a.bin");
    ASSERT_TRUE(writeFileAtomic(p, {1, 2, 3, 4, 5}).ok());
    auto r = readFileBytes(p);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, (std::vector<uint8_t>{1, 2, 3, 4, 5}));
    EXPECT_EQ(readFileBytes(p, 4).code(), Code::INVALID_ARGUMENT);
    EXPECT_TRUE(readFileBytes(p, 5).ok());
    EXPECT_EQ(readFileBytes(dir.path("missing.jpg")).code(), Code::NOT_FOUND);
    EXPECT_EQ(readFileBytes(dir.root()).code(), Code::INVALID_ARGUMENT);
    auto empty = readFileBytes("/dev/null");
    ASSERT_TRUE(empty.ok());
    EXPECT_TRUE(empty->empty());
}

TEST(Core_Codec, writeFileAtomicReplacesAndLeavesNoTemporaries) {
    TempDir dir;
    const std::string p = dir.path("out.jpg");
    ASSERT_TRUE(writeFileAtomic(p, std::vector<uint8_t>(1000, 7)).ok());
    ASSERT_TRUE(writeFileAtomic(p, {9, 9}).ok());
    EXPECT_EQ(*readFileBytes(p), (std::vector<uint8_t>{9, 9}));
    int entries = 0;
    for (const auto& e : fs::directory_iterator(dir.root())) {
        (void)e;
        ++entries;
    }
    EXPECT_EQ(entries, 1);
    EXPECT_EQ(writeFileAtomic(dir.path("no/such/dir/x.png"), {1}).code(), Code::NOT_FOUND);
}

TEST(Core_Codec, writeImageAtomicPicksFormatFromExtension) {
    TempDir dir;
    const cv::Mat img = gradient(20, 10, CV_8UC3);
    const struct {
        const char* name;
        ImageFormat f;
    } cases[] = {{"a.jpg", ImageFormat::JPEG}, {"b.JPEG", ImageFormat::JPEG},
                 {"c.png", ImageFormat::PNG},  {"d.webp", ImageFormat::WEBP},
                 {"e.tif", ImageFormat::TIFF}, {"f.bmp", ImageFormat::BMP}};
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        ASSERT_TRUE(writeImageAtomic(dir.path(c.name), img).ok());
        auto bytes = readFileBytes(dir.path(c.name));
        ASSERT_TRUE(bytes.ok());
        EXPECT_EQ(sniffFormat(*bytes), c.f);
    }
    EXPECT_EQ(writeImageAtomic(dir.path("x.txt"), img).code(), Code::INVALID_ARGUMENT);
    EXPECT_EQ(writeImageAtomic(dir.path("noext"), img).code(), Code::INVALID_ARGUMENT);
    EXPECT_EQ(writeImageAtomic(dir.path("y.gif"), img).code(), Code::INVALID_ARGUMENT);
}

TEST(Core_Codec, textFileNamedJpgIsATypedError) {
    TempDir dir;
    const std::string p = dir.path("photo.jpg");
    { std::ofstream(p) << "I am text, not a photo.\n"; }
    auto bytes = readFileBytes(p);
    ASSERT_TRUE(bytes.ok());
    EXPECT_EQ(decodeImage(*bytes).code(), Code::INVALID_ARGUMENT);
    const std::string zero = dir.path("zero.png");
    { std::ofstream z(zero); }
    auto zb = readFileBytes(zero);
    ASSERT_TRUE(zb.ok());
    EXPECT_EQ(decodeImage(*zb).code(), Code::INVALID_ARGUMENT);
}
