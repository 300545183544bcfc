// `cvgen check` end to end: runs the built CLI on files made here.
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "cli_run.hpp"
#include "core/test_image_util.hpp"
#include "cvgen/core/codec.hpp"

using cvgen::testutil::TempDir;

namespace {

using CliRun = cvgen::testutil::CommandRun;

CliRun runCli(const std::string& args) {
    return cvgen::testutil::runCvgen(args);
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

// `cvgen check --provider P --endpoint E`: each provider's rules for each endpoint.
TEST(Core_CliCheck, rulesPerProviderAndEndpoint) {
    if (std::string(CVGEN_CLI_PATH).empty()) GTEST_SKIP() << "the cvgen CLI is not built";
    TempDir dir;
    const std::string small = dir.path("small.png");  // 256x256: below Kling's 300 px
    const std::string wide = dir.path("wide.png");    // 600x200: 3:1, wider than Kling's 2.5
    const std::string webp = dir.path("pic.webp");    // 400x300 WebP: not a Kling format
    const std::string good = dir.path("good.jpg");    // 400x300 JPEG: fine everywhere
    ASSERT_TRUE(cvgen::writeImageAtomic(small, cv::Mat(256, 256, CV_8UC3, cv::Scalar(1))).ok());
    ASSERT_TRUE(cvgen::writeImageAtomic(wide, cv::Mat(200, 600, CV_8UC3, cv::Scalar(2))).ok());
    ASSERT_TRUE(cvgen::writeImageAtomic(webp, cv::Mat(300, 400, CV_8UC3, cv::Scalar(3))).ok());
    ASSERT_TRUE(cvgen::writeImageAtomic(good, cv::Mat(300, 400, CV_8UC3, cv::Scalar(4))).ok());
    const std::string relay = dir.path("relay.json");
    ASSERT_TRUE(cvgen::writeFileAtomic(
                    relay,
                    [] {
                        const std::string j =
                            R"({"name":"relay","extends":"anyapi","base_url":"http://127.0.0.1:1",)"
                            R"("input_limits":{"expand":{"min_side":200,"max_aspect":3}}})";
                        return std::vector<uint8_t>(j.begin(), j.end());
                    }())
                    .ok());
    struct Case {
        std::string provider, endpoint, file;
        int exit;          ///< 0 pass, 1 fail, 2 usage (no such route / provider)
        const char* text;  ///< on stdout; for a usage error, on stderr
    };
    const std::vector<Case> cases = {
        // No provider: the API the endpoint belongs to.
        {"", "expand", small, 1, "TOO_SMALL"},
        {"", "generate", wide, 1, "ASPECT_TOO_WIDE"},
        {"", "omni", webp, 1, "FORMAT_NOT_ALLOWED"},
        {"", "upscale", small, 0, "rules: upscale at Ideogram"},
        {"", "upscale", wide, 0, "OK   "},
        {"", "upscale", webp, 0, "OK   "},
        // Relays of Ideogram's upscale: Ideogram's rules.
        {"anyapi", "upscale", small, 0, "rules: upscale at anyapi (Ideogram)"},
        {"anyapi", "upscale", wide, 0, "OK   "},
        {"ideogram", "upscale", small, 0, "OK   "},
        // Kling's endpoints at every Kling relay: Kling's rules.
        {"anyapi", "expand", small, 1, "TOO_SMALL"},
        {"kling", "generate", small, 1, "TOO_SMALL"},
        {"cometapi", "omni", wide, 1, "ASPECT_TOO_WIDE"},
        {"cometapi-v2", "expand", good, 0, "rules: expand at cometapi-v2 (Kling)"},
        // A profile file's own limits.
        {relay, "expand", small, 0, "rules: expand at relay (Kling)"},
        {relay, "expand", wide, 0, "OK   "},
        {relay, "generate", small, 1, "TOO_SMALL"},
        // No such route, no remote rules, no such provider: usage errors.
        {"kling", "upscale", small, 2, "provider 'kling' has no upscale route"},
        {"cometapi", "upscale", small, 2, "provider 'cometapi' has no upscale route"},
        {"ideogram", "expand", small, 2, "provider 'ideogram' has no expand route"},
        {"local", "expand", small, 2, "takes any image it can decode; name a remote provider"},
        {"nope", "expand", small, 2, "cvgen check: --provider: "},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE((c.provider.empty() ? "(none)" : c.provider) + " " + c.endpoint + " " +
                     c.file);
        const std::string args = "check --endpoint " + c.endpoint +
                                 (c.provider.empty() ? "" : " --provider " + c.provider) + " " +
                                 c.file;
        CliRun r = c.exit == 2 ? cvgen::testutil::runCommand(std::string(CVGEN_CLI_PATH) + " " +
                                                             args + " 2>&1 >/dev/null")
                               : runCli(args);
        EXPECT_EQ(r.exitCode, c.exit) << r.out;
        EXPECT_NE(r.out.find(c.text), std::string::npos) << r.out;
    }
    CliRun json = runCli("check --json --provider anyapi --endpoint upscale " + small);
    EXPECT_EQ(json.exitCode, 0);
    EXPECT_NE(json.out.find("\"provider\":\"anyapi\",\"api\":\"Ideogram\""), std::string::npos)
        << json.out;
}
