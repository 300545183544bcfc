// TaskClient / Provider lifecycle against a scripted in-memory server (no network).
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <optional>
#include <thread>

#include <rapidjson/document.h>

#include "cvgen/core/base64.hpp"
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
using testing::transportFailure;

/** A tiny stateful Kling-like server behind the fake transport. */
struct FakeKling {
    struct Task {
        std::string id, ext;
        int polls = 0;
    };
    cv::Ptr<FakeTransport> wire = cv::makePtr<FakeTransport>();
    std::mutex mu;
    std::map<std::string, Task> tasks;  // by id
    int processingPolls = 1;            // polls answered "processing" before the end
    std::string finalStatus = "succeed";
    int nImages = 1;
    int imageW = 40, imageH = 30;
    int creates = 0;
    /** Faults for successive creates: when set, the answer replaces the normal one; `creates`
     * says whether the task was created anyway (a dropped connection after processing). */
    struct CreateFault {
        HttpResponse answer;
        bool created = false;
    };
    std::deque<CreateFault> createFaults;
    std::deque<HttpResponse> downloadFaults;
    std::deque<HttpResponse> queryFaults;
    std::vector<std::string> createBodies;

    FakeKling() {
        wire->handler = [this](const HttpRequest& r) { return handle(r); };
    }

    HttpResponse handle(const HttpRequest& r) {
        std::lock_guard<std::mutex> lock(mu);
        if (r.url.rfind("http://fake/img/", 0) == 0) {
            if (!downloadFaults.empty()) {
                auto f = downloadFaults.front();
                downloadFaults.pop_front();
                return f;
            }
            HttpResponse resp;
            resp.httpStatus = 200;
            resp.body = pngBytes(imageW, imageH, cv::Scalar(10, 20, 30));
            resp.headers.emplace_back("content-length", std::to_string(resp.body.size()));
            return resp;
        }
        if (r.method == HttpMethod::POST) {
            createBodies.push_back(r.body);
            std::string ext;
            rapidjson::Document d;
            d.Parse(r.body.c_str());
            if (!d.HasParseError() && d.IsObject() && d.HasMember("external_task_id"))
                ext = d["external_task_id"].GetString();
            for (const auto& p : r.parts)
                if (p.name == "external_task_id") ext = p.data;
            std::optional<CreateFault> fault;
            if (!createFaults.empty()) {
                fault = createFaults.front();
                createFaults.pop_front();
            }
            if (!fault || fault->created) {
                ++creates;
                Task t{"task-" + std::to_string(creates), ext, 0};
                tasks[t.id] = t;
                if (!fault) return jsonResponse(200, envelope(taskJson(t.id, "submitted", ext)));
            }
            return fault->answer;
        }
        // GET <route>/<id>
        if (!queryFaults.empty()) {
            auto f = queryFaults.front();
            queryFaults.pop_front();
            return f;
        }
        const std::string id = r.url.substr(r.url.rfind('/') + 1);
        Task* t = nullptr;
        for (auto& [k, v] : tasks)
            if (k == id || v.ext == id) t = &v;
        if (!t) return jsonResponse(404, "{\"code\":1203,\"message\":\"task not found\"}");
        const bool done = t->polls++ >= processingPolls;
        return jsonResponse(200, envelope(taskJson(t->id, done ? finalStatus : "processing", t->ext,
                                                   done ? nImages : 0)));
    }

    ClientParams params(const std::string& profile = "kling") {
        ClientParams p;
        p.profile = builtinProfile(profile).value();
        p.profile.baseUrl = "http://api.fake";
        p.credentials = {"api-key-1", "AK", "SK"};
        p.transport = wire;
        p.poll.firstDelay = 1ms;
        p.poll.interval = 1ms;
        p.poll.maxInterval = 2ms;
        p.retry.initialBackoff = 1ms;
        p.retry.maxBackoff = 2ms;
        p.retry.rateLimitBackoff = 1000ms;
        p.defaultDeadline = 10s;
        p.seed = 7;
        p.sleep = [this](std::chrono::milliseconds d) {
            std::lock_guard<std::mutex> lock(sleepMu);
            sleeps.push_back(d);
        };
        return p;
    }
    std::mutex sleepMu;
    std::vector<std::chrono::milliseconds> sleeps;
};

