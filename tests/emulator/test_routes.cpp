// Every route of both Kling dialects and Ideogram through real HTTP on 127.0.0.1.
#include <gtest/gtest.h>

#include "emu_test_util.hpp"

using namespace emutest;
namespace emu = cvgen::emulator;

namespace {

std::string expandBody(const std::string& image, const std::string& extra = "") {
    return "{\"image\":\"" + image +
           "\",\"up_expansion_ratio\":0.25,\"down_expansion_ratio\":0.25,"
           "\"left_expansion_ratio\":0.5,\"right_expansion_ratio\":0.25" +
           extra + "}";
}

}  // namespace

TEST(Emulator_Expand, klingDialectLifecycleAndResultSize) {
    auto p = fastParams();
    p.latency = std::chrono::milliseconds(200);
    auto s = start(p);
    const cv::Mat src = testImage(400, 320);
    const std::string url = s->baseUrl() + "/v1/images/editing/expand";
    Response r = postJson(url,
                          expandBody(cvgen::base64Encode(encode(src)),
                                     ",\"n\":2,\"external_task_id\":\"exp-1\"," +
                                         std::string("\"watermark_info\":{\"enabled\":true}")),
                          {bearer()});
    ASSERT_EQ(r.status, 200) << r.body;
    auto d = parse(r.body);
    EXPECT_EQ(d["code"].GetInt(), 0);
    EXPECT_STREQ(d["message"].GetString(), "SUCCEED");
    EXPECT_TRUE(d["request_id"].IsString());
    const auto& data = d["data"];
    ASSERT_TRUE(data["task_id"].IsString());
    EXPECT_STREQ(data["task_status"].GetString(), "submitted");
    EXPECT_STREQ(data["task_info"]["external_task_id"].GetString(), "exp-1");
    EXPECT_TRUE(data["task_result"].IsObject());
    EXPECT_EQ(data["task_result"].MemberCount(), 0u);
    // Unix milliseconds, not seconds.
    const int64_t created = data["created_at"].GetInt64();
    EXPECT_GT(created, int64_t(1'600'000'000'000));
    EXPECT_NEAR(static_cast<double>(created),
                static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count()),
                60'000.0);
    const std::string id = data["task_id"].GetString();

    std::vector<std::string> seen;
    auto fin = waitFinal(url + "/" + id, &seen);
    ASSERT_TRUE(fin.HasMember("data")) << "no final state";
    const auto& t = fin["data"];
    EXPECT_STREQ(t["task_status"].GetString(), "succeed");
    EXPECT_STREQ(t["final_unit_deduction"].GetString(), "2");
    EXPECT_GE(t["updated_at"].GetInt64(), created);
    EXPECT_TRUE(t["watermark_info"]["enabled"].GetBool());
    // submitted → processing → succeed, in that order.
    const std::vector<std::string> order = {"submitted", "processing", "succeed"};
    size_t k = 0;
    for (const auto& st : seen) {
        while (k < order.size() && order[k] != st) ++k;
        ASSERT_LT(k, order.size()) << "unexpected order at " << st;
    }
    EXPECT_EQ(seen.back(), "succeed");
    EXPECT_NE(std::find(seen.begin(), seen.end(), "processing"), seen.end());

    const auto& images = t["task_result"]["images"];
    ASSERT_EQ(images.Size(), 2u);
    for (rapidjson::SizeType i = 0; i < images.Size(); ++i) {
        SCOPED_TRACE(i);
        EXPECT_EQ(images[i]["index"].GetInt(), static_cast<int>(i));
        Response img = get(images[i]["url"].GetString());
        ASSERT_EQ(img.status, 200);
        EXPECT_EQ(img.header("content-type"), "image/png");
        cv::Mat out = decode(img.body);
        // W·(1+l+r) × H·(1+u+d) = 400·1.75 × 320·1.5
        ASSERT_EQ(out.cols, 700);
        ASSERT_EQ(out.rows, 480);
        // The original sits untouched at (left, up) = (200, 80).
        EXPECT_EQ(cv::norm(out(cv::Rect(200, 80, 400, 320)), src, cv::NORM_INF), 0.0);
        Response wm = get(images[i]["watermark_url"].GetString());
        ASSERT_EQ(wm.status, 200);
        EXPECT_EQ(decode(wm.body).size(), out.size());
    }
    // The same task by its external id.
    Response byExt = get(url + "/exp-1", {bearer()});
    ASSERT_EQ(byExt.status, 200);
    EXPECT_EQ(std::string(parse(byExt.body)["data"]["task_id"].GetString()), id);
    s->stop();
}

