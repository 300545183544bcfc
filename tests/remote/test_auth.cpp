#include <gtest/gtest.h>

#include "cvgen/core/base64.hpp"
#include "fake_transport.hpp"

namespace cvgen {
namespace remote {
namespace {

using namespace std::chrono_literals;
using testing::FakeTransport;
using testing::jsonResponse;

std::chrono::system_clock::time_point at(long long unixSeconds) {
    return std::chrono::system_clock::time_point(std::chrono::seconds(unixSeconds));
}

TEST(Remote_Auth, jwtMatchesIndependentVector) {
    // Computed independently with Python's hmac/hashlib for iss=AKtest, sk=SKtest, now=1700000000.
    const std::string expected =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJpc3MiOiJBS3Rlc3QiLCJleHAiOjE3MDAwMDE4MDAsIm5iZiI6MTY5OTk5OTk5NX0."
        "Ya_bX9LU7AunQ6NYocwYQYxPU-Rx4pbRl5y0q9mWkWg";
    EXPECT_EQ(makeKlingJwt("AKtest", "SKtest", at(1700000000)), expected);
}

TEST(Remote_Auth, jwtCachedAndReissuedBeforeExpiry) {
    long long now = 1700000000;
    JwtParams jp;
    jp.ttl = 1800s;
    jp.refreshMargin = 300s;
    jp.clock = [&] { return at(now); };
    auto a = Authenticator::create(AuthStyle::KLING_JWT, {"", "AK", "SK"}, jp);
    ASSERT_TRUE(a.ok());
    const auto h1 = (*a)->header();
    EXPECT_EQ(h1.first, "Authorization");
    EXPECT_EQ(h1.second, "Bearer " + makeKlingJwt("AK", "SK", at(now)));
    now += 1000;  // still 800 s of validity: reused
    EXPECT_EQ((*a)->header().second, h1.second);
    now += 600;  // 200 s left, inside the refresh margin: re-issued
    const auto h2 = (*a)->header();
    EXPECT_NE(h2.second, h1.second);
    EXPECT_EQ(h2.second, "Bearer " + makeKlingJwt("AK", "SK", at(now)));
    (*a)->invalidate();
    now += 1;
    EXPECT_NE((*a)->header().second, h2.second);
}

TEST(Remote_Auth, staticStylesAndMissingCredentials) {
    auto bearer = Authenticator::create(AuthStyle::BEARER, {"key123", "", ""});
    ASSERT_TRUE(bearer.ok());
    EXPECT_EQ((*bearer)->header(),
              std::make_pair(std::string("Authorization"), std::string("Bearer key123")));
    auto apiKey = Authenticator::create(AuthStyle::API_KEY, {"key123", "", ""});
    ASSERT_TRUE(apiKey.ok());
    EXPECT_EQ((*apiKey)->header(), std::make_pair(std::string("Api-Key"), std::string("key123")));
    EXPECT_EQ(Authenticator::create(AuthStyle::BEARER, {}).code(), Code::UNAUTHENTICATED);
    EXPECT_EQ(Authenticator::create(AuthStyle::API_KEY, {}).code(), Code::UNAUTHENTICATED);
    EXPECT_EQ(Authenticator::create(AuthStyle::KLING_JWT, {"", "AK", ""}).code(),
              Code::UNAUTHENTICATED);
    // Kling also takes a plain key as Bearer.
    auto klingKey = Authenticator::create(AuthStyle::KLING_JWT, {"plain", "", ""});
    ASSERT_TRUE(klingKey.ok());
    EXPECT_EQ((*klingKey)->header().second, "Bearer plain");
}

TEST(Remote_Auth, expiredTokenIsReissuedAndRetriedOnce) {
    for (int code : {1003, 1004}) {
        SCOPED_TRACE(code);
        auto fake = cv::makePtr<FakeTransport>();
        int calls = 0;
        std::vector<std::string> seen;
        fake->handler = [&](const HttpRequest& r) {
            for (const auto& [k, v] : r.headers)
                if (k == "Authorization") seen.push_back(v);
            return ++calls == 1 ? jsonResponse(401, "{\"code\":" + std::to_string(code) +
                                                        ",\"message\":\"token expired\"}")
                                : jsonResponse(200, "{\"code\":0}");
        };
        long long now = 1700000000;
        JwtParams jp;
        jp.clock = [&] { return at(now++); };
        auto a = Authenticator::create(AuthStyle::KLING_JWT, {"", "AK", "SK"}, jp);
        ASSERT_TRUE(a.ok());
        auto t = withAuth(fake, *a);
        HttpResponse r = t->send(HttpRequest{});
        EXPECT_EQ(r.httpStatus, 200);
        ASSERT_EQ(seen.size(), 2u);
        EXPECT_NE(seen[0], seen[1]);  // a fresh token the second time
    }
}

TEST(Remote_Auth, secondExpiredAnswerIsReturnedNotLooped) {
    auto fake = cv::makePtr<FakeTransport>();
    fake->handler = [](const HttpRequest&) {
        return jsonResponse(401, "{\"code\":1004,\"message\":\"expired\"}");
    };
    auto a = Authenticator::create(AuthStyle::KLING_JWT, {"", "AK", "SK"});
    ASSERT_TRUE(a.ok());
    HttpResponse r = withAuth(fake, *a)->send(HttpRequest{});
    EXPECT_EQ(r.httpStatus, 401);
    EXPECT_EQ(fake->requests().size(), 2u);
    const Status st = statusFromResponse(r, "GET /v1/images/generations/x", false);
    EXPECT_EQ(st.code(), Code::UNAUTHENTICATED);
    EXPECT_EQ(st.providerCode(), 1004);
}

TEST(Remote_Auth, staticKeyIsNotRetriedOn401) {
    auto fake = cv::makePtr<FakeTransport>();
    fake->handler = [](const HttpRequest&) {
        return jsonResponse(401, "{\"code\":1004,\"message\":\"expired\"}");
    };
    auto a = Authenticator::create(AuthStyle::BEARER, {"k3y-value", "", ""});
    ASSERT_TRUE(a.ok());
    (void)withAuth(fake, *a)->send(HttpRequest{});
    EXPECT_EQ(fake->requests().size(), 1u);
}

}  // namespace
}  // namespace remote
}  // namespace cvgen
