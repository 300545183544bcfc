// Every fault kind, its determinism, and the fault file format.
#include <gtest/gtest.h>

#include "emu_test_util.hpp"

using namespace emutest;
namespace emu = cvgen::emulator;

namespace {

emu::FaultSpec rule(emu::FaultKind kind, const std::string& route = "") {
    emu::FaultSpec f;
    f.kind = kind;
    f.route = route;
    return f;
}

const char* kGen = "/kling/v1/images/generations";

}  // namespace

TEST(Emulator_Faults, errorAnswersBeforeProcessingCreateNothing) {
    struct Case {
        emu::FaultKind kind;
        long status;
        int code;  // -1: not a JSON envelope
        const char* contentType;
        bool retryAfter;
    };
    const std::vector<Case> cases = {
        {emu::FaultKind::RATE_LIMIT, 429, 1302, "application/json", true},
        {emu::FaultKind::CONCURRENCY, 429, 1303, "application/json", true},
        {emu::FaultKind::SERVER_ERROR, 500, 5000, "application/json", false},
        {emu::FaultKind::SERVICE_UNAVAILABLE, 503, 5001, "application/json", true},
        {emu::FaultKind::GATEWAY_TIMEOUT, 504, 5002, "application/json", false},
        {emu::FaultKind::TOKEN_EXPIRED, 401, 1004, "application/json", false},
        {emu::FaultKind::HTML_ERROR, 502, -1, "text/html", false},
        {emu::FaultKind::ROUTE_NOT_FOUND, 404, -1, "text/plain", false},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(emu::toString(c.kind));
        auto p = fastParams();
        auto f = rule(c.kind, kGen);
        f.method = "POST";
        f.retryAfter = std::chrono::seconds(2);
        p.faults = {f};
        auto s = start(p);
        Response r = postJson(s->baseUrl() + kGen, "{\"prompt\":\"p\"}", {bearer()});
        EXPECT_EQ(r.status, c.status) << r.body;
        EXPECT_EQ(r.header("content-type").rfind(c.contentType, 0), 0u) << r.header("content-type");
        if (c.code >= 0) {
            EXPECT_EQ(parse(r.body)["code"].GetInt(), c.code) << r.body;
        }
        if (c.kind == emu::FaultKind::HTML_ERROR) {
            EXPECT_NE(r.body.find("<html>"), std::string::npos);
        }
        EXPECT_EQ(r.header("retry-after"), c.retryAfter ? "2" : "");
        // GETs are outside the rule's method filter.
        EXPECT_EQ(get(s->baseUrl() + kGen, {bearer()}).status, 200);
        auto st = stats(*s);
        EXPECT_EQ(st["creates"].GetInt(), 0);
        EXPECT_EQ(st["faults_injected"][emu::toString(c.kind)].GetInt(), 1);
        s->stop();
    }
}

TEST(Emulator_Faults, droppedConnectionHappensAfterTheCreate) {
    auto p = fastParams();
    p.faults = {rule(emu::FaultKind::DROP_CONNECTION, kGen)};
    p.faults[0].method = "POST";
    p.faults[0].count = 1;
    auto s = start(p);
    Response r = postJson(s->baseUrl() + kGen, "{\"prompt\":\"p\",\"external_task_id\":\"d-1\"}",
                          {bearer()});
    EXPECT_TRUE(r.curl == CURLE_GOT_NOTHING || r.curl == CURLE_RECV_ERROR)
        << curl_easy_strerror(r.curl);
    EXPECT_EQ(r.status, 0);
    // The client never heard, but the task exists: it can be found by its external id.
    auto st = stats(*s);
    EXPECT_EQ(st["creates"].GetInt(), 1);
    EXPECT_EQ(st["creates_by_external_id"]["d-1"].GetInt(), 1);
    auto fin = waitFinal(s->baseUrl() + kGen + "/d-1");
    EXPECT_STREQ(fin["data"]["task_status"].GetString(), "succeed");
    // A blind retry with the same external id is refused: no duplicate task.
    Response again = postJson(s->baseUrl() + kGen,
                              "{\"prompt\":\"p\",\"external_task_id\":\"d-1\"}", {bearer()});
    EXPECT_EQ(again.status, 400);
    EXPECT_EQ(parse(again.body)["code"].GetInt(), 1201);
    EXPECT_EQ(stats(*s)["creates"].GetInt(), 1);
    EXPECT_EQ(stats(*s)["faults_injected"]["drop_connection"].GetInt(), 1);
    s->stop();
}

