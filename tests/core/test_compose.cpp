#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "cvgen/core/compose.hpp"
#include "cvgen/core/planner.hpp"

namespace cvgen {
namespace {

cv::Mat noise(cv::Size s, int type, uint64_t seed) {
    cv::Mat m(s, type);
    cv::RNG rng(seed);
    rng.fill(m, cv::RNG::UNIFORM, 0, CV_MAT_DEPTH(type) == CV_16U ? 65536 : 256);
    return m;
}

/** A fake expand provider: fresh noise around the input (re-rendered with `shift` added), then
 * resized to `returned` when given (a provider rounding differently or rescaling). */
cv::Mat fakeExpand(const cv::Mat& input, const ExpandPass& pass, uint64_t seed, int shift = 0,
                   cv::Size returned = cv::Size()) {
    cv::Mat canvas = noise(pass.canvas, input.type(), seed);
    cv::Mat rendition;
    input.convertTo(rendition, input.depth(), 1.0, shift);
    rendition.copyTo(canvas(pass.sourceRect()));
    if (!returned.empty() && returned != canvas.size()) {
        cv::Mat r;
        cv::resize(canvas, r, returned, 0, 0, cv::INTER_LINEAR);
        return r;
    }
    return canvas;
}

int countDiff(const cv::Mat& a, const cv::Mat& b) {
    cv::Mat d;
    cv::absdiff(a, b, d);
    return cv::countNonZero(d.reshape(1));
}

/** Runs every pass of `plan` against the fake provider and composes the final image. */
Result<cv::Mat> runPlan(const cv::Mat& original, const Plan& plan, const ComposeParams& prm,
                        uint64_t seed, int sizeJitter = 0, cv::Mat* mask = nullptr) {
    cv::Mat img = croppedSource(original, plan).clone();
    if (!plan.workContent.size().empty() && img.size() != plan.workContent.size()) {
        cv::Mat r;
        cv::resize(img, r, plan.workContent.size(), 0, 0, cv::INTER_LINEAR);
        img = r;
    }
    if (img.size() != plan.workSource) {  // preflight padding
        const cv::Rect c = plan.workContent;
        cv::copyMakeBorder(img, img, c.y, plan.workSource.height - c.y - c.height, c.x,
                           plan.workSource.width - c.x - c.width, cv::BORDER_REFLECT);
    }
    for (size_t i = 0; i < plan.passes.size(); ++i) {
        const ExpandPass& pass = plan.passes[i];
        const cv::Size ret(pass.canvas.width + sizeJitter, pass.canvas.height - sizeJitter);
        auto out = composePass(img, fakeExpand(img, pass, seed + i, 0, ret), pass, prm);
        if (!out.ok()) return out.status();
        EXPECT_EQ(out->size(), pass.canvas);
        img = *out;
    }
    if (mask) return compose(original, img, plan, prm, *mask);
    return compose(original, img, plan, prm);
}

TEST(Core_Compose, exact_result_keeps_original_bit_exact_for_every_feather) {
    const cv::Mat original = noise({64, 48}, CV_8UC3, 1);
    auto plan = planCanvas(original.size(), TargetSpec::exact({128, 96}));
    ASSERT_TRUE(plan.ok());
    ASSERT_EQ(plan->passes.size(), 2u);
    for (int feather : {0, 1, 4, 16, 64}) {
        for (bool cm : {false, true}) {
            SCOPED_TRACE("feather " + std::to_string(feather) + (cm ? " colour" : ""));
            ComposeParams prm;
            prm.featherPx = feather;
            prm.colorMatch = cm;
            cv::Mat mask;
            auto out = runPlan(original, *plan, prm, 7, 0, &mask);
            ASSERT_TRUE(out.ok()) << out.status();
            ASSERT_EQ(out->size(), cv::Size(128, 96));
            ASSERT_EQ(out->type(), CV_8UC3);
            EXPECT_EQ(countDiff((*out)(plan->sourceRect), original), 0);
            ASSERT_EQ(mask.size(), cv::Size(128, 96));
            EXPECT_EQ(cv::countNonZero(mask), 128 * 96 - 64 * 48);
            EXPECT_EQ(cv::countNonZero(mask(plan->sourceRect)), 0);
        }
    }
}

TEST(Core_Compose, feather_makes_the_ring_continuous_and_stops_at_its_width) {
    // The provider rendered the whole canvas 30 levels too bright: the seam jumps by 30.
    const cv::Mat original(20, 20, CV_8UC1, cv::Scalar(100));
    auto plan = planCanvas({20, 20}, TargetSpec::exact({40, 20}), Placement::at(Gravity::LEFT));
    ASSERT_TRUE(plan.ok());
    const cv::Mat result(20, 40, CV_8UC1, cv::Scalar(130));
    ComposeParams prm;
    prm.featherPx = 8;
    auto out = compose(original, result, *plan, prm);
    ASSERT_TRUE(out.ok()) << out.status();
    // Offset −30 fades as (F+1−d)/(F+1): d=1 → 130−30·8/9 = 103.3, d=8 → 126.7, d≥9 → 130.
    EXPECT_EQ(out->at<uchar>(10, 19), 100);
    EXPECT_EQ(out->at<uchar>(10, 20), 103);
    EXPECT_EQ(out->at<uchar>(10, 27), 127);
    EXPECT_EQ(out->at<uchar>(10, 28), 130);
    EXPECT_EQ(out->at<uchar>(10, 39), 130);
    prm.featherPx = 0;  // hard edge: the generated pixels as they came
    auto hard = compose(original, result, *plan, prm);
    ASSERT_TRUE(hard.ok());
    EXPECT_EQ(hard->at<uchar>(10, 20), 130);
}

TEST(Core_Compose, colour_matching_fades_with_distance) {
    const cv::Mat original(20, 20, CV_8UC3, cv::Scalar(100, 50, 200));
    auto plan = planCanvas({20, 20}, TargetSpec::exact({20, 60}), Placement::at(Gravity::TOP));
    ASSERT_TRUE(plan.ok());
    cv::Mat result(60, 20, CV_8UC3, cv::Scalar(160, 80, 140));
    original.copyTo(result(plan->sourceRect));  // rendition exact: only colour differs
    ComposeParams prm;
    prm.featherPx = 0;
    prm.colorMatch = true;
    prm.colorFadePx = 10;
    auto out = compose(original, result, *plan, prm);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->at<cv::Vec3b>(20, 5), cv::Vec3b(100, 50, 200));  // d=1: fully matched
    EXPECT_EQ(out->at<cv::Vec3b>(25, 5), cv::Vec3b(130, 65, 170));  // d=6: half way
    EXPECT_EQ(out->at<cv::Vec3b>(31, 5), cv::Vec3b(160, 80, 140));  // d=12: untouched
    EXPECT_EQ(countDiff((*out)(plan->sourceRect), original), 0);
}

TEST(Core_Compose, inward_feather_changes_only_a_k_px_band_on_generated_sides) {
    const cv::Mat original = noise({40, 30}, CV_8UC3, 3);
    // Top-left: only the right and bottom sides of the original touch generated pixels.
    auto plan = planCanvas({40, 30}, TargetSpec::exact({70, 50}), Placement::at(Gravity::TOP_LEFT));
    ASSERT_TRUE(plan.ok());
    cv::Mat result = fakeExpand(original, plan->passes[0], 9, 40);
    for (int k : {1, 3, 6}) {
        SCOPED_TRACE("k " + std::to_string(k));
        ComposeParams prm;
        prm.inwardFeatherPx = k;
        auto out = compose(original, result, *plan, prm);
        ASSERT_TRUE(out.ok()) << out.status();
        const cv::Mat in = (*out)(plan->sourceRect);
        // Untouched: everything farther than k from the right and bottom edges.
        EXPECT_EQ(
            countDiff(in(cv::Rect(0, 0, 40 - k, 30 - k)), original(cv::Rect(0, 0, 40 - k, 30 - k))),
            0);
        // Changed: the band next to the generated ring (the rendition is 40 levels off).
        EXPECT_GT(countDiff(in.col(39), original.col(39)), 0);
        EXPECT_GT(countDiff(in.row(29), original.row(29)), 0);
        EXPECT_GT(countDiff(in.col(40 - k), original.col(40 - k)), 0);
    }
}

TEST(Core_Compose, off_by_pixels_or_rescaled_results_compose_to_the_exact_target) {
    // A smooth canvas so resampling is nearly exact and positions can be checked.
    const cv::Size tgt(200, 150);
    cv::Mat truth(tgt, CV_8UC3);
    for (int y = 0; y < tgt.height; ++y)
        for (int x = 0; x < tgt.width; ++x)
            truth.at<cv::Vec3b>(y, x) = cv::Vec3b(x, y, (x + y) / 2);
    auto plan = planCanvas({120, 100}, TargetSpec::exact(tgt), Placement::atOffset({60, 40}));
    ASSERT_TRUE(plan.ok());
    ASSERT_EQ(plan->passes.size(), 1u);
    const cv::Mat original = noise({120, 100}, CV_8UC3, 5);
    const cv::Size returned[] = {{201, 150}, {198, 152}, {203, 147},
                                 {400, 300}, {100, 75},  {333, 250}};
    for (cv::Size r : returned) {
        SCOPED_TRACE(std::to_string(r.width) + "x" + std::to_string(r.height));
        cv::Mat res;
        cv::resize(truth, res, r, 0, 0, cv::INTER_LINEAR);
        ComposeParams prm;
        prm.featherPx = 0;
        auto out = compose(original, res, *plan, prm);
        ASSERT_TRUE(out.ok()) << out.status();
        ASSERT_EQ(out->size(), tgt);
        EXPECT_EQ(countDiff((*out)(cv::Rect(60, 40, 120, 100)), original), 0);
        // Generated pixels land where the plan says (within resampling error).
        for (cv::Point p :
             {cv::Point(5, 5), cv::Point(195, 145), cv::Point(30, 100), cv::Point(190, 20)}) {
            const cv::Vec3b a = out->at<cv::Vec3b>(p), b = truth.at<cv::Vec3b>(p);
            for (int c = 0; c < 3; ++c) EXPECT_NEAR(a[c], b[c], 4) << p;
        }
    }
}

TEST(Core_Compose, garbage_results_are_values_caller_bugs_throw) {
    const cv::Mat original = noise({40, 30}, CV_8UC3, 2);
    auto plan = planCanvas({40, 30}, TargetSpec::exact({80, 60}));
    ASSERT_TRUE(plan.ok());
    EXPECT_EQ(compose(original, cv::Mat(), *plan).code(), Code::DATA_LOSS);
    EXPECT_EQ(compose(original, cv::Mat(10, 200, CV_8UC3, cv::Scalar(0)), *plan).code(),
              Code::INVALID_ARGUMENT);
    EXPECT_EQ(compose(original, cv::Mat(60, 80, CV_8UC2, cv::Scalar(0)), *plan).code(),
              Code::INVALID_ARGUMENT);
    EXPECT_EQ(compose(original, cv::Mat(1, 1, CV_8UC3, cv::Scalar(0)), *plan).code(),
              Code::INVALID_ARGUMENT);
    EXPECT_EQ(composePass(original, cv::Mat(), plan->passes[0]).code(), Code::DATA_LOSS);
    EXPECT_THROW((void)compose(cv::Mat(), cv::Mat(60, 80, CV_8UC3), *plan), cv::Exception);
    EXPECT_THROW((void)compose(noise({41, 30}, CV_8UC3, 1), cv::Mat(60, 80, CV_8UC3), *plan),
                 cv::Exception);
    EXPECT_THROW((void)compose(cv::Mat(30, 40, CV_32FC3), cv::Mat(60, 80, CV_8UC3), *plan),
                 cv::Exception);
    ComposeParams bad;
    bad.featherPx = -1;
    EXPECT_THROW((void)compose(original, cv::Mat(60, 80, CV_8UC3), *plan, bad), cv::Exception);
}

TEST(Core_Compose, types_are_converted_to_the_originals) {
    const cv::Mat original = noise({40, 30}, CV_16UC3, 4);
    auto plan = planCanvas({40, 30}, TargetSpec::exact({60, 40}));
    ASSERT_TRUE(plan.ok());
    for (int type : {CV_8UC3, CV_8UC1, CV_8UC4, CV_16UC3, CV_32FC3}) {
        SCOPED_TRACE(cv::typeToString(type));
        cv::Mat res(40, 60, type, cv::Scalar::all(type == CV_32FC3 ? 0.5 : 100));
        auto out = compose(original, res, *plan);
        ASSERT_TRUE(out.ok()) << out.status();
        EXPECT_EQ(out->type(), CV_16UC3);
        EXPECT_EQ(countDiff((*out)(plan->sourceRect), original), 0);
    }
    const cv::Mat bgra = noise({40, 30}, CV_8UC4, 4);
    auto out = compose(bgra, cv::Mat(40, 60, CV_8UC3, cv::Scalar::all(9)), *plan);
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out->type(), CV_8UC4);
    EXPECT_EQ(out->at<cv::Vec4b>(0, 0)[3], 255);
}

