// `cvgen serve --strict` (Params::strict): the emulator refuses what the real services refuse, by
// the client's own capability table, with the providers' codes; the lenient default does not.
#include "emu_test_util.hpp"

using namespace emutest;

namespace {

constexpr long kLenientOk = 200;

struct Case {
    const char* name;
    const char* path;      ///< create route
    std::string body;      ///< JSON create body (Kling routes) or image_request (upscale routes)
    const char* field;     ///< strict: refused with 1201 naming this field; nullptr = accepted
    const char* mentions;  ///< strict refusal: the message also names this (model, value…)
    long lenientStatus;    ///< what the lenient emulator answers the same body
};

const std::string& image() {
    static const std::string b64 = pngBase64(320, 320);
    return b64;
}

std::string elements(int n) {
    std::string s = "[";
    for (int i = 0; i < n; ++i)
        s += std::string(i ? "," : "") + "{\"element_id\":" + std::to_string(1000 + i) + "}";
    return s + "]";
}

std::vector<Case> cases() {
    const std::string img = "\"" + image() + "\"";
    const std::string small = "\"" + pngBase64(200, 320) + "\"";
    const char* gen = "/v1/images/generations";
    const char* omni = "/v1/images/omni-image";
    const char* expand = "/v1/images/editing/expand";
    const std::string ratios =
        R"("up_expansion_ratio":0.2,"down_expansion_ratio":0.2,"left_expansion_ratio":0.2,)"
        R"("right_expansion_ratio":0.2)";
    return {
        // --- generations: per-model features ---
        {"image_fidelity with kling-v3", gen,
         R"({"model_name":"kling-v3","prompt":"p","image":)" + img + R"(,"image_fidelity":0.5})",
         "image_fidelity", "kling-v3", kLenientOk},
        {"image_fidelity with kling-v2-1", gen,
         R"({"model_name":"kling-v2-1","prompt":"p","image":)" + img + R"(,"image_fidelity":0.5})",
         nullptr, nullptr, kLenientOk},
        {"image_fidelity without a model: kling-v3, the default", gen,
         R"({"prompt":"p","image":)" + img + R"(,"image_fidelity":0.5})", "image_fidelity",
         "kling-v3", kLenientOk},
        {"image_reference with kling-v3", gen,
         R"({"model_name":"kling-v3","prompt":"p","image":)" + img +
             R"(,"image_reference":"subject"})",
         "image_reference", "kling-v3", kLenientOk},
        {"subject reference and human_fidelity with kling-v2-1", gen,
         R"({"model_name":"kling-v2-1","prompt":"p","image":)" + img +
             R"(,"image_reference":"subject","human_fidelity":0.45})",
         nullptr, nullptr, kLenientOk},
        {"negative_prompt with an image", gen,
         R"({"model_name":"kling-v2-1","prompt":"p","negative_prompt":"blur","image":)" + img + "}",
         "negative_prompt", "reference image", kLenientOk},
        // Fields the service ignores rather than refuses: the client stops them, strict does not.
        {"human_fidelity with a face reference (GEN L83: no effect)", gen,
         R"({"model_name":"kling-v2-1","prompt":"p","image":)" + img +
             R"(,"image_reference":"face","human_fidelity":0.45})",
         nullptr, nullptr, kLenientOk},
        {"negative_prompt text-only", gen,
         R"({"model_name":"kling-v3","prompt":"p","negative_prompt":"blur"})", nullptr, nullptr,
         kLenientOk},
        {"21:9 with legacy kling-v1", gen,
         R"({"model_name":"kling-v1","prompt":"p","aspect_ratio":"21:9"})", "aspect_ratio",
         "kling-v1", kLenientOk},
        {"2k 21:9 n=9 with kling-v3", gen,
         R"({"model_name":"kling-v3","prompt":"p","resolution":"2k","aspect_ratio":"21:9","n":9})",
         nullptr, nullptr, kLenientOk},
        {"seed 002's example: empty strings are absent", gen,
         R"({"model_name":"kling-v3","prompt":"p","negative_prompt":"","image":"",)"
         R"("image_reference":"","resolution":"1k","n":2,"aspect_ratio":"16:9","callback_url":""})",
         nullptr, nullptr, kLenientOk},
        // --- omni-image ---
        {"4k with kling-image-o1", omni,
         R"({"model_name":"kling-image-o1","prompt":"p","resolution":"4k","aspect_ratio":"1:1"})",
         "resolution", "kling-image-o1", kLenientOk},
        {"4k with kling-v3-omni", omni,
         R"({"model_name":"kling-v3-omni","prompt":"p","resolution":"4k","aspect_ratio":"1:1"})",
         nullptr, nullptr, kLenientOk},
        {"series with kling-image-o1", omni,
         R"({"model_name":"kling-image-o1","prompt":"p","result_type":"series",)"
         R"("series_amount":3,"aspect_ratio":"1:1"})",
         "result_type", "kling-image-o1", kLenientOk},
        {"series of 3 with kling-v3-omni", omni,
         R"({"model_name":"kling-v3-omni","prompt":"p","result_type":"series",)"
         R"("series_amount":3,"aspect_ratio":"1:1"})",
         nullptr, nullptr, kLenientOk},
        {"n with a series (OMNI L82: invalid, no effect)", omni,
         R"({"model_name":"kling-v3-omni","prompt":"p","result_type":"series",)"
         R"("series_amount":3,"n":2,"aspect_ratio":"1:1"})",
         nullptr, nullptr, kLenientOk},
        {"series_amount with a single result (OMNI L85: no effect)", omni,
         R"({"model_name":"kling-v3-omni","prompt":"p","result_type":"single",)"
         R"("series_amount":3,"aspect_ratio":"1:1"})",
         nullptr, nullptr, kLenientOk},
        {"series_amount auto with kling-v3-omni", omni,
         R"({"model_name":"kling-v3-omni","prompt":"p","result_type":"series",)"
         R"("series_amount":"auto","aspect_ratio":"1:1"})",
         nullptr, nullptr, kLenientOk},
        {"aspect_ratio auto, text-only kling-v3-omni", omni,
         R"({"model_name":"kling-v3-omni","prompt":"p","aspect_ratio":"auto"})", "aspect_ratio",
         "kling-v3-omni", kLenientOk},
        {"no aspect_ratio (the server's auto), text-only kling-v3-omni", omni,
         R"({"model_name":"kling-v3-omni","prompt":"p"})", "aspect_ratio", "auto", kLenientOk},
        {"aspect_ratio auto, kling-v3-omni with an image", omni,
         R"({"model_name":"kling-v3-omni","prompt":"<<<image_1>>>","aspect_ratio":"auto",)"
         R"("image_list":[{"image":)" +
             img + "}]}",
         nullptr, nullptr, kLenientOk},
        {"no aspect_ratio, text-only kling-image-o1", omni,
         R"({"model_name":"kling-image-o1","prompt":"p"})", nullptr, nullptr, kLenientOk},
        {"11 references (1 image + 10 elements)", omni,
         R"({"model_name":"kling-image-o1","prompt":"p","image_list":[{"image":)" + img +
             "}],\"element_list\":" + elements(10) + "}",
         "image_list", "10", 400},
        {"10 references (1 image + 9 elements)", omni,
         R"({"model_name":"kling-image-o1","prompt":"p","image_list":[{"image":)" + img +
             "}],\"element_list\":" + elements(9) + "}",
         nullptr, nullptr, kLenientOk},
        // --- expand: no model; Kling's input image rules ---
        {"a 200 px expand input", expand, R"({"image":)" + small + "," + ratios + "}", "image",
         "300", 400},
        {"model_name on expand", expand,
         R"({"model_name":"kling-v3","image":)" + img + "," + ratios + "}", nullptr, nullptr,
         kLenientOk},  // the field does not exist there; an extra field is not refused
        {"a 320 px expand", expand, R"({"image":)" + img + "," + ratios + "}", nullptr, nullptr,
         kLenientOk},
        // --- the aggregator prefix is judged the same ---
        {"image_fidelity with kling-v3 under /kling/v1", "/kling/v1/images/generations",
         R"({"model_name":"kling-v3","prompt":"p","image":)" + img + R"(,"image_fidelity":0.5})",
         "image_fidelity", "kling-v3", kLenientOk},
    };
}

/** Fast tasks (50 ms) with fast rendering; strict or the lenient default. */
cvgen::emulator::Params params(bool strict) {
    auto p = fastParams();
    p.render = cvgen::emulator::RenderMode::FAST;
    p.strict = strict;
    return p;
}

Response create(const cvgen::emulator::Server& s, const Case& c) {
    return postJson(s.baseUrl() + c.path, c.body, {bearer()});
}

}  // namespace

