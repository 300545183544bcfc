#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "cvgen/core/codec.hpp"
#include "cvgen/core/planner.hpp"
#include "cvgen/stages/batch.hpp"
#include "cvgen/stages/journal.hpp"
#include "stages/stages_test_util.hpp"

namespace cvgen::stages {
namespace {

using testing::countTempFiles;
using testing::noiseImage;
using testing::ScriptedProvider;
using testing::TempDir;
using testing::writePng;
namespace fs = std::filesystem;

const cv::Size kTarget(160, 90);

/** Writes generated PNG inputs of many sizes and aspects; returns rel path → image. */
std::map<std::string, cv::Mat> makeInputs(const fs::path& dir) {
    const std::vector<std::pair<std::string, cv::Size>> specs = {
        {"wide.png", {90, 20}},       {"tall.png", {20, 70}},  {"square.png", {64, 64}},
        {"land.png", {40, 30}},       {"port.png", {30, 40}},  {"sub/a.png", {100, 56}},
        {"sub/deep/b.png", {33, 33}}, {"full.png", {160, 90}},
    };
    std::map<std::string, cv::Mat> out;
    uint32_t seed = 1;
    for (const auto& [rel, size] : specs) {
        cv::Mat m = noiseImage(size, CV_8UC3, seed++);
        writePng(dir / rel, m);
        out[rel] = m;
    }
    return out;
}

bool identical(const cv::Mat& a, const cv::Mat& b) {
    if (a.size() != b.size() || a.type() != b.type()) return false;
    cv::Mat diff;
    cv::absdiff(a, b, diff);
    return cv::countNonZero(diff.reshape(1)) == 0;
}

std::vector<rapidjson::Document> readJsonLines(const std::string& path) {
    std::vector<rapidjson::Document> docs;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        docs.emplace_back();
        docs.back().Parse(line.c_str());
        EXPECT_FALSE(docs.back().HasParseError()) << line;
    }
    return docs;
}

BatchRunner::Params baseParams(const TempDir& d) {
    BatchRunner::Params p;
    p.input = d.str("in");
    p.output = d.str("out");
    p.target = TargetSpec::exact(kTarget);
    p.concurrency = 3;
    p.preflight = false;  // the scripted provider takes any size; plans stay comparable
    return p;
}

std::string outName(const std::string& rel) {
    return outputRelPath(rel, "{stem}_{W}x{H}.{ext}", "png", kTarget, "expand");
}

TEST(Stages_Batch, outputRelPathNaming) {
    EXPECT_EQ(outputRelPath("a/b/cat.png", "{stem}_{W}x{H}.{ext}", "png", {1920, 1080}, "expand"),
              "a/b/cat_1920x1080.png");
    EXPECT_EQ(outputRelPath("cat.jpeg", "{op}-{name}.{ext}", "jpg", {1, 2}, "upscale"),
              "upscale-cat.jpeg.jpg");
    EXPECT_EQ(outputRelPath("x.png", "{stem}{unknown}.{ext}", "png", {1, 2}, "e"),
              "x{unknown}.png");
}

TEST(Stages_Batch, exactSizesUntouchedOriginalsReportAndContactSheet) {
    TempDir d;
    const auto inputs = makeInputs(d.path() / "in");
    std::map<std::string, std::vector<uint8_t>> before;
    for (const auto& [rel, m] : inputs) before[rel] = *readFileBytes(d.str("in/" + rel));

    for (bool local : {true, false}) {
        SCOPED_TRACE(local ? "offline engine" : "scripted provider");
        BatchRunner::Params p = baseParams(d);
        if (!local) p.provider = std::make_shared<ScriptedProvider>();
        std::vector<BatchProgress> progress;
        p.onProgress = [&](const BatchProgress& pr) { progress.push_back(pr); };
        Result<BatchSummary> s = BatchRunner::create(p)->run();
        ASSERT_TRUE(s.ok()) << s.status();
        EXPECT_EQ(s->total, inputs.size());
        EXPECT_EQ(s->ok, inputs.size());
        EXPECT_EQ(s->failed, 0u);
        EXPECT_EQ(s->exitCode(), 0);
        ASSERT_EQ(progress.size(), inputs.size());
        EXPECT_EQ(progress.back().finished, inputs.size());

        size_t wantTasks = 0;
        for (const auto& [rel, src] : inputs) {
            SCOPED_TRACE(rel);
            const fs::path out = d.path() / "out" / outName(rel);
            Result<std::vector<uint8_t>> bytes = readFileBytes(out.string());
            ASSERT_TRUE(bytes.ok()) << bytes.status();
            Result<cv::Mat> img = decodeImage(*bytes);
            ASSERT_TRUE(img.ok());
            ASSERT_EQ(img->size(), kTarget);
            const Plan plan = *planCanvas(src.size(), TargetSpec::exact(kTarget));
            // The offline engine plans within its own (unlimited) limits: one pass.
            wantTasks += local ? std::min<size_t>(plan.passes.size(), 1) : plan.passes.size();
            EXPECT_TRUE(identical((*img)(plan.sourceRect), src));
            EXPECT_EQ(*readFileBytes(d.str("in/" + rel)), before[rel]);  // input untouched
        }
        EXPECT_EQ(s->tasks, wantTasks);
        EXPECT_EQ(countTempFiles(d.path()), 0);

        // Report: one line per item with the documented fields, then the summary.
        auto lines = readJsonLines(s->reportPath);
        ASSERT_EQ(lines.size(), inputs.size() + 1);
        for (size_t i = 0; i + 1 < lines.size(); ++i) {
            const auto& l = lines[i];
            ASSERT_TRUE(l.IsObject());
            EXPECT_STREQ(l["type"].GetString(), "item");
            EXPECT_STREQ(l["status"].GetString(), "ok");
            EXPECT_STREQ(l["code"].GetString(), "OK");
            const std::string rel = l["rel_path"].GetString();
            EXPECT_EQ(inputs.count(rel), 1u) << rel;
            EXPECT_EQ(l["output"].GetString(), (d.path() / "out" / outName(rel)).string());
            EXPECT_EQ(l["input"].GetString(), d.str("in/" + rel));
            EXPECT_TRUE(l["task_ids"].IsArray());
            EXPECT_TRUE(l["timings_ms"].IsObject());
            EXPECT_TRUE(l["timings_ms"].HasMember("total"));
            EXPECT_EQ(l["output_width"].GetInt(), kTarget.width);
            EXPECT_TRUE(l["external_task_id"].IsString());
            EXPECT_TRUE(l.HasMember("message") && l.HasMember("provider_code"));
        }
        EXPECT_STREQ(lines.back()["type"].GetString(), "summary");
        EXPECT_EQ(lines.back()["ok"].GetInt(), int(inputs.size()));
        EXPECT_EQ(lines.back()["exit_code"].GetInt(), 0);

        EXPECT_TRUE(fs::is_regular_file(s->contactSheetHtml));
        Result<cv::Mat> sheet = decodeImage(*readFileBytes(s->contactSheetPng));
        ASSERT_TRUE(sheet.ok());
        EXPECT_GT(sheet->cols, 300);
        auto j = Journal::load(s->journalPath);
        ASSERT_TRUE(j.ok());
        for (const auto& [rel, m] : inputs) EXPECT_EQ(j->items[rel].state, ItemState::DONE);
        std::ifstream jf(s->journalPath);
        std::string line;
        size_t taskLines = 0;
        while (std::getline(jf, line))
            taskLines += line.find("\"type\":\"task\"") != std::string::npos;
        EXPECT_EQ(taskLines, wantTasks);  // one flushed line after every task
    }
}

TEST(Stages_Batch, dryRunWritesNothingAndCountsTasks) {
    TempDir d;
    const auto inputs = makeInputs(d.path() / "in");
    BatchRunner::Params p = baseParams(d);
    p.dryRun = true;
    p.imagesPerTask = 2;
    std::vector<ItemReport> items;
    p.onItem = [&](const ItemReport& r) { items.push_back(r); };
    Result<BatchSummary> s = BatchRunner::create(p)->run();
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_FALSE(fs::exists(d.path() / "out"));
    EXPECT_EQ(s->planned, inputs.size());
    size_t tasks = 0;
    for (const auto& [rel, src] : inputs)
        tasks += std::min<size_t>(  // the offline engine: one pass reaches any target
            planCanvas(src.size(), TargetSpec::exact(kTarget))->passes.size(), 1);
    EXPECT_EQ(s->tasks, tasks);
    EXPECT_EQ(s->resultImages, 2 * tasks);
    ASSERT_EQ(items.size(), inputs.size());
    for (const auto& r : items) {
        EXPECT_EQ(r.status, ItemStatus::PLANNED);
        EXPECT_EQ(r.outputSize, kTarget);
    }
}

TEST(Stages_Batch, neverOverwritesInputs) {
    TempDir d;
    makeInputs(d.path() / "in");
    BatchRunner::Params p = baseParams(d);
    p.output = d.str("in");
    EXPECT_EQ(BatchRunner::create(p)->run().code(), Code::INVALID_ARGUMENT);
    p.output = d.str("in") + "/";
    EXPECT_EQ(BatchRunner::create(p)->run().code(), Code::INVALID_ARGUMENT);

    // A naming scheme that maps an output onto an input fails that item, never writes it.
    p.input = d.str("in/sub");
    p.output = d.str("in");
    p.include = {};
    p.contactSheet = false;   // would land in the input folder's parent tree
    p.naming = "sub/{name}";  // a.png -> in/sub/a.png (an input); deep/b.png -> in/deep/sub/b.png
    auto before = *readFileBytes(d.str("in/sub/a.png"));
    std::map<std::string, ItemReport> reports;
    p.onItem = [&](const ItemReport& r) { reports[r.relPath] = r; };
    Result<BatchSummary> s = BatchRunner::create(p)->run();
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->ok, 1u);
    EXPECT_EQ(s->failed, 1u);
    EXPECT_EQ(reports["a.png"].status, ItemStatus::FAILED);
    EXPECT_EQ(reports["a.png"].code, Code::INVALID_ARGUMENT);
    EXPECT_EQ(*readFileBytes(d.str("in/sub/a.png")), before);
    fs::remove_all(d.path() / "in/deep");

