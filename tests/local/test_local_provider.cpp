#include <atomic>
#include <cmath>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cvgen/local.hpp"

namespace {

using cvgen::Code;
using cvgen::local::LocalProvider;

cv::Mat photo(cv::Size size = {120, 80}) {
    cv::Mat m(size, CV_8UC3);
    cv::randu(m, 0, 255);
    cv::GaussianBlur(m, m, cv::Size(7, 7), 2.0);
    return m;
}

cvgen::ExpandRequest expandRequest(cv::Mat img, double up, double down, double left, double right) {
    cvgen::ExpandRequest r;
    r.image = cvgen::ImageSource::fromMat(std::move(img));
    r.ratios = {up, down, left, right};
    return r;
}

TEST(Local_Provider, nameAndParams) {
    LocalProvider::Params p;
    p.mode = cvgen::local::ExpandMode::SOFT;
    p.seed = 42;
    auto prov = LocalProvider::create(p);
    EXPECT_EQ(prov->name(), "local");
    EXPECT_EQ(prov->params().mode, cvgen::local::ExpandMode::SOFT);
    EXPECT_EQ(prov->params().seed, 42u);
    // Usable through the shared interface.
    std::shared_ptr<cvgen::Provider> base = prov;
    EXPECT_EQ(base->name(), "local");
}

TEST(Local_Provider, expandMarginsFollowTheRatioRounding) {
    auto prov = LocalProvider::create();
    const cv::Mat src = photo({120, 80});
    struct Case {
        double up, down, left, right;
        cv::Size expect;
        cv::Point origin;
    };
    const std::vector<Case> cases = {
        {0, 0, 0, 0, {120, 80}, {0, 0}},
        {0.1, 0, 0, 0, {120, 88}, {0, 8}},
        {0.5, 0.5, 0.25, 0.25, {180, 160}, {30, 40}},
        {0, 0, 0.004, 0.0042, {121, 80}, {0, 0}},   // 0.48 → 0, 0.504 → 1
        {0.0125, 0.0125, 0, 0, {120, 82}, {0, 1}},  // 1 px each side
        {0, 0, 2, 0, {360, 80}, {240, 0}},
        {2, 0, 0, 0, {120, 240}, {0, 160}},
        {0.25, 0.25, 0.25, 0.25, {180, 120}, {30, 20}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(std::to_string(c.up) + "," + std::to_string(c.down) + "," +
                     std::to_string(c.left) + "," + std::to_string(c.right));
        auto res = prov->expand(expandRequest(src, c.up, c.down, c.left, c.right));
        ASSERT_TRUE(res.ok()) << res.status();
        ASSERT_EQ(res->images.size(), 1u);
        const cv::Mat& out = res->images[0].image;
        EXPECT_EQ(out.size(), c.expect);
        EXPECT_EQ(cv::norm(out(cv::Rect(c.origin, src.size())), src, cv::NORM_INF), 0.0);
        EXPECT_EQ(res->provider, "local");
        EXPECT_FALSE(res->synthetic);
        EXPECT_NE(res->note.find("not generated"), std::string::npos);
        EXPECT_EQ(res->taskStatus, "succeed");
    }
}

TEST(Local_Provider, expandFromEncodedBytesAndNResults) {
    auto prov = LocalProvider::create();
    const cv::Mat src = photo({64, 48});
    std::vector<uint8_t> png;
    ASSERT_TRUE(cv::imencode(".png", src, png));
    auto req = expandRequest(cv::Mat(), 0.5, 0.5, 0.25, 0.25);
    req.image = cvgen::ImageSource::fromBytes(png);
    req.task.n = 3;
    req.task.externalTaskId = "my-ext-1";
    auto res = prov->expand(req);
    ASSERT_TRUE(res.ok()) << res.status();
    ASSERT_EQ(res->images.size(), 3u);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(res->images[size_t(i)].index, i);
        EXPECT_EQ(res->images[size_t(i)].image.size(), cv::Size(96, 96));
        EXPECT_EQ(cv::norm(res->images[size_t(i)].image, res->images[0].image, cv::NORM_INF), 0.0);
    }
    // Separate buffers: changing one result does not change another.
    res->images[1].image.setTo(0);
    EXPECT_GT(cv::norm(res->images[0].image, cv::NORM_L1), 0.0);
    EXPECT_EQ(res->externalTaskId, "my-ext-1");
    EXPECT_EQ(cv::norm(res->images[0].image(cv::Rect(16, 24, 64, 48)), src, cv::NORM_INF), 0.0);
}

TEST(Local_Provider, errorsHaveSpecificCodes) {
    LocalProvider::Params strict;  // the ratio and area cases need the remote limits enforced
    strict.enforceExpandLimits = true;
    auto prov = LocalProvider::create(strict);
    const cv::Mat src = photo();
    struct Case {
        const char* what;
        cvgen::ExpandRequest req;
        Code code;
        const char* mentions;
    };
    std::vector<Case> cases;
    cases.push_back(
        {"no image", expandRequest(cv::Mat(), 0.1, 0, 0, 0), Code::INVALID_ARGUMENT, "image"});
    cases.push_back({"ratio over 2", expandRequest(src, 2.5, 0, 0, 0), Code::INVALID_ARGUMENT, ""});
    cases.push_back({"area over 3", expandRequest(src, 1, 1, 1, 1), Code::INVALID_ARGUMENT, ""});
    {
        auto r = expandRequest(src, 0.1, 0, 0, 0);
        r.task.n = 12;
        cases.push_back({"n", r, Code::INVALID_ARGUMENT, "n"});
    }
    {
        auto r = expandRequest(cv::Mat(), 0.1, 0, 0, 0);
        r.image = cvgen::ImageSource::fromUrl("https://example.com/a.png");
        cases.push_back({"url", r, Code::INVALID_ARGUMENT, "cannot fetch URLs"});
    }
    {
        auto r = expandRequest(cv::Mat(), 0.1, 0, 0, 0);
        r.image = cvgen::ImageSource::fromBytes({1, 2, 3, 4, 5});
        cases.push_back({"garbage bytes", r, Code::INVALID_ARGUMENT, "cannot decode"});
    }
    {
        // A truncated PNG: the bytes arrived incomplete.
        std::vector<uint8_t> png;
        ASSERT_TRUE(cv::imencode(".png", src, png));
        png.resize(png.size() / 2);
        auto r = expandRequest(cv::Mat(), 0.1, 0, 0, 0);
        r.image = cvgen::ImageSource::fromBytes(png);
        cases.push_back({"truncated png", r, Code::DATA_LOSS, "cannot decode"});
    }
    cases.push_back({"float mat",
                     expandRequest(cv::Mat(10, 10, CV_32FC3, cv::Scalar(0.5)), 0.1, 0, 0, 0),
                     Code::INVALID_ARGUMENT, "8- or 16-bit"});
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        auto res = prov->expand(c.req);
        ASSERT_FALSE(res.ok());
        EXPECT_EQ(res.code(), c.code);
        EXPECT_NE(res.status().message().find(c.mentions), std::string::npos)
            << res.status().message();
    }
}