TEST(Emulator_Strict, refusesWhatTheModelCannotServeWith1201NamingTheField) {
    auto s = start(params(true));
    for (const Case& c : cases()) {
        SCOPED_TRACE(c.name);
        Response r = create(*s, c);
        auto d = parse(r.body);
        ASSERT_TRUE(d.IsObject()) << r.body;
        if (!c.field) {
            EXPECT_EQ(r.status, 200) << r.body;
            EXPECT_EQ(d["code"].GetInt(), 0) << r.body;
            continue;
        }
        EXPECT_EQ(r.status, 400) << r.body;
        EXPECT_EQ(d["code"].GetInt(), 1201) << r.body;
        EXPECT_FALSE(d.HasMember("data"));
        const std::string msg = d["message"].GetString();
        EXPECT_EQ(msg.rfind(std::string(c.field) + ": ", 0), 0u) << msg;
        EXPECT_NE(msg.find(c.mentions), std::string::npos) << msg;
    }
    s->stop();
}

TEST(Emulator_Strict, lenientDefaultAcceptsWhatItAcceptedBefore) {
    auto s = start(params(false));
    for (const Case& c : cases()) {
        SCOPED_TRACE(c.name);
        Response r = create(*s, c);
        EXPECT_EQ(r.status, c.lenientStatus) << r.body;
        if (c.lenientStatus == 400) {
            // Refused by the wire rules every mode applies, naming the same field.
            const std::string msg = parse(r.body)["message"].GetString();
            EXPECT_EQ(msg.rfind(c.field, 0), 0u) << msg;
        }
    }
    s->stop();
}