ExpandRequest smallExpand(int n = 1) {
    ExpandRequest r;
    r.image = ImageSource::fromMat(cv::Mat(320, 400, CV_8UC3, cv::Scalar(1, 2, 3)));
    r.ratios = {0.25, 0.25, 0.1, 0.1};
    r.prompt = "sea";
    r.task.n = n;
    return r;
}

rapidjson::Document parse(const std::string& s) {
    rapidjson::Document d;
    d.Parse(s.c_str());
    return d;
}

TEST(Remote_Client, invalidRequestFailsBeforeAnyNetworkCall) {
    FakeKling k;
    auto p = createProvider(k.params());
    ASSERT_TRUE(p.ok()) << p.status();
    ExpandRequest r = smallExpand();
    r.task.n = 12;
    auto out = (*p)->expand(r);
    EXPECT_EQ(out.code(), Code::INVALID_ARGUMENT);
    EXPECT_NE(out.status().message().find("n"), std::string::npos);
    GenerateRequest g;  // missing prompt
    EXPECT_EQ((*p)->generate(g).code(), Code::INVALID_ARGUMENT);
    EXPECT_TRUE(k.wire->requests().empty());
}

TEST(Remote_Client, expandEndToEndReturnsAllImagesWithMetadata) {
    FakeKling k;
    k.nImages = 3;
    k.processingPolls = 2;
    auto p = createProvider(k.params());
    ASSERT_TRUE(p.ok());
    auto out = (*p)->expand(smallExpand(3));
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->images.size(), 3u);
    for (int i = 0; i < 3; ++i) {
        SCOPED_TRACE(i);
        EXPECT_EQ(out->images[i].index, i);
        EXPECT_EQ(out->images[i].image.size(), cv::Size(40, 30));
        EXPECT_EQ(out->images[i].image.type(), CV_8UC3);
        EXPECT_EQ(out->images[i].image.at<cv::Vec3b>(5, 5), cv::Vec3b(10, 20, 30));
        EXPECT_EQ(out->images[i].url, "http://fake/img/" + std::to_string(i) + ".png");
    }
    EXPECT_EQ(out->provider, "kling");
    EXPECT_EQ(out->taskId, "task-1");
    EXPECT_EQ(out->externalTaskId.rfind("cvgen-", 0), 0u);
    EXPECT_EQ(out->externalTaskId.size(), 22u);
    EXPECT_EQ(out->requestId, "req-1");
    EXPECT_EQ(out->taskStatus, "succeed");
    EXPECT_DOUBLE_EQ(out->unitsDeducted, 2.5);
    EXPECT_EQ(k.creates, 1);
    EXPECT_EQ(k.wire->count(HttpMethod::GET, "/v1/images/editing/expand/task-1"), 3);
    // Wire format of the official dialect.
    auto d = parse(k.createBodies.at(0));
    ASSERT_TRUE(d.IsObject());
    EXPECT_TRUE(d["n"].IsInt());
    EXPECT_EQ(d["n"].GetInt(), 3);
    EXPECT_TRUE(d.HasMember("down_expansion_ratio"));
    EXPECT_FALSE(d.HasMember("bottom_expansion_ratio"));
    EXPECT_DOUBLE_EQ(d["left_expansion_ratio"].GetDouble(), 0.1);
    EXPECT_EQ(std::string(d["external_task_id"].GetString()), out->externalTaskId);
    // Raw base64 of an encoded image, no data: prefix, decoding to the input's size.
    auto bytes = base64Decode(std::string(d["image"].GetString()));
    ASSERT_TRUE(bytes.ok());
    cv::Mat sent = cv::imdecode(*bytes, cv::IMREAD_COLOR);
    EXPECT_EQ(sent.size(), cv::Size(400, 320));
    // JWT auth on the official profile.
    const auto req = k.wire->requests().at(0);
    bool jwt = false;
    for (const auto& [name, value] : req.headers)
        jwt = jwt || (name == "Authorization" && value.rfind("Bearer eyJ", 0) == 0);
    EXPECT_TRUE(jwt);
}