TEST(Local_Provider, relaxedLimitsReachAFarTargetInOnePass) {
    LocalProvider::Params p;
    p.enforceExpandLimits = false;
    auto prov = LocalProvider::create(p);
    const cv::Mat src = photo({40, 30});
    auto res = prov->expand(expandRequest(src, 3, 3, 5, 5));  // area factor 77
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->images[0].image.size(), cv::Size(440, 210));
    EXPECT_EQ(cv::norm(res->images[0].image(cv::Rect(200, 90, 40, 30)), src, cv::NORM_INF), 0.0);
    // The default is the relaxed rule too; with enforceExpandLimits the remote limits apply.
    EXPECT_TRUE(LocalProvider::create()->expand(expandRequest(src, 3, 3, 5, 5)).ok());
    LocalProvider::Params strict;
    strict.enforceExpandLimits = true;
    EXPECT_EQ(LocalProvider::create(strict)->expand(expandRequest(src, 3, 3, 5, 5)).code(),
              Code::INVALID_ARGUMENT);
    // Still validated: negative or absurd ratios, n, and a canvas beyond the engine's cap.
    EXPECT_EQ(prov->expand(expandRequest(src, -1, 0, 0, 0)).code(), Code::INVALID_ARGUMENT);
    EXPECT_EQ(prov->expand(expandRequest(src, NAN, 0, 0, 0)).code(), Code::INVALID_ARGUMENT);
    EXPECT_EQ(prov->expand(expandRequest(src, 0, 0, 0, 2000)).code(), Code::INVALID_ARGUMENT);
    auto r = expandRequest(src, 1, 0, 0, 0);
    r.task.n = 0;
    EXPECT_EQ(prov->expand(r).code(), Code::INVALID_ARGUMENT);
}