TEST(Emulator_Strict, acceptedRequestsStillRender) {
    // A strict create is an ordinary task: series "auto" renders the documented default, 4.
    auto s = start(params(true));
    const std::string base = s->baseUrl() + "/v1/images/omni-image";
    Response r = postJson(base,
                          R"({"model_name":"kling-v3-omni","prompt":"p","result_type":"series",)"
                          R"("series_amount":"auto","aspect_ratio":"1:1"})",
                          {bearer()});
    ASSERT_EQ(r.status, 200) << r.body;
    auto fin = waitFinal(base + "/" + parse(r.body)["data"]["task_id"].GetString());
    ASSERT_STREQ(fin["data"]["task_status"].GetString(), "succeed");
    EXPECT_EQ(fin["data"]["task_result"]["series_images"].Size(), 4u);
    EXPECT_EQ(fin["data"]["task_result"]["images"].Size(), 0u);
    s->stop();
}

TEST(Emulator_Strict, upscaleAnswersInEachRoutesOwnErrorShape) {
    auto s = start(params(true));
    const std::string png = encode(testImage(256, 256));
    struct UpCase {
        const char* path;
        std::string auth;
    };
    for (const UpCase& u :
         {UpCase{"/upscale", "Api-Key: test-key"}, UpCase{"/ideogram/upscale", bearer()}}) {
        SCOPED_TRACE(u.path);
        Request rq;
        rq.method = "POST";
        rq.url = s->baseUrl() + u.path;
        rq.headers = {u.auth};
        // A 256 px image with the most images Ideogram allows: accepted (no 300 px rule).
        rq.parts = {{"image_request", R"({"num_images":8,"resemblance":80})", "", ""},
                    {"image_file", png, "in.png", "image/png"}};
        Response r = send(rq);
        EXPECT_EQ(r.status, 200) << r.body;
        // A model_name: the upscale endpoint has no such field, and an extra field is not
        // refused (the client stops it; strict lets what the service ignores through).
        rq.parts[0].data = R"({"model_name":"kling-v3"})";
        r = send(rq);
        EXPECT_EQ(r.status, 200) << r.body;
        // More images than Ideogram makes: refused, in the route's own error shape.
        rq.parts[0].data = R"({"num_images":9})";
        r = send(rq);
        ASSERT_EQ(r.status, 400) << r.body;
        auto d = parse(r.body);
        const bool official = std::string(u.path) == "/upscale";
        const std::string msg = official ? d["error"].GetString() : d["message"].GetString();
        if (!official) {
            EXPECT_EQ(d["code"].GetInt(), 1201);
        } else {
            EXPECT_FALSE(d.HasMember("code"));  // Ideogram's own {"error": …}
        }
        EXPECT_EQ(msg.rfind("num_images: ", 0), 0u) << msg;
    }
    s->stop();
}

TEST(Emulator_Cli, serveStrictFlagTurnsStrictModeOn) {
    if (std::string(CVGEN_CLI_PATH).empty()) GTEST_SKIP() << "the cvgen CLI is not built";
    const std::string body = R"({"model_name":"kling-v3","prompt":"p","image":")" + image() +
                             R"(","image_fidelity":0.5})";
    for (const bool strict : {true, false}) {
        SCOPED_TRACE(strict ? "--strict" : "lenient");
        CliServer server;
        std::vector<std::string> args = {"--api-key", "test-key", "--render", "fast"};
        if (strict) args.push_back("--strict");
        serveCli(args, &server);
        ASSERT_FALSE(server.base.empty()) << server.line;
        Response r = postJson(server.base + "/v1/images/generations", body, {bearer()});
        EXPECT_EQ(r.status, strict ? 400 : 200) << r.body;
        EXPECT_EQ(parse(r.body)["code"].GetInt(), strict ? 1201 : 0) << r.body;
        const int status = server.stop();
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
}