TEST(Remote_Client, dialectsShapeTheCreateBody) {
    struct Case {
        std::string profile, route;
        bool nString;
        const char* bottom;
    };
    for (const Case& c :
         {Case{"anyapi", "/kling/v1/images/editing/expand", false, "down_expansion_ratio"},
          Case{"cometapi", "/kling/v1/images/editing/expand", true, "bottom_expansion_ratio"}}) {
        SCOPED_TRACE(c.profile);
        FakeKling k;
        auto p = createProvider(k.params(c.profile));
        ASSERT_TRUE(p.ok());
        auto out = (*p)->expand(smallExpand(2));
        ASSERT_TRUE(out.ok()) << out.status();
        EXPECT_EQ(out->provider, c.profile);
        EXPECT_EQ(k.wire->count(HttpMethod::POST, "http://api.fake" + c.route), 1);
        auto d = parse(k.createBodies.at(0));
        EXPECT_EQ(d["n"].IsString(), c.nString);
        EXPECT_TRUE(d.HasMember(c.bottom));
        const auto req = k.wire->requests().at(0);
        bool bearer = false;
        for (const auto& [name, value] : req.headers)
            bearer = bearer || (name == "Authorization" && value == "Bearer api-key-1");
        EXPECT_TRUE(bearer);
    }
}

TEST(Remote_Client, generateAndOmniBodies) {
    FakeKling k;
    k.nImages = 2;
    auto p = createProvider(k.params("anyapi"));
    ASSERT_TRUE(p.ok());
    GenerateRequest g;
    g.prompt = "a lighthouse";
    g.task.n = 2;
    g.aspectRatio = AspectRatio::R1_1;
    auto out = (*p)->generate(g);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->images.size(), 2u);
    auto d = parse(k.createBodies.at(0));
    EXPECT_EQ(std::string(d["model_name"].GetString()), "kling-v3");  // the current default
    EXPECT_EQ(std::string(d["prompt"].GetString()), "a lighthouse");
    EXPECT_EQ(d["n"].GetInt(), 2);
    EXPECT_EQ(std::string(d["aspect_ratio"].GetString()), "1:1");
    EXPECT_EQ(k.wire->count(HttpMethod::POST, "/kling/v1/images/generations"), 1);

    OmniRequest o;
    o.model = "kling-v3-omni";  // the omni model with series
    o.prompt = "put <<<image_1>>> on a beach";
    o.images.push_back(ImageSource::fromUrl("https://example.com/a.png"));
    o.elementIds = {"835266081714884677"};
    o.resultType = OmniResultType::SERIES;
    o.seriesAmount = 2;
    auto out2 = (*p)->omni(o);
    ASSERT_TRUE(out2.ok()) << out2.status();
    auto d2 = parse(k.createBodies.at(1));
    EXPECT_EQ(std::string(d2["image_list"][0]["image"].GetString()), "https://example.com/a.png");
    EXPECT_EQ(d2["element_list"][0]["element_id"].GetInt64(), 835266081714884677LL);
    EXPECT_EQ(std::string(d2["result_type"].GetString()), "series");
    EXPECT_EQ(d2["series_amount"].GetInt(), 2);
    EXPECT_FALSE(d2.HasMember("n"));
    EXPECT_EQ(k.wire->count(HttpMethod::POST, "/kling/v1/images/omni-image"), 1);
}

TEST(Remote_Client, failedTaskCarriesItsReason) {
    FakeKling k;
    k.finalStatus = "failed";
    auto p = createProvider(k.params());
    auto out = (*p)->expand(smallExpand());
    EXPECT_EQ(out.code(), Code::FAILED_PRECONDITION);
    EXPECT_NE(out.status().message().find("content moderation"), std::string::npos);
    EXPECT_NE(out.status().message().find("task_id=task-1"), std::string::npos);
}

