#include <gtest/gtest.h>

#include "cvgen/core/provider.hpp"

using namespace cvgen;

namespace {
ExpandRequest validExpand() {
    ExpandRequest r;
    r.image = ImageSource::fromUrl("https://example.invalid/cat.jpg");
    r.ratios = {0.1, 0.1, 0.1, 0.1};
    return r;
}
void expectBadField(const Status& st, const std::string& field) {
    EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT);
    EXPECT_EQ(st.message().rfind(field, 0), 0u) << st.message();
}
}  // namespace

TEST(Core_Requests, enumWireNamesRoundTrip) {
    for (const char* s : {"16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9", "auto"}) {
        auto a = parseAspectRatio(s);
        ASSERT_TRUE(a.has_value()) << s;
        EXPECT_STREQ(toString(*a), s);
    }
    EXPECT_FALSE(parseAspectRatio("5:4").has_value());
    EXPECT_EQ(parseResolution("2k"), Resolution::R2K);
    EXPECT_FALSE(parseResolution("8k").has_value());
    EXPECT_EQ(parseMagicPrompt("OFF"), MagicPrompt::OFF);
    for (const char* s : {"expand", "generate", "omni", "upscale"}) {
        auto o = parseOperation(s);
        ASSERT_TRUE(o.has_value()) << s;
        EXPECT_STREQ(toString(*o), s);
    }
    EXPECT_FALSE(parseOperation("inpaint").has_value());
    EXPECT_DOUBLE_EQ(aspectValue(AspectRatio::R21_9), 21.0 / 9.0);
}

TEST(Core_Requests, expandLimits) {
    EXPECT_TRUE(validate(validExpand()).ok());

    auto r = validExpand();
    r.ratios = {2.0, 0, 0, 0};  // exactly on the side limit, area 3
    EXPECT_TRUE(validate(r).ok());
    r.ratios = {2.0001, 0, 0, 0};
    expectBadField(validate(r), "up_expansion_ratio");
    r.ratios = {0, -0.01, 0, 0};
    expectBadField(validate(r), "down_expansion_ratio");
    r.ratios = {0.5, 0, 0.5, 0.01};  // 1.51 * 1.5 = 2.265: fine
    EXPECT_TRUE(validate(r).ok());
    r.ratios = {0.5, 0.5, 0.5, 0.1};  // 1.6 * 2 = 3.2: over the area rule
    expectBadField(validate(r), "expansion ratios");
    r.ratios = {std::nan(""), 0, 0, 0};
    expectBadField(validate(r), "up_expansion_ratio");
}

TEST(Core_Requests, nPromptAndImage) {
    auto r = validExpand();
    r.task.n = 0;
    expectBadField(validate(r), "n");
    r.task.n = 9;
    EXPECT_TRUE(validate(r).ok());
    r.task.n = 10;
    expectBadField(validate(r), "n");

    r = validExpand();
    r.prompt = std::string(2500, 'a');
    EXPECT_TRUE(validate(r).ok());
    r.prompt += "a";
    expectBadField(validate(r), "prompt");
    // 2500 characters of three UTF-8 bytes each are still 2500 characters.
    r.prompt.clear();
    for (int i = 0; i < 2500; ++i) r.prompt += "\xe6\x89\xa9";
    EXPECT_TRUE(validate(r).ok());

    r = validExpand();
    r.image = ImageSource();
    expectBadField(validate(r), "image");
    r.image = ImageSource::fromUrl("ftp://x/y.png");
    expectBadField(validate(r), "image");
    r.image = ImageSource::fromUrl("https://x/y.png");
    r.image.mat = cv::Mat(10, 10, CV_8UC3);
    expectBadField(validate(r), "image");
}

TEST(Core_Requests, generateRules) {
    // Model names and what each model accepts are the provider's (remote's capability table);
    // core judges only what holds for every model.
    GenerateRequest g;
    g.prompt = "a beach";
    EXPECT_TRUE(validate(g).ok());
    // An image_reference without an image, a negative prompt with one: Kling's rules, judged
    // (naming the model) by the capability checker, not here.
    g.imageReference = ImageReference::SUBJECT;
    EXPECT_TRUE(validate(g).ok());
    g.image = ImageSource::fromUrl("https://x/ref.png");
    g.negativePrompt = "blurry";
    EXPECT_TRUE(validate(g).ok());
    g.negativePrompt = std::string(2501, 'x');
    expectBadField(validate(g), "negative_prompt");
    g.negativePrompt.clear();
    g.imageFidelity = 1.5;
    expectBadField(validate(g), "image_fidelity");
    g.imageFidelity = 0.5;
    g.humanFidelity = -0.1;
    expectBadField(validate(g), "human_fidelity");
    g.humanFidelity.reset();
    g.aspectRatio = AspectRatio::AUTO;
    expectBadField(validate(g), "aspect_ratio");
    g.aspectRatio = AspectRatio::R1_1;
    g.resolution = Resolution::R4K;
    expectBadField(validate(g), "resolution");
    g.resolution = Resolution::R2K;
    g.prompt.clear();
    expectBadField(validate(g), "prompt");
}

TEST(Core_Requests, omniAndUpscaleRules) {
    OmniRequest o;
    o.prompt = "<<<image_1>>> on a beach";
    o.images.assign(10, ImageSource::fromUrl("https://x/a.png"));
    EXPECT_TRUE(validate(o).ok());
    o.elementIds.push_back("835266081714884677");
    expectBadField(validate(o), "image_list");
    o.elementIds.clear();
    o.resultType = OmniResultType::SERIES;
    o.seriesAmount = 1;
    expectBadField(validate(o), "series_amount");
    o.seriesAuto = true;  // the amount is then not used
    EXPECT_TRUE(validate(o).ok());
    o.seriesAuto = false;
    o.seriesAmount = 0;  // an amount left at 0 is no longer "auto"
    expectBadField(validate(o), "series_amount");

    UpscaleRequest u;
    u.image = ImageSource::fromUrl("https://x/a.png");
    EXPECT_TRUE(validate(u).ok());
    u.resemblance = 0;
    expectBadField(validate(u), "resemblance");
    u.resemblance = 100;
    u.numImages = 9;
    expectBadField(validate(u), "num_images");
    u.numImages = 8;
    u.seed = 2147483648LL;
    expectBadField(validate(u), "seed");
    u.seed = 0;
    u.scale = 0;
    expectBadField(validate(u), "scale");
}
