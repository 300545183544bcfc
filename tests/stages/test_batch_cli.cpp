// The cvgen CLI end to end: `cvgen batch` killed with SIGKILL mid-batch, then resumed.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <thread>

#include "cvgen/core/codec.hpp"
#include "cvgen/core/planner.hpp"
#include "cvgen/stages/journal.hpp"
#include "stages/stages_test_util.hpp"

namespace cvgen::stages {
namespace {

using testing::countTempFiles;
using testing::noiseImage;
using testing::TempDir;
using testing::writePng;
namespace fs = std::filesystem;

const char* cliPath() {
    return CVGEN_CLI_PATH;
}

pid_t spawn(const std::vector<std::string>& args, const std::string& logPath) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        FILE* log = std::fopen(logPath.c_str(), "w");
        if (log) {
            ::dup2(fileno(log), 1);
            ::dup2(fileno(log), 2);
        }
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    return pid;
}

int waitExit(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

int countLines(const std::string& path, const std::string& needle) {
    std::ifstream in(path);
    std::string l;
    int n = 0;
    while (std::getline(in, l)) n += l.find(needle) != std::string::npos;
    return n;
}

TEST(Stages_BatchCli, sigkillMidBatchThenResumeFinishesWithoutRedoingWork) {
    if (std::string(cliPath()).empty()) GTEST_SKIP() << "cvgen CLI not built";
    TempDir d;
    const int kItems = 24;
    const cv::Size target(640, 360);
    std::map<std::string, cv::Mat> inputs;
    for (int i = 0; i < kItems; ++i) {
        const std::string rel =
            (i % 2 ? "a/" : "b/") + std::string("img") + std::to_string(100 + i) + ".png";
        inputs[rel] = noiseImage({200 + i, 150}, CV_8UC3, uint32_t(i));
        writePng(d.path() / "in" / rel, inputs[rel]);
    }
    const std::string journal = d.str("out/.cvgen-journal.jsonl");
    const std::vector<std::string> args = {cliPath(),       "batch",  d.str("in"), d.str("out"),
                                           "--op",          "expand", "--target",  "640x360",
                                           "--concurrency", "1",      "-q"};
    const pid_t pid = spawn(args, d.str("run1.log"));
    ASSERT_GT(pid, 0);
    // Kill it once a few items are done (well before the end).
    bool killed = false;
    for (int spin = 0; spin < 6000; ++spin) {
        if (countLines(journal, "\"type\":\"done\"") >= 3) {
            ::kill(pid, SIGKILL);
            killed = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const int rc1 = waitExit(pid);
    ASSERT_TRUE(killed) << "the batch never got going; exit " << rc1;
    EXPECT_EQ(rc1, -SIGKILL) << "finished before the kill: make the batch longer";

    // What was done before the kill, and when its output was written.
    auto before = Journal::load(journal);
    ASSERT_TRUE(before.ok()) << before.status();
    std::map<std::string, std::pair<fs::file_time_type, ino_t>> doneBefore;
    for (const auto& [rel, it] : before->items) {
        if (it.state != ItemState::DONE) continue;
        struct stat st {};
        ASSERT_EQ(::stat(it.output.c_str(), &st), 0) << it.output;
        doneBefore[rel] = {fs::last_write_time(it.output), st.st_ino};
    }
    ASSERT_GE(doneBefore.size(), 3u);
    ASSERT_LT(doneBefore.size(), size_t(kItems));

    std::vector<std::string> resumeArgs = args;
    resumeArgs.push_back("--resume");
    const int rc2 = waitExit(spawn(resumeArgs, d.str("run2.log")));
    std::ifstream log2(d.str("run2.log"));
    const std::string log2Text((std::istreambuf_iterator<char>(log2)),
                               std::istreambuf_iterator<char>());
    ASSERT_EQ(rc2, 0) << log2Text;

    // Every output present, decodable, exact, with the original bit-exact.
    for (const auto& [rel, src] : inputs) {
        SCOPED_TRACE(rel);
        const fs::path stem = fs::path(rel).parent_path() / fs::path(rel).stem();
        const fs::path out = d.path() / "out" / (stem.string() + "_640x360.png");
        Result<std::vector<uint8_t>> bytes = readFileBytes(out.string());
        ASSERT_TRUE(bytes.ok()) << bytes.status();
        Result<cv::Mat> img = decodeImage(*bytes);
        ASSERT_TRUE(img.ok()) << img.status();
        ASSERT_EQ(img->size(), target);
        const Plan plan = *planCanvas(src.size(), TargetSpec::exact(target));
        cv::Mat diff;
        cv::absdiff((*img)(plan.sourceRect), src, diff);
        EXPECT_EQ(cv::countNonZero(diff.reshape(1)), 0);
    }
    EXPECT_EQ(countTempFiles(d.path() / "out"), 0);

    // Nothing done before the kill was redone: same file, same time.
    for (const auto& [rel, stamp] : doneBefore) {
        SCOPED_TRACE(rel);
        const auto it = Journal::load(journal)->items[rel];
        struct stat st {};
        ASSERT_EQ(::stat(it.output.c_str(), &st), 0);
        EXPECT_EQ(fs::last_write_time(it.output), stamp.first);
        EXPECT_EQ(st.st_ino, stamp.second);
    }
    EXPECT_EQ(countLines(d.str("out/report.jsonl"), "\"status\":\"skipped\""),
              int(doneBefore.size()));
    EXPECT_EQ(countLines(d.str("out/report.jsonl"), "\"status\":\"ok\""),
              kItems - int(doneBefore.size()));
    auto after = Journal::load(journal);
    ASSERT_TRUE(after.ok());
    for (const auto& [rel, it] : after->items) EXPECT_EQ(it.state, ItemState::DONE) << rel;
}

TEST(Stages_BatchCli, usageErrorsAndDryRunExitCodes) {
    if (std::string(cliPath()).empty()) GTEST_SKIP() << "cvgen CLI not built";
    TempDir d;
    writePng(d.path() / "in/a.png", noiseImage({50, 40}, CV_8UC3, 1));
    const std::string in = d.str("in"), out = d.str("out"), log = d.str("log");
    auto run = [&](std::vector<std::string> extra) {
        std::vector<std::string> a = {cliPath(), "batch", in, out};
        a.insert(a.end(), extra.begin(), extra.end());
        return waitExit(spawn(a, log));
    };
    EXPECT_EQ(run({"--target", "100x80", "--dry-run"}), 0);
    EXPECT_FALSE(fs::exists(out));
    EXPECT_EQ(run({"--target", "bogus"}), 2);
    EXPECT_EQ(run({"--target", "100x80", "--shard", "3/3"}), 2);
    EXPECT_EQ(run({"--target", "100x80", "--op", "explode"}), 2);
    EXPECT_EQ(run({}), 2);  // expand needs a target
    EXPECT_EQ(waitExit(spawn({cliPath(), "batch", in, in, "--target", "100x80"}, log)), 2);
    EXPECT_EQ(run({"--target", "10x10"}), 1);  // smaller than the image: the item fails
    EXPECT_EQ(run({"--target", "100x80"}), 0);
    EXPECT_TRUE(fs::exists(d.path() / "out/a_100x80.png"));
    EXPECT_TRUE(fs::exists(d.path() / "out/contact_sheet.html"));
    EXPECT_EQ(waitExit(spawn({cliPath(), "batch", "--help"}, log)), 0);
}

}  // namespace
}  // namespace cvgen::stages
