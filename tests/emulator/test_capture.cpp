// Request capture (GET/DELETE /_emulator/requests): what a client sent, summarized for a test to
// assert on, with secrets masked and base64 payloads cut to their length and SHA-256.
#include <gtest/gtest.h>

#include "emu_test_util.hpp"

using namespace emutest;
namespace emu = cvgen::emulator;

namespace {

std::string sha256Hex(const std::string& data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    std::string out;
    char buf[3];
    for (unsigned int i = 0; i < len; ++i) {
        std::snprintf(buf, sizeof buf, "%02x", md[i]);
        out += buf;
    }
    return out;
}

const char kKey[] = "sk-capture-canary-0123456789";
const char kAccess[] = "ak-capture-canary";
const char kSecret[] = "sk-capture-canary-secret";
const char kWebhookRaw[] = "capture-canary-webhook-secret-32b";

/** Every secret the captured JSON must never hold, in any of its shapes. */
void expectNoSecret(const std::string& text) {
    const std::string webhookB64 = cvgen::base64Encode(std::string(kWebhookRaw));
    for (const std::string& s :
         {std::string(kKey), std::string(kAccess), std::string(kSecret), webhookB64,
          cvgen::base64Encode(std::string(kKey)), std::string("eyJ")}) {
        EXPECT_EQ(text.find(s), std::string::npos) << "captured requests hold a secret: " << s;
    }
}

}  // namespace

TEST(Emulator_Capture, requestsAreSummarizedWithSecretsMasked) {
    auto p = fastParams();
    p.apiKeys = {kKey};
    p.accessKey = kAccess;
    p.secretKey = kSecret;
    p.webhookSecret = "whsec_" + cvgen::base64Encode(std::string(kWebhookRaw));
    auto s = start(p);
    const std::string base = s->baseUrl();
    const std::string auth = std::string("Authorization: Bearer ") + kKey;
    const std::string token = jwt(kAccess, kSecret);

    // 1. A JSON create: an image, a prompt, a secret-named field, a JWT inside free text.
    const std::string img = pngBase64(300, 300);
    const std::string createBody =
        "{\"image\":\"" + img +
        "\",\"up_expansion_ratio\":0.1,\"down_expansion_ratio\":0.1,\"left_expansion_ratio\":0,"
        "\"right_expansion_ratio\":0,\"prompt\":\"a quiet beach\",\"external_task_id\":\"cap-1\","
        "\"api_key\":\"" +
        std::string(kKey) + "\",\"note\":\"sent with " + token + " inside\",\"n\":1}";
    Response r = postJson(base + "/kling/v1/images/editing/expand", createBody, {auth});
    ASSERT_EQ(r.status, 200) << r.body;  // unknown fields are ignored, as Kling does
    // 2. A query with a secret-named query parameter and a JWT in an ordinary header.
    r = get(base + "/kling/v1/images/editing/expand/cap-1?access_token=" + std::string(kKey) +
                "&pageSize=5",
            {auth, "X-Trace: " + token});
    ASSERT_EQ(r.status, 200) << r.body;
    // 3. A multipart upscale with Ideogram's Api-Key header.
    Request up;
    up.method = "POST";
    up.url = base + "/upscale";
    up.headers = {std::string("Api-Key: ") + kKey};
    const std::string file = encode(testImage(300, 320));
    up.parts = {{"image_request", R"({"resemblance":50,"client_secret":"hush"})", "", ""},
                {"image_file", file, "photo.png", "image/png"}};
    r = send(up);
    ASSERT_EQ(r.status, 200) << r.body;
    // 4. An unknown route.
    EXPECT_EQ(get(base + "/v2/nothing", {auth}).status, 404);
    // Neither /_emulator/stats nor /_emulator/requests itself is captured.
    stats(*s);
    EXPECT_EQ(get(base + "/_emulator/stats").status, 200);

    r = get(base + "/_emulator/requests?limit=10");
    ASSERT_EQ(r.status, 200) << r.body;
    expectNoSecret(r.body);
    auto d = parse(r.body);
    ASSERT_FALSE(d.HasParseError());
    const auto& q = d["requests"];
    ASSERT_EQ(q.Size(), 4u) << r.body.substr(0, 2000);
    EXPECT_EQ(d["total"].GetInt(), 4);
    EXPECT_EQ(d["capacity"].GetInt(), 1000);

    const auto& create = q[0];
    EXPECT_STREQ(create["method"].GetString(), "POST");
    EXPECT_STREQ(create["path"].GetString(), "/kling/v1/images/editing/expand");
    EXPECT_STREQ(create["route"].GetString(), "POST /kling/v1/images/editing/expand");
    EXPECT_EQ(create["status"].GetInt(), 200);
    EXPECT_STREQ(create["headers"]["Authorization"].GetString(), "Bearer ***");
    EXPECT_STREQ(create["headers"]["Content-Type"].GetString(), "application/json");
    EXPECT_EQ(create["body_length"].GetUint64(), createBody.size());
    const auto& json = create["body"]["json"];
    EXPECT_EQ(json["image"]["base64_length"].GetUint64(), img.size());
    EXPECT_EQ(std::string(json["image"]["sha256"].GetString()), sha256Hex(img));
    EXPECT_STREQ(json["prompt"].GetString(), "a quiet beach");
    EXPECT_STREQ(json["external_task_id"].GetString(), "cap-1");
    EXPECT_DOUBLE_EQ(json["up_expansion_ratio"].GetDouble(), 0.1);
    EXPECT_EQ(json["n"].GetInt(), 1);
    EXPECT_STREQ(json["api_key"].GetString(), "***");
    EXPECT_STREQ(json["note"].GetString(), "sent with ***jwt*** inside");

    const auto& query = q[1];
    EXPECT_STREQ(query["method"].GetString(), "GET");
    EXPECT_STREQ(query["path"].GetString(), "/kling/v1/images/editing/expand/cap-1");
    EXPECT_STREQ(query["route"].GetString(), "GET /kling/v1/images/editing/expand/{id}");
    EXPECT_EQ(query["status"].GetInt(), 200);
    EXPECT_STREQ(query["query"]["access_token"].GetString(), "***");
    EXPECT_STREQ(query["query"]["pageSize"].GetString(), "5");
    EXPECT_STREQ(query["headers"]["X-Trace"].GetString(), "***jwt***");
    EXPECT_FALSE(query.HasMember("body"));

    const auto& upscale = q[2];
    EXPECT_STREQ(upscale["route"].GetString(), "POST /upscale");
    EXPECT_STREQ(upscale["headers"]["Api-Key"].GetString(), "***");
    ASSERT_EQ(upscale["multipart"].Size(), 2u);
    for (const auto& part : upscale["multipart"].GetArray()) {
        const std::string name = part["name"].GetString();
        if (name == "image_request") {
            EXPECT_EQ(part["json"]["resemblance"].GetInt(), 50);
            EXPECT_STREQ(part["json"]["client_secret"].GetString(), "***");
        } else {
            EXPECT_EQ(name, "image_file");
            EXPECT_STREQ(part["filename"].GetString(), "photo.png");
            EXPECT_STREQ(part["content_type"].GetString(), "image/png");
            EXPECT_EQ(part["length"].GetUint64(), file.size());
            EXPECT_EQ(std::string(part["sha256"].GetString()), sha256Hex(file));
        }
    }

    EXPECT_STREQ(q[3]["route"].GetString(), "unknown");
    EXPECT_EQ(q[3]["status"].GetInt(), 404);

    // limit: the last N, oldest first; bad values are 400/1201.
    d = parse(get(base + "/_emulator/requests?limit=2").body);
    ASSERT_EQ(d["requests"].Size(), 2u);
    EXPECT_EQ(d["requests"][0]["seq"].GetInt(), 3);
    EXPECT_EQ(d["requests"][1]["seq"].GetInt(), 4);
    for (const char* bad : {"0", "1001", "x", ""}) {
        SCOPED_TRACE(bad);
        r = get(base + "/_emulator/requests?limit=" + bad);
        EXPECT_EQ(r.status, 400);
        EXPECT_NE(r.body.find("\"code\":1201"), std::string::npos) << r.body;
    }

    // DELETE clears.
    Request del;
    del.method = "DELETE";
    del.url = base + "/_emulator/requests";
    r = send(del);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(parse(r.body)["cleared"].GetInt(), 4);
    d = parse(get(base + "/_emulator/requests").body);
    EXPECT_EQ(d["requests"].Size(), 0u);
}

