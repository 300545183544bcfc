#include <gtest/gtest.h>

#include <algorithm>

#include "cvgen/core/planner.hpp"
#include "cvgen/stages/ops.hpp"
#include "stages/stages_test_util.hpp"

namespace cvgen::stages {
namespace {

using testing::noiseImage;
using testing::ScriptedProvider;

bool identical(const cv::Mat& a, const cv::Mat& b) {
    if (a.size() != b.size() || a.type() != b.type()) return false;
    cv::Mat diff;
    cv::absdiff(a, b, diff);
    return cv::countNonZero(diff.reshape(1)) == 0;
}

struct ExpandCase {
    cv::Size src, target;
    int type;
    Placement placement;
};

TEST(Stages_ExpandToTarget, exactTargetAndOriginalBitExactOverSizesAndAspects) {
    const std::vector<ExpandCase> cases = {
        {{40, 30}, {100, 60}, CV_8UC3, Placement::centred()},
        {{30, 80}, {200, 100}, CV_8UC3, Placement::centred()},  // several remote passes
        {{64, 64}, {64, 64}, CV_8UC3, Placement::centred()},    // nothing to do
        {{50, 20}, {51, 300}, CV_8UC1, Placement::at(Gravity::TOP_LEFT)},
        {{33, 47}, {190, 47}, CV_8UC4, Placement::at(Gravity::RIGHT)},
        {{21, 13}, {99, 77}, CV_16UC3, Placement::at(Gravity::BOTTOM)},
        {{60, 40}, {160, 90}, CV_8UC3, Placement::atOffset({7, 11})},
    };
    auto scripted = std::make_shared<ScriptedProvider>();
    for (const auto& c : cases) {
        for (bool local : {true, false}) {
            SCOPED_TRACE(::testing::Message() << c.src << " -> " << c.target << " type " << c.type
                                              << (local ? " local" : " scripted"));
            const cv::Mat src = noiseImage(c.src, c.type, uint32_t(c.src.area()));
            ExpandToTarget::Params p;
            p.target = TargetSpec::exact(c.target);
            p.placement = c.placement;
            if (!local) p.provider = scripted;
            Result<Frame> out = ExpandToTarget::create(p)->process(Frame(src, "mem"));
            ASSERT_TRUE(out.ok()) << out.status();
            ASSERT_EQ(out->image.size(), c.target);
            ASSERT_EQ(out->image.type(), c.type);
            Result<Plan> plan = planCanvas(c.src, p.target, c.placement);
            ASSERT_TRUE(plan.ok());
            EXPECT_TRUE(identical(out->image(plan->sourceRect), src));
            // The offline engine has no per-call limit: one pass reaches any target.
            EXPECT_EQ(out->meta.taskIds.size(),
                      local ? std::min<size_t>(plan->passes.size(), 1) : plan->passes.size());
            EXPECT_FALSE(out->meta.plan.empty());
            ASSERT_EQ(out->meta.transforms.size(), 1u);
        }
    }
}

TEST(Stages_ExpandToTarget, providerDamageWrongSizeAndErrors) {
    const cv::Mat src = noiseImage({80, 60}, CV_8UC3, 5);
    auto prov = std::make_shared<ScriptedProvider>();
    // A provider that repaints everything (including the original) and returns one pixel too
    // many: the output is still exact and the original bit-exact, with a warning.
    prov->onExpand = [](const ExpandRequest& r, int k) -> Result<TaskOutput> {
        auto out = ScriptedProvider::fill(r, k);
        cv::Mat& img = out->images[0].image;
        cv::Mat bigger(img.rows + 1, img.cols, img.type(), cv::Scalar(1, 2, 3));
        out->images[0].image = bigger;
        return out;
    };
    ExpandToTarget::Params p;
    p.target = TargetSpec::exact({200, 100});
    p.provider = prov;
    Result<Frame> out = ExpandToTarget::create(p)->process(Frame(src));
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->image.size(), cv::Size(200, 100));
    const Plan plan = *planCanvas(src.size(), p.target);
    EXPECT_TRUE(identical(out->image(plan.sourceRect), src));
    ASSERT_FALSE(out->meta.warnings.empty());
    EXPECT_NE(out->meta.warnings.back().find("mapped onto the planned"), std::string::npos);

    // A result of another shape cannot be the planned canvas.
    prov->onExpand = [](const ExpandRequest& r, int k) -> Result<TaskOutput> {
        auto out = ScriptedProvider::fill(r, k);
        out->images[0].image = cv::Mat(300, 20, CV_8UC3, cv::Scalar::all(9));
        return out;
    };
    EXPECT_EQ(ExpandToTarget::create(p)->process(Frame(src)).code(), Code::INVALID_ARGUMENT);