    // An output folder inside the input folder is not scanned on the next run.
    p = baseParams(d);
    p.output = d.str("in/results");
    ASSERT_EQ(BatchRunner::create(p)->run()->ok, 8u);
    EXPECT_EQ(BatchRunner::create(p)->run()->total, 8u);
}

TEST(Stages_Batch, shardsPartitionTheFolder) {
    TempDir d;
    const auto inputs = makeInputs(d.path() / "in");
    std::map<std::string, int> seen;
    for (int i = 0; i < 3; ++i) {
        BatchRunner::Params p = baseParams(d);
        p.dryRun = true;
        p.shard = Shard{i, 3};
        p.onItem = [&](const ItemReport& r) { ++seen[r.relPath]; };
        ASSERT_TRUE(BatchRunner::create(p)->run().ok());
    }
    EXPECT_EQ(seen.size(), inputs.size());
    for (const auto& [rel, n] : seen) EXPECT_EQ(n, 1) << rel;
}

TEST(Stages_Batch, earlyStopWhenTheFirstItemsFailTheSameWay) {
    TempDir d;
    for (int i = 0; i < 20; ++i)
        writePng(d.path() / "in" / ("img" + std::to_string(100 + i) + ".png"),
                 noiseImage({40, 30}, CV_8UC3, uint32_t(i)));
    auto prov = std::make_shared<ScriptedProvider>();
    prov->onExpand = [](const ExpandRequest&, int) -> Result<TaskOutput> {
        return Status(Code::UNAUTHENTICATED, "invalid key").withProviderCode(1002);
    };
    BatchRunner::Params p = baseParams(d);
    p.provider = prov;
    p.concurrency = 1;
    Result<BatchSummary> s = BatchRunner::create(p)->run();
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_TRUE(s->stoppedEarly);
    EXPECT_EQ(s->failed, 5u);
    EXPECT_EQ(s->notRun, 15u);
    EXPECT_EQ(s->exitCode(), 3);
    EXPECT_EQ(prov->count("expand"), 5);
    EXPECT_NE(s->stopReason.find("UNAUTHENTICATED"), std::string::npos) << s->stopReason;
    EXPECT_NE(s->stopReason.find("1002"), std::string::npos);

    // Different failures: no early stop, every item is tried.
    prov->onExpand = [](const ExpandRequest&, int k) -> Result<TaskOutput> {
        if (k % 2) return Status(Code::NOT_FOUND, "route");
        return Status(Code::PERMISSION_DENIED, "no");
    };
    s = BatchRunner::create(p)->run();
    ASSERT_TRUE(s.ok());
    EXPECT_FALSE(s->stoppedEarly);
    EXPECT_EQ(s->failed, 20u);
    EXPECT_EQ(s->exitCode(), 1);

    // Local failures (unreadable inputs) never stop a batch early.
    TempDir d2;
    fs::create_directories(d2.path() / "in");
    for (int i = 0; i < 8; ++i) std::ofstream(d2.str("in/bad" + std::to_string(i) + ".png")) << "x";
    p = baseParams(d2);
    s = BatchRunner::create(p)->run();
    ASSERT_TRUE(s.ok());
    EXPECT_FALSE(s->stoppedEarly);
    EXPECT_EQ(s->failed, 8u);
}