TEST(Remote_Client, rateLimitedCreateBacksOffAndHonoursRetryAfter) {
    FakeKling k;
    k.createFaults.push_back(
        {jsonResponse(429,
                      "{\"code\":1303,\"message\":\"parallel task over resource pack limit\"}"),
         false});
    k.createFaults.push_back(
        {jsonResponse(429, "{\"code\":1302,\"message\":\"rate\"}", {{"retry-after", "3"}}), false});
    auto p = createProvider(k.params());
    auto out = (*p)->expand(smallExpand());
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(k.creates, 1);
    EXPECT_EQ(k.wire->count(HttpMethod::POST, "/expand"), 3);
    ASSERT_GE(k.sleeps.size(), 2u);
    EXPECT_GE(k.sleeps[0], 1000ms);  // ≥ 1 s after 1303
    EXPECT_GE(k.sleeps[1], 3000ms);  // Retry-After: 3
}

TEST(Remote_Client, nonRetryableCreateErrorsAreReturnedAtOnce) {
    for (int code : {1000, 1102, 1103, 1201, 1301, 1304}) {
        SCOPED_TRACE(code);
        FakeKling k;
        const int http = code < 1100    ? 401
                         : code == 1103 ? 403
                         : code < 1200  ? 429
                         : code == 1304 ? 429
                                        : 400;
        k.createFaults.push_back(
            {jsonResponse(http, "{\"code\":" + std::to_string(code) + ",\"message\":\"m\"}"),
             false});
        auto p = createProvider(k.params());
        auto out = (*p)->expand(smallExpand());
        EXPECT_FALSE(out.ok());
        EXPECT_EQ(out.status().providerCode(), code);
        EXPECT_EQ(k.wire->requests().size(), 1u);
    }
}

TEST(Remote_Client, droppedConnectionAfterCreateIsLookedUpNotResent) {
    FakeKling k;
    k.createFaults.push_back(
        {transportFailure(unavailable("Empty reply from server").withRetryable(true), true), true});
    auto p = createProvider(k.params());
    auto out = (*p)->expand(smallExpand());
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(k.creates, 1);
    EXPECT_EQ(k.wire->count(HttpMethod::POST, "/expand"), 1);
    EXPECT_EQ(out->taskId, "task-1");
}

TEST(Remote_Client, serverErrorOnCreateIsAlsoAmbiguous) {
    FakeKling k;
    k.createFaults.push_back(
        {jsonResponse(500, "{\"code\":5000,\"message\":\"server error\"}"), true});
    auto p = createProvider(k.params());
    auto out = (*p)->expand(smallExpand());
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(k.creates, 1);
    EXPECT_EQ(k.wire->count(HttpMethod::POST, "/expand"), 1);
}

TEST(Remote_Client, createLostBeforeProcessingIsResentAfterLookupSaysNotFound) {
    FakeKling k;
    k.createFaults.push_back(
        {transportFailure(unavailable("Connection reset").withRetryable(true), true), false});
    auto p = createProvider(k.params());
    auto out = (*p)->expand(smallExpand());
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(k.creates, 1);
    EXPECT_EQ(k.wire->count(HttpMethod::POST, "/expand"), 2);
    // Both creates carried the same idempotency key.
    EXPECT_EQ(parse(k.createBodies[0])["external_task_id"],
              parse(k.createBodies[1])["external_task_id"]);
}

TEST(Remote_Client, duplicateExternalIdAfterAnAmbiguousCreateAdoptsTheTask) {
    FakeKling k;
    // The first create was processed late: the lookup misses it, the re-send is refused as a
    // duplicate external_task_id; the client then finds and adopts it.
    k.createFaults.push_back(
        {transportFailure(unavailable("timed out after sending").withRetryable(true), true),
         false});
    k.queryFaults.push_back(jsonResponse(404, "{\"code\":1203,\"message\":\"not found\"}"));
    k.createFaults.push_back(
        {jsonResponse(400, "{\"code\":1201,\"message\":\"external_task_id already exists\"}"),
         true});
    auto p = createProvider(k.params());
    auto out = (*p)->expand(smallExpand());
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(k.creates, 1);
    EXPECT_EQ(out->taskId, "task-1");
}