TEST(Emulator_Expand, aggregatorDialectAcceptsBottomRatioAndStringN) {
    auto s = start(fastParams());
    const std::string url = s->baseUrl() + "/kling/v1/images/editing/expand";
    // CometAPI: bottom_expansion_ratio and a string n.
    Response r = postJson(url,
                          "{\"image\":\"" + pngBase64(400, 400) +
                              "\",\"up_expansion_ratio\":0,\"bottom_expansion_ratio\":0.5,"
                              "\"left_expansion_ratio\":0,\"right_expansion_ratio\":0,"
                              "\"n\":\"2\"}",
                          {bearer()});
    ASSERT_EQ(r.status, 200) << r.body;
    auto fin = waitFinal(url + "/" + parse(r.body)["data"]["task_id"].GetString());
    ASSERT_STREQ(fin["data"]["task_status"].GetString(), "succeed");
    const auto& images = fin["data"]["task_result"]["images"];
    ASSERT_EQ(images.Size(), 2u);
    cv::Mat out = decode(get(images[0]["url"].GetString()).body);
    EXPECT_EQ(out.size(), cv::Size(400, 600));
    // AnyAPI: down_expansion_ratio and an integer n, same route.
    r = postJson(url, expandBody(pngBase64(400, 400), ",\"n\":1"), {bearer()});
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(parse(r.body)["data"]["task_result"].IsObject());
    s->stop();

    // Relays that send "task_result": null before success.
    auto p = fastParams();
    p.nullTaskResultBeforeSuccess = true;
    s = start(p);
    r = postJson(s->baseUrl() + "/kling/v1/images/editing/expand", expandBody(pngBase64(400, 400)),
                 {bearer()});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(parse(r.body)["data"]["task_result"].IsNull());
    auto fin2 = waitFinal(s->baseUrl() + "/kling/v1/images/editing/expand/" +
                          parse(r.body)["data"]["task_id"].GetString());
    EXPECT_EQ(fin2["data"]["task_result"]["images"].Size(), 1u);
    // Kling's own dialect keeps {}.
    r = postJson(s->baseUrl() + "/v1/images/editing/expand", expandBody(pngBase64(400, 400)),
                 {bearer()});
    EXPECT_TRUE(parse(r.body)["data"]["task_result"].IsObject());
    s->stop();
}