TEST(Stages_Batch, retriesAreTheProvidersOneCallPerTaskAndUnknownOutcomesAreReported) {
    // Retrying is the provider's decision (the remote engine owns it): the batch makes one call
    // per task and records the outcome, whatever the code.
    TempDir d;
    for (int i = 0; i < 4; ++i)
        writePng(d.path() / "in" / ("i" + std::to_string(i) + ".png"),
                 noiseImage({40, 30}, CV_8UC3, uint32_t(i)));
    auto prov = std::make_shared<ScriptedProvider>();
    prov->onExpand = [](const ExpandRequest&, int) -> Result<TaskOutput> {
        return Status(Code::RESOURCE_EXHAUSTED, "too many tasks")
            .withProviderCode(1303)
            .withHttpStatus(429)
            .withRetryable(true)
            .withRetryAfter(std::chrono::milliseconds(5));
    };
    BatchRunner::Params p = baseParams(d);
    p.provider = prov;
    p.concurrency = 2;
    p.earlyStopAfter = 0;
    p.target = TargetSpec::exact({60, 30});  // one pass each
    std::map<std::string, ItemReport> reports;
    p.onItem = [&](const ItemReport& r) { reports[r.relPath] = r; };
    Result<BatchSummary> s = BatchRunner::create(p)->run();
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->failed, 4u);
    EXPECT_EQ(prov->count("expand"), 4);
    for (const auto& [rel, r] : reports) {
        EXPECT_EQ(r.code, Code::RESOURCE_EXHAUSTED) << rel;
        EXPECT_EQ(r.providerCode, 1303) << rel;
        EXPECT_EQ(r.attempts, 1) << rel;
    }

    // A create that may have been processed without a lookup route: one call, and the report
    // says what to check.
    prov->onExpand = [](const ExpandRequest& r, int) -> Result<TaskOutput> {
        return Status(Code::OUTCOME_UNKNOWN, "no answer").withTask("", r.task.externalTaskId);
    };
    p.include = {"i0.png"};
    reports.clear();
    const int before = prov->count("expand");
    s = BatchRunner::create(p)->run();
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->failed, 1u);
    EXPECT_EQ(prov->count("expand") - before, 1);
    const ItemReport& r = reports.at("i0.png");
    EXPECT_EQ(r.code, Code::OUTCOME_UNKNOWN);
    ASSERT_FALSE(r.warnings.empty());
    EXPECT_NE(r.warnings.back().find(r.externalTaskId), std::string::npos);
    EXPECT_NE(r.warnings.back().find("not re-sent"), std::string::npos);
}

