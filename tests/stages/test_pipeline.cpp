#include <gtest/gtest.h>

#include <thread>

#include "cvgen/stages/pipeline.hpp"
#include "stages/stages_test_util.hpp"

namespace cvgen::stages {
namespace {

cv::Ptr<Stage> addConstant(const std::string& name, int v) {
    return makeStage(name, [v](Frame f) -> Result<Frame> {
        f.image += cv::Scalar::all(v);
        f.meta.transforms.push_back("add " + std::to_string(v));
        return f;
    });
}

TEST(Stages_Pipeline, runsStagesInOrderAndRecordsTimings) {
    auto pl = Pipeline::create();
    pl->add(addConstant("a", 1)).add(addConstant("b", 2));
    pl->add(makeStage("double", [](Frame f) -> Result<Frame> {
        f.image *= 2;
        return f;
    }));
    EXPECT_EQ(pl->stageNames(), (std::vector<std::string>{"a", "b", "double"}));
    Frame in(cv::Mat(2, 3, CV_8UC1, cv::Scalar(10)), "x.png");
    Result<Frame> out = pl->run(in);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(cv::countNonZero(out->image != 26), 0);  // (10+1+2)*2
    EXPECT_EQ(out->meta.sourcePath, "x.png");
    EXPECT_EQ(out->meta.transforms, (std::vector<std::string>{"add 1", "add 2"}));
    for (const char* n : {"a", "b", "double"}) EXPECT_EQ(out->meta.timings.count(n), 1u) << n;
}

TEST(Stages_Pipeline, errorStopsTheFrameWithTheStageName) {
    int after = 0;
    auto pl = Pipeline::create();
    pl->add(addConstant("a", 1));
    pl->add(makeStage("remote", [](Frame) -> Result<Frame> {
        return Status(Code::RESOURCE_EXHAUSTED, "quota").withProviderCode(1303);
    }));
    pl->add(makeStage("after", [&after](Frame f) -> Result<Frame> {
        ++after;
        return f;
    }));
    Result<Frame> out = pl->run(Frame(cv::Mat(2, 2, CV_8UC3, cv::Scalar::all(0))));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.code(), Code::RESOURCE_EXHAUSTED);
    EXPECT_EQ(out.status().providerCode(), 1303);
    EXPECT_EQ(out.status().message(), "remote: quota");
    EXPECT_EQ(after, 0);
}

TEST(Stages_Pipeline, emptyFrameIsInvalidArgumentAndCallerBugsThrow) {
    auto pl = Pipeline::create();
    EXPECT_EQ(pl->run(Frame()).code(), Code::INVALID_ARGUMENT);
    EXPECT_THROW(pl->add(cv::Ptr<Stage>()), std::invalid_argument);
    EXPECT_THROW(makeStage("", [](Frame f) -> Result<Frame> { return f; }), std::invalid_argument);
    EXPECT_THROW(makeStage("x", nullptr), std::invalid_argument);
    PipelineParams p;
    p.requireImage = false;
    EXPECT_TRUE(Pipeline::create(p)->run(Frame()).ok());
}

TEST(Stages_Pipeline, manyFramesConcurrently) {
    auto pl = Pipeline::create();
    pl->add(addConstant("a", 3)).add(addConstant("b", 4));
    std::vector<std::thread> threads;
    std::vector<int> okCount(8, 0);
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 50; ++i) {
                Result<Frame> r = pl->run(Frame(cv::Mat(4, 4, CV_8UC1, cv::Scalar(t))));
                if (r.ok() && cv::countNonZero(r->image != t + 7) == 0) ++okCount[size_t(t)];
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < 8; ++t) EXPECT_EQ(okCount[size_t(t)], 50) << t;
}

}  // namespace
}  // namespace cvgen::stages