TEST(Emulator_Validation, fieldErrorsAre400With1201NamingTheField) {
    auto s = start(fastParams());
    const std::string img = pngBase64(400, 400);
    struct Case {
        const char* name;
        std::string path;
        std::string body;
        int code;
        std::string field;  // must appear in the message
    };
    const std::string kx = "/v1/images/editing/expand";
    const std::string ax = "/kling/v1/images/editing/expand";
    const std::string gen = "/v1/images/generations";
    const std::string omni = "/kling/v1/images/omni-image";
    const std::vector<Case> cases = {
        {"not json", kx, "{not json", 1200, "JSON"},
        {"missing image", kx, "{\"up_expansion_ratio\":0.1}", 1201, "image"},
        {"data prefix", kx, expandBody("data:image/png;base64," + img), 1201, "data:"},
        {"bad base64", kx, expandBody("@@@@"), 1201, "base64"},
        {"too small", kx, expandBody(pngBase64(200, 400)), 1201, "image"},
        {"too wide", kx, expandBody(pngBase64(900, 300)), 1201, "image"},
        {"webp not allowed", kx,
         expandBody(cvgen::base64Encode(encode(testImage(400, 400), ".webp"))), 1201, "image"},
        {"external url", kx, expandBody("https://example.com/cat.jpg"), 1201, "not reachable"},
        {"kling dialect needs down_", kx,
         "{\"image\":\"" + img +
             "\",\"up_expansion_ratio\":0,\"bottom_expansion_ratio\":0.5,"
             "\"left_expansion_ratio\":0,\"right_expansion_ratio\":0}",
         1201, "down_expansion_ratio"},
        {"kling dialect n string", kx, expandBody(img, ",\"n\":\"2\""), 1201, "n:"},
        {"ratio above 2", kx,
         "{\"image\":\"" + img +
             "\",\"up_expansion_ratio\":2.5,\"down_expansion_ratio\":0,"
             "\"left_expansion_ratio\":0,\"right_expansion_ratio\":0}",
         1201, "up_expansion_ratio"},
        {"bottom above 2 named as sent", ax,
         "{\"image\":\"" + img +
             "\",\"up_expansion_ratio\":0,\"bottom_expansion_ratio\":3,"
             "\"left_expansion_ratio\":0,\"right_expansion_ratio\":0}",
         1201, "bottom_expansion_ratio"},
        {"area above 3", kx,
         "{\"image\":\"" + img +
             "\",\"up_expansion_ratio\":0.5,\"down_expansion_ratio\":0.5,"
             "\"left_expansion_ratio\":0.5,\"right_expansion_ratio\":0.5}",
         1201, "expansion ratios"},
        {"ratio not a number", kx,
         "{\"image\":\"" + img +
             "\",\"up_expansion_ratio\":\"0.1\",\"down_expansion_ratio\":0,"
             "\"left_expansion_ratio\":0,\"right_expansion_ratio\":0}",
         1201, "up_expansion_ratio"},
        {"n zero", kx, expandBody(img, ",\"n\":0"), 1201, "n:"},
        {"n ten", ax, expandBody(img, ",\"n\":\"10\""), 1201, "n:"},
        {"prompt too long", kx, expandBody(img, ",\"prompt\":\"" + std::string(2501, 'a') + "\""),
         1201, "prompt"},
        {"generation without prompt", gen, "{\"model_name\":\"kling-v1\"}", 1201, "prompt"},
        {"unknown model", gen, "{\"model_name\":\"kling-v9\",\"prompt\":\"x\"}", 1201,
         "model_name"},
        {"bad aspect", gen, "{\"prompt\":\"x\",\"aspect_ratio\":\"5:4\"}", 1201, "aspect_ratio"},
        {"resolution 4k on generation", gen, "{\"prompt\":\"x\",\"resolution\":\"4k\"}", 1201,
         "resolution"},
        {"omni bad result_type", omni, "{\"prompt\":\"x\",\"result_type\":\"many\"}", 1201,
         "result_type"},
        {"omni series_amount 1", omni,
         "{\"prompt\":\"x\",\"result_type\":\"series\",\"series_amount\":1}", 1201,
         "series_amount"},
        {"omni image_list entry", omni, "{\"prompt\":\"x\",\"image_list\":[{\"img\":\"a\"}]}", 1201,
         "image_list[0].image"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        Response r = postJson(s->baseUrl() + c.path, c.body, {bearer()});
        EXPECT_EQ(r.status, 400) << r.body;
        auto d = parse(r.body);
        ASSERT_FALSE(d.HasParseError()) << r.body;
        EXPECT_EQ(d["code"].GetInt(), c.code) << r.body;
        EXPECT_NE(std::string(d["message"].GetString()).find(c.field), std::string::npos)
            << d["message"].GetString();
        EXPECT_FALSE(d.HasMember("data"));
    }
    EXPECT_EQ(stats(*s)["creates"].GetInt(), 0);
    s->stop();
}

TEST(Emulator_Validation, aggregatorStrictRequiresWhatAnyApiMarksRequired) {
    auto p = fastParams();
    p.aggregatorStrict = true;
    auto s = start(p);
    const std::string img = pngBase64(400, 400);
    struct Case {
        const char* name;
        std::string path, body;
        long status;
        const char* field;
    };
    const std::vector<Case> cases = {
        {"expand without n", "/kling/v1/images/editing/expand", expandBody(img), 400, "n:"},
        {"expand with n", "/kling/v1/images/editing/expand", expandBody(img, ",\"n\":1"), 200, ""},
        {"generation without model", "/kling/v1/images/generations", "{\"prompt\":\"p\",\"n\":1}",
         400, "model_name"},
        {"generation without n", "/kling/v1/images/generations",
         "{\"model_name\":\"kling-v1\",\"prompt\":\"p\"}", 400, "n:"},
        {"omni without n", "/kling/v1/images/omni-image",
         "{\"model_name\":\"kling-image-o1\",\"prompt\":\"p\"}", 200, ""},
        {"kling dialect unaffected", "/v1/images/generations", "{\"prompt\":\"p\"}", 200, ""},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        Response r = postJson(s->baseUrl() + c.path, c.body, {bearer()});
        EXPECT_EQ(r.status, c.status) << r.body;
        if (c.status == 400) {
            EXPECT_EQ(parse(r.body)["code"].GetInt(), 1201);
            EXPECT_EQ(std::string(parse(r.body)["message"].GetString()).rfind(c.field, 0), 0u)
                << r.body;
        }
    }
    s->stop();
}

TEST(Emulator_Generate, generationAndOmniHaveTheAskedSizes) {
    auto s = start(fastParams());
    struct Case {
        std::string path, body;
        cv::Size size;
        size_t count;
        const char* listKey;
    };
    const std::vector<Case> cases = {
        {"/v1/images/generations",
         "{\"model_name\":\"kling-v1\",\"prompt\":\"a beach\",\"aspect_ratio\":\"16:9\",\"n\":2}",
         {1024, 576},
         2,
         "images"},
        // AnyAPI's seed example: empty strings mean "default".
        {"/kling/v1/images/generations",
         "{\"model_name\":\"kling-v1\",\"prompt\":\"sea\",\"negative_prompt\":\"\",\"image\":\"\","
         "\"image_reference\":\"\",\"human_fidelity\":0.45,\"resolution\":\"1k\",\"n\":1,"
         "\"aspect_ratio\":\"3:4\",\"callback_url\":\"\"}",
         {768, 1024},
         1,
         "images"},
        {"/kling/v1/images/omni-image",
         "{\"model_name\":\"kling-image-o1\",\"prompt\":\"dance\",\"element_list\":[{"
         "\"element_id\":835266081714884677}],\"resolution\":\"\",\"n\":1,\"aspect_ratio\":\"\"}",
         {1024, 1024},
         1,
         "images"},
        {"/v1/images/omni-image",
         "{\"prompt\":\"<<<image_1>>> at sea\",\"image_list\":[{\"image\":\"" +
             pngBase64(600, 400) +
             "\"}],\"result_type\":\"series\",\"series_amount\":3,\"aspect_ratio\":\"1:1\"}",
         {1024, 1024},
         3,
         "series_images"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.path + " " + c.listKey);
        Response r = postJson(s->baseUrl() + c.path, c.body, {bearer()});
        ASSERT_EQ(r.status, 200) << r.body;
        auto fin =
            waitFinal(s->baseUrl() + c.path + "/" + parse(r.body)["data"]["task_id"].GetString());
        ASSERT_STREQ(fin["data"]["task_status"].GetString(), "succeed");
        const auto& res = fin["data"]["task_result"];
        ASSERT_TRUE(res.HasMember(c.listKey));
        ASSERT_EQ(res[c.listKey].Size(), c.count);
        cv::Mat out = decode(get(res[c.listKey][0]["url"].GetString()).body);
        EXPECT_EQ(out.size(), c.size);
    }
    s->stop();
}

TEST(Emulator_Query, externalIdsListsAndNotFound) {
    auto s = start(fastParams());
    const std::string url = s->baseUrl() + "/kling/v1/images/generations";
    for (int i = 0; i < 3; ++i) {
        Response r = postJson(
            url, "{\"prompt\":\"p\",\"external_task_id\":\"job-" + std::to_string(i) + "\"}",
            {bearer()});
        ASSERT_EQ(r.status, 200) << r.body;
    }
    // external_task_id is unique per account.
    Response dup = postJson(url, "{\"prompt\":\"p\",\"external_task_id\":\"job-1\"}", {bearer()});
    EXPECT_EQ(dup.status, 400);
    EXPECT_EQ(parse(dup.body)["code"].GetInt(), 1201);
    EXPECT_NE(dup.body.find("external_task_id"), std::string::npos);

    Response one = get(url + "/job-2", {bearer()});
    ASSERT_EQ(one.status, 200);
    EXPECT_STREQ(parse(one.body)["data"]["task_info"]["external_task_id"].GetString(), "job-2");
    // Another route's kind does not see it.
    EXPECT_EQ(get(s->baseUrl() + "/kling/v1/images/omni-image/job-2", {bearer()}).status, 404);
    Response missing = get(url + "/nope", {bearer()});
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(parse(missing.body)["code"].GetInt(), 1203);

    // Newest first, paged.
    auto page = [&](const std::string& q) { return get(url + q, {bearer()}); };
    Response p1 = page("?pageNum=1&pageSize=2");
    ASSERT_EQ(p1.status, 200) << p1.body;
    auto d1 = parse(p1.body);
    ASSERT_TRUE(d1["data"].IsArray());
    ASSERT_EQ(d1["data"].Size(), 2u);
    EXPECT_STREQ(d1["data"][0]["task_info"]["external_task_id"].GetString(), "job-2");
    EXPECT_STREQ(d1["data"][1]["task_info"]["external_task_id"].GetString(), "job-1");
    auto d2 = parse(page("?pageNum=2&pageSize=2").body);
    ASSERT_EQ(d2["data"].Size(), 1u);
    EXPECT_STREQ(d2["data"][0]["task_info"]["external_task_id"].GetString(), "job-0");
    EXPECT_EQ(parse(page("").body)["data"].Size(), 3u);  // defaults 1 / 30
    for (const char* bad : {"?pageNum=0", "?pageNum=1001", "?pageSize=501", "?pageSize=x"}) {
        SCOPED_TRACE(bad);
        Response r = page(bad);
        EXPECT_EQ(r.status, 400);
        EXPECT_EQ(parse(r.body)["code"].GetInt(), 1201);
    }
    s->stop();
}

TEST(Emulator_Auth, bearerJwtAndApiKeyFailuresHaveKlingCodes) {
    auto p = fastParams();
    p.accessKey = "AK-test";
    p.secretKey = "SK-secret";
    auto s = start(p);
    const std::string url = s->baseUrl() + "/v1/images/generations";
    struct Case {
        const char* name;
        std::vector<std::string> headers;
        long status;
        int code;
    };
    const std::vector<Case> cases = {
        {"no header", {}, 401, 1001},
        {"empty bearer", {"Authorization: Bearer "}, 401, 1001},
        {"basic scheme", {"Authorization: Basic dXNlcjpwdw=="}, 401, 1002},
        {"unknown key", {bearer("wrong")}, 401, 1000},
        {"jwt other issuer", {bearer(jwt("AK-other", "SK-secret"))}, 401, 1000},
        {"jwt bad signature", {bearer(jwt("AK-test", "SK-wrong"))}, 401, 1002},
        {"jwt not yet valid", {bearer(jwt("AK-test", "SK-secret", 1800, 600))}, 401, 1003},
        {"jwt expired", {bearer(jwt("AK-test", "SK-secret", -10, -100))}, 401, 1004},
        {"jwt valid", {bearer(jwt("AK-test", "SK-secret"))}, 200, 0},
        {"static key", {bearer()}, 200, 0},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        Response r = postJson(url, "{\"prompt\":\"p\"}", c.headers);
        EXPECT_EQ(r.status, c.status) << r.body;
        EXPECT_EQ(parse(r.body)["code"].GetInt(), c.code) << r.body;
        // Secrets never echo back.
        EXPECT_EQ(r.body.find("SK-secret"), std::string::npos);
        EXPECT_EQ(r.body.find("wrong"), std::string::npos);
    }
    // Ideogram's Api-Key header on /upscale.
    const std::vector<Part> parts = {
        {"image_request", "{}", "", "application/json"},
        {"image_file", encode(testImage(320, 320)), "a.png", "image/png"}};
    for (const auto& [hdr, status] : std::vector<std::pair<std::string, long>>{
             {"", 401}, {"Api-Key: nope", 401}, {"Api-Key: test-key", 200}}) {
        SCOPED_TRACE(hdr);
        Request rq;
        rq.method = "POST";
        rq.url = s->baseUrl() + "/upscale";
        if (!hdr.empty()) rq.headers = {hdr};
        rq.parts = parts;
        Response r = send(rq);
        EXPECT_EQ(r.status, status) << r.body;
        if (status == 401) {
            EXPECT_TRUE(parse(r.body)["error"].IsString());
        }
    }
    s->stop();
}

TEST(Emulator_Upscale, synchronousBodiesAndTaskEnvelope) {
    auto p = fastParams();
    auto s = start(p);
    const cv::Mat src = testImage(320, 400);
    const std::vector<Part> parts = {
        {"image_request",
         R"({"resemblance":50,"detail":50,"magic_prompt_option":"AUTO","seed":12345,"num_images":2})",
         "", ""},
        {"image_file", encode(src), "in.png", "image/png"}};
    for (const auto& [path, hdr] : std::vector<std::pair<std::string, std::string>>{
             {"/upscale", "Api-Key: test-key"}, {"/ideogram/upscale", bearer()}}) {
        SCOPED_TRACE(path);
        Request rq;
        rq.method = "POST";
        rq.url = s->baseUrl() + path;
        rq.headers = {hdr, "Accept: application/json"};
        rq.parts = parts;
        Response r = send(rq);
        ASSERT_EQ(r.status, 200) << r.body;
        auto d = parse(r.body);
        ASSERT_TRUE(d["created"].IsString());
        ASSERT_EQ(d["data"].Size(), 2u);
        const auto& item = d["data"][0];
        EXPECT_TRUE(item["is_image_safe"].GetBool());
        EXPECT_EQ(item["seed"].GetInt(), 12345);
        EXPECT_STREQ(item["resolution"].GetString(), "640x800");
        cv::Mat out = decode(get(item["url"].GetString()).body);
        EXPECT_EQ(out.size(), cv::Size(640, 800));
    }
    // Missing image_file / bad image_request.
    Request bad;
    bad.method = "POST";
    bad.url = s->baseUrl() + "/upscale";
    bad.headers = {"Api-Key: test-key"};
    bad.parts = {{"image_request", "{}", "", ""}};
    Response r = send(bad);
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("image_file"), std::string::npos);
    bad.parts = {{"image_request", R"({"num_images":9})", "", ""},
                 {"image_file", encode(src), "in.png", "image/png"}};
    r = send(bad);
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("num_images"), std::string::npos);
    s->stop();

    // Seed 003: the aggregator answers a task envelope.
    p.upscaleAsTask = true;
    s = start(p);
    Request rq;
    rq.method = "POST";
    rq.url = s->baseUrl() + "/ideogram/upscale";
    rq.headers = {bearer()};
    rq.parts = {{"image_request", "{}", "", ""},
                {"image_file", encode(src), "in.png", "image/png"}};
    r = send(rq);
    ASSERT_EQ(r.status, 200) << r.body;
    auto d = parse(r.body);
    EXPECT_EQ(d["code"].GetInt(), 0);
    EXPECT_STREQ(d["data"]["task_status"].GetString(), "submitted");
    auto fin = waitFinal(s->baseUrl() + "/ideogram/upscale/" + d["data"]["task_id"].GetString());
    ASSERT_STREQ(fin["data"]["task_status"].GetString(), "succeed");
    cv::Mat out = decode(get(fin["data"]["task_result"]["images"][0]["url"].GetString()).body);
    EXPECT_EQ(out.size(), cv::Size(640, 800));
    s->stop();
}

