#include <cmath>
#include <stdexcept>

#include <gtest/gtest.h>

#include "cvgen/local.hpp"

namespace {

using cvgen::AspectRatio;
using cvgen::Resolution;
using cvgen::local::generationSize;
using cvgen::local::synthesizeImage;

const AspectRatio kAspects[] = {AspectRatio::R16_9, AspectRatio::R9_16, AspectRatio::R1_1,
                                AspectRatio::R4_3,  AspectRatio::R3_4,  AspectRatio::R3_2,
                                AspectRatio::R2_3,  AspectRatio::R21_9};
const Resolution kResolutions[] = {Resolution::R1K, Resolution::R2K, Resolution::R4K};

TEST(Local_GenerationSize, exactAspectAndLongSideNearTheClassForEveryValue) {
    for (AspectRatio a : kAspects) {
        for (Resolution r : kResolutions) {
            SCOPED_TRACE(std::string(cvgen::toString(a)) + " " + cvgen::toString(r));
            const cv::Size s = generationSize(a, r);
            // Exact aspect: w·b == h·a with the enum's own a:b (21:9 included).
            const int num = a == AspectRatio::R21_9 ? 21 : 0;
            if (num) {
                EXPECT_EQ(int64_t(s.width) * 9, int64_t(s.height) * 21);
            } else {
                EXPECT_NEAR(double(s.width) / s.height, cvgen::aspectValue(a), 1e-12);
            }
            const int L = r == Resolution::R1K ? 1024 : (r == Resolution::R2K ? 2048 : 4096);
            EXPECT_LE(std::abs(std::max(s.width, s.height) - L), 8);
        }
    }
}

TEST(Local_GenerationSize, documentedExamples) {
    EXPECT_EQ(generationSize(AspectRatio::R16_9, Resolution::R1K), cv::Size(1024, 576));
    EXPECT_EQ(generationSize(AspectRatio::R1_1, Resolution::R2K), cv::Size(2048, 2048));
    EXPECT_EQ(generationSize(AspectRatio::R3_2, Resolution::R1K), cv::Size(1023, 682));
    EXPECT_EQ(generationSize(AspectRatio::R21_9, Resolution::R1K), cv::Size(1022, 438));
    EXPECT_EQ(generationSize(AspectRatio::R9_16, Resolution::R4K), cv::Size(2304, 4096));
    EXPECT_THROW(generationSize(AspectRatio::AUTO, Resolution::R1K), std::invalid_argument);
}

TEST(Local_GenerationSize, ratioOverload) {
    EXPECT_EQ(generationSize(2.0, Resolution::R1K), cv::Size(1024, 512));
    EXPECT_EQ(generationSize(0.5, Resolution::R2K), cv::Size(1024, 2048));
    EXPECT_EQ(generationSize(600.0 / 400.0, Resolution::R1K), cv::Size(1024, 683));
    EXPECT_EQ(generationSize(1e6, Resolution::R1K), cv::Size(1024, 1));
    EXPECT_THROW(generationSize(0.0, Resolution::R1K), std::invalid_argument);
    EXPECT_THROW(generationSize(std::nan(""), Resolution::R1K), std::invalid_argument);
}

TEST(Local_Synthesize, deterministicSizedAndSeeded) {
    const cv::Mat a = synthesizeImage("a red fox in snow", {160, 90});
    const cv::Mat b = synthesizeImage("a red fox in snow", {160, 90});
    ASSERT_EQ(a.size(), cv::Size(160, 90));
    ASSERT_EQ(a.type(), CV_8UC3);
    EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0);
    EXPECT_GT(cv::norm(a, synthesizeImage("a blue fox in snow", {160, 90}), cv::NORM_L1), 0.0);
    EXPECT_GT(cv::norm(a, synthesizeImage("a red fox in snow", {160, 90}, 1), cv::NORM_L1), 0.0);
    // Not a flat image: there is a gradient and a pattern.
    cv::Scalar mean, sd;
    cv::meanStdDev(a, mean, sd);
    EXPECT_GT(sd[0] + sd[1] + sd[2], 5.0);
}

TEST(Local_Synthesize, tinyAndOddSizes) {
    for (cv::Size s : {cv::Size(1, 1), cv::Size(1, 300), cv::Size(300, 1), cv::Size(63, 64),
                       cv::Size(64, 64), cv::Size(257, 129)}) {
        SCOPED_TRACE(std::to_string(s.width) + "x" + std::to_string(s.height));
        EXPECT_EQ(synthesizeImage("x", s).size(), s);
    }
    EXPECT_THROW(synthesizeImage("x", {0, 10}), cv::Exception);
    EXPECT_THROW(synthesizeImage("x", {20000, 10}), cv::Exception);
}

}  // namespace