TEST(Core_Compose, preflight_scaled_and_smaller_target_plans) {
    // Preflight upscaled the source 2x: the provider works at twice the target's resolution.
    PlannerParams up;
    up.pre.scale = 2.0;
    const cv::Mat small = noise({150, 100}, CV_8UC3, 6);
    auto p1 = planCanvas(small.size(), TargetSpec::exact({300, 200}), Placement::centred(), up);
    ASSERT_TRUE(p1.ok());
    auto o1 = runPlan(small, *p1, ComposeParams(), 11);
    ASSERT_TRUE(o1.ok()) << o1.status();
    ASSERT_EQ(o1->size(), cv::Size(300, 200));
    EXPECT_EQ(countDiff((*o1)(p1->sourceRect), small), 0);

    // Padded by preflight beyond what the target needs: no pass, the padding is cropped away.
    PlannerParams pad;
    pad.pre.padTop = pad.pre.padBottom = 20;
    const cv::Mat wide = noise({300, 100}, CV_8UC3, 8);
    auto p2 = planCanvas(wide.size(), TargetSpec::exact({300, 110}), Placement::centred(), pad);
    ASSERT_TRUE(p2.ok());
    EXPECT_TRUE(p2->passes.empty());
    auto o2 = runPlan(wide, *p2, ComposeParams(), 12);
    ASSERT_TRUE(o2.ok()) << o2.status();
    ASSERT_EQ(o2->size(), cv::Size(300, 110));
    EXPECT_EQ(countDiff((*o2)(p2->sourceRect), wide), 0);

    // Cropped to a smaller target: the kept part is bit-exact.
    PlannerParams crop;
    crop.smallerTarget = SmallerTarget::CROP;
    auto p3 =
        planCanvas(wide.size(), TargetSpec::exact({200, 200}), Placement::at(Gravity::RIGHT), crop);
    ASSERT_TRUE(p3.ok());
    auto o3 = runPlan(wide, *p3, ComposeParams(), 13);
    ASSERT_TRUE(o3.ok()) << o3.status();
    ASSERT_EQ(o3->size(), cv::Size(200, 200));
    EXPECT_EQ(countDiff((*o3)(p3->sourceRect), wide(p3->sourceCrop)), 0);

    // Scaled down to a smaller target: providers get the shrunk source; the placed original is
    // the INTER_AREA-shrunk source, pasted exactly.
    PlannerParams down;
    down.smallerTarget = SmallerTarget::SCALE_DOWN;
    auto p4 = planCanvas(wide.size(), TargetSpec::exact({150, 150}), Placement::centred(), down);
    ASSERT_TRUE(p4.ok());
    const cv::Mat in4 = croppedSource(wide, *p4);
    ASSERT_EQ(in4.size(), cv::Size(150, 50));
    auto o4 = runPlan(wide, *p4, ComposeParams(), 14);
    ASSERT_TRUE(o4.ok()) << o4.status();
    ASSERT_EQ(o4->size(), cv::Size(150, 150));
    EXPECT_EQ(countDiff((*o4)(p4->sourceRect), in4), 0);
}