TEST(Emulator_Faults, malformedJsonAndSlowAnswersAfterTheCreate) {
    auto p = fastParams();
    auto slow = rule(emu::FaultKind::SLOW, kGen);
    slow.delay = std::chrono::milliseconds(1500);
    slow.method = "POST";
    // The first create gets the malformed-JSON rule (tried first, one hit); the rest are slow.
    auto bad = rule(emu::FaultKind::MALFORMED_JSON, kGen);
    bad.count = 1;
    bad.method = "POST";
    p.faults = {bad, slow};
    auto s = start(p);
    Response r = postJson(s->baseUrl() + kGen, "{\"prompt\":\"p\"}", {bearer()});
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(parse(r.body).HasParseError()) << r.body;
    EXPECT_EQ(stats(*s)["creates"].GetInt(), 1);

    Request rq;
    rq.method = "POST";
    rq.url = s->baseUrl() + kGen;
    rq.headers = {bearer(), "Content-Type: application/json"};
    rq.body = "{\"prompt\":\"p\",\"external_task_id\":\"slow-1\"}";
    rq.timeoutMs = 300;
    const auto t0 = std::chrono::steady_clock::now();
    Response timedOut = send(rq);
    EXPECT_EQ(timedOut.curl, CURLE_OPERATION_TIMEDOUT);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1400));
    EXPECT_EQ(stats(*s)["creates_by_external_id"]["slow-1"].GetInt(), 1);
    EXPECT_EQ(stats(*s)["faults_injected"]["slow"].GetInt(), 1);
    EXPECT_EQ(stats(*s)["faults_injected"]["malformed_json"].GetInt(), 1);
    s->stop();  // wakes the held-back response
}

TEST(Emulator_Faults, failedAndStuckTasks) {
    auto p = fastParams();
    auto failed = rule(emu::FaultKind::TASK_FAILED, kGen);
    failed.count = 1;
    auto stuck = rule(emu::FaultKind::TASK_STUCK, kGen);  // after the one failed task
    p.faults = {failed, stuck};
    auto s = start(p);
    Response a = postJson(s->baseUrl() + kGen, "{\"prompt\":\"p\"}", {bearer()});
    ASSERT_EQ(a.status, 200);
    auto fin = waitFinal(s->baseUrl() + kGen + "/" + parse(a.body)["data"]["task_id"].GetString());
    // A failed task is HTTP 200, code 0, task_status failed with a reason.
    EXPECT_EQ(fin["code"].GetInt(), 0);
    EXPECT_STREQ(fin["data"]["task_status"].GetString(), "failed");
    EXPECT_GT(fin["data"]["task_status_msg"].GetStringLength(), 0u);
    EXPECT_EQ(fin["data"]["task_result"].MemberCount(), 0u);

    Response b = postJson(s->baseUrl() + kGen, "{\"prompt\":\"p\"}", {bearer()});
    ASSERT_EQ(b.status, 200);
    const std::string url =
        s->baseUrl() + kGen + "/" + parse(b.body)["data"]["task_id"].GetString();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // 6× the latency
    auto still = parse(get(url, {bearer()}).body);
    EXPECT_STREQ(still["data"]["task_status"].GetString(), "processing");
    EXPECT_EQ(stats(*s)["slots_in_use"].GetInt(), 1);
    s->stop();
}

TEST(Emulator_Faults, truncatedDownload) {
    auto p = fastParams();
    p.faults = {rule(emu::FaultKind::TRUNCATED_DOWNLOAD)};
    p.faults[0].count = 1;
    auto s = start(p);
    Response a = postJson(s->baseUrl() + kGen, "{\"prompt\":\"p\"}", {bearer()});
    auto fin = waitFinal(s->baseUrl() + kGen + "/" + parse(a.body)["data"]["task_id"].GetString());
    const std::string url = fin["data"]["task_result"]["images"][0]["url"].GetString();
    Response cut = get(url);
    EXPECT_EQ(cut.curl, CURLE_PARTIAL_FILE) << curl_easy_strerror(cut.curl);
    Response whole = get(url);
    ASSERT_EQ(whole.curl, CURLE_OK);
    EXPECT_EQ(cut.body.size(), whole.body.size() / 2);
    EXPECT_EQ(stats(*s)["faults_injected"]["truncated_download"].GetInt(), 1);
    s->stop();
}

