#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "cvgen/core/codec.hpp"
#include "cvgen/stages/contact_sheet.hpp"
#include "stages/stages_test_util.hpp"

namespace cvgen::stages {
namespace {

using testing::noiseImage;
using testing::TempDir;
using testing::writePng;

TEST(Stages_ContactSheet, htmlAndMontageWithFailuresAndLimits) {
    TempDir d;
    writePng(d.path() / "a.png", noiseImage({64, 48}, CV_8UC3, 1));
    writePng(d.path() / "a_out.png", noiseImage({160, 90}, CV_8UC3, 2));
    writePng(d.path() / "b.png", noiseImage({30, 90}, CV_16UC1, 3));
    std::vector<ContactSheetEntry> entries = {
        {d.str("a.png"), d.str("a_out.png"), "a.png", "ok", "64x48 -> 160x90"},
        {d.str("b.png"), "", "sub/<b>.png", "failed", "UNAUTHENTICATED bad key"},
        {d.str("missing.png"), "", "missing.png", "failed", "NOT_FOUND"},
    };
    ContactSheetParams p;
    p.thumb = {80, 45};
    p.pairsPerRow = 2;
    ASSERT_TRUE(writeContactSheet(entries, d.str("s.html"), d.str("s.png"), p).ok());

    std::ifstream in(d.str("s.html"));
    std::stringstream html;
    html << in.rdbuf();
    const std::string h = html.str();
    EXPECT_NE(h.find("3 items"), std::string::npos);
    EXPECT_NE(h.find("sub/&lt;b&gt;.png"), std::string::npos);  // escaped
    EXPECT_EQ(h.find("<b>.png"), std::string::npos);
    EXPECT_NE(h.find("data:image/jpeg;base64,"), std::string::npos);
    EXPECT_NE(h.find("file://" + d.str("a_out.png")), std::string::npos);

    Result<cv::Mat> png = decodeImage(*readFileBytes(d.str("s.png")));
    ASSERT_TRUE(png.ok()) << png.status();
    // 2 pairs per row, 2 rows: width = 2·(2·80 + 3·8) + 8, height = 2·(45 + 36 + 16) + 8.
    EXPECT_EQ(png->size(), cv::Size(2 * (2 * 80 + 24) + 8, 2 * (45 + 36 + 16) + 8));

    // The montage is capped on its own (memory stays flat for big batches); the page is not.
    p.maxMontageItems = 1;
    ASSERT_TRUE(writeContactSheet(entries, d.str("m.html"), d.str("m.png"), p).ok());
    Result<cv::Mat> one = decodeImage(*readFileBytes(d.str("m.png")));
    ASSERT_TRUE(one.ok()) << one.status();
    EXPECT_EQ(one->size(), cv::Size(2 * 80 + 24 + 8, 45 + 36 + 16 + 8));
    std::ifstream inm(d.str("m.html"));
    std::stringstream hm;
    hm << inm.rdbuf();
    EXPECT_NE(hm.str().find("3 items"), std::string::npos);
    EXPECT_EQ(hm.str().find("shown)"), std::string::npos);

    p.maxItems = 1;
    ASSERT_TRUE(writeContactSheet(entries, d.str("s1.html"), d.str("s1.png"), p).ok());
    std::ifstream in1(d.str("s1.html"));
    std::stringstream h1;
    h1 << in1.rdbuf();
    EXPECT_NE(h1.str().find("(first 1 shown)"), std::string::npos);

    EXPECT_EQ(writeContactSheet(entries, d.str("no/dir/s.html"), d.str("s2.png"), p).code(),
              Code::NOT_FOUND);
}

}  // namespace
}  // namespace cvgen::stages