TEST(Emulator_Results, ownResultUrlsAreInputsAndExpireAfterTtl) {
    auto p = fastParams();
    p.resultTtl = std::chrono::seconds(1);
    auto s = start(p);
    const std::string url = s->baseUrl() + "/v1/images/generations";
    Response r = postJson(url, "{\"prompt\":\"p\",\"aspect_ratio\":\"1:1\"}", {bearer()});
    ASSERT_EQ(r.status, 200);
    auto fin = waitFinal(url + "/" + parse(r.body)["data"]["task_id"].GetString());
    const std::string resultUrl = fin["data"]["task_result"]["images"][0]["url"].GetString();
    EXPECT_EQ(resultUrl.rfind(s->baseUrl() + "/_emulator/results/", 0), 0u) << resultUrl;
    EXPECT_EQ(get(resultUrl).status, 200);
    // A result URL of the emulator is a valid image input.
    const std::string ex = s->baseUrl() + "/v1/images/editing/expand";
    Response e = postJson(ex, expandBody(resultUrl), {bearer()});
    ASSERT_EQ(e.status, 200) << e.body;
    auto efin = waitFinal(ex + "/" + parse(e.body)["data"]["task_id"].GetString());
    cv::Mat out = decode(get(efin["data"]["task_result"]["images"][0]["url"].GetString()).body);
    EXPECT_EQ(out.size(), cv::Size(1792, 1536));  // 1024·1.75 × 1024·1.5
    EXPECT_EQ(get(s->baseUrl() + "/_emulator/results/nope/0.png").status, 404);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    EXPECT_EQ(get(resultUrl).status, 410);
    Response late = postJson(ex, expandBody(resultUrl), {bearer()});
    EXPECT_EQ(late.status, 400);
    EXPECT_NE(late.body.find("expired"), std::string::npos);
    s->stop();
}