TEST(Local_Provider, expandLimitsFollowEnforceExpandLimits) {
    // Default: the engine's own rule, so planners make one pass for it.
    const cvgen::ExpandLimits relaxed = LocalProvider::create()->expandLimits();
    EXPECT_EQ(relaxed.maxSideRatio, cvgen::local::kMaxLocalExpandRatio);
    EXPECT_GE(relaxed.maxArea, 1e9);
    EXPECT_FALSE(LocalProvider::create()->params().enforceExpandLimits);
    // Enforcing: exactly the remote (Kling) limits, which expand() then checks.
    LocalProvider::Params strict;
    strict.enforceExpandLimits = true;
    const cvgen::ExpandLimits kling = LocalProvider::create(strict)->expandLimits();
    EXPECT_EQ(kling.maxSideRatio, 2.0);
    EXPECT_EQ(kling.maxArea, 3.0);
    // Through the base interface (what stages and the CLI see).
    std::shared_ptr<cvgen::Provider> base = LocalProvider::create(strict);
    EXPECT_EQ(base->expandLimits().maxArea, 3.0);
    // Every ratio the relaxed limits advertise is accepted by expand().
    const cv::Mat src = photo({4, 3});
    auto far = expandRequest(src, 0, 0, relaxed.maxSideRatio, 0);  // 4 -> 40004 px wide
    auto res = LocalProvider::create()->expand(far);
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->images[0].image.size(), cv::Size(40004, 3));
}

TEST(Local_Provider, cancelledBeforeWork) {
    auto prov = LocalProvider::create();
    cvgen::CallOptions opt;
    opt.cancel = std::make_shared<std::atomic<bool>>(true);
    EXPECT_EQ(prov->expand(expandRequest(photo(), 0.1, 0, 0, 0), opt).code(), Code::CANCELLED);
    cvgen::GenerateRequest g;
    g.prompt = "x";
    EXPECT_EQ(prov->generate(g, opt).code(), Code::CANCELLED);
}

TEST(Local_Provider, generateIsSyntheticAtTheRequestedAspectForEveryValue) {
    auto prov = LocalProvider::create();
    for (auto a : {cvgen::AspectRatio::R16_9, cvgen::AspectRatio::R9_16, cvgen::AspectRatio::R1_1,
                   cvgen::AspectRatio::R4_3, cvgen::AspectRatio::R3_4, cvgen::AspectRatio::R3_2,
                   cvgen::AspectRatio::R2_3, cvgen::AspectRatio::R21_9}) {
        // Every aspect at 1k; 2k once (generationSize() itself is checked for every pair).
        for (auto r : {cvgen::Resolution::R1K, cvgen::Resolution::R2K}) {
            if (r == cvgen::Resolution::R2K && a != cvgen::AspectRatio::R21_9) continue;
            SCOPED_TRACE(std::string(cvgen::toString(a)) + " " + cvgen::toString(r));
            cvgen::GenerateRequest g;
            g.prompt = "lighthouse at dusk";
            g.aspectRatio = a;
            g.resolution = r;
            auto res = prov->generate(g);
            ASSERT_TRUE(res.ok()) << res.status();
            ASSERT_EQ(res->images.size(), 1u);
            EXPECT_EQ(res->images[0].image.size(), cvgen::local::generationSize(a, r));
            EXPECT_TRUE(res->synthetic);
            EXPECT_NE(res->note.find("no generative model"), std::string::npos);
        }
    }
}

