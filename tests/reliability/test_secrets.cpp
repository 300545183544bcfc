// Secrets never leak: canary keys through the library (with logging on) and the CLI, in
// succeeding and failing cases (wrong key, expired token, 5xx, dropped connection), and no log
// line, error message, stdout/stderr, report, journal or output file contains a canary or any
// JWT ("eyJ…", the base64url of `{"` that starts every JWT header and payload).
#include <gtest/gtest.h>

#include <mutex>

#include "cvgen/core/base64.hpp"
#include "cvgen/core/codec.hpp"
#include "cvgen/emulator.hpp"
#include "cvgen/remote.hpp"
#include "reliability/rel_util.hpp"

namespace cvgen::reliability {
namespace {

const std::string kAccess = "canary-access-7f3a9c";
const std::string kSecret = "canary-secret-b81e44d2";
const std::string kApiKey = "canary-apikey-5d0c11";

/** Every string a leak could take: the canaries, their base64/base64url forms, any JWT. */
std::vector<std::string> needles() {
    std::vector<std::string> n = {kAccess, kSecret, kApiKey, "eyJ"};
    for (const std::string& k : {kAccess, kSecret, kApiKey}) {
        std::string b = base64Encode(k);
        while (!b.empty() && b.back() == '=') b.pop_back();
        n.push_back(b.substr(0, b.size() - 2));  // stable prefix of the encoding
    }
    return n;
}

void expectClean(const std::string& where, const std::string& text) {
    for (const auto& n : needles())
        EXPECT_EQ(text.find(n), std::string::npos) << where << " contains \"" << n << "\"";
}

void expectTreeClean(const fs::path& dir) {
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        const std::string text = readText(e.path().string());
        const std::string ext = e.path().extension().string();
        if (ext == ".png" || ext == ".jpg") {
            // Images: only the raw canaries ("eyJ" is 3 bytes, likely somewhere in pixels).
            for (const std::string& k : {kAccess, kSecret, kApiKey})
                EXPECT_EQ(text.find(k), std::string::npos) << e.path() << " contains " << k;
        } else {
            expectClean(e.path().string(), text);
        }
    }
}

struct LibCase {
    const char* name;
    std::string serverAccess, serverSecret;  ///< what the emulator accepts
    std::vector<emulator::FaultSpec> faults;
    bool expectOk;
};

emulator::FaultSpec fault(emulator::FaultKind k, const std::string& route = "") {
    emulator::FaultSpec f;
    f.kind = k;
    f.route = route;
    f.method = route.empty() ? "" : "POST";
    return f;
}

TEST(Reliability_Secrets, libraryLogsAndErrorsNeverCarryKeysOrJwts) {
    using emulator::FaultKind;
    const std::vector<LibCase> cases = {
        {"ok", kAccess, kSecret, {}, true},
        {"wrong_secret", kAccess, "other-secret", {}, false},
        {"unknown_issuer", "other-access", kSecret, {}, false},
        {"token_expired", kAccess, kSecret, {fault(FaultKind::TOKEN_EXPIRED)}, false},
        {"server_error", kAccess, kSecret, {fault(FaultKind::SERVER_ERROR)}, false},
        {"drop_connection",
         kAccess,
         kSecret,
         {fault(FaultKind::DROP_CONNECTION, "/v1/images/editing/expand")},
         true},
    };
    const cv::Mat img = noiseImage({320, 320}, CV_8UC3, 3);
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        emulator::Params ep;
        ep.accessKey = c.serverAccess;
        ep.secretKey = c.serverSecret;
        ep.latency = std::chrono::milliseconds(20);
        ep.faults = c.faults;
        auto server = emulator::Server::create(ep);
        ASSERT_TRUE(server->start().ok());

        std::mutex mu;
        std::vector<std::string> lines;
        remote::RemoteParams rp;
        rp.profile = "kling";
        rp.baseUrl = server->baseUrl();
        rp.accessKey = kAccess;
        rp.secretKey = kSecret;
        rp.deadline = std::chrono::seconds(5);
        rp.poll.firstDelay = rp.poll.interval = std::chrono::milliseconds(15);
        rp.retry.maxAttempts = 2;
        rp.retry.initialBackoff = std::chrono::milliseconds(10);
        rp.log = [&](remote::LogLevel, const std::string& l) {
            std::lock_guard<std::mutex> lock(mu);
            lines.push_back(l);
        };
        auto prov = remote::createProvider(rp);
        ASSERT_TRUE(prov.ok()) << prov.status();
        ExpandRequest req;
        req.image = ImageSource::fromMat(img);
        req.ratios = ExpansionRatios{0.1, 0.1, 0.1, 0.1};
        auto out = (*prov)->expand(req);
        EXPECT_EQ(out.ok(), c.expectOk) << out.status();
        if (!out.ok()) {
            std::ostringstream ss;
            ss << out.status();
            expectClean("status", ss.str() + out.status().message());
        }
        EXPECT_FALSE(lines.empty()) << "logging was on";
        for (const auto& l : lines) expectClean("log line", l);
        prov = Status(Code::CANCELLED, "released");
        server->stop();
    }
}

