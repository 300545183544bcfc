// The cvgen CLI against the emulator on loopback: the upscale of a small image that used to be
// refused, Ideogram's upscale flags on the wire, the no-effect and legacy-model warnings, and a
// request the model cannot serve refused before any network call.
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <opencv2/imgcodecs.hpp>

#include "cli_run.hpp"
#include "cvgen/emulator.hpp"
#include "cvgen/remote.hpp"

namespace cvgen {
namespace remote {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using CliRun = testutil::CommandRun;

/** The CLI with `env` (VAR=value …) before it, stdout and stderr together. */
CliRun run(const std::string& env, const std::string& args) {
    return testutil::runCommand(env + " " + std::string(CVGEN_CLI_PATH) + " " + args + " 2>&1");
}

class CliRemote : public ::testing::Test {
protected:
    void SetUp() override {
        if (std::string(CVGEN_CLI_PATH).empty()) GTEST_SKIP() << "the cvgen CLI is not built";
        dir_ = fs::temp_directory_path() /
               ("cvgen_cli_remote_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
        emulator::Params p;
        p.host = "127.0.0.1";
        p.port = 0;
        p.apiKeys = {"emu-key"};
        p.latency = 50ms;
        srv_ = emulator::Server::create(p);
        ASSERT_TRUE(srv_->start().ok());
    }
    void TearDown() override {
        if (srv_) srv_->stop();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    std::string png(const std::string& name, cv::Size size) {
        const std::string path = (dir_ / name).string();
        cv::Mat m(size, CV_8UC3);
        cv::randu(m, cv::Scalar::all(0), cv::Scalar::all(255));
        EXPECT_TRUE(cv::imwrite(path, m));
        return path;
    }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }
    CliRun cli(const std::string& args, const std::string& provider = "anyapi") {
        return run("CVGEN_API_KEY=emu-key IDEOGRAM_API_KEY=emu-key",
                   args + " --provider " + provider + " --base-url " + srv_->baseUrl());
    }
    int creates() const {
        rapidjson::Document d;
        const std::string js = srv_->statsJson();
        d.Parse(js.c_str());
        return d.HasMember("creates") ? d["creates"].GetInt() : -1;
    }
    /** The emulator's summary of the last requests it received (its multipart parts' fields
     * included), as JSON text. */
    std::string lastRequest() const {
        return testutil::runCommand("curl -s " + srv_->baseUrl() + "/_emulator/requests?limit=10")
            .out;
    }

    fs::path dir_;
    cv::Ptr<emulator::Server> srv_;
};

TEST_F(CliRemote, smallAndWideImagesUpscaleAtEveryUpscaleProvider) {
    const std::string small = png("small.png", {256, 256});
    const std::string wide = png("wide.png", {600, 200});
    for (const char* provider : {"anyapi", "ideogram"}) {
        SCOPED_TRACE(provider);
        CliRun a = cli("upscale " + small + " " + path("a.png"), provider);
        ASSERT_EQ(a.exitCode, 0) << a.out;
        EXPECT_EQ(cv::imread(path("a.png")).size(), cv::Size(512, 512));
        CliRun b = cli("upscale " + wide + " " + path("b.png"), provider);
        ASSERT_EQ(b.exitCode, 0) << b.out;
        EXPECT_EQ(cv::imread(path("b.png")).size(), cv::Size(1200, 400));
        EXPECT_EQ(a.out.find("warning"), std::string::npos) << a.out;
    }
}

TEST_F(CliRemote, upscaleFlagsReachTheWireAndIneffectiveOnesAreSaid) {
    const std::string small = png("small.png", {256, 256});
    CliRun r = cli("upscale " + small + " " + path("o.png") +
                   " --resemblance 70 --detail 20 --magic-prompt off --seed 42 --scale 3");
    ASSERT_EQ(r.exitCode, 0) << r.out;
    EXPECT_NE(r.out.find("warning: --scale has no effect at --provider anyapi: Ideogram's upscale "
                         "enlarges by up to 2x"),
              std::string::npos)
        << r.out;
    const std::string seen = lastRequest();
    for (const char* field :
         {"\"resemblance\":70", "\"detail\":20", "\"magic_prompt_option\":\"OFF\"", "\"seed\":42"})
        EXPECT_NE(seen.find(field), std::string::npos) << field << " in " << seen;

    // Offline, Ideogram's flags do nothing: said so, and the upscale still happens.
    CliRun local = run("", "upscale " + small + " " + path("l.png") + " --resemblance 70 --seed 1");
    EXPECT_EQ(local.exitCode, 0) << local.out;
    EXPECT_NE(local.out.find("warning: --resemblance has no effect offline"), std::string::npos)
        << local.out;
    EXPECT_NE(local.out.find("warning: --seed has no effect offline"), std::string::npos)
        << local.out;
    EXPECT_EQ(
        run("", "upscale " + small + " " + path("x.png") + " --magic-prompt sometimes").exitCode,
        2);
    // A provider without an upscale route fails at once; no warning about Ideogram first.
    CliRun kling = cli("upscale " + small + " " + path("k.png") + " --scale 3", "kling");
    EXPECT_NE(kling.exitCode, 0) << kling.out;
    EXPECT_EQ(kling.out.find("warning"), std::string::npos) << kling.out;
}

TEST_F(CliRemote, remoteGenerateAndOmniSayTheSeedHasNoEffect) {
    for (const char* cmd : {"generate", "omni"}) {
        SCOPED_TRACE(cmd);
        CliRun r =
            cli(std::string(cmd) + " " + path(std::string(cmd) + ".png") + " --prompt x --seed 7");
        ASSERT_EQ(r.exitCode, 0) << r.out;
        EXPECT_NE(r.out.find(std::string("cvgen ") + cmd +
                             ": warning: --seed has no effect at a remote provider"),
                  std::string::npos)
            << r.out;
    }
    CliRun e = cli("expand " + png("in.png", {400, 400}) + " " + path("e.png") +
                   " --target 500x400 --mode edge");
    ASSERT_EQ(e.exitCode, 0) << e.out;
    EXPECT_NE(e.out.find("cvgen expand: warning: --mode has no effect at a remote provider"),
              std::string::npos)
        << e.out;
}

TEST_F(CliRemote, modelsDefaultsLegacyWarningAndRefusalsBeforeTheNetwork) {
    // The default model is the current one and needs no warning.
    CliRun def = cli("generate " + path("g.png") + " --prompt lighthouse");
    ASSERT_EQ(def.exitCode, 0) << def.out;
    EXPECT_EQ(def.out.find("warning"), std::string::npos) << def.out;
    // A legacy name still works, with a warning naming the current ones.
    CliRun legacy = cli("generate " + path("g1.png") + " --prompt lighthouse --model kling-v1");
    ASSERT_EQ(legacy.exitCode, 0) << legacy.out;
    EXPECT_NE(legacy.out.find("warning: kling-v1 is a legacy model"), std::string::npos)
        << legacy.out;
    EXPECT_NE(legacy.out.find("(kling-v3, kling-v2-1)"), std::string::npos) << legacy.out;
    const int before = creates();
    // Fidelity on the default model: refused before any create.
    const std::string ref = png("ref.png", {400, 400});
    CliRun fid =
        cli("generate " + path("g2.png") + " --prompt x --image " + ref + " --image-fidelity 0.3");
    EXPECT_EQ(fid.exitCode, 1) << fid.out;
    EXPECT_NE(fid.out.find("INVALID_ARGUMENT: image_fidelity: not supported by kling-v3 (only "
                           "kling-v2-1)"),
              std::string::npos)
        << fid.out;
    // Series on kling-image-o1 (the omni default), 4k too.
    CliRun series = cli("omni " + path("o.png") + " --prompt x --series 3");
    EXPECT_EQ(series.exitCode, 1) << series.out;
    EXPECT_NE(series.out.find("result_type: series not supported by kling-image-o1"),
              std::string::npos)
        << series.out;
    CliRun fourK = cli("omni " + path("o.png") + " --prompt x --resolution 4k");
    EXPECT_EQ(fourK.exitCode, 1) << fourK.out;
    EXPECT_NE(fourK.out.find("resolution: 4k not supported by kling-image-o1"), std::string::npos)
        << fourK.out;
    EXPECT_EQ(creates(), before);
    // The default invocation of a text-only kling-v3-omni is served (16:9, not auto).
    CliRun v3 = cli("omni " + path("v3.png") + " --prompt x --model kling-v3-omni");
    ASSERT_EQ(v3.exitCode, 0) << v3.out;
    EXPECT_EQ(cv::imread(path("v3.png")).size(), cv::Size(1024, 576));
    EXPECT_EQ(cli("omni " + path("o.png") + " --prompt x --series 1").exitCode, 2);
    EXPECT_EQ(cli("omni " + path("o.png") + " --prompt x --series lots").exitCode, 2);
}

}  // namespace
}  // namespace remote
}  // namespace cvgen
