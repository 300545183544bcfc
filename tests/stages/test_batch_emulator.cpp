// The batch runner against the real remote client and the emulator on 127.0.0.1: an interrupted
// batch resumed, with the emulator's counters proving no item was submitted twice.
#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <map>

#include "cvgen/core/codec.hpp"
#include "cvgen/core/planner.hpp"
#include "cvgen/emulator.hpp"
#include "cvgen/remote.hpp"
#include "cvgen/stages/batch.hpp"
#include "cvgen/stages/journal.hpp"
#include "stages/stages_test_util.hpp"

namespace cvgen::stages {
namespace {

using testing::noiseImage;
using testing::TempDir;
using testing::writePng;

TEST(Stages_BatchEmulator, interruptedBatchResumesWithoutSubmittingTwice) {
    emulator::Params ep;
    ep.latency = std::chrono::milliseconds(120);
    auto server = emulator::Server::create(ep);
    ASSERT_TRUE(server->start().ok());

    remote::RemoteParams rp;
    rp.profile = "anyapi";
    rp.baseUrl = server->baseUrl();
    rp.apiKey = "test-key";
    rp.poll.firstDelay = std::chrono::milliseconds(20);
    rp.poll.interval = std::chrono::milliseconds(20);
    rp.poll.maxInterval = std::chrono::milliseconds(40);
    rp.deadline = std::chrono::seconds(30);
    Result<cv::Ptr<Provider>> prov = remote::createProvider(rp);
    ASSERT_TRUE(prov.ok()) << prov.status();

    TempDir d;
    const int kItems = 6;
    const cv::Size target(640, 360);
    std::map<std::string, cv::Mat> inputs;
    for (int i = 0; i < kItems; ++i) {
        const std::string rel = "img" + std::to_string(i) + ".png";
        inputs[rel] = noiseImage({320 + 4 * i, 320}, CV_8UC3, uint32_t(i));
        writePng(d.path() / "in" / rel, inputs[rel]);
    }

    BatchRunner::Params p;
    p.input = d.str("in");
    p.output = d.str("out");
    p.target = TargetSpec::exact(target);
    p.provider = *prov;
    p.concurrency = 2;
    p.contactSheet = false;
    p.cancel = std::make_shared<std::atomic<bool>>(false);
    // Interrupt (as Ctrl-C does) once two items are done: tasks in flight stay submitted.
    int done = 0;
    p.onItem = [&](const ItemReport& r) {
        if (r.status == ItemStatus::OK && ++done == 2) p.cancel->store(true);
    };
    Result<BatchSummary> s1 = BatchRunner::create(p)->run();
    ASSERT_TRUE(s1.ok()) << s1.status();
    EXPECT_TRUE(s1->cancelled);
    EXPECT_GE(s1->ok, 2u);
    EXPECT_LT(s1->ok, size_t(kItems));
    EXPECT_EQ(s1->exitCode(), 3);
    EXPECT_GE(s1->notRun, 1u);  // cancelled in flight (intent only) or never started
    auto j1 = Journal::load(d.str("out/.cvgen-journal.jsonl"));
    ASSERT_TRUE(j1.ok());
    int interrupted = 0;
    for (const auto& [rel, it] : j1->items) interrupted += it.state == ItemState::INTENT;
    RecordProperty("interrupted_in_flight", interrupted);

    p.cancel->store(false);
    p.onItem = nullptr;
    p.resume = true;
    Result<BatchSummary> s2 = BatchRunner::create(p)->run();
    ASSERT_TRUE(s2.ok()) << s2.status();
    EXPECT_EQ(s2->skipped, s1->ok);
    EXPECT_EQ(s2->ok + s2->skipped, size_t(kItems));
    EXPECT_EQ(s2->failed, 0u);

    // Every output exact, with the original bit-exact.
    for (const auto& [rel, src] : inputs) {
        SCOPED_TRACE(rel);
        const std::string out =
            d.str("out/" + outputRelPath(rel, p.naming, "png", target, "expand"));
        Result<cv::Mat> img = decodeImage(*readFileBytes(out));
        ASSERT_TRUE(img.ok()) << img.status();
        ASSERT_EQ(img->size(), target);
        const Plan plan = *planCanvas(src.size(), p.target);
        cv::Mat diff;
        cv::absdiff((*img)(plan.sourceRect), src, diff);
        EXPECT_EQ(cv::countNonZero(diff.reshape(1)), 0);
    }

    // The emulator saw exactly one create per task: nothing was submitted twice.
    rapidjson::Document stats;
    stats.Parse(server->statsJson().c_str());
    ASSERT_TRUE(stats.IsObject());
    size_t wantTasks = 0;
    for (const auto& [rel, src] : inputs)
        wantTasks += planCanvas(src.size(), p.target)->passes.size();
    EXPECT_EQ(stats["creates"].GetInt64(), int64_t(wantTasks)) << server->statsJson();
    ASSERT_TRUE(stats["creates_by_external_id"].IsObject());
    EXPECT_EQ(stats["creates_by_external_id"].MemberCount(), wantTasks);
    for (const auto& m : stats["creates_by_external_id"].GetObject())
        EXPECT_EQ(m.value.GetInt64(), 1) << m.name.GetString();
    // Close the client's keep-alive connections before stopping the server.
    p.provider.reset();
    prov = Status(Code::CANCELLED, "released");
    server->stop();
}

}  // namespace
}  // namespace cvgen::stages