TEST(Remote_Client, duplicateExternalIdOnAFirstCreateAdoptsTheTask) {
    FakeKling k;
    // libcurl re-sends a POST by itself when a reused keep-alive connection dies without an
    // answer: the client then sees only the second answer, "already exists", for its own id.
    k.createFaults.push_back(
        {jsonResponse(400, "{\"code\":1201,\"message\":\"external_task_id already exists\"}"),
         true});
    auto p = createProvider(k.params());
    auto out = (*p)->expand(smallExpand());
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(k.creates, 1);
    EXPECT_EQ(k.wire->count(HttpMethod::POST, "/expand"), 1);
}

TEST(Remote_Client, notSentFailureIsResentWithoutLookup) {
    FakeKling k;
    k.createFaults.push_back(
        {transportFailure(unavailable("not sent: connection refused").withRetryable(true), false),
         false});
    auto p = createProvider(k.params());
    auto out = (*p)->expand(smallExpand());
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(k.wire->count(HttpMethod::POST, "/expand"), 2);
    EXPECT_EQ(k.wire->count(HttpMethod::GET, "/expand/cvgen-"), 0);
}

TEST(Remote_Client, unknownCreateOutcomeIsNeverResent) {
    FakeKling k;
    k.createFaults.push_back(
        {transportFailure(unavailable("timed out after sending").withRetryable(true), true),
         false});
    for (int i = 0; i < 20; ++i)
        k.queryFaults.push_back(jsonResponse(503, "{\"code\":5001,\"message\":\"maintenance\"}"));
    auto p = createProvider(k.params());
    auto out = (*p)->expand(smallExpand());
    EXPECT_FALSE(out.ok());
    EXPECT_EQ(k.wire->count(HttpMethod::POST, "/expand"), 1);
    auto ref = taskRefFromStatus(out.status());
    ASSERT_TRUE(ref.has_value()) << out.status();
    EXPECT_EQ(ref->externalTaskId.rfind("cvgen-", 0), 0u);
}

TEST(Remote_Client, imagesBreakingTheRulesAreRefusedBeforeSending) {
    FakeKling k;
    auto p = createProvider(k.params());
    ExpandRequest small = smallExpand();
    small.image = ImageSource::fromMat(cv::Mat(200, 400, CV_8UC3, cv::Scalar::all(3)));
    auto out = (*p)->expand(small);
    EXPECT_EQ(out.code(), Code::INVALID_ARGUMENT);
    EXPECT_EQ(out.status().message().rfind("image: ", 0), 0u) << out.status();
    ExpandRequest wide = smallExpand();
    wide.image = ImageSource::fromMat(cv::Mat(300, 1000, CV_8UC3, cv::Scalar::all(3)));
    EXPECT_EQ((*p)->expand(wide).code(), Code::INVALID_ARGUMENT);
    ExpandRequest junk = smallExpand();
    junk.image = ImageSource::fromBytes({1, 2, 3, 4, 5});
    EXPECT_FALSE((*p)->expand(junk).ok());
    EXPECT_TRUE(k.wire->requests().empty());
    // A generation reference may be fixed (padded/upscaled) instead.
    GenerateRequest g;
    g.prompt = "x";
    g.image = ImageSource::fromMat(cv::Mat(100, 100, CV_8UC3, cv::Scalar::all(3)));
    EXPECT_TRUE((*p)->generate(g).ok());
}

TEST(Remote_Client, callerExternalIdIsUsed) {
    FakeKling k;
    auto p = createProvider(k.params());
    ExpandRequest r = smallExpand();
    r.task.externalTaskId = "my-batch-0001";
    auto out = (*p)->expand(r);
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out->externalTaskId, "my-batch-0001");
    EXPECT_EQ(std::string(parse(k.createBodies[0])["external_task_id"].GetString()),
              "my-batch-0001");
}