TEST(Emulator_Faults, drawsAreDeterministicForASeed) {
    auto pattern = [](uint64_t seed) {
        auto p = fastParams();
        p.seed = seed;
        auto f = rule(emu::FaultKind::SERVER_ERROR, kGen);
        f.rate = 0.5;
        f.method = "GET";
        p.faults = {f};
        auto s = start(p);
        std::string hits;
        for (int i = 0; i < 24; ++i)
            hits += get(s->baseUrl() + kGen, {bearer()}).status == 500 ? 'x' : '.';
        s->stop();
        return hits;
    };
    const std::string a = pattern(7);
    EXPECT_EQ(a, pattern(7));
    EXPECT_NE(a, pattern(8));
    const auto hits = std::count(a.begin(), a.end(), 'x');
    EXPECT_GT(hits, 3);
    EXPECT_LT(hits, 21);
}

TEST(Emulator_Faults, skipAndCountBoundTheHits) {
    auto p = fastParams();
    auto f = rule(emu::FaultKind::SERVICE_UNAVAILABLE, "/kling/v1");
    f.skip = 2;
    f.count = 2;
    p.faults = {f};
    auto s = start(p);
    std::string hits;
    for (int i = 0; i < 6; ++i)
        hits += get(s->baseUrl() + kGen, {bearer()}).status == 503 ? 'x' : '.';
    EXPECT_EQ(hits, "..xx..");
    // Other routes are outside the rule.
    EXPECT_EQ(get(s->baseUrl() + "/v1/images/generations", {bearer()}).status, 200);
    s->stop();
}

TEST(Emulator_FaultFile, parsesRulesAndRejectsBadOnes) {
    auto ok = emu::parseFaults(R"({"faults":[
        {"kind":"rate_limit","rate":0.25,"route":"/kling/v1/images","method":"POST","retry_after":3},
        {"kind":"slow","delay_ms":5000},
        {"kind":"html_error","status":503,"skip":1,"count":2}]})");
    ASSERT_TRUE(ok.ok()) << ok.status();
    ASSERT_EQ(ok->size(), 3u);
    EXPECT_EQ((*ok)[0].kind, emu::FaultKind::RATE_LIMIT);
    EXPECT_DOUBLE_EQ((*ok)[0].rate, 0.25);
    EXPECT_EQ((*ok)[0].route, "/kling/v1/images");
    EXPECT_EQ((*ok)[0].retryAfter, std::chrono::seconds(3));
    EXPECT_EQ((*ok)[1].delay, std::chrono::milliseconds(5000));
    EXPECT_EQ((*ok)[2].httpStatus, 503);
    EXPECT_EQ((*ok)[2].count, 2);
    auto bare = emu::parseFaults(R"([{"kind":"task_stuck"}])");
    ASSERT_TRUE(bare.ok());
    EXPECT_DOUBLE_EQ((*bare)[0].rate, 1.0);
    // Every kind round-trips through its wire name.
    for (emu::FaultKind k : emu::allFaultKinds())
        EXPECT_EQ(emu::parseFaultKind(emu::toString(k)), k);

    struct Bad {
        const char* json;
        const char* mentions;
    };
    for (const Bad& b : std::vector<Bad>{{"{", "JSON"},
                                         {R"({"x":1})", "faults"},
                                         {R"([{"rate":1}])", "kind"},
                                         {R"([{"kind":"meteor"}])", "meteor"},
                                         {R"([{"kind":"slow","rate":2}])", "rate"},
                                         {R"([{"kind":"slow","route":"v1"}])", "route"},
                                         {R"([{"kind":"slow","method":"PUT"}])", "method"},
                                         {R"([{"kind":"slow","delay":5}])", "delay"},
                                         {R"([{"kind":"slow","count":"2"}])", "count"}}) {
        SCOPED_TRACE(b.json);
        auto r = emu::parseFaults(b.json);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.code(), cvgen::Code::INVALID_ARGUMENT);
        EXPECT_NE(r.status().message().find(b.mentions), std::string::npos) << r.status();
    }

    auto flag = emu::parseFaultFlag("rate_limit=0.2@/kling/v1");
    ASSERT_TRUE(flag.ok()) << flag.status();
    EXPECT_EQ(flag->kind, emu::FaultKind::RATE_LIMIT);
    EXPECT_DOUBLE_EQ(flag->rate, 0.2);
    EXPECT_EQ(flag->route, "/kling/v1");
    EXPECT_TRUE(emu::parseFaultFlag("drop_connection").ok());
    EXPECT_FALSE(emu::parseFaultFlag("drop_connection=abc").ok());
    EXPECT_FALSE(emu::parseFaultFlag("nope=0.1").ok());
}