    // Errors come back as values with the pass as context.
    prov->onExpand = [](const ExpandRequest&, int) -> Result<TaskOutput> {
        return Status(Code::UNAUTHENTICATED, "bad key").withProviderCode(1000);
    };
    Result<Frame> bad = ExpandToTarget::create(p)->process(Frame(src));
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.code(), Code::UNAUTHENTICATED);
    EXPECT_EQ(bad.status().providerCode(), 1000);
    EXPECT_EQ(bad.status().message().rfind("expand pass 1/", 0), 0u) << bad.status().message();

    // Planner errors too.
    p.target = TargetSpec::exact({40, 40});
    EXPECT_EQ(ExpandToTarget::create(p)->process(Frame(src)).code(), Code::INVALID_ARGUMENT);
    EXPECT_EQ(ExpandToTarget::create(p)->process(Frame()).code(), Code::INVALID_ARGUMENT);
}

TEST(Stages_ExpandToTarget, resumeCollectsBeforeCreating) {
    const cv::Mat src = noiseImage({60, 60}, CV_8UC3, 9);
    auto prov = std::make_shared<ScriptedProvider>();
    ExpandToTarget::Params p;
    p.target = TargetSpec::exact({100, 60});
    p.provider = prov;
    const Plan plan = *planCanvas(src.size(), p.target);
    ASSERT_EQ(plan.passes.size(), 1u);
    // The task exists remotely: resume returns it and nothing is created.
    prov->onResume = [&](Operation op, const std::string& id) -> Result<TaskOutput> {
        EXPECT_EQ(op, Operation::EXPAND);
        EXPECT_EQ(id, "cvgen-abc-p1");
        ExpandRequest r;
        r.image = ImageSource::fromMat(src);
        r.ratios = plan.passes[0].ratios;
        return ScriptedProvider::fill(r, 99);
    };
    Frame f(src);
    f.meta.externalTaskId = "cvgen-abc";
    f.meta.resumeTasks = true;
    Result<Frame> out = ExpandToTarget::create(p)->process(f);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(prov->count("resume"), 1);
    EXPECT_EQ(prov->count("expand"), 0);
    EXPECT_EQ(out->meta.taskIds, (std::vector<std::string>{"t99"}));

    // NOT_FOUND: safe to create, with the same key.
    prov->onResume = nullptr;
    out = ExpandToTarget::create(p)->process(f);
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(prov->count("resume"), 2);
    ASSERT_EQ(prov->count("expand"), 1);
    EXPECT_EQ(prov->calls().back().externalTaskId, "cvgen-abc-p1");

    // Another error from resume is returned, not papered over by a second create.
    prov->onResume = [](Operation, const std::string&) -> Result<TaskOutput> {
        return unavailable("down");
    };
    EXPECT_EQ(ExpandToTarget::create(p)->process(f).code(), Code::UNAVAILABLE);
    EXPECT_EQ(prov->count("expand"), 1);
}

TEST(Stages_ExpandToTarget, preflightMakesSmallInputsAcceptableToAStrictProvider) {
    const cv::Mat src = noiseImage({100, 60}, CV_8UC3, 4);
    auto prov = std::make_shared<ScriptedProvider>();
    std::vector<cv::Size> inputs;
    prov->onExpand = [&](const ExpandRequest& r, int k) -> Result<TaskOutput> {
        inputs.push_back(r.image.mat.size());
        if (std::min(r.image.mat.cols, r.image.mat.rows) < 300)
            return invalidArgument("image: sides must be >= 300 px");
        return ScriptedProvider::fill(r, k);
    };
    ExpandToTarget::Params p;
    p.target = TargetSpec::exact({400, 200});
    p.provider = prov;
    EXPECT_EQ(ExpandToTarget::create(p)->process(Frame(src)).code(), Code::INVALID_ARGUMENT);

    p.preflight = true;
    inputs.clear();
    Result<Frame> out = ExpandToTarget::create(p)->process(Frame(src));
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->image.size(), cv::Size(400, 200));
    ASSERT_FALSE(inputs.empty());
    EXPECT_GE(std::min(inputs[0].width, inputs[0].height), 300);
    const Plan plan = *planCanvas(src.size(), p.target);
    EXPECT_TRUE(identical(out->image(plan.sourceRect), src));
    ASSERT_FALSE(out->meta.transforms.empty());
    EXPECT_EQ(out->meta.transforms[0].rfind("preflight: ", 0), 0u);

    PreflightStage::Params pf;
    Result<Frame> small = PreflightStage::create(pf)->process(Frame(src));
    ASSERT_TRUE(small.ok()) << small.status();
    EXPECT_GE(std::min(small->image.cols, small->image.rows), 300);
    const cv::Mat ok = noiseImage({400, 300}, CV_8UC3, 5);
    Result<Frame> same = PreflightStage::create(pf)->process(Frame(ok));
    ASSERT_TRUE(same.ok());
    EXPECT_EQ(same->image.size(), ok.size());
}