TEST(Remote_Client, deadlineWhileRunningThenResumeCollects) {
    FakeKling k;
    k.processingPolls = 1000000;
    ClientParams params = k.params();
    params.sleep = nullptr;  // real time for the deadline
    params.poll.interval = 20ms;
    auto p = createProvider(params);
    CallOptions opt;
    opt.deadline = 150ms;
    const auto t0 = std::chrono::steady_clock::now();
    auto out = (*p)->expand(smallExpand(), opt);
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(out.code(), Code::DEADLINE_EXCEEDED);
    EXPECT_LT(took, 1s);
    auto ref = taskRefFromStatus(out.status());
    ASSERT_TRUE(ref.has_value()) << out.status();
    EXPECT_EQ(ref->taskId, "task-1");
    EXPECT_EQ(ref->externalTaskId.rfind("cvgen-", 0), 0u);
    // The task finishes later; resume by external id collects it without a new create.
    {
        std::lock_guard<std::mutex> lock(k.mu);
        k.processingPolls = 0;
        k.tasks.begin()->second.polls = 0;
    }
    auto again = (*p)->resume(Operation::EXPAND, ref->externalTaskId, {});
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->taskId, "task-1");
    EXPECT_EQ(again->images.size(), 1u);
    EXPECT_EQ(k.creates, 1);
    EXPECT_EQ((*p)->resume(Operation::EXPAND, "no-such-task", {}).code(), Code::NOT_FOUND);
}

TEST(Remote_Client, cancelStopsWaiting) {
    FakeKling k;
    k.processingPolls = 1000000;
    ClientParams params = k.params();
    params.sleep = nullptr;
    params.poll.interval = 10ms;
    auto c = TaskClient::create(params);
    ASSERT_TRUE(c.ok());
    CallOptions opt;
    opt.cancel = std::make_shared<std::atomic<bool>>(false);
    auto h = (*c)->submit(smallExpand(), opt);
    ASSERT_TRUE(h.ok());
    std::thread stopper([&] {
        std::this_thread::sleep_for(50ms);
        opt.cancel->store(true);
    });
    auto out = (*c)->wait(*h, opt);
    stopper.join();
    EXPECT_EQ(out.code(), Code::CANCELLED);
}

TEST(Remote_Client, truncatedDownloadIsRetried) {
    FakeKling k;
    const std::string png = pngBytes(40, 30, cv::Scalar(10, 20, 30));
    HttpResponse cut;  // announced length larger than what came
    cut.httpStatus = 200;
    cut.body = png.substr(0, png.size() / 2);
    cut.headers.emplace_back("content-length", std::to_string(png.size()));
    HttpResponse cutNoLength;  // no length header: the PNG trailer check catches it
    cutNoLength.httpStatus = 200;
    cutNoLength.body = png.substr(0, png.size() - 10);
    k.downloadFaults = {cut, cutNoLength};
    auto p = createProvider(k.params());
    auto out = (*p)->expand(smallExpand());
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(k.wire->count(HttpMethod::GET, "http://fake/img/0.png"), 3);
}

TEST(Remote_Client, persistentTruncationIsDataLoss) {
    FakeKling k;
    const std::string png = pngBytes(40, 30, cv::Scalar(10, 20, 30));
    HttpResponse cut;
    cut.httpStatus = 200;
    cut.body = png.substr(0, png.size() - 10);
    k.downloadFaults = {cut, cut, cut, cut};
    HttpResponse partial;
    partial.status = dataLoss("transfer closed with bytes remaining").withRetryable(true);
    k.downloadFaults.push_front(partial);
    auto p = createProvider(k.params());
    auto out = (*p)->expand(smallExpand());
    EXPECT_EQ(out.code(), Code::DATA_LOSS);
    EXPECT_NE(out.status().message().find("task_id=task-1"), std::string::npos);
}

TEST(Remote_Client, expiredResultUrlIsNotFound) {
    FakeKling k;
    k.downloadFaults = {jsonResponse(404, "{}")};
    auto p = createProvider(k.params());
    EXPECT_EQ((*p)->expand(smallExpand()).code(), Code::NOT_FOUND);
}

