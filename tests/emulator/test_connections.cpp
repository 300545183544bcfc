// Connections: a thousand keep-alive clients at once, the --max-connections cap, request
// shapes that make httplib and RapidJSON recurse (a long path, a long Range, deep JSON).
#include <gtest/gtest.h>

#include "emu_test_util.hpp"
#include "raw_http.hpp"

using namespace emutest;
namespace emu = cvgen::emulator;

namespace {

int64_t connStat(const emu::Server& s, const char* key) {
    const auto d = stats(s);
    return d["connections"][key].GetInt64();
}

/** Waits until the stats' connections.`key` reaches `value` (the listener works on its own
 * thread); false after 10 s. */
bool waitConnStat(const emu::Server& s, const char* key, int64_t value) {
    for (int i = 0; i < 1000; ++i) {
        if (connStat(s, key) == value) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

}  // namespace

TEST(Emulator_Connections, aThousandKeepAliveConnectionsOpenedAtOnceAreAllAnswered) {
    const int kClients = 1000;
    // Both ends of every connection live in this process.
    if (!ensureDescriptors(2 * kClients + 256))
        GTEST_SKIP() << "the descriptor hard limit is below " << 2 * kClients + 256;
    auto s = start(fastParams());
    const std::string base = s->baseUrl();
    Response created = postJson(base + "/kling/v1/images/generations",
                                R"({"prompt":"p","aspect_ratio":"1:1"})", {bearer()});
    ASSERT_EQ(created.status, 200) << created.body;
    const std::string id = parse(created.body)["data"]["task_id"].GetString();
    ASSERT_TRUE(waitConnStat(*s, "open", 0));  // curl's connection is gone

    std::vector<RawConn> conns(kClients);
    for (auto& c : conns) {
        ASSERT_TRUE(c.open(s->port())) << std::strerror(errno);
        c.request("GET", "/kling/v1/images/generations/" + id, {bearer()});
    }
    // Two rounds on the same connections: the second proves each was kept alive.
    for (int round = 0; round < 2; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        EXPECT_EQ(pumpAll(conns, std::chrono::seconds(60)), 0u);
        int answered = 0;
        for (auto& c : conns) {
            if (c.failed || c.status != 200) continue;
            const auto d = parse(c.body);
            if (!d.HasParseError() && d["code"].GetInt() == 0 &&
                std::string(d["data"]["task_id"].GetString()) == id &&
                c.headers.find("Connection: close") == std::string::npos)
                ++answered;
        }
        EXPECT_EQ(answered, kClients);
        // Every connection is open at the same time, each on a thread of its own.
        EXPECT_EQ(connStat(*s, "open"), kClients);
        for (auto& c : conns) c.request("GET", "/kling/v1/images/generations/" + id, {bearer()});
    }
    EXPECT_GE(connStat(*s, "peak_open"), kClients);
    EXPECT_EQ(connStat(*s, "accepted"), kClients + 1);  // + the create: nobody reconnected
    EXPECT_EQ(connStat(*s, "waiting"), 0);
    for (auto& c : conns) c.close();
    s->stop();
}

TEST(Emulator_Connections, clientsBeyondMaxConnectionsWaitUntilOneCloses) {
    auto p = fastParams();
    p.maxConnections = 2;
    auto s = start(p);
    std::vector<RawConn> conns(3);
    const std::string target = "/kling/v1/images/generations/none";
    for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(conns[i].open(s->port()));
        conns[i].request("GET", target, {bearer()});
    }
    ASSERT_EQ(pumpAll(conns, std::chrono::seconds(10)), 0u);
    EXPECT_EQ(conns[0].status, 404);
    EXPECT_EQ(conns[1].status, 404);
    ASSERT_TRUE(conns[2].open(s->port()));  // completes in the listen backlog
    conns[2].request("GET", target, {bearer()});
    // Not accepted, so not answered, while the first two stay connected.
    EXPECT_EQ(pumpAll(conns, std::chrono::milliseconds(300)), 1u);
    EXPECT_EQ(conns[2].status, 0);
    EXPECT_EQ(connStat(*s, "accepted"), 2);
    EXPECT_EQ(connStat(*s, "open"), 2);
    conns[0].close();  // makes room
    ASSERT_EQ(pumpAll(conns, std::chrono::seconds(10)), 0u);
    EXPECT_EQ(conns[2].status, 404);
    EXPECT_NE(conns[2].body.find("\"code\":1203"), std::string::npos) << conns[2].body;
    EXPECT_EQ(connStat(*s, "accepted"), 3);
    EXPECT_EQ(connStat(*s, "peak_open"), 2);
    for (auto& c : conns) c.close();
}

TEST(Emulator_Connections, longPathsHeadersAndDeepJsonAreAnswered) {
    auto s = start(fastParams());
    // A path at httplib's URI limit (regex matching of routes recurses per character).
    const std::string longPath = "/kling/v1/images/" + std::string(8000, 'a');
    Response r = get(s->baseUrl() + longPath, {bearer()});
    EXPECT_EQ(r.status, 404) << r.body.substr(0, 200);
    r = postJson(s->baseUrl() + longPath, "{}", {bearer()});
    EXPECT_EQ(r.status, 404) << r.body.substr(0, 200);
    // A Range header near httplib's header line limit (also matched by a std::regex).
    std::string range = "Range: bytes=0-0";
    while (range.size() < 8000) range += ",0-0";
    r = get(s->baseUrl() + "/kling/v1/images/generations/x", {bearer(), range});
    EXPECT_EQ(r.status, 404) << r.body.substr(0, 200);
    // JSON nested a million deep: parsed iteratively, rejected as a non-object body.
    const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
    r = postJson(s->baseUrl() + "/kling/v1/images/generations", deep, {bearer()});
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("\"code\":1200"), std::string::npos) << r.body;
    // A JWT whose payload is deeply nested JSON.
    auto p = fastParams();
    p.accessKey = "ak";
    p.secretKey = "sk";
    auto j = start(p);
    const std::string nested = b64url(std::string(3000, '['));
    r = get(j->baseUrl() + "/v1/images/generations/x",
            {"Authorization: Bearer " + b64url(R"({"alg":"HS256","typ":"JWT"})") + "." + nested +
             ".c2ln"});
    EXPECT_EQ(r.status, 401) << r.body;
}