TEST(Stages_ExpandToTarget, oneShotWithTheOfflineEngine) {
    const cv::Mat src = noiseImage({30, 30}, CV_8UC3, 1);
    Result<cv::Mat> out = expandToTarget(src, {90, 40}, Placement::at(Gravity::LEFT));
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->size(), cv::Size(90, 40));
    EXPECT_TRUE(identical((*out)(cv::Rect(0, 5, 30, 30)), src));
}

TEST(Stages_Ops, upscaleComposeGenerate) {
    const cv::Mat src = noiseImage({20, 10}, CV_8UC3, 2);
    UpscaleStage::Params up;
    up.scale = 3;
    Result<Frame> u = UpscaleStage::create(up)->process(Frame(src));
    ASSERT_TRUE(u.ok()) << u.status();
    EXPECT_EQ(u->image.size(), cv::Size(60, 30));
    up.scale = 1;
    EXPECT_THROW(UpscaleStage::create(up), std::invalid_argument);

    ComposeStage::Params cp;
    cp.size = {50, 40};
    cp.placement = Placement::at(Gravity::BOTTOM_RIGHT);
    cp.color = cv::Scalar(1, 2, 3);
    Result<Frame> c = ComposeStage::create(cp)->process(Frame(src));
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(identical(c->image(cv::Rect(30, 30, 20, 10)), src));
    EXPECT_EQ(c->image.at<cv::Vec3b>(0, 0), cv::Vec3b(1, 2, 3));

    GenerateStage::Params gp;
    gp.request.prompt = "a lighthouse";
    gp.request.aspectRatio = AspectRatio::R1_1;
    Result<Frame> g = GenerateStage::create(gp)->process(Frame());
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_FALSE(g->image.empty());
    EXPECT_EQ(g->image.cols, g->image.rows);
    EXPECT_TRUE(g->meta.synthetic);
    // The offline engine has no model: the history names none (no empty "()").
    ASSERT_FALSE(g->meta.transforms.empty());
    EXPECT_EQ(g->meta.transforms.back().find('('), std::string::npos) << g->meta.transforms.back();
    gp.request.prompt.clear();
    EXPECT_THROW(GenerateStage::create(gp), std::invalid_argument);
}

/** Generates one small image and reports the model that served it, as the remote client does
 * for a request naming none. */
class ModelReportingProvider : public ScriptedProvider {
public:
    Result<TaskOutput> generate(const GenerateRequest&, const CallOptions&) override {
        return answer();
    }
    Result<TaskOutput> omni(const OmniRequest&, const CallOptions&) override { return answer(); }

private:
    static TaskOutput answer() {
        TaskOutput out;
        out.images.push_back({cv::Mat(8, 16, CV_8UC3, cv::Scalar::all(7)), 0, "", ""});
        out.provider = "scripted";
        out.model = "kling-v3";
        return out;
    }
};

TEST(Stages_Ops, historyNamesTheModelThatServedTheTask) {
    auto provider = std::make_shared<ModelReportingProvider>();
    GenerateStage::Params gp;
    gp.provider = provider;
    gp.request.prompt = "a lighthouse";  // no model named: the provider's default served it
    Result<Frame> g = GenerateStage::create(gp)->process(Frame());
    ASSERT_TRUE(g.ok()) << g.status();
    ASSERT_FALSE(g->meta.transforms.empty());
    EXPECT_EQ(g->meta.transforms.back(), "generate 16x8 (kling-v3)");
    OmniStage::Params op;
    op.provider = provider;
    op.request.prompt = "a harbour";
    op.frameAsFirstImage = false;
    Result<Frame> o = OmniStage::create(op)->process(Frame());
    ASSERT_TRUE(o.ok()) << o.status();
    EXPECT_EQ(o->meta.transforms.back(), "omni 16x8 (kling-v3)");
}

}  // namespace
}  // namespace cvgen::stages