TEST(Remote_Client, transientQueryErrorsAreRetried) {
    FakeKling k;
    HttpResponse html;
    html.httpStatus = 502;
    html.body = "<html>Bad Gateway</html>";
    k.queryFaults = {html, jsonResponse(500, "{\"code\":5000}"),
                     transportFailure(unavailable("reset").withRetryable(true), true)};
    auto p = createProvider(k.params());
    auto out = (*p)->expand(smallExpand());
    ASSERT_TRUE(out.ok()) << out.status();
}

TEST(Remote_Client, createRoute404IsRouteNotAvailable) {
    FakeKling k;
    k.createFaults.push_back({jsonResponse(404, "{\"message\":\"Not Found\"}"), false});
    auto p = createProvider(k.params("cometapi"));
    auto out = (*p)->expand(smallExpand());
    EXPECT_EQ(out.code(), Code::NOT_FOUND);
    EXPECT_NE(out.status().message().find("route not available at this provider"),
              std::string::npos);
    EXPECT_EQ(k.wire->requests().size(), 1u);
}

TEST(Remote_Client, unsupportedOperationIsUnimplemented) {
    FakeKling k;
    auto p = createProvider(k.params("kling"));
    UpscaleRequest u;
    u.image = ImageSource::fromMat(cv::Mat(300, 300, CV_8UC3, cv::Scalar::all(9)));
    EXPECT_EQ((*p)->upscale(u).code(), Code::UNIMPLEMENTED);
    auto q = createProvider(k.params("ideogram"));
    EXPECT_EQ((*q)->expand(smallExpand()).code(), Code::UNIMPLEMENTED);
    EXPECT_TRUE(k.wire->requests().empty());
}

TEST(Remote_Client, ideogramUpscaleSynchronousBody) {
    FakeKling k;
    k.wire->handler = [&](const HttpRequest& r) {
        if (r.url.rfind("http://fake/img/", 0) == 0) return k.handle(r);
        return jsonResponse(200,
                            "{\"created\":\"2024-01-01T00:00:00Z\",\"data\":[{\"url\":"
                            "\"http://fake/img/0.png\",\"prompt\":\"p\",\"resolution\":\"80x60\","
                            "\"is_image_safe\":true,\"seed\":1}]}");
    };
    auto p = createProvider(k.params("ideogram"));
    ASSERT_TRUE(p.ok());
    UpscaleRequest u;
    u.image = ImageSource::fromMat(cv::Mat(300, 300, CV_8UC3, cv::Scalar::all(9)));
    u.seed = 42;
    auto out = (*p)->upscale(u);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->images.size(), 1u);
    EXPECT_EQ(out->images[0].image.size(), cv::Size(40, 30));
    const auto req = k.wire->requests().at(0);
    EXPECT_EQ(req.url, "http://api.fake/upscale");
    ASSERT_EQ(req.parts.size(), 2u);  // no external id part on the official route
    EXPECT_EQ(req.parts[0].name, "image_request");
    auto d = parse(req.parts[0].data);
    EXPECT_EQ(d["seed"].GetInt64(), 42);
    EXPECT_EQ(std::string(d["magic_prompt_option"].GetString()), "AUTO");
    EXPECT_EQ(req.parts[1].name, "image_file");
    EXPECT_TRUE(req.parts[1].contentType == "image/jpeg" ||
                req.parts[1].contentType == "image/png");
    cv::Mat sent = cv::imdecode(
        std::vector<uint8_t>(req.parts[1].data.begin(), req.parts[1].data.end()), cv::IMREAD_COLOR);
    EXPECT_EQ(sent.size(), cv::Size(300, 300));
    bool apiKey = false;
    for (const auto& [name, value] : req.headers)
        apiKey = apiKey || (name == "Api-Key" && value == "api-key-1");
    EXPECT_TRUE(apiKey);
}

