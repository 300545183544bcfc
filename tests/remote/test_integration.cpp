// End-to-end: the real curl transport against the emulator on 127.0.0.1 (ephemeral port).
#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <cmath>
#include <cstdlib>

#include "cvgen/emulator.hpp"
#include "cvgen/remote.hpp"

namespace cvgen {
namespace remote {
namespace {

using namespace std::chrono_literals;

const std::string kKey = "emu-key-1";
const std::string kAk = "emu-ak";
const std::string kSk = "emu-sk-secret";

// Tests stop the server by destroying it, after their clients (declared later) are gone: the
// clients' pooled keep-alive connections would otherwise hold up the server's shutdown.
cv::Ptr<emulator::Server> startServer(emulator::Params p) {
    p.host = "127.0.0.1";
    p.port = 0;
    p.apiKeys = {kKey};
    p.accessKey = kAk;
    p.secretKey = kSk;
    if (p.latency == std::chrono::milliseconds(2000)) p.latency = 120ms;
    auto srv = emulator::Server::create(p);
    const Status st = srv->start();
    if (!st.ok()) throw std::runtime_error("emulator did not start: " + st.toString());
    return srv;
}

ClientParams clientFor(const emulator::Server& srv, const std::string& profile) {
    ClientParams c;
    c.profile = builtinProfile(profile).value();
    c.profile.baseUrl = srv.baseUrl();
    c.credentials = {kKey, kAk, kSk};
    c.transportParams.proxy = "none";  // loopback only, whatever the environment says
    c.transportParams.connectTimeout = 2000ms;
    c.transportParams.totalTimeout = 5000ms;
    c.poll.firstDelay = 40ms;
    c.poll.interval = 40ms;
    c.poll.maxInterval = 100ms;
    c.retry.initialBackoff = 20ms;
    c.retry.maxBackoff = 200ms;
    c.retry.rateLimitBackoff = 50ms;
    c.defaultDeadline = 20s;
    return c;
}

struct Stats {
    int creates = 0;
    std::map<std::string, int> byExternalId;
};
Stats stats(const emulator::Server& srv) {
    rapidjson::Document d;
    const std::string js = srv.statsJson();
    d.Parse(js.c_str());
    Stats s;
    if (d.HasParseError() || !d.IsObject()) return s;
    if (d.HasMember("creates")) s.creates = d["creates"].GetInt();
    if (d.HasMember("creates_by_external_id"))
        for (auto it = d["creates_by_external_id"].MemberBegin();
             it != d["creates_by_external_id"].MemberEnd(); ++it)
            s.byExternalId[it->name.GetString()] = it->value.GetInt();
    return s;
}

cv::Mat testImage(int w = 400, int h = 300) {
    cv::Mat m(h, w, CV_8UC3);
    cv::randu(m, cv::Scalar::all(0), cv::Scalar::all(255));
    return m;
}

ExpandRequest expandReq(int n = 1) {
    ExpandRequest r;
    r.image = ImageSource::fromMat(testImage());
    r.ratios = {0.5, 0.5, 0.25, 0.25};  // 400x300 → 600x600
    r.prompt = "more sky";
    r.task.n = n;
    return r;
}

void expectNear(cv::Size got, cv::Size want) {
    EXPECT_LE(std::abs(got.width - want.width), 1) << got << " vs " << want;
    EXPECT_LE(std::abs(got.height - want.height), 1) << got << " vs " << want;
}

TEST(Remote_Integration, everyOperationInEveryDialect) {
    auto srv = startServer({});
    // All nine tasks in flight at once, waited for by this one thread.
    const std::vector<std::string> profiles = {"kling", "anyapi", "cometapi"};
    std::vector<cv::Ptr<TaskClient>> clients;
    std::vector<TaskHandle> handles;
    for (const auto& profile : profiles) {
        auto c = TaskClient::create(clientFor(*srv, profile));
        ASSERT_TRUE(c.ok()) << c.status();
        clients.push_back(*c);
        auto ex = (*c)->submit(expandReq(2));
        ASSERT_TRUE(ex.ok()) << ex.status();
        GenerateRequest g;
        g.prompt = "a lighthouse at dusk";
        g.aspectRatio = AspectRatio::R16_9;
        auto gen = (*c)->submit(g);
        ASSERT_TRUE(gen.ok()) << gen.status();
        OmniRequest o;
        o.prompt = "<<<image_1>>> in watercolour";
        o.images.push_back(ImageSource::fromMat(testImage(360, 360)));
        o.task.n = 2;
        o.aspectRatio = AspectRatio::R1_1;
        auto om = (*c)->submit(o);
        ASSERT_TRUE(om.ok()) << om.status();
        handles.insert(handles.end(), {*ex, *gen, *om});
    }
    std::vector<Result<TaskOutput>> outs;
    for (size_t i = 0; i < profiles.size(); ++i) {
        std::vector<TaskHandle> mine(handles.begin() + 3 * i, handles.begin() + 3 * i + 3);
        for (auto& r : clients[i]->waitAll(mine)) outs.push_back(std::move(r));
    }
    ASSERT_EQ(outs.size(), 9u);
    for (size_t i = 0; i < profiles.size(); ++i) {
        SCOPED_TRACE(profiles[i]);
        const auto& ex = outs[3 * i];
        ASSERT_TRUE(ex.ok()) << ex.status();
        ASSERT_EQ(ex->images.size(), 2u);
        for (const auto& img : ex->images) expectNear(img.image.size(), {600, 600});
        EXPECT_EQ(ex->provider, profiles[i]);
        EXPECT_FALSE(ex->taskId.empty());
        EXPECT_EQ(ex->externalTaskId.rfind("cvgen-", 0), 0u);
        EXPECT_EQ(ex->taskStatus, "succeed");

        const auto& gen = outs[3 * i + 1];
        ASSERT_TRUE(gen.ok()) << gen.status();
        ASSERT_EQ(gen->images.size(), 1u);
        const cv::Size gs = gen->images[0].image.size();
        EXPECT_NEAR(double(gs.width) / gs.height, 16.0 / 9.0, 0.02);

        const auto& om = outs[3 * i + 2];
        ASSERT_TRUE(om.ok()) << om.status();
        ASSERT_EQ(om->images.size(), 2u);
        EXPECT_EQ(om->images[0].image.cols, om->images[0].image.rows);
    }
    clients.clear();
    EXPECT_EQ(stats(*srv).creates, 9);

    // The download cap of the curl transport: a result larger than allowed is refused.
    GenerateRequest g;
    g.prompt = "too big";
    {
        ClientParams small = clientFor(*srv, "anyapi");
        small.maxDownloadBytes = 1000;
        auto capped = createProvider(small);
        auto big = (*capped)->generate(g);
        EXPECT_EQ(big.code(), Code::OUT_OF_RANGE) << big.status();
    }
    srv->stop();

    // Nothing listens any more: a connect failure, certainly not sent, is UNAVAILABLE.
    ClientParams gone = clientFor(*srv, "anyapi");
    gone.retry.maxAttempts = 2;
    auto dead = createProvider(gone);
    auto refused = (*dead)->generate(g);
    EXPECT_EQ(refused.code(), Code::UNAVAILABLE) << refused.status();
}

TEST(Remote_Integration, upscaleSynchronousAndAsTask) {
    for (bool asTask : {false, true}) {
        SCOPED_TRACE(asTask);
        emulator::Params ep;
        ep.upscaleAsTask = asTask;
        auto srv = startServer(ep);
        for (const std::string profile : {"ideogram", "anyapi"}) {
            SCOPED_TRACE(profile);
            auto p = createProvider(clientFor(*srv, profile));
            ASSERT_TRUE(p.ok()) << p.status();
            UpscaleRequest u;
            u.image = ImageSource::fromMat(testImage(320, 300));
            auto out = (*p)->upscale(u);
            ASSERT_TRUE(out.ok()) << out.status();
            ASSERT_EQ(out->images.size(), 1u);
            expectNear(out->images[0].image.size(), {640, 600});
        }
    }
}

TEST(Remote_Integration, droppedConnectionAfterCreateMakesExactlyOneTask) {
    emulator::Params ep;
    emulator::FaultSpec drop;
    drop.kind = emulator::FaultKind::DROP_CONNECTION;
    drop.route = "/kling/v1/images/editing/expand";
    drop.method = "POST";
    drop.count = 1;
    ep.faults = {drop};
    auto srv = startServer(ep);
    auto p = createProvider(clientFor(*srv, "anyapi"));
    ExpandRequest r = expandReq();
    r.task.externalTaskId = "batch-7-img-42";
    auto out = (*p)->expand(r);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->externalTaskId, "batch-7-img-42");
    const Stats s = stats(*srv);
    EXPECT_EQ(s.creates, 1);
    EXPECT_EQ(s.byExternalId.at("batch-7-img-42"), 1);
}

TEST(Remote_Integration, slowCreatePastTheTimeoutIsNotSentTwice) {
    emulator::Params ep;
    emulator::FaultSpec slow;
    slow.kind = emulator::FaultKind::SLOW;
    slow.route = "/v1/images/generations";
    slow.method = "POST";
    slow.count = 1;
    slow.delay = 1200ms;
    ep.faults = {slow};
    auto srv = startServer(ep);
    ClientParams c = clientFor(*srv, "kling");
    c.transportParams.totalTimeout = 400ms;
    auto p = createProvider(c);
    GenerateRequest g;
    g.prompt = "slow";
    auto out = (*p)->generate(g);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(stats(*srv).creates, 1);
}

TEST(Remote_Integration, deadlineWhileRunningThenResume) {
    emulator::Params ep;
    ep.latency = 900ms;
    auto srv = startServer(ep);
    auto p = createProvider(clientFor(*srv, "kling"));
    CallOptions opt;
    opt.deadline = 250ms;
    auto out = (*p)->expand(expandReq(), opt);
    ASSERT_EQ(out.code(), Code::DEADLINE_EXCEEDED) << out.status();
    auto ref = taskRefFromStatus(out.status());
    ASSERT_TRUE(ref.has_value()) << out.status();
    ASSERT_FALSE(ref->externalTaskId.empty());
    // Later (another process, say): collect it by external id, without a second create.
    auto again = (*p)->resume(Operation::EXPAND, ref->externalTaskId, {});
    ASSERT_TRUE(again.ok()) << again.status();
    ASSERT_EQ(again->images.size(), 1u);
    expectNear(again->images[0].image.size(), {600, 600});
    EXPECT_EQ(again->taskId, ref->taskId);
    EXPECT_EQ(stats(*srv).creates, 1);
}

TEST(Remote_Integration, transientFaultsAreRetried) {
    emulator::Params ep;
    auto fault = [](emulator::FaultKind k, const char* route, const char* method) {
        emulator::FaultSpec f;
        f.kind = k;
        f.route = route;
        f.method = method;
        f.count = 1;
        f.retryAfter = 1s;
        return f;
    };
    ep.faults = {fault(emulator::FaultKind::CONCURRENCY, "/v1/images/editing/expand", "POST"),
                 fault(emulator::FaultKind::HTML_ERROR, "/v1/images/editing/expand/", "GET"),
                 fault(emulator::FaultKind::SERVER_ERROR, "/v1/images/editing/expand/", "GET"),
                 fault(emulator::FaultKind::TRUNCATED_DOWNLOAD, "", "GET"),
                 fault(emulator::FaultKind::TOKEN_EXPIRED, "/v1/images/editing/expand/", "GET")};
    auto srv = startServer(ep);
    std::vector<std::string> lines;
    std::mutex mu;
    ClientParams c = clientFor(*srv, "kling");
    c.log = [&](LogLevel, const std::string& l) {
        std::lock_guard<std::mutex> lock(mu);
        lines.push_back(l);
    };
    auto p = createProvider(c);
    auto out = (*p)->expand(expandReq());
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(stats(*srv).creates, 1);
    for (const auto& l : lines) {
        EXPECT_EQ(l.find(kSk), std::string::npos);
        EXPECT_EQ(l.find("eyJ"), std::string::npos);
    }
}

TEST(Remote_Integration, permanentErrorsAreTyped) {
    emulator::Params ep;
    emulator::FaultSpec nf;
    nf.kind = emulator::FaultKind::ROUTE_NOT_FOUND;
    nf.route = "/kling/v1/images/editing/expand";
    nf.method = "POST";
    emulator::FaultSpec failed;
    failed.kind = emulator::FaultKind::TASK_FAILED;
    failed.route = "/kling/v1/images/generations";
    failed.method = "POST";
    ep.faults = {nf, failed};
    auto srv = startServer(ep);
    auto p = createProvider(clientFor(*srv, "cometapi"));
    auto ex = (*p)->expand(expandReq());
    EXPECT_EQ(ex.code(), Code::NOT_FOUND);
    EXPECT_NE(ex.status().message().find("route not available at this provider"),
              std::string::npos);
    GenerateRequest g;
    g.prompt = "x";
    auto gen = (*p)->generate(g);
    EXPECT_EQ(gen.code(), Code::FAILED_PRECONDITION) << gen.status();

    ClientParams bad = clientFor(*srv, "anyapi");
    bad.credentials.apiKey = "wrong-key";
    auto q = createProvider(bad);
    auto unauth = (*q)->generate(g);
    EXPECT_EQ(unauth.code(), Code::UNAUTHENTICATED);
    EXPECT_EQ(unauth.status().toString().find("wrong-key"), std::string::npos);
}

TEST(Remote_Integration, httpsVerifiedWithTheCallersCaFile) {
    char tmpl[] = "/tmp/cvgen-remote-tls-XXXXXX";
    const std::string dir = mkdtemp(tmpl);
    const std::string cert = dir + "/cert.pem", key = dir + "/key.pem";
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1 -keyout " +
        key + " -out " + cert + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    emulator::Params ep;
    ep.tlsCertFile = cert;
    ep.tlsKeyFile = key;
    auto srv = startServer(ep);
    ASSERT_EQ(srv->baseUrl().rfind("https://", 0), 0u);
    {
        // The CLI's path: RemoteParams → createProvider.
        RemoteParams rp;
        rp.profile = "anyapi";
        rp.baseUrl = srv->baseUrl();
        rp.apiKey = kKey;
        rp.poll.firstDelay = rp.poll.interval = 40ms;
        GenerateRequest g;
        g.prompt = "over TLS";
        // Without the CA: verification fails, nothing is created.
        auto untrusted = createProvider(rp);
        ASSERT_TRUE(untrusted.ok()) << untrusted.status();
        auto refused = (*untrusted)->generate(g);
        EXPECT_EQ(refused.code(), Code::FAILED_PRECONDITION) << refused.status();
        EXPECT_EQ(stats(*srv).creates, 0);
        rp.caFile = cert;
        auto trusted = createProvider(rp);
        ASSERT_TRUE(trusted.ok()) << trusted.status();
        auto out = (*trusted)->generate(g);
        ASSERT_TRUE(out.ok()) << out.status();
        EXPECT_EQ(out->images.size(), 1u);
        EXPECT_EQ(out->images[0].url.rfind("https://", 0), 0u);
    }
    srv.reset();
    std::system(("rm -rf '" + dir + "'").c_str());
}

TEST(Remote_Integration, manyTasksInFlightWithBoundedSlots) {
    auto srv = startServer({});
    ClientParams c = clientFor(*srv, "anyapi");
    c.maxSlots = 4;
    auto client = TaskClient::create(c);
    ASSERT_TRUE(client.ok());
    std::vector<TaskHandle> handles;
    for (int i = 0; i < 4; ++i) {
        GenerateRequest g;
        g.prompt = "tile " + std::to_string(i);
        auto h = (*client)->submit(g);
        ASSERT_TRUE(h.ok()) << h.status();
        handles.push_back(*h);
    }
    EXPECT_EQ((*client)->slotsInUse(), 4);
    auto outs = (*client)->waitAll(handles);
    for (auto& o : outs) EXPECT_TRUE(o.ok()) << o.status();
    EXPECT_EQ((*client)->slotsInUse(), 0);
}

}  // namespace
}  // namespace remote
}  // namespace cvgen

namespace cvgen {
namespace remote {
namespace {

TEST(Remote_Integration, webhookSignaturesInteroperateWithTheEmulator) {
    const std::string secret = "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=";
    cv::RNG rng(5);
    for (int i = 0; i < 200; ++i) {
        std::string body(size_t(rng.uniform(0, 300)), ' ');
        for (char& c : body) c = char(rng.uniform(32, 127));
        const int64_t ts = 1781080000 + rng.uniform(0, 100000);
        const std::string id = "msg_" + std::to_string(i);
        auto sig = emulator::webhookSignature(secret, id, ts, body);
        ASSERT_TRUE(sig.ok());
        const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(ts + 10));
        ASSERT_TRUE(verifyWebhook(secret, id, std::to_string(ts), *sig, body, now).ok()) << i;
        EXPECT_EQ(signWebhook(secret, id, std::to_string(ts), body), *sig);
        EXPECT_EQ(verifyWebhook(secret, id, std::to_string(ts), *sig, body + "x", now).code(),
                  Code::UNAUTHENTICATED);
    }
}

}  // namespace
}  // namespace remote
}  // namespace cvgen
