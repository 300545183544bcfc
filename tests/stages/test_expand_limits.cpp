// The planner's per-pass limits come from the provider (Provider::expandLimits()): remote-like
// providers get multi-pass plans within side 2 / area 3, the offline engine one pass.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "cvgen/core/planner.hpp"
#include "cvgen/local/local_provider.hpp"
#include "cvgen/stages/batch.hpp"
#include "cvgen/stages/ops.hpp"
#include "stages/stages_test_util.hpp"

namespace cvgen::stages {
namespace {

using testing::noiseImage;
using testing::ScriptedProvider;
using testing::TempDir;

bool identical(const cv::Mat& a, const cv::Mat& b) {
    if (a.size() != b.size() || a.type() != b.type()) return false;
    cv::Mat diff;
    cv::absdiff(a, b, diff);
    return cv::countNonZero(diff.reshape(1)) == 0;
}

/** A scripted provider announcing its own limits; records every request's ratios. */
class LimitedProvider : public ScriptedProvider {
public:
    explicit LimitedProvider(ExpandLimits l) : limits_(l) {
        onExpand = [this](const ExpandRequest& r, int k) {
            ratios.push_back(r.ratios);
            return fill(r, k);
        };
    }
    ExpandLimits expandLimits() const override { return limits_; }
    std::vector<ExpansionRatios> ratios;

private:
    ExpandLimits limits_;
};

size_t passesWith(cv::Size src, cv::Size target, ExpandLimits l) {
    PlannerParams pp;
    pp.maxSideRatio = l.maxSideRatio;
    pp.maxArea = l.maxArea;
    Result<Plan> plan = planCanvas(src, TargetSpec::exact(target), Placement(), pp);
    EXPECT_TRUE(plan.ok()) << plan.status();
    return plan.ok() ? plan->passes.size() : 0;
}

std::shared_ptr<Provider> localEngine(bool enforce) {
    local::LocalProvider::Params lp;
    lp.enforceExpandLimits = enforce;
    return local::LocalProvider::create(lp);
}

TEST(Stages_ExpandLimits, defaultLimitsAreKlings) {
    const ExpandLimits l;
    EXPECT_EQ(l.maxSideRatio, 2.0);
    EXPECT_EQ(l.maxArea, 3.0);
    ScriptedProvider plain;  // does not override expandLimits()
    EXPECT_EQ(plain.expandLimits().maxSideRatio, 2.0);
    EXPECT_EQ(plain.expandLimits().maxArea, 3.0);
    PlannerParams pp;
    pp.reach = Reach::SCALE_TO_FIT;
    pp.maxPasses = 5;
    const PlannerParams out = withProviderLimits(pp, *localEngine(false));
    EXPECT_GE(out.maxSideRatio, 10000.0);
    EXPECT_GE(out.maxArea, 1e8);
    EXPECT_EQ(out.reach, Reach::SCALE_TO_FIT);  // the rest untouched
    EXPECT_EQ(out.maxPasses, 5);
}

// The demo's case (chelsea.png 451x300 -> 1920x1080) and a few more far targets.
TEST(Stages_ExpandLimits, remoteLimitsGiveSeveralPassesTheOfflineEngineOne) {
    struct Case {
        cv::Size src, target;
    };
    const std::vector<Case> cases = {
        {{451, 300}, {1920, 1080}}, {{40, 30}, {400, 300}}, {{30, 80}, {200, 100}}};
    for (const Case& c : cases) {
        SCOPED_TRACE(::testing::Message() << c.src << " -> " << c.target);
        const cv::Mat src = noiseImage(c.src, CV_8UC3, uint32_t(c.src.area()));
        const size_t remotePasses = passesWith(c.src, c.target, ExpandLimits());
        ASSERT_GT(remotePasses, 1u);

        // A provider with the default limits: several passes, each request within 2 / 3.
        auto fake = std::make_shared<LimitedProvider>(ExpandLimits());
        ExpandToTarget::Params p;
        p.target = TargetSpec::exact(c.target);
        p.provider = fake;
        Result<Frame> out = ExpandToTarget::create(p)->process(Frame(src));
        ASSERT_TRUE(out.ok()) << out.status();
        EXPECT_EQ(size_t(fake->count("expand")), remotePasses);
        for (const auto& r : fake->ratios) {
            for (double v : {r.up, r.down, r.left, r.right}) EXPECT_LE(v, 2.0);
            EXPECT_LE(r.areaFactor(), 3.0);
        }
        const Plan plan = *planCanvas(c.src, p.target);
        ASSERT_EQ(out->image.size(), c.target);
        EXPECT_TRUE(identical(out->image(plan.sourceRect), src));

        // The offline engine (default parameters, and defaultProvider()): exactly one pass.
        for (bool viaDefault : {false, true}) {
            SCOPED_TRACE(viaDefault ? "defaultProvider()" : "LocalProvider::create()");
            p.provider = viaDefault ? nullptr : localEngine(false);
            out = ExpandToTarget::create(p)->process(Frame(src));
            ASSERT_TRUE(out.ok()) << out.status();
            EXPECT_EQ(out->meta.taskIds.size(), 1u);
            ASSERT_EQ(out->meta.transforms.size(), 1u);
            EXPECT_NE(out->meta.transforms[0].find("(1 pass,"), std::string::npos)
                << out->meta.transforms[0];
            ASSERT_EQ(out->image.size(), c.target);
            EXPECT_TRUE(identical(out->image(plan.sourceRect), src));
        }

        // The offline engine told to enforce the remote limits plans like a remote provider.
        p.provider = localEngine(true);
        out = ExpandToTarget::create(p)->process(Frame(src));
        ASSERT_TRUE(out.ok()) << out.status();
        EXPECT_EQ(out->meta.taskIds.size(), remotePasses);
        EXPECT_TRUE(identical(out->image(plan.sourceRect), src));

        // limitsFromProvider = false: the planner's own limits, whatever the provider says.
        p.provider = localEngine(false);
        p.limitsFromProvider = false;
        out = ExpandToTarget::create(p)->process(Frame(src));
        ASSERT_TRUE(out.ok()) << out.status();
        EXPECT_EQ(out->meta.taskIds.size(), remotePasses);
    }
}

TEST(Stages_ExpandLimits, customProviderLimitsShapeThePlan) {
    const cv::Size src{60, 40}, target{300, 200};
    const ExpandLimits tight{1.0, 2.0};
    auto prov = std::make_shared<LimitedProvider>(tight);
    ExpandToTarget::Params p;
    p.target = TargetSpec::exact(target);
    p.provider = prov;
    const cv::Mat img = noiseImage(src, CV_8UC3, 3);
    Result<Frame> out = ExpandToTarget::create(p)->process(Frame(img));
    ASSERT_TRUE(out.ok()) << out.status();
    const size_t want = passesWith(src, target, tight);
    EXPECT_GT(want, passesWith(src, target, ExpandLimits()));
    EXPECT_EQ(size_t(prov->count("expand")), want);
    for (const auto& r : prov->ratios) {
        for (double v : {r.up, r.down, r.left, r.right}) EXPECT_LE(v, tight.maxSideRatio);
        EXPECT_LE(r.areaFactor(), tight.maxArea);
    }
}

// The batch runner plans (and dry-runs) with its provider's limits, also through its gate.
TEST(Stages_ExpandLimits, batchPlansWithTheProvidersLimits) {
    TempDir d;
    const cv::Size target{640, 360};
    const std::vector<cv::Size> sizes = {{100, 80}, {64, 128}};
    for (size_t i = 0; i < sizes.size(); ++i)
        testing::writePng(d.path() / "in" / ("img" + std::to_string(i) + ".png"),
                          noiseImage(sizes[i], CV_8UC3, uint32_t(i + 1)));
    size_t remoteTasks = 0;
    for (const cv::Size& s : sizes) remoteTasks += passesWith(s, target, ExpandLimits());
    ASSERT_GT(remoteTasks, sizes.size());

    struct Case {
        const char* what;
        std::shared_ptr<Provider> provider;
        size_t tasks;
    };
    auto fake = std::make_shared<LimitedProvider>(ExpandLimits());
    const std::vector<Case> cases = {{"scripted, default limits", fake, remoteTasks},
                                     {"offline engine", localEngine(false), sizes.size()},
                                     {"offline engine, enforcing", localEngine(true), remoteTasks}};
    int run = 0;
    for (const Case& c : cases) {
        for (bool dry : {true, false}) {
            SCOPED_TRACE(std::string(c.what) + (dry ? " dry run" : " run"));
            BatchRunner::Params p;
            p.input = d.str("in");
            p.output = d.str("out" + std::to_string(run++));
            p.target = TargetSpec::exact(target);
            p.preflight = false;
            p.provider = c.provider;
            p.dryRun = dry;
            Result<BatchSummary> s = BatchRunner::create(p)->run();
            ASSERT_TRUE(s.ok()) << s.status();
            EXPECT_EQ(s->tasks, c.tasks);
        }
    }
    EXPECT_EQ(size_t(fake->count("expand")), remoteTasks);
}

}  // namespace
}  // namespace cvgen::stages