TEST(Remote_Client, unsafeUpscaleResultIsFailed) {
    FakeKling k;
    k.wire->handler = [](const HttpRequest&) {
        return jsonResponse(
            200, "{\"created\":\"x\",\"data\":[{\"url\":\"\",\"is_image_safe\":false}]}");
    };
    auto p = createProvider(k.params("ideogram"));
    UpscaleRequest u;
    u.image = ImageSource::fromMat(cv::Mat(300, 300, CV_8UC3, cv::Scalar::all(9)));
    auto out = (*p)->upscale(u);
    EXPECT_EQ(out.code(), Code::FAILED_PRECONDITION);
    EXPECT_NE(out.status().message().find("unsafe"), std::string::npos);
}

TEST(Remote_Client, aggregatorUpscaleTaskEnvelopeIsPolled) {
    FakeKling k;
    auto p = createProvider(k.params("anyapi"));
    UpscaleRequest u;
    u.image = ImageSource::fromMat(cv::Mat(300, 300, CV_8UC3, cv::Scalar::all(9)));
    u.externalTaskId = "up-1";
    auto out = (*p)->upscale(u);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->externalTaskId, "up-1");
    EXPECT_EQ(k.wire->count(HttpMethod::POST, "http://api.fake/ideogram/upscale"), 1);
    EXPECT_GE(k.wire->count(HttpMethod::GET, "/ideogram/upscale/task-1"), 1);
}

TEST(Remote_Client, slotsBoundInFlightTasks) {
    FakeKling k;
    ClientParams params = k.params();
    params.maxSlots = 3;
    auto c = TaskClient::create(params);
    ASSERT_TRUE(c.ok());
    auto h1 = (*c)->submit(smallExpand(2));
    ASSERT_TRUE(h1.ok());
    EXPECT_EQ((*c)->slotsInUse(), 2);
    CallOptions shortWait;
    shortWait.deadline = 30ms;
    EXPECT_EQ((*c)->submit(smallExpand(2), shortWait).code(), Code::DEADLINE_EXCEEDED);
    EXPECT_EQ(k.creates, 1);
    auto h2 = (*c)->submit(smallExpand(1));
    ASSERT_TRUE(h2.ok());
    EXPECT_EQ((*c)->slotsInUse(), 3);
    std::vector<TaskHandle> hs = {*h1, *h2};
    auto outs = (*c)->waitAll(hs);
    ASSERT_EQ(outs.size(), 2u);
    EXPECT_TRUE(outs[0].ok()) << outs[0].status();
    EXPECT_TRUE(outs[1].ok()) << outs[1].status();
    EXPECT_EQ((*c)->slotsInUse(), 0);
    // A blocked submit proceeds once another thread's task ends.
    auto h3 = (*c)->submit(smallExpand(3));
    ASSERT_TRUE(h3.ok());
    std::thread t([&] {
        std::this_thread::sleep_for(30ms);
        (void)(*c)->wait(*h3);
    });
    auto h4 = (*c)->submit(smallExpand(1));
    t.join();
    EXPECT_TRUE(h4.ok()) << h4.status();
}

TEST(Remote_Client, missingCredentialsAreUnauthenticated) {
    FakeKling k;
    ClientParams params = k.params("anyapi");
    params.credentials = {};
    EXPECT_EQ(createProvider(params).code(), Code::UNAUTHENTICATED);
}

}  // namespace
}  // namespace remote
}  // namespace cvgen

namespace cvgen {
namespace remote {
namespace {

TEST(Remote_Client, unreadableCreateAnswerIsLookedUp) {
    for (const std::string& body :
         {std::string("{\"code\":0,\"data\":{\"task_"), std::string("<html>gateway</html>"),
          std::string("{\"code\":0}")}) {
        SCOPED_TRACE(body);
        FakeKling k;
        HttpResponse bad;
        bad.httpStatus = 200;
        bad.body = body;
        k.createFaults.push_back({bad, true});
        auto p = createProvider(k.params());
        auto out = (*p)->expand(smallExpand());
        ASSERT_TRUE(out.ok()) << out.status();
        EXPECT_EQ(k.creates, 1);
        EXPECT_EQ(k.wire->count(HttpMethod::POST, "/expand"), 1);
    }
}

}  // namespace
}  // namespace remote
}  // namespace cvgen
