// The capability table against CAPABILITIES.md, and the checker over plain request features.
#include <gtest/gtest.h>

#include "cvgen/remote/capabilities.hpp"

namespace cvgen {
namespace remote {
namespace {

RequestFeatures gen(const std::string& model) {
    RequestFeatures f;
    f.endpoint = Endpoint::GENERATE;
    f.model = model;
    return f;
}
RequestFeatures omni(const std::string& model) {
    RequestFeatures f;
    f.endpoint = Endpoint::OMNI;
    f.model = model;
    return f;
}

/** Refused by the client; `ignored`: a field the real service ignores, so the upstream scope
 * (the strict emulator) lets it through; otherwise it refuses the same way. */
void expectRefused(const RequestFeatures& f, const std::string& field, const std::string& text,
                   bool ignored = false) {
    auto v = checkFeatures(f);
    ASSERT_TRUE(v.has_value()) << "accepted, expected " << field << ": " << text;
    EXPECT_EQ(v->field, field);
    EXPECT_EQ(v->message.rfind(field + ": ", 0), 0u) << v->message;
    EXPECT_NE(v->message.find(text), std::string::npos) << v->message;
    EXPECT_EQ(v->ignoredUpstream, ignored) << v->message;
    auto up = checkFeatures(f, RuleScope::UPSTREAM);
    if (ignored) {
        EXPECT_FALSE(up.has_value()) << up->message;
    } else {
        ASSERT_TRUE(up.has_value());
        EXPECT_EQ(up->message, v->message);
    }
}
void expectIgnoredUpstream(const RequestFeatures& f, const std::string& field,
                           const std::string& text) {
    expectRefused(f, field, text, true);
}
void expectAccepted(const RequestFeatures& f) {
    auto v = checkFeatures(f);
    EXPECT_FALSE(v.has_value()) << v->message;
}

TEST(Remote_Capabilities, endpointImageRules) {
    const auto& expand = endpointRules(Endpoint::EXPAND);
    EXPECT_STREQ(expand.api, "Kling");
    EXPECT_EQ(expand.input.minSide, 300);
    EXPECT_DOUBLE_EQ(expand.input.maxAspect, 2.5);
    EXPECT_DOUBLE_EQ(expand.input.minAspect, 0.4);
    EXPECT_EQ(expand.input.maxBytes, 10'000'000u);
    EXPECT_FALSE(expand.input.allows(ImageFormat::WEBP));
    EXPECT_TRUE(expand.keepsGeometry);
    for (Endpoint e : {Endpoint::GENERATE, Endpoint::OMNI}) {
        SCOPED_TRACE(toString(e));
        EXPECT_EQ(endpointRules(e).input.minSide, 300);
        EXPECT_FALSE(endpointRules(e).keepsGeometry);
    }
    // Ideogram's upscale: JPEG/PNG/WebP, 10 MB (the stricter of 10 and 25), no side or aspect.
    const auto& up = endpointRules(Endpoint::UPSCALE);
    EXPECT_STREQ(up.api, "Ideogram");
    EXPECT_TRUE(up.input.allows(ImageFormat::WEBP));
    EXPECT_EQ(up.input.maxBytes, 10'000'000u);
    EXPECT_EQ(up.input.minSide, 1);
    EXPECT_TRUE(up.input.aspectOk(3000, 1000));
    EXPECT_TRUE(up.input.aspectOk(1, 5000));
    EXPECT_TRUE(up.keepsGeometry);
    EXPECT_DOUBLE_EQ(up.maxUpscale, 2.0);
    EXPECT_TRUE(check(cv::Mat(256, 256, CV_8UC3), up.input).ok());
    EXPECT_FALSE(check(cv::Mat(256, 256, CV_8UC3), expand.input).ok());
}

TEST(Remote_Capabilities, profileOverridesTheInputLimits) {
    Profile p = builtinProfile("anyapi").value();
    EXPECT_EQ(endpointRules(p, Endpoint::UPSCALE).input.minSide, 1);
    ImageLimits relay = endpointRules(Endpoint::UPSCALE).input;
    relay.maxBytes = 25'000'000;
    p.inputLimits[Endpoint::UPSCALE] = relay;
    EXPECT_EQ(endpointRules(p, Endpoint::UPSCALE).input.maxBytes, 25'000'000u);
    EXPECT_EQ(endpointRules(p, Endpoint::EXPAND).input.maxBytes, 10'000'000u);
}

TEST(Remote_Capabilities, modelsAndDefaults) {
    EXPECT_STREQ(defaultModel(Endpoint::GENERATE)->name, "kling-v3");
    EXPECT_STREQ(defaultModel(Endpoint::OMNI)->name, "kling-image-o1");
    EXPECT_EQ(defaultModel(Endpoint::EXPAND), nullptr);
    std::vector<std::string> names;
    for (const ModelCaps* m : models(Endpoint::GENERATE)) names.push_back(m->name);
    EXPECT_EQ(names, (std::vector<std::string>{"kling-v3", "kling-v2-1", "kling-v1", "kling-v1-5",
                                               "kling-v2", "kling-v2-new"}));
    for (const char* legacy : {"kling-v1", "kling-v1-5", "kling-v2", "kling-v2-new"})
        EXPECT_FALSE(findModel(Endpoint::GENERATE, legacy)->current) << legacy;
    for (const char* current : {"kling-v3", "kling-v2-1"})
        EXPECT_TRUE(findModel(Endpoint::GENERATE, current)->current) << current;
    EXPECT_EQ(findModel(Endpoint::GENERATE, "kling-v3-omni"), nullptr);  // wrong endpoint
    EXPECT_NE(findModel(Endpoint::OMNI, "kling-v3-omni"), nullptr);
    for (Endpoint e : {Endpoint::GENERATE, Endpoint::OMNI})
        for (const ModelCaps* m : models(e)) {
            SCOPED_TRACE(m->name);
            EXPECT_NE(std::string(m->source), "");
            EXPECT_EQ(m->maxN, 9);
            EXPECT_EQ(m->maxReferences, 10);
        }
}

TEST(Remote_Capabilities, unknownModelIsRefusedNamingTheKnownOnes) {
    expectRefused(gen("kling-v9"), "model_name", "unknown generate model 'kling-v9' (kling-v3");
    expectRefused(omni("kling-v3"), "model_name", "unknown omni model 'kling-v3'");
    expectAccepted(gen(""));  // the default model
    RequestFeatures e;
    e.endpoint = Endpoint::EXPAND;
    e.model = "kling-v3";
    expectIgnoredUpstream(e, "model_name", "takes no model");
}

TEST(Remote_Capabilities, fidelityOnlyWithKlingV21) {
    RequestFeatures f = gen("kling-v3");
    f.images = 1;
    f.imageFidelity = true;
    auto v = checkFeatures(f);
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(v->field, "image_fidelity");
    EXPECT_EQ(v->message, "image_fidelity: not supported by kling-v3 (only kling-v2-1)");
    for (const char* m : {"kling-v1", "kling-v1-5", "kling-v2", "kling-v2-new"}) {
        SCOPED_TRACE(m);
        f.model = m;
        f.imageReference = std::string(m) == "kling-v1-5"
                               ? std::optional<ImageReference>(ImageReference::SUBJECT)
                               : std::nullopt;
        expectRefused(f, "image_fidelity", "(only kling-v2-1)");
    }
    f.imageReference.reset();
    f.model = "kling-v2-1";
    expectAccepted(f);
    f.humanFidelity = true;
    expectIgnoredUpstream(f, "human_fidelity",
                          "only takes effect with image_reference subject (kling-v2-1 ignores");
    f.imageReference = ImageReference::SUBJECT;
    expectAccepted(f);
    f.model = "kling-v3";
    f.imageFidelity = false;
    expectRefused(f, "image_reference", "subject not supported by kling-v3");
    f.imageReference.reset();
    expectRefused(f, "human_fidelity", "not supported by kling-v3 (only kling-v2-1)");
    f = gen("kling-v2-1");
    f.imageFidelity = true;  // no image
    expectRefused(f, "image_fidelity", "needs a reference image with kling-v2-1");
}

TEST(Remote_Capabilities, imageReferenceTiedToItsModels) {
    for (ImageReference r : {ImageReference::SUBJECT, ImageReference::FACE}) {
        SCOPED_TRACE(toString(r));
        RequestFeatures f = gen("kling-v3");
        f.images = 1;
        f.imageReference = r;
        expectRefused(f, "image_reference", "(only kling-v2-1, kling-v1-5)");
        for (const char* m : {"kling-v1", "kling-v2", "kling-v2-new"}) {
            f.model = m;
            expectRefused(f, "image_reference", std::string("not supported by ") + m);
        }
        for (const char* m : {"kling-v2-1", "kling-v1-5"}) {
            f.model = m;
            expectAccepted(f);
        }
        f.images = 0;
        expectRefused(f, "image_reference", "needs a reference image with kling-v1-5");
    }
    RequestFeatures v15 = gen("kling-v1-5");
    v15.images = 1;
    expectRefused(v15, "image_reference", "required by kling-v1-5");
    v15.images = 0;
    expectAccepted(v15);  // text-to-image needs none
}

TEST(Remote_Capabilities, negativePromptIsTextOnly) {
    for (const ModelCaps* m : models(Endpoint::GENERATE)) {
        SCOPED_TRACE(m->name);
        RequestFeatures f = gen(m->name);
        f.negativePrompt = true;
        f.images = 1;
        if (m->imageReferenceRequired) f.imageReference = ImageReference::FACE;
        expectRefused(f, "negative_prompt", "not supported with a reference image");
        if (m->textToImage) {
            f.images = 0;
            f.imageReference.reset();
            expectAccepted(f);
        }
    }
    RequestFeatures o = omni("kling-v3-omni");
    o.negativePrompt = true;
    expectRefused(o, "negative_prompt", "not supported by kling-v3-omni (no omni model)");
}

TEST(Remote_Capabilities, textToImageAndRestyle) {
    RequestFeatures f = gen("kling-v2-new");
    expectRefused(f, "image", "required by kling-v2-new (it has no text-to-image)");
    f.images = 1;
    expectAccepted(f);
    f.resolution = Resolution::R1K;
    expectRefused(f, "resolution", "not supported by kling-v2-new");
    f.resolution.reset();
    f.aspectRatio = AspectRatio::R1_1;
    expectRefused(f, "aspect_ratio", "not supported by kling-v2-new");
}

TEST(Remote_Capabilities, resolutionsPerModel) {
    struct Case {
        RequestFeatures f;
        Resolution r;
        bool withImage, ok;
        const char* text;
    };
    const Case cases[] = {
        {gen("kling-v3"), Resolution::R2K, false, true, ""},
        {gen("kling-v3"), Resolution::R4K, false, false, "4k not supported by kling-v3"},
        {gen("kling-v2-1"), Resolution::R2K, true, true, ""},
        {gen("kling-v1"), Resolution::R2K, false, false, "2k not supported by kling-v1"},
        {gen("kling-v2"), Resolution::R2K, false, true, ""},
        {gen("kling-v2"), Resolution::R2K, true, false, "2k not supported by kling-v2 with a"},
        {omni("kling-image-o1"), Resolution::R4K, false, false,
         "4k not supported by kling-image-o1 (only kling-v3-omni)"},
        {omni("kling-image-o1"), Resolution::R2K, true, true, ""},
        {omni("kling-v3-omni"), Resolution::R4K, true, true, ""},
        {omni("kling-v3-omni"), Resolution::R4K, false, true, ""},
    };
    for (const Case& c : cases) {
        RequestFeatures f = c.f;
        SCOPED_TRACE(f.model + " " + toString(c.r) + (c.withImage ? " +image" : ""));
        f.resolution = c.r;
        f.images = c.withImage ? 1 : 0;
        if (f.endpoint == Endpoint::OMNI) f.aspectRatio = AspectRatio::R1_1;
        if (c.ok)
            expectAccepted(f);
        else
            expectRefused(f, "resolution", c.text);
    }
}

TEST(Remote_Capabilities, aspectRatiosPerModel) {
    RequestFeatures f = gen("kling-v3");
    f.aspectRatio = AspectRatio::AUTO;
    expectRefused(f, "aspect_ratio", "auto not supported by kling-v3 (no generate model)");
    f.aspectRatio = AspectRatio::R21_9;
    expectAccepted(f);
    f.model = "kling-v1";  // 7 ratios, no 21:9
    expectRefused(f, "aspect_ratio", "21:9 not supported by kling-v1");
    f.aspectRatio = AspectRatio::R3_2;
    expectAccepted(f);

    // Omni's auto: fine with images everywhere, and text-only on kling-image-o1 only.
    RequestFeatures o = omni("kling-v3-omni");
    o.aspectRatio = AspectRatio::AUTO;
    expectRefused(o, "aspect_ratio", "auto needs a reference image with kling-v3-omni");
    o.images = 1;
    expectAccepted(o);
    o.images = 0;
    o.elements = 1;  // elements are not images
    expectRefused(o, "aspect_ratio", "auto needs a reference image");
    o.elements = 0;
    o.aspectRatio = AspectRatio::R16_9;
    expectAccepted(o);
    o.model = "kling-image-o1";
    o.aspectRatio = AspectRatio::AUTO;
    expectAccepted(o);
    // What is sent when the caller sets none.
    EXPECT_EQ(findModel(Endpoint::OMNI, "kling-v3-omni")->defaultAspect(false), AspectRatio::R16_9);
    EXPECT_EQ(findModel(Endpoint::OMNI, "kling-v3-omni")->defaultAspect(true), AspectRatio::AUTO);
    EXPECT_EQ(findModel(Endpoint::OMNI, "kling-image-o1")->defaultAspect(false), AspectRatio::AUTO);
    EXPECT_EQ(findModel(Endpoint::GENERATE, "kling-v3")->defaultAspect(false), AspectRatio::R16_9);
}

TEST(Remote_Capabilities, seriesOnlyForKlingV3Omni) {
    RequestFeatures f = omni("kling-image-o1");
    f.resultType = OmniResultType::SERIES;
    f.seriesAmount = 3;
    f.aspectRatio = AspectRatio::R1_1;
    expectRefused(f, "result_type", "series not supported by kling-image-o1 (only kling-v3-omni)");
    f.model = "kling-v3-omni";
    expectAccepted(f);
    f.seriesAmount.reset();
    f.seriesAmountAuto = true;
    expectAccepted(f);
    f.seriesAmountAuto = false;
    f.seriesAmount = 10;
    expectRefused(f, "series_amount", "must be in [2,9] or auto with kling-v3-omni, got 10");
    f.seriesAmount = 1;
    expectRefused(f, "series_amount", "must be in [2,9] or auto with kling-v3-omni, got 1");
    f.seriesAmount = 9;
    f.n = 3;
    expectIgnoredUpstream(f, "n", "has no effect with result_type series at kling-v3-omni");
    f.n.reset();
    f.resultType = OmniResultType::SINGLE;
    expectIgnoredUpstream(f, "series_amount",
                          "has no effect without result_type series at kling-v3-omni");
}

TEST(Remote_Capabilities, referencesAndElements) {
    RequestFeatures f = omni("kling-image-o1");
    f.images = 6;
    f.elements = 4;
    expectAccepted(f);
    f.elements = 5;
    expectRefused(f, "image_list", "reference images + elements must be at most 10, got 11");
    RequestFeatures g = gen("kling-v3");
    g.images = 1;
    g.elements = 2;
    expectAccepted(g);
    g.model = "kling-v2-1";
    expectRefused(g, "element_list", "not supported by kling-v2-1 (only kling-v3)");
    g.model = "kling-v3";
    g.images = 2;
    expectRefused(g, "image", "at most 1 reference image(s) with kling-v3, got 2");
}

TEST(Remote_Capabilities, nRanges) {
    RequestFeatures f = gen("kling-v3");
    f.n = 9;
    expectAccepted(f);
    f.n = 10;
    expectRefused(f, "n", "must be in [1,9] with kling-v3, got 10");
    RequestFeatures u;
    u.endpoint = Endpoint::UPSCALE;
    u.n = 8;
    expectAccepted(u);
    u.n = 9;
    expectRefused(u, "num_images", "must be in [1,8], got 9");
}

TEST(Remote_Capabilities, typedRequestsMapToFeatures) {
    GenerateRequest g;
    g.prompt = "x";
    EXPECT_TRUE(checkCapabilities(g).ok());
    g.image = ImageSource::fromUrl("https://x/a.png");
    g.imageFidelity = 0.5;
    g.model = "kling-v3";
    Status st = checkCapabilities(g);
    EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT);
    EXPECT_EQ(st.message(), "image_fidelity: not supported by kling-v3 (only kling-v2-1)");
    g.model = "kling-v2-1";
    EXPECT_TRUE(checkCapabilities(g).ok());
    // kling-v2-new: the default resolution and ratio are not sent, so not judged.
    g.model = "kling-v2-new";
    g.imageFidelity.reset();
    EXPECT_TRUE(checkCapabilities(g).ok()) << checkCapabilities(g);
    g.resolution = Resolution::R2K;
    EXPECT_EQ(checkCapabilities(g).code(), Code::INVALID_ARGUMENT);

    OmniRequest o;
    o.prompt = "x";
    o.model = "kling-v3-omni";
    // No ratio set: nothing for the checker to judge (the dialect sends the model's text-only
    // default, 16:9, as test_capability_wire checks on the wire).
    EXPECT_TRUE(checkCapabilities(o).ok());
    EXPECT_FALSE(features(o).aspectRatio.has_value());
    EXPECT_EQ(findModel(Endpoint::OMNI, "kling-v3-omni")->defaultAspect(false), AspectRatio::R16_9);
    o.aspectRatio = AspectRatio::AUTO;
    EXPECT_EQ(checkCapabilities(o).code(), Code::INVALID_ARGUMENT);
    o.aspectRatio.reset();
    o.resultType = OmniResultType::SERIES;
    o.seriesAuto = true;
    EXPECT_TRUE(checkCapabilities(o).ok());
    o.model = "kling-image-o1";
    EXPECT_EQ(checkCapabilities(o).message(),
              "result_type: series not supported by kling-image-o1 (only kling-v3-omni)");
}

}  // namespace
}  // namespace remote
}  // namespace cvgen
