// Crash and resume: `cvgen batch` against a `cvgen serve` child, SIGKILLed at several points
// (black-box, timed from the journal and the emulator's counters), then resumed with --resume:
// every output present and fully decodable, no temporary file left, no create repeated.
#include <gtest/gtest.h>

#include "cvgen/core/codec.hpp"
#include "cvgen/stages/batch.hpp"
#include "reliability/rel_util.hpp"

namespace cvgen::reliability {
namespace {

int countLines(const std::string& text, const std::string& needle) {
    int n = 0;
    for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
    return n;
}

enum class KillPoint { BEFORE_INTENT, AFTER_INTENT, MID_DOWNLOAD, AFTER_FIRST_WRITE };

struct CrashCase {
    const char* name;
    KillPoint point;
};

class Reliability_CrashResume : public ::testing::TestWithParam<CrashCase> {};

TEST_P(Reliability_CrashResume, killedBatchResumesWithEveryOutputAndNoRepeatedCreate) {
    const CrashCase& c = GetParam();
    TempDir d;
    const int kItems = 8;
    const cv::Size target(352, 352);
    for (int i = 0; i < kItems; ++i)
        writePng(d.path() / "in" / ("p" + std::to_string(i) + ".png"),
                 noiseImage({320, 320}, CV_8UC3, uint32_t(40 + i)));
    std::vector<std::string> serveArgs = {"--api-key", "crash-key", "--latency", "0.3"};
    if (c.point == KillPoint::MID_DOWNLOAD) {
        // Result downloads held back 1.5 s: the kill lands while one is in flight.
        writeText(d.str("faults.json"),
                  R"([{"kind":"slow","route":"/_emulator/results","delay_ms":1500}])");
        serveArgs.insert(serveArgs.end(), {"--faults", d.str("faults.json")});
    }
    ServeChild serve(serveArgs, d.path());
    ASSERT_TRUE(serve.ok()) << serve.output();
    const std::map<std::string, std::string> env = {{"CVGEN_API_KEY", "crash-key"}};
    std::vector<std::string> args = {
        cliPath(),       "batch",      d.str("in"),       d.str("out"), "--target",
        "352x352",       "--provider", "anyapi",          "--base-url", serve.baseUrl(),
        "--concurrency", "2",          "--contact-sheet", "none",       "-q"};
    const std::string journal = d.str("out/.cvgen-journal.jsonl");
    {
        Child batch(args, d.str("b1.out"), d.str("b1.err"), env);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        bool killed = false;
        while (!killed && std::chrono::steady_clock::now() < until && batch.running()) {
            const std::string j = readText(journal);
            const int intents = countLines(j, "\"type\":\"intent\"");
            const int dones = countLines(j, "\"type\":\"done\"");
            bool now = false;
            switch (c.point) {
                case KillPoint::BEFORE_INTENT:
                    now = true;
                    break;  // right after the start
                case KillPoint::AFTER_INTENT:
                    now = intents > dones;
                    break;
                case KillPoint::MID_DOWNLOAD:
                    now =
                        intents > 0 &&
                        httpGet(serve.baseUrl() + "/_emulator/stats").find("/_emulator/results") !=
                            std::string::npos;
                    break;
                case KillPoint::AFTER_FIRST_WRITE:
                    now = dones >= 1;
                    break;
            }
            if (now) {
                batch.kill(SIGKILL);
                killed = true;
            } else {
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
        }
        const int rc = batch.wait();
        ASSERT_TRUE(killed) << "the batch ended (rc " << rc << ") before the kill point";
        EXPECT_EQ(rc, -SIGKILL);
        RecordProperty("journal_at_kill", readText(journal));
    }
    args.push_back("--resume");
    std::string out, err;
    EXPECT_EQ(runCli(args, &out, &err, env, d.path()), 0) << out << err;

    for (int i = 0; i < kItems; ++i) {
        const std::string rel = "p" + std::to_string(i) + ".png";
        SCOPED_TRACE(rel);
        const std::string path = d.str(
            "out/" + stages::outputRelPath(rel, "{stem}_{W}x{H}.{ext}", "png", target, "expand"));
        auto bytes = readFileBytes(path);
        ASSERT_TRUE(bytes.ok()) << bytes.status();
        auto img = decodeImage(*bytes);  // fully decodable: not half-written
        ASSERT_TRUE(img.ok()) << img.status();
        EXPECT_EQ(img->size(), target);
    }
    EXPECT_EQ(countTempFiles(d.path() / "out"), 0);
    std::string why;
    const int ids =
        expectOneCreatePerExternalId(httpGet(serve.baseUrl() + "/_emulator/stats"), &why);
    EXPECT_TRUE(why.empty()) << why;
    EXPECT_EQ(ids, kItems);
}

INSTANTIATE_TEST_SUITE_P(
    Points, Reliability_CrashResume,
    ::testing::Values(CrashCase{"before_intent", KillPoint::BEFORE_INTENT},
                      CrashCase{"after_intent", KillPoint::AFTER_INTENT},
                      CrashCase{"mid_download", KillPoint::MID_DOWNLOAD},
                      CrashCase{"after_first_write", KillPoint::AFTER_FIRST_WRITE}),
    [](const ::testing::TestParamInfo<CrashCase>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace cvgen::reliability