TEST(Emulator_Concurrency, slotsAreCountedInNAndFreedAtTheEnd) {
    auto p = fastParams();
    p.concurrencyLimit = 3;
    p.latency = std::chrono::milliseconds(800);  // margin for sanitizer builds
    auto s = start(p);
    const std::string url = s->baseUrl() + "/v1/images/generations";
    Response a = postJson(url, "{\"prompt\":\"p\",\"n\":2}", {bearer()});
    ASSERT_EQ(a.status, 200) << a.body;
    Response b = postJson(url, "{\"prompt\":\"p\",\"n\":2}", {bearer()});
    EXPECT_EQ(b.status, 429);
    EXPECT_EQ(parse(b.body)["code"].GetInt(), 1303);
    EXPECT_FALSE(b.header("retry-after").empty());
    Response c = postJson(url, "{\"prompt\":\"p\",\"n\":1}", {bearer()});
    EXPECT_EQ(c.status, 200) << c.body;
    // Once the tasks end, the slots are free again.
    waitFinal(url + "/" + parse(a.body)["data"]["task_id"].GetString());
    waitFinal(url + "/" + parse(c.body)["data"]["task_id"].GetString());
    Response d = postJson(url, "{\"prompt\":\"p\",\"n\":3}", {bearer()});
    EXPECT_EQ(d.status, 200) << d.body;
    EXPECT_EQ(stats(*s)["creates"].GetInt(), 3);
    s->stop();
}