TEST(Local_Provider, generateVariantsDifferButAreReproducible) {
    auto p1 = LocalProvider::create();
    auto p2 = LocalProvider::create();
    cvgen::GenerateRequest g;
    g.prompt = "p";
    g.task.n = 2;
    auto a = p1->generate(g);
    auto b = p2->generate(g);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_GT(cv::norm(a->images[0].image, a->images[1].image, cv::NORM_L1), 0.0);
    EXPECT_EQ(cv::norm(a->images[1].image, b->images[1].image, cv::NORM_INF), 0.0);
    // Invalid: missing prompt; URL reference.
    cvgen::GenerateRequest bad;
    EXPECT_EQ(p1->generate(bad).code(), Code::INVALID_ARGUMENT);
    bad.prompt = "p";
    bad.image = cvgen::ImageSource::fromUrl("https://example.com/x.png");
    EXPECT_EQ(p1->generate(bad).code(), Code::INVALID_ARGUMENT);
}

TEST(Local_Provider, omniAutoTakesTheFirstImagesAspect) {
    auto prov = LocalProvider::create();
    cvgen::OmniRequest o;
    o.prompt = "<<<image_1>>> on a beach";
    o.images.push_back(cvgen::ImageSource::fromMat(photo({200, 100})));
    auto res = prov->omni(o);
    ASSERT_TRUE(res.ok()) << res.status();
    EXPECT_EQ(res->images[0].image.size(), cv::Size(1024, 512));
    EXPECT_TRUE(res->synthetic);

    o.images.clear();
    auto square = prov->omni(o);
    ASSERT_TRUE(square.ok()) << square.status();
    EXPECT_EQ(square->images[0].image.size(), cv::Size(1024, 1024));

    o.aspectRatio = cvgen::AspectRatio::R16_9;
    o.resultType = cvgen::OmniResultType::SERIES;
    o.seriesAmount = 3;
    auto series = prov->omni(o);
    ASSERT_TRUE(series.ok()) << series.status();
    ASSERT_EQ(series->images.size(), 3u);
    EXPECT_EQ(series->images[2].image.size(), cv::Size(1024, 576));
}

TEST(Local_Provider, upscaleHonoursTheScaleExactly) {
    auto prov = LocalProvider::create();
    cvgen::UpscaleRequest u;
    u.image = cvgen::ImageSource::fromMat(photo({50, 30}));
    u.scale = 1.5;
    u.numImages = 2;
    u.externalTaskId = "up-1";
    auto res = prov->upscale(u);
    ASSERT_TRUE(res.ok()) << res.status();
    ASSERT_EQ(res->images.size(), 2u);
    EXPECT_EQ(res->images[0].image.size(), cv::Size(75, 45));
    EXPECT_FALSE(res->synthetic);
    EXPECT_EQ(res->externalTaskId, "up-1");
    u.scale = 0;
    EXPECT_EQ(prov->upscale(u).code(), Code::INVALID_ARGUMENT);
    u.scale = 100;
    EXPECT_EQ(prov->upscale(u).code(), Code::INVALID_ARGUMENT);
}

TEST(Local_Provider, resumeIsUnimplementedAndTaskIdsAreUniqueAcrossThreads) {
    auto prov = LocalProvider::create();
    EXPECT_EQ(prov->resume(cvgen::Operation::EXPAND, "local-1").code(), Code::UNIMPLEMENTED);
    const cv::Mat src = photo({40, 30});
    std::vector<std::string> ids(8);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < ids.size(); ++i)
        threads.emplace_back([&, i] {
            auto r = prov->expand(expandRequest(src, 0.2, 0.2, 0.3, 0.3));
            if (r.ok()) ids[i] = r->taskId;
        });
    for (auto& t : threads) t.join();
    std::set<std::string> unique(ids.begin(), ids.end());
    EXPECT_EQ(unique.size(), ids.size());
    for (const auto& id : ids) EXPECT_EQ(id.rfind("local-", 0), 0u) << id;
}

}  // namespace