TEST(Reliability_Secrets, cliOutputsReportsAndJournalsNeverCarryKeys) {
    TempDir d;
    writePng(d.path() / "in" / "a.png", noiseImage({320, 320}, CV_8UC3, 1));
    writePng(d.path() / "in" / "b.png", noiseImage({300, 330}, CV_8UC3, 2));
    struct CliCase {
        const char* name;
        std::vector<std::string> serve;
        std::string provider;
        std::map<std::string, std::string> env;
        int wantRc;
    };
    const std::map<std::string, std::string> jwtEnv = {{"KLING_ACCESS_KEY", kAccess},
                                                       {"KLING_SECRET_KEY", kSecret}};
    const std::vector<CliCase> cases = {
        {"jwt_ok", {"--access-key", kAccess, "--secret-key", kSecret}, "kling", jwtEnv, 0},
        {"jwt_wrong_secret", {"--access-key", kAccess, "--secret-key", "x"}, "kling", jwtEnv, 1},
        {"jwt_expired",
         {"--access-key", kAccess, "--secret-key", kSecret, "--fault", "token_expired"},
         "kling",
         jwtEnv,
         1},
        {"jwt_5xx",
         {"--access-key", kAccess, "--secret-key", kSecret, "--fault", "server_error"},
         "kling",
         jwtEnv,
         1},
        {"bearer_ok", {"--api-key", kApiKey}, "anyapi", {{"CVGEN_API_KEY", kApiKey}}, 0},
        {"bearer_wrong", {"--api-key", "other"}, "anyapi", {{"CVGEN_API_KEY", kApiKey}}, 1},
        {"bearer_drop",
         {"--api-key", kApiKey, "--fault", "drop_connection=0.5@/kling/v1/images"},
         "anyapi",
         {{"CVGEN_API_KEY", kApiKey}},
         -1},
    };
    int k = 0;
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        const fs::path run = d.path() / ("run" + std::to_string(k++));
        fs::create_directories(run);
        std::vector<std::string> serveArgs = c.serve;
        serveArgs.insert(serveArgs.end(), {"--latency", "0.02"});
        ServeChild serve(serveArgs, run);
        ASSERT_TRUE(serve.ok()) << serve.output();
        std::string out, err;
        const int rc1 = runCli({cliPath(), "expand", d.str("in/a.png"), (run / "a.png").string(),
                                "--target", "352x352", "--provider", c.provider, "--base-url",
                                serve.baseUrl(), "--timeout", "3", "--json"},
                               &out, &err, c.env, run);
        if (c.wantRc >= 0) {
            EXPECT_EQ(rc1, c.wantRc) << out << err;
        }
        expectClean("expand stdout", out);
        expectClean("expand stderr", err);
        const int rc2 = runCli({cliPath(), "batch", d.str("in"), (run / "out").string(), "--target",
                                "352x352", "--provider", c.provider, "--base-url", serve.baseUrl(),
                                "--timeout", "3", "--retries", "0", "--early-stop", "0"},
                               &out, &err, c.env, run);
        if (c.wantRc >= 0) {
            EXPECT_EQ(rc2, c.wantRc) << out << err;
        }
        expectClean("batch stdout", out);
        expectClean("batch stderr", err);
        serve.stop();
        expectTreeClean(run);  // outputs, report, journal, contact sheet, logs
    }
}

}  // namespace
}  // namespace cvgen::reliability
