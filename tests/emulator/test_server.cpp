// Lifecycle: HTTPS with a self-signed certificate, graceful stop, params checks, `cvgen serve`.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <regex>

#include "emu_test_util.hpp"

using namespace emutest;
namespace emu = cvgen::emulator;

namespace {

/** A temporary directory removed at scope exit. */
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/cvgen-emu-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

}  // namespace

TEST(Emulator_Server, servesHttpsWithASelfSignedCertificate) {
    TempDir dir;
    const std::string cert = dir.path + "/cert.pem", key = dir.path + "/key.pem";
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1 -keyout " +
        key + " -out " + cert + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    auto p = fastParams();
    p.tlsCertFile = cert;
    p.tlsKeyFile = key;
    auto s = start(p);
    EXPECT_EQ(s->baseUrl(), "https://127.0.0.1:" + std::to_string(s->port()));
    Request rq;
    rq.method = "POST";
    rq.url = s->baseUrl() + "/v1/images/generations";
    rq.headers = {bearer(), "Content-Type: application/json"};
    rq.body = "{\"prompt\":\"p\",\"aspect_ratio\":\"1:1\"}";
    rq.caFile = cert;  // verified, not insecure
    Response r = send(rq);
    ASSERT_EQ(r.curl, CURLE_OK) << curl_easy_strerror(r.curl);
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string id = parse(r.body)["data"]["task_id"].GetString();
    rapidjson::Document fin;
    for (int i = 0; i < 400; ++i) {
        Request q;
        q.url = s->baseUrl() + "/v1/images/generations/" + id;
        q.headers = {bearer()};
        q.caFile = cert;
        fin = parse(send(q).body);
        if (std::string(fin["data"]["task_status"].GetString()) == "succeed") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_STREQ(fin["data"]["task_status"].GetString(), "succeed");
    const std::string url = fin["data"]["task_result"]["images"][0]["url"].GetString();
    EXPECT_EQ(url.rfind("https://", 0), 0u);
    Request dl;
    dl.url = url;
    dl.caFile = cert;
    EXPECT_EQ(decode(send(dl).body).size(), cv::Size(1024, 1024));
    // A dropped connection over TLS too.
    s->stop();
    emu::FaultSpec drop;
    drop.kind = emu::FaultKind::DROP_CONNECTION;
    p.faults = {drop};
    s = start(p);
    rq.url = s->baseUrl() + "/v1/images/generations";
    r = send(rq);
    EXPECT_NE(r.curl, CURLE_OK);
    EXPECT_EQ(stats(*s)["creates"].GetInt(), 1);
    s->stop();
    // Unreadable TLS files are an error value, not a crash.
    p.tlsCertFile = dir.path + "/missing.pem";
    auto bad = emu::Server::create(p);
    EXPECT_EQ(bad->start().code(), cvgen::Code::INVALID_ARGUMENT);
}

TEST(Emulator_Server, stopIsGracefulAndIdempotent) {
    auto p = fastParams();
    emu::FaultSpec slow;
    slow.kind = emu::FaultKind::SLOW;
    slow.delay = std::chrono::seconds(30);
    slow.route = "/v1/images/generations";
    p.faults = {slow};
    auto s = start(p);
    const std::string base = s->baseUrl();
    auto inFlight = std::async(std::launch::async, [&] {
        return postJson(base + "/v1/images/generations", "{\"prompt\":\"p\"}", {bearer()});
    });
    for (int i = 0; i < 400 && stats(*s)["creates"].GetInt() == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const auto t0 = std::chrono::steady_clock::now();
    s->stop();
    // The held-back request was answered, not cut, and stop did not wait 30 s.
    Response r = inFlight.get();
    EXPECT_EQ(r.status, 200) << curl_easy_strerror(r.curl);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
    s->stop();
    EXPECT_NE(get(base + "/_emulator/stats").curl, CURLE_OK);  // nothing listens any more
    EXPECT_EQ(s->start().code(), cvgen::Code::OK);             // can start again
    s->stop();
}

TEST(Emulator_Server, paramsAndBindErrors) {
    auto make = [](auto edit) {
        emu::Params p;
        edit(p);
        return emu::Server::create(p);
    };
    EXPECT_THROW(make([](emu::Params& p) { p.port = 70000; }), std::invalid_argument);
    EXPECT_THROW(make([](emu::Params& p) { p.tlsCertFile = "c.pem"; }), std::invalid_argument);
    EXPECT_THROW(make([](emu::Params& p) { p.accessKey = "ak"; }), std::invalid_argument);
    EXPECT_THROW(make([](emu::Params& p) { p.webhookSecret = "nope"; }), std::invalid_argument);
    EXPECT_THROW(make([](emu::Params& p) { p.latency = std::chrono::milliseconds(-1); }),
                 std::invalid_argument);
    auto a = start(fastParams());
    auto p = fastParams();
    p.port = a->port();  // taken
    auto b = emu::Server::create(p);
    EXPECT_EQ(b->start().code(), cvgen::Code::UNAVAILABLE);
    a->stop();
}

TEST(Emulator_Server, openModeAcceptsAnyCredential) {
    emu::Params p;
    p.latency = std::chrono::milliseconds(10);
    auto s = start(p);
    Response r = postJson(s->baseUrl() + "/v1/images/generations", "{\"prompt\":\"p\"}",
                          {bearer("anything")});
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(postJson(s->baseUrl() + "/v1/images/generations", "{\"prompt\":\"p\"}").status, 401);
    s->stop();
}

TEST(Emulator_Cli, servePrintsTheListeningLineAndStopsOnSigterm) {
    const std::string cli = CVGEN_CLI_PATH;
    if (cli.empty()) GTEST_SKIP() << "the cvgen CLI is not built";
    TempDir dir;
    const std::string faults = dir.path + "/faults.json";
    {
        std::FILE* f = std::fopen(faults.c_str(), "w");
        std::fputs(R"({"faults":[{"kind":"rate_limit","route":"/kling/v1","count":1}]})", f);
        std::fclose(f);
    }
    CliServer server;
    serveCli({"--api-key", "k1", "--latency", "0.05", "--faults", faults}, &server);
    ASSERT_FALSE(server.base.empty()) << server.line;
    const std::string base = server.base;
    Response limited =
        postJson(base + "/kling/v1/images/generations", "{\"prompt\":\"p\"}", {bearer("k1")});
    EXPECT_EQ(limited.status, 429);
    Response ok =
        postJson(base + "/kling/v1/images/generations", "{\"prompt\":\"p\"}", {bearer("k1")});
    EXPECT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(postJson(base + "/kling/v1/images/generations", "{\"prompt\":\"p\"}", {bearer("k2")})
                  .status,
              401);
    const int status = server.stop();
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}