TEST(Stages_Batch, resumeAfterACrashRedoesNothingThatWasDone) {
    TempDir d;
    const auto inputs = makeInputs(d.path() / "in");
    std::ofstream(d.str("in/corrupt.png")) << "not a png";
    auto prov = std::make_shared<ScriptedProvider>();
    BatchRunner::Params p = baseParams(d);
    p.provider = prov;
    Result<BatchSummary> s = BatchRunner::create(p)->run();
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->ok, inputs.size());
    EXPECT_EQ(s->failed, 1u);

    // Simulate a crash: two items lose their outcome (intent only), one of them also its
    // output, and the last line is torn.
    const std::string jpath = s->journalPath;
    std::vector<std::string> lines;
    {
        std::ifstream in(jpath);
        std::string l;
        while (std::getline(in, l)) {
            const bool drop = l.find("\"type\":\"done\"") != std::string::npos &&
                              (l.find("\"item\":\"tall.png\"") != std::string::npos ||
                               l.find("\"item\":\"sub/a.png\"") != std::string::npos);
            if (!drop) lines.push_back(l);
        }
    }
    {
        std::ofstream out(jpath, std::ios::trunc);
        for (const auto& l : lines) out << l << "\n";
        out << R"({"type":"done","item":"squ)";
    }
    fs::remove(d.path() / "out" / outName("tall.png"));
    const auto keptTime = fs::last_write_time(d.path() / "out" / outName("wide.png"));

    const int expandsBefore = prov->count("expand");
    p.resume = true;
    s = BatchRunner::create(p)->run();
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->skipped, inputs.size() - 2);
    EXPECT_EQ(s->ok, 2u);
    EXPECT_EQ(s->failed, 1u);  // the corrupt file, not retried without retryFailed
    // Only the two interrupted items went to the provider, each resumed first by its key.
    int resumes = 0;
    for (const auto& c : prov->calls())
        if (c.kind == "resume") ++resumes;
    EXPECT_EQ(resumes, int(planCanvas(inputs.at("tall.png").size(), p.target)->passes.size() +
                           planCanvas(inputs.at("sub/a.png").size(), p.target)->passes.size()));
    EXPECT_EQ(prov->count("expand") - expandsBefore, resumes);
    EXPECT_EQ(fs::last_write_time(d.path() / "out" / outName("wide.png")), keptTime);
    for (const auto& [rel, src] : inputs) {
        Result<cv::Mat> img =
            decodeImage(*readFileBytes((d.path() / "out" / outName(rel)).string()));
        ASSERT_TRUE(img.ok()) << rel;
        EXPECT_EQ(img->size(), kTarget);
    }
    auto j = Journal::load(jpath);
    ASSERT_TRUE(j.ok());
    EXPECT_EQ(j->items["corrupt.png"].state, ItemState::FAILED);
    EXPECT_EQ(j->items["corrupt.png"].code, "INVALID_ARGUMENT");  // not an image

    // --retry-failed retries it (and it fails again, for the same reason).
    std::map<std::string, ItemReport> reports;
    p.onItem = [&](const ItemReport& r) { reports[r.relPath] = r; };
    p.retryFailed = true;
    s = BatchRunner::create(p)->run();
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->skipped, inputs.size());
    EXPECT_EQ(s->failed, 1u);
    EXPECT_EQ(reports["corrupt.png"].message.find("earlier run"), std::string::npos);
    EXPECT_EQ(reports["corrupt.png"].code, Code::INVALID_ARGUMENT);
    p.retryFailed = false;
    s = BatchRunner::create(p)->run();
    EXPECT_NE(reports["corrupt.png"].message.find("earlier run"), std::string::npos);

    // A journal written for other parameters is refused.
    p.target = TargetSpec::exact({200, 100});
    EXPECT_EQ(BatchRunner::create(p)->run().code(), Code::FAILED_PRECONDITION);
}

