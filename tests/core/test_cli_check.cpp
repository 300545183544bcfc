// `cvgen check` end to end: runs the built CLI on files made here.
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "core/test_image_util.hpp"
#include "cvgen/core/codec.hpp"

using cvgen::testutil::TempDir;

namespace {

struct CliRun {
    int exitCode = -1;
    std::string out;
};

CliRun runCli(const std::string& args) {
    CliRun r;
    const std::string cmd = std::string(CVGEN_CLI_PATH) + " " + args + " 2>/dev/null";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int st = ::pclose(p);
    r.exitCode = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

}  // namespace

TEST(Core_CliCheck, exitCodesAndReports) {
    if (std::string(CVGEN_CLI_PATH).empty()) GTEST_SKIP() << "the cvgen CLI is not built";
    TempDir dir;
    const std::string good = dir.path("good.png");
    const std::string wide = dir.path("wide.jpg");
    const std::string webp = dir.path("pic.webp");
    const std::string text = dir.path("text.jpg");
    ASSERT_TRUE(
        cvgen::writeImageAtomic(good, cv::Mat(300, 400, CV_8UC3, cv::Scalar(1, 2, 3))).ok());
    ASSERT_TRUE(
        cvgen::writeImageAtomic(wide, cv::Mat(300, 751, CV_8UC3, cv::Scalar(1, 2, 3))).ok());
    ASSERT_TRUE(
        cvgen::writeImageAtomic(webp, cv::Mat(300, 400, CV_8UC3, cv::Scalar(1, 2, 3))).ok());
    ASSERT_TRUE(cvgen::writeFileAtomic(text, {'h', 'i', '\n'}).ok());

    CliRun ok = runCli("check " + good);
    EXPECT_EQ(ok.exitCode, 0);
    EXPECT_NE(ok.out.find("OK   " + good + " (PNG 400x300"), std::string::npos) << ok.out;

    CliRun bad = runCli("check " + good + " " + wide + " " + text);
    EXPECT_EQ(bad.exitCode, 1);
    EXPECT_NE(bad.out.find("ASPECT_TOO_WIDE"), std::string::npos) << bad.out;
    EXPECT_NE(bad.out.find("UNREADABLE"), std::string::npos) << bad.out;

    EXPECT_EQ(runCli("check " + webp).exitCode, 1);
    EXPECT_EQ(runCli("check --endpoint upscale " + webp).exitCode, 0);

    CliRun json = runCli("check --json " + wide);
    EXPECT_EQ(json.exitCode, 1);
    EXPECT_NE(json.out.find("\"code\":\"ASPECT_TOO_WIDE\""), std::string::npos) << json.out;
    EXPECT_NE(json.out.find("\"ok\":false"), std::string::npos) << json.out;

    CliRun missing = runCli("check " + dir.path("missing.png"));
    EXPECT_EQ(missing.exitCode, 1);
    EXPECT_NE(missing.out.find("NOT_FOUND"), std::string::npos) << missing.out;

    EXPECT_EQ(runCli("check --endpoint nope " + good).exitCode, 2);
    EXPECT_EQ(runCli("check").exitCode, 2);
}
