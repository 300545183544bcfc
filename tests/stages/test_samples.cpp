// The samples run end to end, as a user runs them: each binary is started as a child process with
// its inputs and outputs on the command line, and its outputs are checked (files, exact sizes, the
// originals' pixels bit-exact where the plan put them, the report, the emulator's routes).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "cvgen/core/planner.hpp"
#include "cvgen/emulator/server.hpp"
#include "stages/stages_test_util.hpp"

#ifndef CVGEN_SAMPLES_BIN_DIR
#define CVGEN_SAMPLES_BIN_DIR ""
#endif

namespace cvgen::stages {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

struct RunResult {
    int exitCode = -1;
    std::string output;  // stdout and stderr, interleaved
};

std::string samplePath(const std::string& name) {
    return std::string(CVGEN_SAMPLES_BIN_DIR) + "/sample_" + name;
}

// Runs a sample from the source tree's root (where its defaults point), with demo keys in the
// environment so a developer's real keys never reach a test. Everything the child needs is
// prepared before fork(): between fork and exec it only makes async-signal-safe calls (the
// emulator's threads may hold locks, e.g. malloc's, at the moment of the fork).
RunResult runSample(const std::string& name, const std::vector<std::string>& args,
                    const TempDir& dir) {
    const std::string log = dir.str("sample.log");
    std::vector<std::string> all = {samplePath(name)};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env = {"CVGEN_API_KEY=demo-key", "KLING_ACCESS_KEY=demo-access",
                                    "KLING_SECRET_KEY=demo-secret", "IDEOGRAM_API_KEY=demo-key"};
    for (char** e = environ; *e; ++e) {
        const std::string kv = *e;
        const std::string key = kv.substr(0, kv.find('='));
        if (key != "CVGEN_API_KEY" && key != "KLING_ACCESS_KEY" && key != "KLING_SECRET_KEY" &&
            key != "IDEOGRAM_API_KEY")
            env.push_back(kv);
    }
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return {};
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(fd, 1);  // dup2 clears O_CLOEXEC on the copies
        ::dup2(fd, 2);
        if (::chdir(CVGEN_SOURCE_DIR) != 0) ::_exit(126);
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    ::close(fd);
    RunResult r;
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    r.output = ss.str();
    return r;
}

bool samplesBuilt() {
    return fs::exists(samplePath("embed_pipeline")) && fs::exists(samplePath("batch_folder")) &&
           fs::exists(samplePath("target_size_outpaint")) &&
           fs::exists(samplePath("remote_providers"));
}

#define SKIP_WITHOUT_SAMPLES()                                                              \
    do {                                                                                    \
        if (!samplesBuilt()) GTEST_SKIP() << "samples not built in " CVGEN_SAMPLES_BIN_DIR; \
        if (!fs::exists(CVGEN_SAMPLES_DATA "/coffee.png"))                                  \
            GTEST_SKIP() << "sample photos missing (scripts/setup.sh)";                     \
    } while (0)

const std::vector<std::string> kPhotos = {"astronaut.png", "chelsea.png", "coffee.png",
                                          "rocket.jpg"};

std::string stemOf(const std::string& file) {
    return fs::path(file).stem().string();
}

// The original must sit bit-exact at the plan's rectangle (lossless outputs).
void expectOriginalAt(const cv::Mat& out, const cv::Mat& original, const Plan& plan) {
    ASSERT_EQ(out.size(), plan.target);
    ASSERT_EQ(out.type(), original.type());
    EXPECT_EQ(cv::norm(out(plan.sourceRect), original, cv::NORM_INF), 0.0);
}

TEST(Stages_Samples, embedPipelineExpandsEachCropTo16x9ThenUpscales) {
    SKIP_WITHOUT_SAMPLES();
    TempDir d;
    const RunResult r =
        runSample("embed_pipeline", {CVGEN_SAMPLES_DATA, d.str("out"), "640x360", "2"}, d);
    ASSERT_EQ(r.exitCode, 0) << r.output;
    EXPECT_NE(r.output.find("4 of 4 images done"), std::string::npos) << r.output;
    for (const std::string& photo : kPhotos) {
        SCOPED_TRACE(photo);
        const cv::Mat input = cv::imread(std::string(CVGEN_SAMPLES_DATA) + "/" + photo);
        const cv::Mat roi = cv::imread(d.str("out/" + stemOf(photo) + "_roi.png"));
        const cv::Mat out = cv::imread(d.str("out/" + stemOf(photo) + "_1280x720.png"));
        ASSERT_FALSE(roi.empty());
        ASSERT_FALSE(out.empty());
        EXPECT_LE(roi.cols, input.cols);
        EXPECT_LE(roi.rows, input.rows);
        EXPECT_GE(std::min(roi.cols, roi.rows), 64);
        EXPECT_EQ(out.size(), cv::Size(1280, 720));  // 640x360 (16:9), then ×2
    }
}

TEST(Stages_Samples, embedPipelineRejectsBadArgumentsAndMissingFolders) {
    SKIP_WITHOUT_SAMPLES();
    TempDir d;
    EXPECT_EQ(runSample("embed_pipeline", {CVGEN_SAMPLES_DATA, d.str("o"), "wide"}, d).exitCode, 2);
    EXPECT_EQ(
        runSample("embed_pipeline", {CVGEN_SAMPLES_DATA, d.str("o"), "640x360", "1"}, d).exitCode,
        2);
    EXPECT_EQ(runSample("embed_pipeline", {d.str("nope"), d.str("o")}, d).exitCode, 2);
    TempDir empty;
    EXPECT_EQ(runSample("embed_pipeline", {empty.str(), d.str("o")}, d).exitCode, 1);
}

TEST(Stages_Samples, batchFolderWritesEveryOutputTheReportAndTheContactSheet) {
    SKIP_WITHOUT_SAMPLES();
    TempDir d;
    const RunResult r =
        runSample("batch_folder", {CVGEN_SAMPLES_DATA, d.str("out"), "16:9@720p"}, d);
    ASSERT_EQ(r.exitCode, 0) << r.output;
    EXPECT_NE(r.output.find("[4/4]"), std::string::npos) << r.output;  // the progress callback
    EXPECT_NE(r.output.find("4 items: 4 ok, 0 failed"), std::string::npos) << r.output;
    for (const std::string& photo : kPhotos) {
        SCOPED_TRACE(photo);
        const cv::Mat out =
            cv::imread(d.str("out/" + stemOf(photo) + "_1280x720.png"), cv::IMREAD_UNCHANGED);
        ASSERT_FALSE(out.empty());
        EXPECT_EQ(out.size(), cv::Size(1280, 720));
        if (fs::path(photo).extension() == ".png") {
            const cv::Mat in =
                cv::imread(std::string(CVGEN_SAMPLES_DATA) + "/" + photo, cv::IMREAD_UNCHANGED);
            auto plan = planCanvas(in.size(), TargetSpec::exact({1280, 720}));
            ASSERT_TRUE(plan.ok()) << plan.status();
            expectOriginalAt(out, in, *plan);
        }
    }
    std::ifstream report(d.str("out/report.jsonl"));
    int items = 0, ok = 0, summaries = 0;
    for (std::string line; std::getline(report, line);) {
        items += line.find("\"type\":\"item\"") != std::string::npos;
        ok += line.find("\"status\":\"ok\"") != std::string::npos;
        summaries += line.find("\"type\":\"summary\"") != std::string::npos;
    }
    EXPECT_EQ(items, 4);
    EXPECT_EQ(ok, 4);
    EXPECT_EQ(summaries, 1);
    EXPECT_TRUE(fs::exists(d.str("out/contact_sheet.png")));
    EXPECT_TRUE(fs::exists(d.str("out/contact_sheet.html")));
}

TEST(Stages_Samples, batchFolderFailsOnAMissingInput) {
    SKIP_WITHOUT_SAMPLES();
    TempDir d;
    EXPECT_EQ(runSample("batch_folder", {d.str("missing"), d.str("out")}, d).exitCode, 2);
    EXPECT_EQ(runSample("batch_folder", {CVGEN_SAMPLES_DATA, d.str("out"), "16:0"}, d).exitCode, 2);
}

TEST(Stages_Samples, targetSizeOutpaintReachesEveryCanvasWithTheOriginalUntouched) {
    SKIP_WITHOUT_SAMPLES();
    TempDir d;
    const std::string image = std::string(CVGEN_SAMPLES_DATA) + "/coffee.png";
    const RunResult r = runSample("target_size_outpaint", {image, d.str("out")}, d);
    ASSERT_EQ(r.exitCode, 0) << r.output;
    EXPECT_NE(r.output.find("pass 2:"), std::string::npos) << r.output;  // 1920x1080: 2 passes
    const cv::Mat original = cv::imread(image, cv::IMREAD_COLOR);
    struct Case {
        const char* file;
        const char* target;
        const char* anchor;
        cv::Size size;
    };
    const Case cases[] = {
        {"target_1_1920x1080_center.png", "1920x1080", "center", {1920, 1080}},
        {"target_2_1068x600_left.png", "16:9@1.5x", "left", {1068, 600}},
        {"target_3_1080x1920_top.png", "1080x1920", "top", {1080, 1920}},
        {"target_4_720x720_bottom-right.png", "1:1@720p", "bottom-right", {720, 720}},
        {"target_5_1000x500_40_20.png", "1000x500", "40,20", {1000, 500}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.file);
        const cv::Mat out = cv::imread(d.str(std::string("out/") + c.file), cv::IMREAD_COLOR);
        ASSERT_FALSE(out.empty());
        EXPECT_EQ(out.size(), c.size);
        auto plan = planCanvas(original.size(), *parseTarget(c.target), *parsePlacement(c.anchor));
        ASSERT_TRUE(plan.ok()) << plan.status();
        expectOriginalAt(out, original, *plan);
    }
    EXPECT_EQ(runSample("target_size_outpaint", {d.str("missing.png"), d.str("out2")}, d).exitCode,
              1);
}

// Against an emulator the test owns, on 127.0.0.1: every profile's create lands on its own
// dialect's route.
TEST(Stages_Samples, remoteProvidersExpandThroughEveryProfileAgainstTheEmulator) {
    SKIP_WITHOUT_SAMPLES();
    TempDir d;
    emulator::Params ep;
    ep.apiKeys = {"demo-key"};
    ep.accessKey = "demo-access";
    ep.secretKey = "demo-secret";
    ep.latency = std::chrono::milliseconds(100);
    auto server = emulator::Server::create(ep);
    ASSERT_TRUE(server->start().ok());
    const std::string image = std::string(CVGEN_SAMPLES_DATA) + "/chelsea.png";
    const RunResult r = runSample(
        "remote_providers",
        {"--base-url", server->baseUrl(), image, d.str("out"),
         std::string(CVGEN_SOURCE_DIR) + "/samples/profiles/my_aggregator.json", "800x450"},
        d);
    const std::string stats = server->statsJson();
    server->stop();
    ASSERT_EQ(r.exitCode, 0) << r.output;
    const cv::Mat original = cv::imread(image, cv::IMREAD_COLOR);
    auto plan = planCanvas(original.size(), TargetSpec::exact({800, 450}));
    ASSERT_TRUE(plan.ok());
    for (const char* name : {"kling", "anyapi", "cometapi", "my_aggregator"}) {
        SCOPED_TRACE(name);
        const cv::Mat out =
            cv::imread(d.str(std::string("out/") + name + "_800x450.png"), cv::IMREAD_COLOR);
        ASSERT_FALSE(out.empty());
        expectOriginalAt(out, original, *plan);
    }
    // Kling official on /v1 (JWT), the three others on the aggregators' /kling/v1.
    EXPECT_NE(stats.find("\"POST /v1/images/editing/expand\":1"), std::string::npos) << stats;
    EXPECT_NE(stats.find("\"POST /kling/v1/images/editing/expand\":3"), std::string::npos) << stats;
    EXPECT_NE(stats.find("\"creates\":4"), std::string::npos) << stats;
}

// A relay without the expand route (CometAPI's page reports a 404): the sample reports
// NOT_FOUND for the aggregator profiles and exits non-zero.
TEST(Stages_Samples, remoteProvidersFailsClearlyWhenARouteIsMissing) {
    SKIP_WITHOUT_SAMPLES();
    TempDir d;
    emulator::Params ep;
    ep.latency = std::chrono::milliseconds(50);
    emulator::FaultSpec f;
    f.kind = emulator::FaultKind::ROUTE_NOT_FOUND;
    f.route = "/kling/v1/images/editing/expand";
    f.method = "POST";
    ep.faults = {f};
    auto server = emulator::Server::create(ep);
    ASSERT_TRUE(server->start().ok());
    const RunResult r = runSample("remote_providers",
                                  {"--base-url", server->baseUrl(),
                                   std::string(CVGEN_SAMPLES_DATA) + "/chelsea.png", d.str("out")},
                                  d);
    server->stop();
    EXPECT_EQ(r.exitCode, 1) << r.output;
    EXPECT_NE(r.output.find("cometapi: NOT_FOUND"), std::string::npos) << r.output;
    EXPECT_TRUE(fs::exists(d.str("out/kling_800x450.png")));  // /v1 still works
    EXPECT_FALSE(fs::exists(d.str("out/anyapi_800x450.png")));
}

// Without --base-url the sample starts its own emulator on 127.0.0.1.
TEST(Stages_Samples, remoteProvidersRunsItsOwnEmulatorByDefault) {
    SKIP_WITHOUT_SAMPLES();
    TempDir d;
    const RunResult r = runSample(
        "remote_providers", {std::string(CVGEN_SAMPLES_DATA) + "/chelsea.png", d.str("out")}, d);
    ASSERT_EQ(r.exitCode, 0) << r.output;
    EXPECT_NE(r.output.find("emulator listening on http://127.0.0.1:"), std::string::npos);
    EXPECT_NE(r.output.find("4 of 4 profiles done"), std::string::npos);
}

}  // namespace
}  // namespace cvgen::stages
