#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

#include "fake_transport.hpp"

namespace cvgen {
namespace remote {
namespace {

using namespace std::chrono_literals;
using testing::envelope;
using testing::FakeTransport;
using testing::jsonResponse;
using testing::pngBytes;
using testing::taskJson;

// Canaries: if any of these strings reaches a log line, a secret leaked.
const std::string kApiKey = "CANARY-api-key-7f3e9a";
const std::string kAccessKey = "CANARY-access-4b1d";
const std::string kSecretKey = "CANARY-secret-c0ffee";

TEST(Remote_Log, redactRemovesSecretsJwtsAndHeaderValues) {
    const std::string jwt = makeKlingJwt("ak", "sk", std::chrono::system_clock::now());
    const std::string text = "Authorization: Bearer " + jwt + "\nApi-Key: " + kApiKey +
                             "\nbody {\"x\":\"" + kSecretKey + "\",\"t\":\"" + jwt + "\"}";
    const std::string out = redact(text, {kApiKey, kSecretKey});
    EXPECT_EQ(out.find(kApiKey), std::string::npos);
    EXPECT_EQ(out.find(kSecretKey), std::string::npos);
    EXPECT_EQ(out.find(jwt), std::string::npos);
    EXPECT_EQ(out.find("eyJ"), std::string::npos);
    EXPECT_NE(out.find("[redacted]"), std::string::npos);
}

TEST(Remote_Log, redactTruncatesBase64) {
    const std::string b64(100000, 'A');
    const std::string out = redact("{\"image\":\"" + b64 + "\"}", {});
    EXPECT_LT(out.size(), 200u);
    EXPECT_NE(out.find("<base64 100000 chars>"), std::string::npos);
    EXPECT_EQ(redact("short text stays", {}), "short text stays");
}

TEST(Remote_Log, canaryKeysNeverReachTheLog) {
    for (auto style : {AuthStyle::BEARER, AuthStyle::KLING_JWT, AuthStyle::API_KEY}) {
        SCOPED_TRACE(toString(style));
        auto fake = cv::makePtr<FakeTransport>();
        int polls = 0;
        fake->handler = [&](const HttpRequest& r) {
            if (r.url.find("/img/") != std::string::npos) {
                HttpResponse img;
                img.httpStatus = 200;
                img.body = pngBytes(8, 8, cv::Scalar::all(1));
                return img;
            }
            if (r.method == HttpMethod::POST && polls == 0) {
                ++polls;  // first create: an expired token, echoing the key back like a bad relay
                return jsonResponse(
                    401, "{\"code\":1004,\"message\":\"expired token for " + kApiKey + "\"}");
            }
            if (r.method == HttpMethod::POST)
                return jsonResponse(200, envelope(taskJson("t1", "submitted", "e1")));
            return jsonResponse(200, envelope(taskJson("t1", "succeed", "e1", 1)));
        };
        std::vector<std::string> lines;
        ClientParams p;
        p.profile = builtinProfile("anyapi").value();
        p.profile.auth = style;
        p.profile.baseUrl = "http://api.fake";
        p.credentials = {kApiKey, kAccessKey, kSecretKey};
        p.transport = fake;
        p.poll.firstDelay = p.poll.interval = 1ms;
        p.retry.initialBackoff = 1ms;
        p.sleep = [](std::chrono::milliseconds) {};
        p.log = [&](LogLevel, const std::string& line) { lines.push_back(line); };
        auto provider = createProvider(p);
        ASSERT_TRUE(provider.ok());
        ExpandRequest r;
        r.image = ImageSource::fromMat(cv::Mat(300, 300, CV_8UC3, cv::Scalar(5, 6, 7)));
        r.ratios = {0.1, 0.1, 0.1, 0.1};
        auto out = (*provider)->expand(r);
        ASSERT_FALSE(lines.empty());
        std::string all;
        for (const auto& l : lines) all += l + "\n";
        EXPECT_EQ(all.find(kApiKey), std::string::npos) << all;
        EXPECT_EQ(all.find(kSecretKey), std::string::npos) << all;
        EXPECT_EQ(all.find("eyJ"), std::string::npos) << all;
        size_t run = 0, longest = 0;  // the image's base64 must not survive whole
        for (char ch : all) {
            run = (std::isalnum(static_cast<unsigned char>(ch)) || ch == '+' || ch == '/') ? run + 1
                                                                                           : 0;
            longest = std::max(longest, run);
        }
        EXPECT_LE(longest, 64u);
        EXPECT_NE(all.find("<base64 "), std::string::npos);
        EXPECT_NE(all.find("POST http://api.fake/kling/v1/images/editing/expand"),
                  std::string::npos);
        // Nor may they appear in the returned status.
        if (!out.ok()) {
            EXPECT_EQ(out.status().toString().find(kApiKey), std::string::npos);
        }
    }
}

}  // namespace
}  // namespace remote
}  // namespace cvgen
