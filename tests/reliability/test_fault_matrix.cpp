// The fault matrix: for every fault kind the emulator injects, a batch of 100 images through the
// BatchRunner and the real remote client (profile anyapi, curl on 127.0.0.1) at a 20 % fault
// rate finishes with every item either done or failed with the right typed error, one create per
// external task id, bounded attempts and a bounded wall time.
//
// Speed: 300x300 inputs expanded to 330x330 (one pass), emulator latency 30 ms, polls every
// 15-30 ms, 25 items in flight. Retry-After faults (429/1302/1303/5001) cost >= 1 s per hit and
// run concurrently, so one case takes a few seconds.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <set>

#include "cvgen/core/codec.hpp"
#include "cvgen/emulator.hpp"
#include "cvgen/remote.hpp"
#include "cvgen/stages/batch.hpp"
#include "reliability/rel_util.hpp"

namespace cvgen::reliability {
namespace {

using emulator::FaultKind;

constexpr int kItems = 100;
#if defined(__SANITIZE_ADDRESS__)
constexpr double kSlowdown = 5;  // ASan+UBSan build: the wall-time bounds scale
#else
constexpr double kSlowdown = 1;
#endif
const cv::Size kTarget(330, 330);

/** The 100 inputs, written once for all cases. */
const TempDir& inputs() {
    static TempDir* d = [] {
        auto* t = new TempDir();
        for (int i = 0; i < kItems; ++i)
            writePng(t->path() / "in" / ("img" + std::to_string(i) + ".png"),
                     noiseImage({300, 300}, CV_8UC3, uint32_t(i + 1)));
        return t;
    }();
    return *d;
}

struct Case {
    FaultKind kind;
    std::string route;       ///< "" = every route
    std::string method;      ///< "" = any
    std::set<Code> allowed;  ///< codes a failed item may carry (empty: every item must be OK)
    int minOk;               ///< at least this many items done
    double maxSeconds;       ///< wall time bound of the batch (normal build)
};

std::string name(const Case& c) {
    return emulator::toString(c.kind);
}

class Reliability_FaultMatrix : public ::testing::TestWithParam<Case> {};

TEST_P(Reliability_FaultMatrix, batchFinishesWithTypedErrorsAndOneCreatePerId) {
    const Case& c = GetParam();
    SCOPED_TRACE(name(c));
    const TempDir& in = inputs();
    TempDir out;

    emulator::Params ep;
    ep.latency = std::chrono::milliseconds(30);
    ep.apiKeys = {"matrix-key"};
    ep.seed = 7;
    emulator::FaultSpec f;
    f.kind = c.kind;
    f.rate = 0.2;
    f.route = c.route;
    f.method = c.method;
    f.delay = std::chrono::milliseconds(1500);  // SLOW: past the 1 s request timeout
    f.retryAfter = std::chrono::seconds(1);
    ep.faults = {f};
    auto server = emulator::Server::create(ep);
    ASSERT_TRUE(server->start().ok());

    remote::RemoteParams rp;
    rp.profile = "anyapi";
    rp.baseUrl = server->baseUrl();
    rp.apiKey = "matrix-key";
    rp.requestTimeout = std::chrono::milliseconds(1000);
    // A stuck task gives up after this (DEADLINE_EXCEEDED with its ids, for a later resume).
    rp.deadline = c.kind == FaultKind::TASK_STUCK ? std::chrono::milliseconds(1500)
                                                  : std::chrono::milliseconds(20000);
    rp.poll.firstDelay = std::chrono::milliseconds(15);
    rp.poll.interval = std::chrono::milliseconds(15);
    rp.poll.maxInterval = std::chrono::milliseconds(30);
    rp.retry.maxAttempts = 8;  // the engine owns retries: at a 20 % fault rate, 8 tries
    rp.retry.initialBackoff = std::chrono::milliseconds(20);
    rp.retry.maxBackoff = std::chrono::milliseconds(200);
    auto prov = remote::createProvider(rp);
    ASSERT_TRUE(prov.ok()) << prov.status();

    stages::BatchRunner::Params p;
    p.input = in.str("in");
    p.output = out.str("out");
    p.target = TargetSpec::exact(kTarget);
    p.provider = *prov;
    p.concurrency = 40;
    p.earlyStopAfter = 0;  // a 20 % fault must not stop the batch
    p.contactSheet = false;
    std::mutex mu;
    std::vector<stages::ItemReport> reports;
    p.onItem = [&](const stages::ItemReport& r) {
        std::lock_guard<std::mutex> lock(mu);
        reports.push_back(r);
    };

    const auto t0 = std::chrono::steady_clock::now();
    auto summary = stages::BatchRunner::create(p)->run();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(summary.ok()) << summary.status();
    RecordProperty("seconds", std::to_string(secs));
    RecordProperty("ok", int(summary->ok));

    EXPECT_EQ(summary->total, size_t(kItems));
    EXPECT_EQ(summary->ok + summary->failed, size_t(kItems)) << "every item finished";
    EXPECT_FALSE(summary->stoppedEarly);
    EXPECT_GE(int(summary->ok), c.minOk);
    EXPECT_LT(secs, c.maxSeconds * kSlowdown) << "wall time bounded";
    ASSERT_EQ(reports.size(), size_t(kItems));
    std::map<std::string, int> failures;
    for (const auto& r : reports) {
        SCOPED_TRACE(r.relPath + " " + r.message);
        EXPECT_LE(r.attempts, 1) << "the batch never retries (the engine owns retries)";
        if (r.status == stages::ItemStatus::OK) {
            auto img = decodeImage(*readFileBytes(r.output));
            ASSERT_TRUE(img.ok()) << img.status();
            EXPECT_EQ(img->size(), kTarget);
        } else {
            ASSERT_EQ(r.status, stages::ItemStatus::FAILED);
            ++failures[std::string(codeName(r.code))];
            EXPECT_TRUE(c.allowed.count(r.code)) << "unexpected code " << codeName(r.code);
            EXPECT_FALSE(r.message.empty());
            EXPECT_TRUE(r.output.empty() || !fs::exists(r.output)) << "no output for a failure";
        }
    }
    std::string fails;
    for (const auto& [k, v] : failures) fails += k + "=" + std::to_string(v) + " ";
    RecordProperty("failures", fails);
    EXPECT_EQ(countTempFiles(out.path()), 0);

    std::string why;
    const std::string stats = server->statsJson();
    const int ids = expectOneCreatePerExternalId(stats, &why);
    EXPECT_TRUE(why.empty()) << why;
    EXPECT_GE(ids, int(summary->ok));
    EXPECT_LE(ids, kItems);
    rapidjson::Document d;
    d.Parse(stats.c_str());
    ASSERT_TRUE(d.IsObject());
    int64_t requests = 0;
    for (const auto& m : d["requests_by_route"].GetObject()) requests += m.value.GetInt64();
    // Bounded: per item one create + polls + download, each exchange tried at most maxAttempts
    // times; polls every >= 15 ms for <= 4 s.
    EXPECT_LT(requests, int64_t(kItems) * 5 * 300) << stats;
    // The injected faults really fired.
    ASSERT_TRUE(d["faults_injected"].HasMember(name(c).c_str())) << stats;
    EXPECT_GT(d["faults_injected"][name(c).c_str()].GetInt64(), 0);

    p.provider.reset();
    prov = Status(Code::CANCELLED, "released");
    server->stop();
}

const std::string kCreate = "/kling/v1/images/editing/expand";
const std::string kImages = "/kling/v1/images";
const std::string kResults = "/_emulator/results";

INSTANTIATE_TEST_SUITE_P(
    Kinds, Reliability_FaultMatrix,
    ::testing::Values(
        // Before processing, retryable: every item ends done.
        Case{FaultKind::RATE_LIMIT, kImages, "", {}, kItems, 40},
        Case{FaultKind::CONCURRENCY, kImages, "", {}, kItems, 40},
        Case{FaultKind::SERVER_ERROR, kImages, "", {}, kItems, 30},
        Case{FaultKind::SERVICE_UNAVAILABLE, kImages, "", {}, kItems, 40},
        Case{FaultKind::GATEWAY_TIMEOUT, kImages, "", {}, kItems, 30},
        Case{FaultKind::HTML_ERROR, kImages, "", {}, kItems, 30},
        // After a create was processed: the client must find the task, never create it twice.
        Case{FaultKind::DROP_CONNECTION, kCreate, "POST", {}, kItems, 30},
        Case{FaultKind::SLOW, kCreate, "POST", {}, kItems, 40},
        Case{FaultKind::MALFORMED_JSON, kCreate, "POST", {}, kItems, 30},
        // A cut-off poll answer is INTERNAL and not retried (statusFromResponse's rule for
        // JSON-looking 2xx bodies): those items fail with a typed error.
        Case{FaultKind::MALFORMED_JSON, kImages, "GET", {Code::INTERNAL}, 0, 30},
        // A relay without the route, a token the provider says expired: not retryable.
        Case{FaultKind::ROUTE_NOT_FOUND, kCreate, "POST", {Code::NOT_FOUND}, 60, 30},
        Case{FaultKind::TOKEN_EXPIRED, kImages, "", {Code::UNAUTHENTICATED}, 50, 30},
        // Task and download faults.
        Case{FaultKind::TASK_FAILED,
             kCreate,
             "POST",
             {Code::INTERNAL, Code::FAILED_PRECONDITION, Code::INVALID_ARGUMENT, Code::UNKNOWN},
             60,
             30},
        Case{FaultKind::TASK_STUCK, kCreate, "POST", {Code::DEADLINE_EXCEEDED}, 60, 40},
        Case{FaultKind::TRUNCATED_DOWNLOAD, kResults, "", {}, kItems, 30}),
    [](const ::testing::TestParamInfo<Case>& i) {
        return name(i.param) + "_" + (i.param.method.empty() ? "ANY" : i.param.method);
    });

}  // namespace
}  // namespace cvgen::reliability