TEST(Emulator_Capture, aKeyInAnyPlaceIsMaskedAndTheLogIsBounded) {
    auto p = fastParams();
    p.apiKeys = {kKey};
    auto s = start(p);
    const std::string base = s->baseUrl();
    // The key where no field name says "secret": a path, a prompt, a plain header, a text body.
    get(base + "/v1/images/generations/" + std::string(kKey), {bearer(kKey)});
    postJson(base + "/v1/images/generations",
             std::string("{\"prompt\":\"my key is ") + kKey + "\"}", {bearer(kKey)});
    Request text;
    text.method = "POST";
    text.url = base + "/v1/images/generations";
    text.headers = {bearer(kKey), "Content-Type: text/plain", std::string("X-Note: ") + kKey};
    text.body = std::string("plain ") + kKey;
    send(text);
    Response r = get(base + "/_emulator/requests");
    expectNoSecret(r.body);
    auto d = parse(r.body);
    ASSERT_EQ(d["requests"].Size(), 3u);
    EXPECT_STREQ(d["requests"][0]["path"].GetString(), "/v1/images/generations/***");
    EXPECT_STREQ(d["requests"][1]["body"]["json"]["prompt"].GetString(), "my key is ***");
    EXPECT_STREQ(d["requests"][2]["body"]["text"].GetString(), "plain ***");
    EXPECT_STREQ(d["requests"][2]["headers"]["X-Note"].GetString(), "***");
    // At most 1,000 are kept: the oldest go first.
    for (int i = 0; i < 1005; ++i) get(base + "/v1/images/generations/x" + std::to_string(i));
    d = parse(get(base + "/_emulator/requests?limit=1000").body);
    ASSERT_EQ(d["requests"].Size(), 1000u);
    EXPECT_EQ(d["total"].GetInt(), 1008);
    EXPECT_EQ(d["requests"][0]["seq"].GetInt(), 9);
}
