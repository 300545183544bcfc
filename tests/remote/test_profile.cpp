#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "cvgen/remote.hpp"

namespace cvgen {
namespace remote {
namespace {

TEST(Remote_Profile, builtinProfilesMatchTheProtocolTable) {
    auto kling = builtinProfile("kling").value();
    EXPECT_EQ(kling.baseUrl, "https://api-singapore.klingai.com");
    EXPECT_EQ(kling.createPath(Operation::EXPAND), "/v1/images/editing/expand");
    EXPECT_EQ(kling.auth, AuthStyle::KLING_JWT);
    EXPECT_FALSE(kling.supports(Operation::UPSCALE));

    auto any = builtinProfile("anyapi").value();
    EXPECT_EQ(any.baseUrl, "https://www.anyapi.vip");
    EXPECT_EQ(any.createPath(Operation::GENERATE), "/kling/v1/images/generations");
    EXPECT_EQ(any.createPath(Operation::UPSCALE), "/ideogram/upscale");
    EXPECT_EQ(any.auth, AuthStyle::BEARER);
    EXPECT_FALSE(any.nAsString);

    auto comet = builtinProfile("cometapi").value();
    EXPECT_EQ(comet.baseUrl, "https://api.cometapi.com");
    EXPECT_EQ(comet.createPath(Operation::OMNI), "/kling/v1/images/omni-image");
    EXPECT_TRUE(comet.nAsString);
    EXPECT_EQ(comet.field("down_expansion_ratio"), "bottom_expansion_ratio");
    EXPECT_EQ(comet.field("up_expansion_ratio"), "up_expansion_ratio");

    auto ideo = builtinProfile("ideogram").value();
    EXPECT_EQ(ideo.baseUrl, "https://api.ideogram.ai");
    EXPECT_EQ(ideo.createPath(Operation::UPSCALE), "/upscale");
    EXPECT_EQ(ideo.auth, AuthStyle::API_KEY);
    EXPECT_TRUE(ideo.supports(Operation::UPSCALE));
    EXPECT_FALSE(ideo.supports(Operation::EXPAND));

    EXPECT_EQ(builtinProfile("nope").code(), Code::NOT_FOUND);
}

TEST(Remote_Profile, cometApiHasBothDocumentedDialects) {
    // Seed 001 (bottom_expansion_ratio, string n) and CometAPI's newer page (Kling's names).
    auto v1 = builtinProfile("cometapi").value();
    auto v2 = builtinProfile("cometapi-v2").value();
    EXPECT_EQ(v1.field("down_expansion_ratio"), "bottom_expansion_ratio");
    EXPECT_TRUE(v1.nAsString);
    EXPECT_EQ(v2.name, "cometapi-v2");
    EXPECT_EQ(v2.field("down_expansion_ratio"), "down_expansion_ratio");
    EXPECT_FALSE(v2.nAsString);
    EXPECT_EQ(v2.baseUrl, v1.baseUrl);
    EXPECT_EQ(v2.createPath(Operation::EXPAND), v1.createPath(Operation::EXPAND));
    EXPECT_EQ(v2.auth, AuthStyle::BEARER);
    EXPECT_FALSE(v2.supports(Operation::UPSCALE));
    const auto names = builtinProfileNames();
    EXPECT_NE(std::find(names.begin(), names.end(), "cometapi-v2"), names.end());
    EXPECT_EQ(resolveProfile("cometapi-v2")->name, "cometapi-v2");
}

TEST(Remote_Profile, inputLimitsOverrideTheEndpointRules) {
    auto p = parseProfileJson(
        R"({"extends":"anyapi","base_url":"http://relay.example",
            "input_limits":{"upscale":{"max_bytes":25000000,"min_side":64},
                            "expand":{"formats":["jpeg","png","webp"],"max_aspect":3}}})");
    ASSERT_TRUE(p.ok()) << p.status();
    const ImageLimits up = endpointRules(*p, Endpoint::UPSCALE).input;
    EXPECT_EQ(up.maxBytes, 25'000'000u);
    EXPECT_EQ(up.minSide, 64);
    EXPECT_TRUE(up.allows(ImageFormat::WEBP));  // the rest stays Ideogram's
    const ImageLimits ex = endpointRules(*p, Endpoint::EXPAND).input;
    EXPECT_TRUE(ex.allows(ImageFormat::WEBP));
    EXPECT_DOUBLE_EQ(ex.maxAspect, 3.0);
    EXPECT_EQ(ex.minSide, 300);  // the rest stays Kling's
    EXPECT_EQ(endpointRules(*p, Endpoint::GENERATE).input.maxBytes, 10'000'000u);

