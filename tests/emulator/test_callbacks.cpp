// Standard Webhooks signing and callbacks received by a tiny loopback server.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "emu_test_util.hpp"

using namespace emutest;
namespace emu = cvgen::emulator;

TEST(Emulator_Webhook, signatureMatchesTheStandardWebhooksVector) {
    auto sig = emu::webhookSignature(
        "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=", "9876543210", 1781080794,
        R"({"id":"1234567890","status":"succeeded","message":"","create_time":1781080778802,"update_time":1781080794151})");
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_EQ(*sig, "v1,UsKlJP00XoQyOn410NM9xv34sP+Gl0jnOO9Lcpr7NJ4=");
    EXPECT_EQ(emu::webhookSignature("dGVzdA==", "1", 1, "{}").code(),
              cvgen::Code::INVALID_ARGUMENT);
    EXPECT_EQ(emu::webhookSignature("whsec_!!!", "1", 1, "{}").code(),
              cvgen::Code::INVALID_ARGUMENT);
}

namespace {

/** One received HTTP request. */
struct Received {
    std::string head;  // request line + headers, lower-cased names not guaranteed
    std::string body;
    std::string header(const std::string& name) const {
        std::string lower = head;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const size_t at = lower.find("\r\n" + name + ":");
        if (at == std::string::npos) return "";
        size_t v = at + 2 + name.size() + 1;
        while (v < head.size() && head[v] == ' ') ++v;
        return head.substr(v, head.find("\r\n", v) - v);
    }
};

/** A loopback HTTP sink built on plain sockets: answers 200 to every request, one per
 * connection, and records them. */
class Sink {
public:
    Sink() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        socklen_t len = sizeof a;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        ::listen(fd_, 16);
        thread_ = std::thread([this] { loop(); });
    }
    ~Sink() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
    }
    int port() const { return port_; }
    std::vector<Received> received() {
        std::lock_guard<std::mutex> l(mu_);
        return got_;
    }

private:
    void loop() {
        while (!stop_) {
            const int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) return;
            std::string data;
            char buf[4096];
            size_t need = std::string::npos;
            size_t headEnd = std::string::npos;
            while (need == std::string::npos || data.size() < need) {
                const ssize_t n = ::recv(c, buf, sizeof buf, 0);
                if (n <= 0) break;
                data.append(buf, static_cast<size_t>(n));
                if (headEnd == std::string::npos &&
                    (headEnd = data.find("\r\n\r\n")) != std::string::npos) {
                    Received tmp{data.substr(0, headEnd + 2), ""};
                    const std::string cl = tmp.header("content-length");
                    need = headEnd + 4 + (cl.empty() ? 0 : std::stoul(cl));
                }
            }
            const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            ::send(c, ok, sizeof ok - 1, MSG_NOSIGNAL);
            ::close(c);
            if (headEnd != std::string::npos) {
                std::lock_guard<std::mutex> l(mu_);
                got_.push_back({data.substr(0, headEnd + 2), data.substr(headEnd + 4)});
            }
        }
    }
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::mutex mu_;
    std::vector<Received> got_;
};

}  // namespace