TEST(Core_Compose, execute_plan_runs_every_pass_and_reports_errors_with_the_pass) {
    const cv::Mat original = noise({60, 40}, CV_8UC3, 21);
    auto plan = planCanvas(original.size(), TargetSpec::exact({300, 200}));
    ASSERT_TRUE(plan.ok());
    ASSERT_EQ(plan->passes.size(), 3u);
    std::vector<cv::Size> seen;
    auto fake = [&](const cv::Mat& in, const ExpandPass& pass, int index) -> Result<cv::Mat> {
        seen.push_back(in.size());
        return fakeExpand(in, pass, 50 + index, 3, {pass.canvas.width + 1, pass.canvas.height});
    };
    cv::Mat mask;
    auto out = executePlan(original, cv::Mat(), *plan, fake, ComposeParams(), mask);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->size(), cv::Size(300, 200));
    EXPECT_EQ(countDiff((*out)(plan->sourceRect), original), 0);
    ASSERT_EQ(seen.size(), 3u);
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(seen[i], plan->passes[i].source);
    EXPECT_EQ(cv::countNonZero(mask), 300 * 200 - 60 * 40);

    auto failing = [&](const cv::Mat&, const ExpandPass&, int index) -> Result<cv::Mat> {
        if (index == 1) return unavailable("provider down");
        return cv::Mat(plan->passes[0].canvas, CV_8UC3, cv::Scalar::all(1));
    };
    auto err = executePlan(original, cv::Mat(), *plan, failing);
    EXPECT_EQ(err.code(), Code::UNAVAILABLE);
    EXPECT_NE(err.status().message().find("expand pass 2/3"), std::string::npos) << err.status();
    auto empty = [](const cv::Mat&, const ExpandPass&, int) -> Result<cv::Mat> {
        return cv::Mat();
    };
    EXPECT_EQ(executePlan(original, cv::Mat(), *plan, empty).code(), Code::DATA_LOSS);
}