TEST(Stages_Batch, slotsBoundTasksInFlightByImagesPerTask) {
    TempDir d;
    for (int i = 0; i < 8; ++i)
        writePng(d.path() / "in" / ("i" + std::to_string(i) + ".png"),
                 noiseImage({40, 30}, CV_8UC3, uint32_t(i)));
    auto prov = std::make_shared<ScriptedProvider>();
    std::atomic<int> inFlight{0}, maxInFlight{0};
    prov->onExpand = [&](const ExpandRequest& r, int k) -> Result<TaskOutput> {
        const int now = ++inFlight;
        int seen = maxInFlight.load();
        while (now > seen && !maxInFlight.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(15));
        --inFlight;
        return ScriptedProvider::fill(r, k);
    };
    struct Case {
        int concurrency, n, wantMax;
    };
    for (const Case c : {Case{4, 1, 4}, Case{4, 2, 2}, Case{4, 3, 1}, Case{2, 9, 1}}) {
        SCOPED_TRACE(::testing::Message() << c.concurrency << " slots, n=" << c.n);
        BatchRunner::Params p = baseParams(d);
        p.provider = prov;
        p.concurrency = c.concurrency;
        p.imagesPerTask = c.n;
        p.target = TargetSpec::exact({60, 30});
        p.contactSheet = false;
        maxInFlight = 0;
        Result<BatchSummary> s = BatchRunner::create(p)->run();
        ASSERT_TRUE(s.ok()) << s.status();
        EXPECT_EQ(s->ok, 8u);
        EXPECT_LE(maxInFlight.load(), c.wantMax);
        if (c.wantMax > 1) {
            EXPECT_GE(maxInFlight.load(), 2);
        }
        EXPECT_EQ(s->resultImages, 8u * size_t(c.n));
    }
}