    for (const char* bad :
         {R"({"base_url":"http://x","input_limits":{"video":{}}})",
          R"({"base_url":"http://x","input_limits":{"upscale":{"min_side":0}}})",
          R"({"base_url":"http://x","input_limits":{"upscale":{"formats":["heic"]}}})",
          R"({"base_url":"http://x","input_limits":{"upscale":{"max_aspect":0.5}}})",
          R"({"base_url":"http://x","input_limits":{"upscale":{"colour":1}}})"}) {
        SCOPED_TRACE(bad);
        auto r = parseProfileJson(bad);
        EXPECT_EQ(r.code(), Code::INVALID_ARGUMENT);
        EXPECT_EQ(r.status().message().rfind("profile: input_limits.", 0), 0u) << r.status();
    }
}

TEST(Remote_Profile, userProfileFromJson) {
    auto p = parseProfileJson(
        R"({"name":"relay","base_url":"https://relay.example/","kling_prefix":"/api/kling/v1",
            "upscale_path":"/api/upscale","auth":"bearer","n_as_string":true,
            "fields":{"down_expansion_ratio":"bottom_ratio"},
            "operations":["expand","upscale"]})");
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->name, "relay");
    EXPECT_EQ(p->baseUrl, "https://relay.example");
    EXPECT_EQ(p->createPath(Operation::EXPAND), "/api/kling/v1/images/editing/expand");
    EXPECT_TRUE(p->nAsString);
    EXPECT_EQ(p->field("down_expansion_ratio"), "bottom_ratio");
    EXPECT_TRUE(p->supports(Operation::UPSCALE));
    EXPECT_FALSE(p->supports(Operation::GENERATE));

    auto ext = parseProfileJson(R"({"extends":"cometapi","base_url":"http://127.0.0.1:9"})");
    ASSERT_TRUE(ext.ok()) << ext.status();
    EXPECT_EQ(ext->name, "cometapi");
    EXPECT_TRUE(ext->nAsString);
    EXPECT_EQ(ext->baseUrl, "http://127.0.0.1:9");
}

TEST(Remote_Profile, badProfilesNameTheField) {
    struct Case {
        const char* json;
        const char* field;
    };
    for (const Case& c : {Case{"[]", "not a JSON object"}, Case{"{", "not a JSON object"},
                          Case{R"({"base_url":"ftp://x"})", "base_url"},
                          Case{R"({"base_url":"http://x","auth":"basic"})", "auth"},
                          Case{R"({"base_url":"http://x","n_as_string":"yes"})", "n_as_string"},
                          Case{R"({"base_url":"http://x","fields":{"n":1}})", "fields.n"},
                          Case{R"({"base_url":"http://x","operations":["video"]})", "operations"},
                          Case{R"({"extends":"nope"})", "extends"},
                          Case{R"({"base_url":"http://x","kling_prefix":"v1"})", "paths"}}) {
        SCOPED_TRACE(c.json);
        auto p = parseProfileJson(c.json);
        EXPECT_EQ(p.code(), Code::INVALID_ARGUMENT);
        EXPECT_NE(p.status().message().find(c.field), std::string::npos) << p.status();
    }
}

TEST(Remote_Profile, resolveByNameOrFile) {
    EXPECT_EQ(resolveProfile("anyapi")->name, "anyapi");
    const std::string path = ::testing::TempDir() + "cvgen_profile_test.json";
    {
        std::ofstream f(path);
        f << R"({"name":"filed","extends":"anyapi","base_url":"http://127.0.0.1:1"})";
    }
    auto p = resolveProfile(path);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->name, "filed");
    std::remove(path.c_str());
    EXPECT_EQ(resolveProfile(path).code(), Code::NOT_FOUND);
}

TEST(Remote_Profile, createProviderFromRemoteParams) {
    RemoteParams rp;
    rp.profile = "ideogram";
    rp.baseUrl = "http://127.0.0.1:1/";
    rp.apiKey = "k";
    auto p = createProvider(rp);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ((*p)->name(), "ideogram");
    rp.apiKey.clear();
    EXPECT_EQ(createProvider(rp).code(), Code::UNAUTHENTICATED);
    rp.profile = "unknown";
    EXPECT_EQ(createProvider(rp).code(), Code::NOT_FOUND);
}

}  // namespace
}  // namespace remote
}  // namespace cvgen