TEST(Core_Compose, preflight_300px_and_2_5_to_1_edges_compose_exactly) {
    // Just under 300 px: preflight upscales 450x299 to 451x300 (contentSize given exactly).
    struct Case {
        cv::Size src, tgt;
        PreTransform pre;
    };
    PreTransform up;
    up.scale = 300.0 / 299.0;
    up.contentSize = {451, 300};
    // Just over 2.5:1: 760x300 (2.53:1) padded by preflight to 760x304 (2.5:1).
    PreTransform pad;
    pad.padTop = 2;
    pad.padBottom = 2;
    // Exactly on both edges: nothing to do.
    const Case cases[] = {
        {{450, 299}, {900, 600}, up},
        {{760, 300}, {1520, 900}, pad},
        {{750, 300}, {1500, 900}, PreTransform()},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(std::to_string(c.src.width) + "x" + std::to_string(c.src.height));
        PlannerParams prm;
        prm.pre = c.pre;
        auto plan = planCanvas(c.src, TargetSpec::exact(c.tgt), Placement::centred(), prm);
        ASSERT_TRUE(plan.ok()) << plan.status();
        EXPECT_GE(std::min(plan->workSource.width, plan->workSource.height), 300);
        EXPECT_LE(double(plan->workSource.width) / plan->workSource.height, 2.5);
        for (const ExpandPass& e : plan->passes) EXPECT_LE(e.ratios.areaFactor(), 3.0);
        const cv::Mat original = noise(c.src, CV_8UC3, 31);
        auto out = runPlan(original, *plan, ComposeParams(), 77, 1);
        ASSERT_TRUE(out.ok()) << out.status();
        ASSERT_EQ(out->size(), c.tgt);
        EXPECT_EQ(countDiff((*out)(plan->sourceRect), original), 0);
    }
}

