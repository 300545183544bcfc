// TLS at the CLI: `cvgen expand --provider kling --base-url https://127.0.0.1:PORT` against the
// emulator with a self-signed certificate (made with the openssl CLI) is refused by default
// (a typed error, no task created) and succeeds with --ca-file.
#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include "cvgen/core/codec.hpp"
#include "cvgen/emulator.hpp"
#include "reliability/rel_util.hpp"

namespace cvgen::reliability {
namespace {

int64_t creates(const std::string& stats) {
    rapidjson::Document d;
    d.Parse(stats.c_str());
    return d.IsObject() ? d["creates"].GetInt64() : -1;
}

TEST(Reliability_Tls, cliRefusesSelfSignedByDefaultAndTrustsTheCaFile) {
    TempDir d;
    const std::string cert = d.str("cert.pem"), key = d.str("key.pem");
    const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -keyout " + key + " -out " +
                            cert +
                            " -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
                            " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "openssl CLI not available";
    emulator::Params ep;
    ep.tlsCertFile = cert;
    ep.tlsKeyFile = key;
    ep.apiKeys = {"tls-key"};
    ep.latency = std::chrono::milliseconds(20);
    auto server = emulator::Server::create(ep);
    ASSERT_TRUE(server->start().ok());
    ASSERT_EQ(server->baseUrl().rfind("https://127.0.0.1:", 0), 0u) << server->baseUrl();
    writePng(d.path() / "a.png", noiseImage({320, 320}, CV_8UC3, 5));
    const std::map<std::string, std::string> env = {{"CVGEN_API_KEY", "tls-key"}};
    const std::vector<std::string> base = {
        cliPath(),    "expand", d.str("a.png"), d.str("o.png"),    "--target",  "352x352",
        "--provider", "anyapi", "--base-url",   server->baseUrl(), "--timeout", "10"};
    std::string out, err;
    EXPECT_EQ(runCli(base, &out, &err, env, d.path()), 1) << out << err;
    EXPECT_NE((out + err).find("FAILED_PRECONDITION"), std::string::npos) << out << err;
    EXPECT_NE((out + err).find("TLS"), std::string::npos) << out << err;
    EXPECT_FALSE(fs::exists(d.path() / "o.png"));
    EXPECT_EQ(creates(server->statsJson()), 0) << "refused before any request reached the API";

    auto withCa = base;
    withCa.insert(withCa.end(), {"--ca-file", cert});
    EXPECT_EQ(runCli(withCa, &out, &err, env, d.path()), 0) << out << err;
    auto img = decodeImage(*readFileBytes(d.str("o.png")));
    ASSERT_TRUE(img.ok()) << img.status();
    EXPECT_EQ(img->size(), cv::Size(352, 352));
    EXPECT_EQ(creates(server->statsJson()), 1);
    server->stop();
}

}  // namespace
}  // namespace cvgen::reliability