TEST(Stages_Batch, upscaleOperation) {
    TempDir d;
    writePng(d.path() / "in/a.png", noiseImage({30, 20}, CV_8UC3, 1));
    writePng(d.path() / "in/b/c.png", noiseImage({10, 40}, CV_8UC1, 2));
    BatchRunner::Params p = baseParams(d);
    p.op = BatchOp::UPSCALE;
    p.scale = 2;
    p.naming = "{stem}_x2.{ext}";
    Result<BatchSummary> s = BatchRunner::create(p)->run();
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->ok, 2u);
    EXPECT_EQ(decodeImage(*readFileBytes(d.str("out/a_x2.png")))->size(), cv::Size(60, 40));
    EXPECT_EQ(decodeImage(*readFileBytes(d.str("out/b/c_x2.png")))->size(), cv::Size(20, 80));
}

TEST(Stages_Batch, anExceptionFailsTheItemNotTheBatch) {
    TempDir d;
    for (int i = 0; i < 3; ++i)
        writePng(d.path() / "in" / ("i" + std::to_string(i) + ".png"),
                 noiseImage({40, 30}, CV_8UC3, uint32_t(i)));
    auto prov = std::make_shared<ScriptedProvider>();
    prov->onExpand = [](const ExpandRequest& r, int k) -> Result<TaskOutput> {
        if (r.image.mat.cols == 40 && k == 1) throw std::runtime_error("engine bug");
        return ScriptedProvider::fill(r, k);
    };
    BatchRunner::Params p = baseParams(d);
    p.provider = prov;
    p.concurrency = 1;
    p.target = TargetSpec::exact({60, 30});
    std::map<std::string, ItemReport> reports;
    p.onItem = [&](const ItemReport& r) { reports[r.relPath] = r; };
    Result<BatchSummary> s = BatchRunner::create(p)->run();
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->ok, 2u);
    EXPECT_EQ(s->failed, 1u);
    // Items start in any order (reading runs on the CPU pool): whichever made the second call.
    int internal = 0;
    for (const auto& [rel, r] : reports)
        if (r.status == ItemStatus::FAILED) {
            ++internal;
            EXPECT_EQ(r.code, Code::INTERNAL) << rel;
            EXPECT_NE(r.message.find("engine bug"), std::string::npos) << rel;
        }
    EXPECT_EQ(internal, 1);
}

TEST(Stages_Batch, invalidParamsThrow) {
    BatchRunner::Params p;
    p.input = "a";
    p.output = "b";
    EXPECT_NO_THROW(BatchRunner::create(p));
    auto bad = [&](auto mutate) {
        BatchRunner::Params q = p;
        mutate(q);
        EXPECT_THROW(BatchRunner::create(q), std::invalid_argument);
    };
    bad([](BatchRunner::Params& q) { q.concurrency = 0; });
    bad([](BatchRunner::Params& q) { q.concurrency = 10001; });
    bad([](BatchRunner::Params& q) { q.imagesPerTask = 10; });
    bad([](BatchRunner::Params& q) { q.input.clear(); });
    bad([](BatchRunner::Params& q) { q.shard = Shard{2, 2}; });
    bad([](BatchRunner::Params& q) {
        q.op = BatchOp::UPSCALE;
        q.scale = 1.0;
    });
}

}  // namespace
}  // namespace cvgen::stages