TEST(Core_Compose, property_random_compositions_hit_target_and_keep_original) {
    std::mt19937 rng(4242);
    auto uni = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
    for (int i = 0; i < 300; ++i) {
        const cv::Size src(uni(4, 48), uni(4, 48));
        const cv::Size tgt(src.width + uni(0, 3 * src.width), src.height + uni(0, 3 * src.height));
        const Placement pl = uni(0, 2) == 0 ? Placement::atOffset({uni(0, tgt.width - src.width),
                                                                   uni(0, tgt.height - src.height)})
                                            : Placement::at(static_cast<Gravity>(uni(0, 8)));
        const int type = uni(0, 3) == 0 ? CV_16UC3 : (uni(0, 3) == 0 ? CV_8UC1 : CV_8UC3);
        ComposeParams prm;
        prm.featherPx = uni(0, 24);
        prm.colorMatch = uni(0, 1) == 1;
        prm.colorFadePx = uni(1, 30);
        prm.inwardFeatherPx = uni(0, 3) == 0 ? uni(1, 4) : 0;
        SCOPED_TRACE(std::to_string(i) + ": " + std::to_string(src.width) + "x" +
                     std::to_string(src.height) + " -> " + std::to_string(tgt.width) + "x" +
                     std::to_string(tgt.height) + " feather " + std::to_string(prm.featherPx) +
                     " k " + std::to_string(prm.inwardFeatherPx));
        PlannerParams pp;
        if (uni(0, 3) == 0) {  // a preflight that upscaled and padded the first input
            pp.pre.scale = 1.0 + uni(0, 10) / 10.0;
            pp.pre.padTop = uni(0, 6);
            pp.pre.padBottom = uni(0, 6);
            pp.pre.padLeft = uni(0, 6);
            pp.pre.padRight = uni(0, 6);
        }
        auto plan = planCanvas(src, TargetSpec::exact(tgt), pl, pp);
        ASSERT_TRUE(plan.ok()) << plan.status();
        const cv::Mat original = noise(src, type, 100 + i);
        auto out = runPlan(original, *plan, prm, 1000 + i * 10, uni(-2, 2));
        ASSERT_TRUE(out.ok()) << out.status();
        ASSERT_EQ(out->size(), tgt);
        ASSERT_EQ(out->type(), type);
        const cv::Rect S = plan->sourceRect;
        const int k = prm.inwardFeatherPx;
        cv::Rect core(S.x + (S.x > 0 ? k : 0), S.y + (S.y > 0 ? k : 0), 0, 0);
        core.width = S.x + S.width - (S.x + S.width < tgt.width ? k : 0) - core.x;
        core.height = S.y + S.height - (S.y + S.height < tgt.height ? k : 0) - core.y;
        if (core.width > 0 && core.height > 0) {
            const cv::Rect inOrig(core.tl() - S.tl(), core.size());
            ASSERT_EQ(countDiff((*out)(core), original(inOrig)), 0);
        }
        if (k == 0) {
            ASSERT_EQ(countDiff((*out)(S), original), 0);
        }
    }
}

}  // namespace
}  // namespace cvgen