TEST(Emulator_Stats, countsCreatesRoutesAndExternalIds) {
    auto s = start(fastParams());
    const std::string url = s->baseUrl() + "/kling/v1/images/generations";
    postJson(url, "{\"prompt\":\"p\",\"external_task_id\":\"x1\"}", {bearer()});
    postJson(url, "{\"prompt\":\"p\",\"external_task_id\":\"x1\"}", {bearer()});  // duplicate
    postJson(url, "{\"prompt\":\"p\"}", {bearer()});
    get(url + "/x1", {bearer()});
    Response st = get(s->baseUrl() + "/_emulator/stats");
    ASSERT_EQ(st.status, 200);
    auto d = parse(st.body);
    EXPECT_EQ(d["creates"].GetInt(), 2);
    EXPECT_EQ(d["creates_by_external_id"]["x1"].GetInt(), 1);
    EXPECT_EQ(d["requests_by_route"]["POST /kling/v1/images/generations"].GetInt(), 3);
    EXPECT_EQ(d["requests_by_route"]["GET /kling/v1/images/generations/{id}"].GetInt(), 1);
    EXPECT_TRUE(d["faults_injected"].IsObject());
    EXPECT_EQ(parse(s->statsJson())["creates"].GetInt(), 2);
    // Unknown routes: 404 with code 1202.
    Response u = get(s->baseUrl() + "/v2/whatever", {bearer()});
    EXPECT_EQ(u.status, 404);
    EXPECT_EQ(parse(u.body)["code"].GetInt(), 1202);
    s->stop();
}
