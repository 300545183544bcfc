// The CLI's offline operations end to end: the built `cvgen` binary with the default (local)
// provider, checking exit codes, exact output sizes, the original's pixels and the --json report.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cli_run.hpp"

namespace {

namespace fs = std::filesystem;

using CliRun = cvgen::testutil::CommandRun;

CliRun cli(const std::string& args) {
    return cvgen::testutil::runCvgen(args);
}

class Local_Cli : public ::testing::Test {
protected:
    void SetUp() override {
        if (std::string(CVGEN_CLI_PATH).empty()) GTEST_SKIP() << "cvgen CLI not built";
        dir_ = fs::temp_directory_path() /
               ("cvgen_local_cli_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
        src_.create(80, 120, CV_8UC3);
        cv::randu(src_, 0, 255);
        cv::GaussianBlur(src_, src_, cv::Size(5, 5), 1.5);
        ASSERT_TRUE(cv::imwrite(path("in.png"), src_));
    }
    void TearDown() override {
        std::error_code ec;
        if (!dir_.empty()) fs::remove_all(dir_, ec);
    }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }

    fs::path dir_;
    cv::Mat src_;
};

TEST_F(Local_Cli, expandHitsTheExactTargetWithTheOriginalUntouched) {
    struct Case {
        std::string anchor;
        cv::Size target;
        cv::Point origin;
    };
    const Case cases[] = {
        {"center", {301, 201}, {90, 60}},  // odd margins: left/top rounded down
        {"top-left", {400, 100}, {0, 0}},
        {"bottom-right", {130, 300}, {10, 220}},
        {"7,5", {1000, 500}, {7, 5}},  // far beyond one remote call: one offline pass
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.anchor);
        const std::string out = path("out_" + std::to_string(c.target.width) + ".png");
        const CliRun r = cli("expand " + path("in.png") + " " + out + " --target " +
                             std::to_string(c.target.width) + "x" +
                             std::to_string(c.target.height) + " --anchor " + c.anchor + " --json");
        ASSERT_EQ(r.exitCode, 0) << r.out;
        EXPECT_NE(r.out.find("\"ok\":true"), std::string::npos);
        EXPECT_NE(r.out.find("\"provider\":\"local\""), std::string::npos);
        EXPECT_NE(r.out.find("\"plan\":{"), std::string::npos);
        const cv::Mat img = cv::imread(out, cv::IMREAD_UNCHANGED);
        ASSERT_EQ(img.size(), c.target);
        EXPECT_EQ(cv::norm(img(cv::Rect(c.origin, src_.size())), src_, cv::NORM_INF), 0.0);
    }
}

TEST_F(Local_Cli, expandModesAndNResults) {
    for (const char* mode : {"blur", "soft", "edge", "patch", "auto"}) {
        SCOPED_TRACE(mode);
        const CliRun r = cli("expand " + path("in.png") + " " + path(std::string(mode) + ".png") +
                             " --target 213x120 --mode " + mode + " --n 2");
        ASSERT_EQ(r.exitCode, 0) << r.out;
        for (int i = 0; i < 2; ++i) {
            const cv::Mat img =
                cv::imread(path(std::string(mode) + "_" + std::to_string(i) + ".png"));
            ASSERT_FALSE(img.empty());
            EXPECT_EQ(img.size(), cv::Size(213, 120));
        }
        EXPECT_FALSE(fs::exists(path(std::string(mode) + ".png")));
    }
}