TEST(Emulator_Callbacks, everyTransitionIsPostedSigned) {
    Sink sink;
    auto p = fastParams();
    const std::string secretB64 =
        cvgen::base64Encode(std::string("0123456789abcdef0123456789abcdef"));
    p.webhookSecret = "whsec_" + secretB64;
    auto s = start(p);
    const std::string cb = "http://127.0.0.1:" + std::to_string(sink.port()) + "/hook?x=1";
    const std::string url = s->baseUrl() + "/v1/images/generations";
    Response r = postJson(
        url, "{\"prompt\":\"p\",\"external_task_id\":\"cb-1\",\"callback_url\":\"" + cb + "\"}",
        {bearer()});
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string id = parse(r.body)["data"]["task_id"].GetString();
    waitFinal(url + "/" + id);
    std::vector<Received> got;
    for (int i = 0; i < 400 && (got = sink.received()).size() < 3; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_EQ(got.size(), 3u);
    const std::vector<std::string> want = {"submitted", "processing", "succeed"};
    for (size_t i = 0; i < got.size(); ++i) {
        SCOPED_TRACE(i);
        EXPECT_EQ(got[i].head.rfind("POST /hook?x=1 HTTP/1.1", 0), 0u) << got[i].head;
        auto d = parse(got[i].body);
        ASSERT_FALSE(d.HasParseError()) << got[i].body;
        // The bare task object, no envelope.
        EXPECT_FALSE(d.HasMember("code"));
        EXPECT_EQ(std::string(d["task_id"].GetString()), id);
        EXPECT_EQ(d["task_status"].GetString(), want[i]);
        EXPECT_STREQ(d["task_info"]["external_task_id"].GetString(), "cb-1");
        // Verify the signature independently: HMAC-SHA256 over "{id}.{ts}.{body}".
        const std::string msgId = got[i].header("webhook-id");
        const std::string ts = got[i].header("webhook-timestamp");
        ASSERT_FALSE(msgId.empty());
        EXPECT_NEAR(std::stod(ts), static_cast<double>(std::time(nullptr)), 300.0);
        const std::string expected =
            "v1," + cvgen::base64Encode(hmac("0123456789abcdef0123456789abcdef",
                                             msgId + "." + ts + "." + got[i].body));
        EXPECT_EQ(got[i].header("webhook-signature"), expected);
    }
    // The sink has the three requests; the emulator counts a callback as sent only once the
    // sink's answer is back, which may be a moment later.
    int sent = 0;
    for (int i = 0; i < 400 && (sent = stats(*s)["callbacks"]["sent"].GetInt()) < 3; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(sent, 3);
    s->stop();
}

TEST(Emulator_Callbacks, nonLoopbackUrlsAreSkippedAndUnsignedWithoutSecret) {
    Sink sink;
    auto s = start(fastParams());
    const std::string url = s->baseUrl() + "/v1/images/generations";
    Response a = postJson(url, "{\"prompt\":\"p\",\"callback_url\":\"https://example.com/hook\"}",
                          {bearer()});
    ASSERT_EQ(a.status, 200);
    Response b = postJson(url,
                          "{\"prompt\":\"p\",\"callback_url\":\"http://localhost:" +
                              std::to_string(sink.port()) + "/h\"}",
                          {bearer()});
    ASSERT_EQ(b.status, 200);
    waitFinal(url + "/" + parse(a.body)["data"]["task_id"].GetString());
    waitFinal(url + "/" + parse(b.body)["data"]["task_id"].GetString());
    std::vector<Received> got;
    for (int i = 0; i < 400 && (got = sink.received()).size() < 3; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_EQ(got.size(), 3u);
    EXPECT_TRUE(got[0].header("webhook-signature").empty());
    for (int i = 0; i < 400 && stats(*s)["callbacks"]["skipped"].GetInt() < 3; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(stats(*s)["callbacks"]["skipped"].GetInt(), 3);

    // A loopback receiver that is not there: counted as failed, the task is unaffected.
    int deadPort = 0;
    {
        Sink gone;
        deadPort = gone.port();
    }
    Response c = postJson(url,
                          "{\"prompt\":\"p\",\"callback_url\":\"http://127.0.0.1:" +
                              std::to_string(deadPort) + "/h\"}",
                          {bearer()});
    auto fin = waitFinal(url + "/" + parse(c.body)["data"]["task_id"].GetString());
    EXPECT_STREQ(fin["data"]["task_status"].GetString(), "succeed");
    for (int i = 0; i < 400 && stats(*s)["callbacks"]["failed"].GetInt() < 3; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(stats(*s)["callbacks"]["failed"].GetInt(), 3);
    s->stop();
}

namespace {

/** The bare task objects a sink received, grouped by task id, in arrival order. */
std::map<std::string, std::vector<rapidjson::Document>> byTask(const std::vector<Received>& got) {
    std::map<std::string, std::vector<rapidjson::Document>> out;
    for (const auto& r : got) {
        rapidjson::Document d = parse(r.body);
        if (d.HasParseError() || !d.IsObject()) continue;
        const std::string id = d["task_id"].GetString();
        out[id].push_back(std::move(d));
    }
    return out;
}

}  // namespace

TEST(Emulator_Callbacks, processingComesAtADrawnPointBeforeTheEndAndUpdatedAtIsTrueToIt) {
    Sink sink;
    const std::string cb = "http://127.0.0.1:" + std::to_string(sink.port()) + "/hook";
    // task_failed: nothing is rendered, so the final updated_at is exactly the drawn end.
    emu::FaultSpec fail;
    fail.kind = emu::FaultKind::TASK_FAILED;
    auto p = fastParams();
    p.latency = std::chrono::milliseconds(200);
    p.latencySd = std::chrono::milliseconds(100);
    p.seed = 5;
    p.faults = {fail};
    auto s = start(p);
    auto fixed = fastParams();  // no spread: processing exactly at half
    fixed.latency = std::chrono::milliseconds(80);
    fixed.faults = {fail};
    auto f = start(fixed);
    const int kTasks = 8;
    const std::string body = "{\"prompt\":\"p\",\"callback_url\":\"" + cb + "\"}";
    for (int i = 0; i < kTasks; ++i)
        ASSERT_EQ(postJson(s->baseUrl() + "/v1/images/generations", body, {bearer()}).status, 200);
    Response fr = postJson(f->baseUrl() + "/v1/images/generations", body, {bearer()});
    ASSERT_EQ(fr.status, 200);
    const std::string fixedId = parse(fr.body)["data"]["task_id"].GetString();
    std::vector<Received> got;
    for (int i = 0; i < 2000 && (got = sink.received()).size() < 3 * (kTasks + 1); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_EQ(got.size(), size_t(3 * (kTasks + 1)));
    std::vector<double> fractions;
    for (const auto& [id, changes] : byTask(got)) {
        SCOPED_TRACE(id);
        ASSERT_EQ(changes.size(), 3u);
        EXPECT_STREQ(changes[0]["task_status"].GetString(), "submitted");
        EXPECT_STREQ(changes[1]["task_status"].GetString(), "processing");
        EXPECT_STREQ(changes[2]["task_status"].GetString(), "failed");
        const int64_t created = changes[0]["created_at"].GetInt64();
        for (const auto& c : changes) EXPECT_EQ(c["created_at"].GetInt64(), created);
        EXPECT_EQ(changes[0]["updated_at"].GetInt64(), created);
        const int64_t processing = changes[1]["updated_at"].GetInt64() - created;
        const int64_t end = changes[2]["updated_at"].GetInt64() - created;
        EXPECT_GT(processing, 0);
        EXPECT_LT(processing, end);
        if (id == fixedId) {
            EXPECT_EQ(end, 80);
            EXPECT_EQ(processing, 40);
            continue;
        }
        fractions.push_back(double(processing) / double(end));
    }
    ASSERT_EQ(fractions.size(), size_t(kTasks));
    // Drawn, not always half: with 8 tasks, at least 4 distinct points (to 1 %).
    std::sort(fractions.begin(), fractions.end());
    int distinct = 1;
    for (size_t i = 1; i < fractions.size(); ++i)
        distinct += fractions[i] - fractions[i - 1] > 0.01 ? 1 : 0;
    EXPECT_GE(distinct, 4);
}
