// SIGTERM during a batch with 200 tasks in flight: `cvgen batch` (a child, against a `cvgen
// serve` child) exits promptly with nothing half-written and a journal that loads; --resume
// then collects every task the provider still ran, creating none of them twice.
#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include "cvgen/core/codec.hpp"
#include "cvgen/stages/batch.hpp"
#include "cvgen/stages/journal.hpp"
#include "reliability/rel_util.hpp"

namespace cvgen::reliability {
namespace {

int64_t statsMember(const std::string& json, const char* key) {
    rapidjson::Document d;
    d.Parse(json.c_str());
    return d.IsObject() && d.HasMember(key) && d[key].IsInt64() ? d[key].GetInt64() : -1;
}

TEST(Reliability_SignalStop, sigtermWith200InFlightExitsPromptlyAndResumeCreatesNothingTwice) {
    TempDir d;
    const int kItems = 200;
    const cv::Size target(400, 300);
    for (int i = 0; i < kItems; ++i)
        writePng(d.path() / "in" / ("p" + std::to_string(i) + ".png"),
                 noiseImage({320, 240}, CV_8UC3, uint32_t(900 + i)));
    // Tasks of 6 s: every one of them is still running when the signal comes.
    ServeChild serve(
        {"--api-key", "sig-key", "--latency", "6", "--render", "fast", "--concurrency", "1000"},
        d.path());
    ASSERT_TRUE(serve.ok()) << serve.output();
    const std::map<std::string, std::string> env = {{"CVGEN_API_KEY", "sig-key"}};
    std::vector<std::string> args = {
        cliPath(),       "batch",      d.str("in"),       d.str("out"), "--target",
        "400x300",       "--provider", "anyapi",          "--base-url", serve.baseUrl(),
        "--concurrency", "200",        "--contact-sheet", "none",       "-q"};
    double exitSeconds = 0;
    {
        Child batch(args, d.str("b1.out"), d.str("b1.err"), env);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        int64_t creates = 0;
        while (batch.running() && std::chrono::steady_clock::now() < until) {
            creates = statsMember(httpGet(serve.baseUrl() + "/_emulator/stats"), "creates");
            if (creates >= kItems) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        ASSERT_EQ(creates, kItems) << "not every task got created: " << readText(d.str("b1.err"));
        const auto t0 = std::chrono::steady_clock::now();
        batch.kill(SIGTERM);
        const int rc = batch.wait();
        exitSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        EXPECT_EQ(rc, 3) << readText(d.str("b1.err"));  // cancelled: rerun with --resume
        EXPECT_NE(readText(d.str("b1.err")).find("interrupted"), std::string::npos);
    }
    RecordProperty("exit_ms", int(exitSeconds * 1000));
    std::printf("SIGTERM with %d tasks in flight: exited in %.0f ms\n", kItems, exitSeconds * 1e3);
    // The figure is 1 s; the bound here leaves room for a loaded CI machine.
    EXPECT_LT(exitSeconds, 3.0);
    EXPECT_EQ(countTempFiles(d.path() / "out"), 0);
    const std::string journal = d.str("out/.cvgen-journal.jsonl");
    auto j = stages::Journal::load(journal);
    ASSERT_TRUE(j.ok()) << j.status();
    EXPECT_EQ(j->items.size(), size_t(kItems));  // an intent for every task created

    args.push_back("--resume");
    std::string out, err;
    EXPECT_EQ(runCli(args, &out, &err, env, d.path()), 0) << out << err;
    for (int i = 0; i < kItems; ++i) {
        const std::string rel = "p" + std::to_string(i) + ".png";
        const std::string path = d.str(
            "out/" + stages::outputRelPath(rel, "{stem}_{W}x{H}.{ext}", "png", target, "expand"));
        auto bytes = readFileBytes(path);
        ASSERT_TRUE(bytes.ok()) << rel << ": " << bytes.status();
        auto img = decodeImage(*bytes);
        ASSERT_TRUE(img.ok()) << rel << ": " << img.status();
        EXPECT_EQ(img->size(), target);
    }
    EXPECT_EQ(countTempFiles(d.path() / "out"), 0);
    std::string why;
    const std::string stats = httpGet(serve.baseUrl() + "/_emulator/stats");
    EXPECT_EQ(expectOneCreatePerExternalId(stats, &why), kItems);
    EXPECT_TRUE(why.empty()) << why;
    EXPECT_EQ(statsMember(stats, "creates"), kItems);
}

}  // namespace
}  // namespace cvgen::reliability