TEST(Emulator_Connections, maxConnectionsIsChecked) {
    auto p = fastParams();
    p.maxConnections = 0;
    EXPECT_THROW(emu::Server::create(p), std::invalid_argument);
    p.maxConnections = 100001;
    EXPECT_THROW(emu::Server::create(p), std::invalid_argument);
}

TEST(Emulator_Connections, pipelinedChunkedExpectContinueAndHeadRequests) {
    auto s = start(fastParams());
    std::vector<RawConn> c(1);
    ASSERT_TRUE(c[0].open(s->port()));
    // Two requests in one write: two answers, in order, on the same connection.
    c[0].request("GET", "/v1/images/generations/first", {bearer()});
    std::string both = c[0].out;
    c[0].request("GET", "/kling/v1/images/generations?pageSize=2", {bearer()});
    c[0].out = both + c[0].out;
    ASSERT_EQ(pumpAll(c, std::chrono::seconds(10)), 0u);
    EXPECT_EQ(c[0].status, 404);
    EXPECT_NE(c[0].body.find("task not found: first"), std::string::npos) << c[0].body;
    // The second answer: already buffered, or still on its way.
    c[0].status = 0;
    if (!c[0].parse()) {
        ASSERT_EQ(pumpAll(c, std::chrono::seconds(10)), 0u);
    }
    EXPECT_EQ(c[0].status, 200);
    EXPECT_NE(c[0].body.find("\"data\":[]"), std::string::npos) << c[0].body;

    // A chunked body.
    const std::string body = R"({"prompt":"chunked","aspect_ratio":"1:1"})";
    c[0].request("POST", "/v1/images/generations",
                 {bearer(), "Content-Type: application/json", "Transfer-Encoding: chunked"});
    c[0].out.resize(c[0].out.find("Content-Length"));  // request() added one: drop it
    c[0].out += "\r\n";
    c[0].out += "10\r\n" + body.substr(0, 16) + "\r\n";
    char size[16];
    std::snprintf(size, sizeof size, "%zx", body.size() - 16);
    c[0].out += std::string(size) + "\r\n" + body.substr(16) + "\r\n0\r\n\r\n";
    ASSERT_EQ(pumpAll(c, std::chrono::seconds(10)), 0u);
    EXPECT_EQ(c[0].status, 200) << c[0].body;

    // Expect: 100-continue: the interim answer comes before the body is sent.
    c[0].request("POST", "/v1/images/generations",
                 {bearer(), "Content-Type: application/json", "Expect: 100-continue"}, body);
    const std::string withBody = c[0].out;
    c[0].out = withBody.substr(0, withBody.size() - body.size());
    ASSERT_EQ(pumpAll(c, std::chrono::seconds(10)), 0u);
    EXPECT_EQ(c[0].status, 100);
    c[0].status = 0;
    c[0].out = body;
    ASSERT_EQ(pumpAll(c, std::chrono::seconds(10)), 0u);
    EXPECT_EQ(c[0].status, 200) << c[0].body;

    // HEAD: GET's status and Content-Length, no body: the next answer parses cleanly.
    c[0].request("HEAD", "/v1/images/generations/nope", {bearer()});
    ASSERT_EQ(pumpAll(c, std::chrono::seconds(10)), 0u);
    EXPECT_EQ(c[0].status, 404);
    EXPECT_NE(c[0].headers.find("Content-Length: "), std::string::npos);
    EXPECT_EQ(c[0].body, "");
    c[0].request("GET", "/v1/images/generations/nope2", {bearer()});
    ASSERT_EQ(pumpAll(c, std::chrono::seconds(10)), 0u);
    EXPECT_EQ(c[0].status, 404);
    EXPECT_NE(c[0].body.find("task not found: nope2"), std::string::npos) << c[0].body;
    c[0].close();

    // Malformed and oversized requests are answered and the connection closed.
    std::vector<RawConn> bad(2);
    ASSERT_TRUE(bad[0].open(s->port()));
    bad[0].out = "NOT-HTTP\r\n\r\n";
    ASSERT_TRUE(bad[1].open(s->port()));
    bad[1].out = "POST /v1/images/generations HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n";
    ASSERT_EQ(pumpAll(bad, std::chrono::seconds(10)), 0u);
    EXPECT_EQ(bad[0].status, 400);
    EXPECT_EQ(bad[1].status, 413);
    EXPECT_NE(bad[1].headers.find("Connection: close"), std::string::npos);
    for (auto& b : bad) b.close();
}
