// The libcurl transport against the emulator on 127.0.0.1: every CURLcode class it maps.
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "cvgen/emulator.hpp"
#include "cvgen/remote.hpp"

namespace cvgen {
namespace remote {
namespace {

using namespace std::chrono_literals;

cv::Ptr<emulator::Server> start(std::vector<emulator::FaultSpec> faults = {}) {
    emulator::Params p;
    p.apiKeys = {"k"};
    p.latency = 50ms;
    p.faults = std::move(faults);
    auto s = emulator::Server::create(p);
    if (!s->start().ok()) throw std::runtime_error("emulator did not start");
    return s;
}

HttpRequest slowRequest(const emulator::Server& s) {
    HttpRequest r;
    r.url = s.baseUrl() + "/v1/images/generations/no-such-task";
    r.headers = {{"Authorization", "Bearer k"}};
    return r;
}

emulator::FaultSpec slowFault(std::chrono::milliseconds delay) {
    emulator::FaultSpec slow;
    slow.kind = emulator::FaultKind::SLOW;
    slow.route = "/v1/images/generations/";
    slow.method = "GET";
    slow.delay = delay;
    return slow;
}

HttpRequest statsRequest(const emulator::Server& s) {
    HttpRequest r;
    r.url = s.baseUrl() + "/_emulator/stats";
    return r;
}

CurlTransportParams loopback() {
    CurlTransportParams p;
    p.proxy = "none";
    p.connectTimeout = 2000ms;
    p.totalTimeout = 5000ms;
    return p;
}

TEST(Remote_Http, getPostAndHeaders) {
    auto s = start();
    {
        auto t = createCurlTransport(loopback());
        HttpResponse r = t->send(statsRequest(*s));
        ASSERT_TRUE(r.status.ok()) << r.status;
        EXPECT_EQ(r.httpStatus, 200);
        ASSERT_NE(r.header("Content-Type"), nullptr);
        EXPECT_NE(r.header("content-type")->find("json"), std::string::npos);
        EXPECT_NE(r.body.find("\"creates\""), std::string::npos);

        HttpRequest post;
        post.method = HttpMethod::POST;
        post.url = s->baseUrl() + "/v1/images/generations";
        post.headers = {{"Authorization", "Bearer k"}, {"Content-Type", "application/json"}};
        post.body = "{\"prompt\":\"p\",\"external_task_id\":\"http-1\"}";
        r = t->send(post);
        ASSERT_TRUE(r.status.ok()) << r.status;
        EXPECT_EQ(r.httpStatus, 200) << r.body;
        EXPECT_NE(r.body.find("\"task_id\""), std::string::npos);
        post.headers = {{"Content-Type", "application/json"}};
        r = t->send(post);
        EXPECT_EQ(r.httpStatus, 401);
    }
}

TEST(Remote_Http, responseCapIsOutOfRange) {
    auto s = start();
    auto t = createCurlTransport(loopback());
    HttpRequest r = statsRequest(*s);
    r.maxResponseBytes = 10;
    HttpResponse resp = t->send(r);
    EXPECT_EQ(resp.status.code(), Code::OUT_OF_RANGE) << resp.status;
    EXPECT_TRUE(resp.mayHaveReachedServer);
}

TEST(Remote_Http, connectFailureIsUnavailableAndNotSent) {
    int port;
    {
        auto s = start();
        port = s->port();
    }  // destroyed: nothing listens on `port` any more
    auto t = createCurlTransport(loopback());
    HttpRequest r;
    r.method = HttpMethod::POST;
    r.url = "http://127.0.0.1:" + std::to_string(port) + "/v1/images/generations";
    r.body = "{}";
    HttpResponse resp = t->send(r);
    EXPECT_EQ(resp.status.code(), Code::UNAVAILABLE) << resp.status;
    EXPECT_TRUE(resp.status.retryable());
    EXPECT_FALSE(resp.mayHaveReachedServer);
}

TEST(Remote_Http, timeoutAfterSendingMayHaveReachedTheServer) {
    auto s = start({slowFault(600ms)});
    auto t = createCurlTransport(loopback());
    HttpRequest r = slowRequest(*s);
    r.timeout = 150ms;
    HttpResponse resp = t->send(r);
    EXPECT_EQ(resp.status.code(), Code::UNAVAILABLE) << resp.status;
    EXPECT_TRUE(resp.status.retryable());
    EXPECT_TRUE(resp.mayHaveReachedServer);
    EXPECT_LT(resp.elapsed, 550ms);
}

TEST(Remote_Http, badUrlsAndSchemes) {
    auto t = createCurlTransport(loopback());
    HttpRequest r;
    r.url = "ftp://127.0.0.1/file";
    EXPECT_EQ(t->send(r).status.code(), Code::FAILED_PRECONDITION);
    r.url = "http://[::1";
    EXPECT_EQ(t->send(r).status.code(), Code::INVALID_ARGUMENT);
}

TEST(Remote_Http, cancelFlagAbortsTheTransfer) {
    auto s = start({slowFault(800ms)});
    auto t = createCurlTransport(loopback());
    HttpRequest r = slowRequest(*s);
    r.cancel = std::make_shared<std::atomic<bool>>(false);
    std::thread stopper([&] {
        std::this_thread::sleep_for(100ms);
        r.cancel->store(true);
    });
    HttpResponse resp = t->send(r);
    stopper.join();
    EXPECT_EQ(resp.status.code(), Code::CANCELLED) << resp.status;
    EXPECT_LT(resp.elapsed, 700ms);
}

TEST(Remote_Http, proxyFromTheEnvironmentIsHonoured) {
    auto s = start();
    // A dead proxy in the environment: libcurl's default is to use it…
    ::setenv("http_proxy", "http://127.0.0.1:9", 1);
    ::unsetenv("no_proxy");
    ::unsetenv("NO_PROXY");
    CurlTransportParams env = loopback();
    env.proxy.clear();
    HttpResponse viaEnv = createCurlTransport(env)->send(statsRequest(*s));
    // …while "none" bypasses it.
    HttpResponse direct = createCurlTransport(loopback())->send(statsRequest(*s));
    ::unsetenv("http_proxy");
    EXPECT_EQ(viaEnv.status.code(), Code::UNAVAILABLE) << viaEnv.status;
    EXPECT_FALSE(viaEnv.mayHaveReachedServer);
    EXPECT_TRUE(direct.status.ok()) << direct.status;
}

TEST(Remote_Http, manyThreadsShareOneTransport) {
    auto s = start();
    {
        auto t = createCurlTransport(loopback());
        std::atomic<int> ok{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < 8; ++i)
            threads.emplace_back([&] {
                for (int k = 0; k < 10; ++k) {
                    HttpResponse r = t->send(statsRequest(*s));
                    if (r.status.ok() && r.httpStatus == 200) ++ok;
                }
            });
        for (auto& th : threads) th.join();
        EXPECT_EQ(ok.load(), 80);
    }
}

}  // namespace
}  // namespace remote
}  // namespace cvgen