TEST_F(Local_Cli, expandErrorsAndUsage) {
    // Smaller target without a policy: a clear error, exit 1, nothing written.
    CliRun r = cli("expand " + path("in.png") + " " + path("x.png") + " --target 60x40 --json");
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_NE(r.out.find("INVALID_ARGUMENT"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(path("x.png")));
    // ...and with scale-down it works.
    r = cli("expand " + path("in.png") + " " + path("x.png") +
            " --target 60x60 --smaller scale-down");
    EXPECT_EQ(r.exitCode, 0);
    EXPECT_EQ(cv::imread(path("x.png")).size(), cv::Size(60, 60));
    // Usage errors: exit 2.
    EXPECT_EQ(cli("expand " + path("in.png") + " " + path("y.png") + " --target 12x").exitCode, 2);
    EXPECT_EQ(cli("expand " + path("in.png") + " " + path("y.png") + " --target 200x200 --mode x")
                  .exitCode,
              2);
    EXPECT_EQ(cli("expand " + path("in.png") + " " + path("y.gif") + " --target 200x200").exitCode,
              2);
    EXPECT_EQ(
        cli("expand " + path("in.png") + " " + path("y.png") + " --target 200x200 --n 10").exitCode,
        2);
    // Unreadable input: exit 1.
    std::FILE* f = std::fopen(path("bad.png").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("not an image", f);
    std::fclose(f);
    EXPECT_EQ(cli("expand " + path("bad.png") + " " + path("y.png") + " --target 200x200").exitCode,
              1);
}

TEST_F(Local_Cli, providerSelection) {
    CliRun r = cli("upscale " + path("in.png") + " " + path("u.png") + " --provider nope --json");
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_NE(r.out.find("INVALID_ARGUMENT"), std::string::npos) << r.out;
    // A remote profile without keys in the environment: a clear UNAUTHENTICATED, nothing sent.
    ASSERT_EQ(::unsetenv("CVGEN_API_KEY"), 0);
    ASSERT_EQ(::unsetenv("KLING_ACCESS_KEY"), 0);
    ASSERT_EQ(::unsetenv("KLING_SECRET_KEY"), 0);
    r = cli("upscale " + path("in.png") + " " + path("u.png") +
            " --provider kling --base-url http://127.0.0.1:9 --json");
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_NE(r.out.find("UNAUTHENTICATED"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(path("u.png")));
}

TEST_F(Local_Cli, upscaleByFractionalScale) {
    const CliRun r =
        cli("upscale " + path("in.png") + " " + path("u.jpg") + " --scale 1.5 --sharpen --json");
    ASSERT_EQ(r.exitCode, 0) << r.out;
    EXPECT_NE(r.out.find("\"width\":180,\"height\":120"), std::string::npos) << r.out;
    EXPECT_EQ(cv::imread(path("u.jpg")).size(), cv::Size(180, 120));
}

TEST_F(Local_Cli, generateAndOmniAreMarkedSynthetic) {
    CliRun r = cli("generate " + path("g.png") + " --prompt 'a lighthouse' --aspect 9:16 --json");
    ASSERT_EQ(r.exitCode, 0) << r.out;
    EXPECT_NE(r.out.find("\"synthetic\":true"), std::string::npos) << r.out;
    EXPECT_EQ(cv::imread(path("g.png")).size(), cv::Size(576, 1024));
    EXPECT_EQ(cli("generate " + path("g.png") + " --prompt x --aspect auto").exitCode, 2);
    EXPECT_EQ(cli("generate " + path("g.png")).exitCode, 2);  // --prompt is required

    r = cli("omni " + path("o.png") + " --prompt 'x <<<image_1>>>' --image " + path("in.png") +
            " --series 2 --json");
    ASSERT_EQ(r.exitCode, 0) << r.out;
    EXPECT_NE(r.out.find("\"synthetic\":true"), std::string::npos) << r.out;
    EXPECT_EQ(cv::imread(path("o_0.png")).size(), cv::Size(1024, 683));  // AUTO: 120x80 → 3:2
    EXPECT_EQ(cv::imread(path("o_1.png")).size(), cv::Size(1024, 683));
}

TEST_F(Local_Cli, flagsTheOfflineEngineIgnoresAreSaidOnStderr) {
    // stderr only: the warnings never mix with --json on stdout.
    auto err = [](const std::string& args) {
        return cvgen::testutil::runCommand(std::string(CVGEN_CLI_PATH) + " " + args +
                                           " 2>&1 >/dev/null");
    };
    CliRun g = err("generate " + path("g.png") +
                   " --prompt x --model kling-v2-1 --negative-prompt blur --image-fidelity 0.5");
    ASSERT_EQ(g.exitCode, 0) << g.out;
    for (const char* f : {"--model", "--negative-prompt", "--image-fidelity"})
        EXPECT_NE(
            g.out.find(std::string("cvgen generate: warning: ") + f + " has no effect offline"),
            std::string::npos)
            << f << " in " << g.out;
    EXPECT_EQ(g.out.find("--seed has"), std::string::npos) << g.out;  // used offline
    CliRun o = err("omni " + path("o.png") + " --prompt x --element 42 --seed 3");
    ASSERT_EQ(o.exitCode, 0) << o.out;
    EXPECT_NE(o.out.find("cvgen omni: warning: --element has no effect offline"), std::string::npos)
        << o.out;
    EXPECT_EQ(o.out.find("--seed has"), std::string::npos) << o.out;
    CliRun e =
        err("expand " + path("in.png") + " " + path("e.png") + " --target 160x80 --prompt sky");
    ASSERT_EQ(e.exitCode, 0) << e.out;
    EXPECT_NE(e.out.find("cvgen expand: warning: --prompt has no effect offline"),
              std::string::npos)
        << e.out;
    // Defaults the user did not type are never warned about.
    CliRun quiet = err("generate " + path("q.png") + " --prompt x");
    EXPECT_EQ(quiet.out.find("warning"), std::string::npos) << quiet.out;
}

TEST_F(Local_Cli, contactSheetSampleWritesAMontage) {
    // The sample is built next to the CLI (build/<preset>/samples); skipped when samples are off.
    const fs::path sample = fs::path(CVGEN_CLI_PATH).parent_path().parent_path().parent_path() /
                            "samples" / "sample_contact_sheet";
    if (!fs::exists(sample)) GTEST_SKIP() << "sample_contact_sheet not built";
    ASSERT_TRUE(cv::imwrite(path("second.png"), src_(cv::Rect(0, 0, 60, 80))));
    const std::string cmd = sample.string() + " " + dir_.string() + " " + path("sheet.png") +
                            " 16:9 1.5 >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    const cv::Mat sheet = cv::imread(path("sheet.png"));
    ASSERT_FALSE(sheet.empty());
    EXPECT_EQ(sheet.rows, 2 * 260 + 8);  // two photos, one 260-px row each
    EXPECT_GT(sheet.cols, 4 * 260);      // before + three modes
}

}  // namespace
