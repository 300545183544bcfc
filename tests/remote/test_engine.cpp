// The task engine: one owner of retries (a lost synchronous upscale is created once and typed
// OUTCOME_UNKNOWN), the shared rate-limit gate, hostile result images, pass-through bytes,
// cancellation that aborts transfers, adaptive polling, and many tasks on few threads.
#include <gtest/gtest.h>

#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include <rapidjson/document.h>
#include <opencv2/imgcodecs.hpp>

#include "cvgen/core/base64.hpp"
#include "cvgen/emulator/server.hpp"
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

ClientParams fakeParams(const cv::Ptr<FakeTransport>& wire, const std::string& profile = "kling") {
    ClientParams p;
    p.profile = builtinProfile(profile).value();
    p.profile.baseUrl = "http://api.fake";
    p.credentials = {"api-key-1", "", ""};
    p.transport = wire;
    p.poll.firstDelay = 1ms;
    p.poll.interval = 1ms;
    p.poll.maxInterval = 2ms;
    p.poll.adaptive = false;
    p.retry.initialBackoff = 1ms;
    p.retry.maxBackoff = 2ms;
    p.defaultDeadline = 10s;
    p.seed = 11;
    return p;
}

HttpResponse imageResponse(std::string body) {
    HttpResponse r;
    r.httpStatus = 200;
    r.headers.emplace_back("content-length", std::to_string(body.size()));
    r.body = std::move(body);
    return r;
}

/** A task that is done at the first query, with one result image served by `image`. */
std::function<HttpResponse(const HttpRequest&)> doneAtOnce(std::function<std::string()> image) {
    return [image](const HttpRequest& r) {
        if (r.url.rfind("http://fake/img/", 0) == 0) return imageResponse(image());
        if (r.method == HttpMethod::POST)
            return jsonResponse(200, envelope(taskJson("task-1", "submitted", "ext")));
        return jsonResponse(200, envelope(taskJson("task-1", "succeed", "ext", 1)));
    };
}

ExpandRequest expandOf(ImageSource src) {
    ExpandRequest r;
    r.image = std::move(src);
    r.ratios = {0.25, 0.25, 0.1, 0.1};
    return r;
}

TEST(Remote_Engine, lostSynchronousUpscaleIsCreatedOnceAndTypedOutcomeUnknown) {
    auto wire = cv::makePtr<FakeTransport>();
    wire->handler = [](const HttpRequest&) {
        return transportFailure(unavailable("timed out after sending").withRetryable(true), true);
    };
    auto p = createProvider(fakeParams(wire, "ideogram"));
    ASSERT_TRUE(p.ok());
    UpscaleRequest u;
    u.image = ImageSource::fromMat(cv::Mat(320, 320, CV_8UC3, cv::Scalar::all(9)));
    u.externalTaskId = "up-lost";
    auto out = (*p)->upscale(u);
    EXPECT_EQ(out.code(), Code::OUTCOME_UNKNOWN) << out.status();
    EXPECT_FALSE(out.status().retryable());
    EXPECT_EQ(out.status().externalTaskId(), "up-lost");
    EXPECT_EQ(wire->count(HttpMethod::POST, "/upscale"), 1);  // never re-sent
    EXPECT_EQ(wire->count(HttpMethod::GET, "/upscale"), 0);   // no lookup route exists
}

TEST(Remote_Engine, rateLimitClosesTheGateForEveryTask) {
    auto wire = cv::makePtr<FakeTransport>();
    std::mutex mu;
    std::vector<std::chrono::steady_clock::time_point> creates;
    std::atomic<int> n{0};
    wire->handler = [&](const HttpRequest& r) {
        if (r.url.rfind("http://fake/img/", 0) == 0)
            return imageResponse(pngBytes(40, 30, cv::Scalar(1, 2, 3)));
        if (r.method == HttpMethod::POST) {
            {
                std::lock_guard<std::mutex> lock(mu);
                creates.push_back(std::chrono::steady_clock::now());
            }
            if (n++ == 0)
                return jsonResponse(429, "{\"code\":1303,\"message\":\"busy\"}",
                                    {{"retry-after", "1"}});
            return jsonResponse(
                200, envelope(taskJson("task-" + std::to_string(n.load()), "submitted", "e")));
        }
        const std::string id = r.url.substr(r.url.rfind('/') + 1);
        return jsonResponse(200, envelope(taskJson(id, "succeed", "e", 1)));
    };
    auto params = fakeParams(wire);
    params.maxSlots = 1;  // creates go one after the other: the second waits for the gate
    auto c = TaskClient::create(params);
    ASSERT_TRUE(c.ok());
    std::vector<std::future<Result<TaskOutput>>> fs;
    for (int i = 0; i < 3; ++i) {
        auto pr = std::make_shared<std::promise<Result<TaskOutput>>>();
        fs.push_back(pr->get_future());
        (*c)->runAsync(expandOf(ImageSource::fromMat(cv::Mat(320, 400, CV_8UC3))), {},
                       [pr](Result<TaskOutput> r) { pr->set_value(std::move(r)); });
    }
    for (auto& f : fs) EXPECT_TRUE(f.get().ok());
    ASSERT_EQ(creates.size(), 4u);  // one refused, then three
    // Retry-After: 1 s holds every later create, not only the refused one's retry.
    for (size_t i = 1; i < creates.size(); ++i)
        EXPECT_GE(creates[i] - creates[0], 950ms) << "create " << i;
}

TEST(Remote_Engine, hostileResultImageFailsTheTaskTyped) {
    // A PNG whose header claims 50000 x 50000: refused before any pixel is decoded.
    std::string bomb = pngBytes(8, 8, cv::Scalar::all(0));
    auto put32 = [&](size_t at, uint32_t v) {
        for (int i = 0; i < 4; ++i) bomb[at + size_t(i)] = char((v >> (24 - 8 * i)) & 0xff);
    };
    put32(16, 50000);
    put32(20, 50000);
    auto wire = cv::makePtr<FakeTransport>();
    wire->handler = doneAtOnce([bomb] { return bomb; });
    auto p = createProvider(fakeParams(wire));
    auto out = (*p)->expand(expandOf(ImageSource::fromMat(cv::Mat(320, 400, CV_8UC3))));
    EXPECT_EQ(out.code(), Code::DATA_LOSS) << out.status();
    EXPECT_NE(out.status().message().find("refused"), std::string::npos) << out.status();
    EXPECT_EQ(out.status().taskId(), "task-1");
}

TEST(Remote_Engine, compliantBytesGoOnTheWireUnchanged) {
    cv::Mat img(360, 480, CV_8UC3);
    cv::randu(img, cv::Scalar::all(0), cv::Scalar::all(255));
    std::vector<uint8_t> jpeg;
    cv::imencode(".jpg", img, jpeg, {cv::IMWRITE_JPEG_QUALITY, 83});
    auto wire = cv::makePtr<FakeTransport>();
    wire->handler = doneAtOnce([] { return pngBytes(600, 450, cv::Scalar(1, 2, 3)); });
    auto p = createProvider(fakeParams(wire));
    auto out = (*p)->expand(expandOf(ImageSource::fromBytes(jpeg)));
    ASSERT_TRUE(out.ok()) << out.status();
    const auto reqs = wire->requests();
    ASSERT_FALSE(reqs.empty());
    rapidjson::Document d;
    d.Parse(reqs[0].body.c_str());
    ASSERT_TRUE(d.IsObject());
    auto sent = base64Decode(std::string(d["image"].GetString()));
    ASSERT_TRUE(sent.ok());
    EXPECT_EQ(*sent, jpeg);  // byte-identical: no decode, no re-encode
}

/** A fake provider whose tasks finish `after` their create (ids t0, t1, …), each with one
 * result image; counts queries per task. `edit` may rewrite a query's answer body. */
struct TimedProvider {
    explicit TimedProvider(std::chrono::milliseconds a) : after(a) {}
    std::function<HttpResponse(const HttpRequest&)> handler() {
        return [this](const HttpRequest& r) {
            if (r.url.rfind("http://fake/img/", 0) == 0) return imageResponse(png);
            std::lock_guard<std::mutex> lock(mu);
            if (r.method == HttpMethod::POST) {
                const std::string id = "t" + std::to_string(createdAt.size());
                createdAt[id] = std::chrono::steady_clock::now();
                return jsonResponse(200, envelope(taskJson(id, "submitted", "")));
            }
            const std::string id = r.url.substr(r.url.rfind('/') + 1);
            ++queries[id];
            queryTimes.push_back(std::chrono::steady_clock::now());
            const bool done = std::chrono::steady_clock::now() - createdAt[id] >= after;
            std::string body = taskJson(id, done ? "succeed" : "processing", "", done ? 1 : 0);
            if (edit) body = edit(std::move(body), done);
            return jsonResponse(200, envelope(body));
        };
    }
    const std::chrono::milliseconds after;
    std::function<std::string(std::string body, bool done)> edit;
    std::mutex mu;
    std::map<std::string, std::chrono::steady_clock::time_point> createdAt;
    std::map<std::string, int> queries;
    std::vector<std::chrono::steady_clock::time_point> queryTimes;
    const std::string png = pngBytes(40, 30, cv::Scalar(1, 2, 3));
};

/** `n` expand tasks started at once with runAsync; wait() returns how many succeeded. */
class InFlight {
public:
    InFlight(TaskClient& c, int n) : n_(n) {
        const cv::Mat input(320, 400, CV_8UC3, cv::Scalar(5, 6, 7));
        for (int i = 0; i < n; ++i)
            c.runAsync(expandOf(ImageSource::fromMat(input)), {}, [this](Result<TaskOutput> r) {
                if (r.ok()) ++ok_;
                if (++finished_ == n_) all_.set_value();
            });
    }
    int wait() {
        all_.get_future().wait();
        return ok_.load();
    }

private:
    const int n_;
    std::atomic<int> ok_{0}, finished_{0};
    std::promise<void> all_;
};

TEST(Remote_Engine, manyTasksInFlightOnFewThreads) {
    // 300 tasks in flight at once, each taking ~300 ms at the "provider": the engine waits for
    // all of them on its one loop thread (plus the CPU pool), not one thread per task.
    auto wire = cv::makePtr<FakeTransport>();
    TimedProvider provider(300ms);
    wire->handler = provider.handler();
    auto params = fakeParams(wire);
    params.poll.firstDelay = 100ms;
    params.poll.interval = 100ms;
    params.poll.maxInterval = 100ms;
    auto c = TaskClient::create(params);
    ASSERT_TRUE(c.ok());
    const int kTasks = 300;
    InFlight batch(**c, kTasks);
    // While they are all in flight, count this process's threads.
    std::this_thread::sleep_for(150ms);
    int threads = 0;
    if (DIR* dir = opendir("/proc/self/task")) {
        while (dirent* e = readdir(dir))
            if (e->d_name[0] != '.') ++threads;
        closedir(dir);
    }
    EXPECT_EQ(batch.wait(), kTasks);
    // The fake transport's blocking sends run on the blocking pool (a real curl transport has
    // none); even so far fewer threads than tasks.
    EXPECT_LT(threads, kTasks / 3) << threads << " threads for " << kTasks << " tasks";
}

TEST(Remote_Engine, queryCapAllowsABurstThenHoldsTheRate) {
    // 60 tasks, each done at its first query, all due at once; a cap of 20 queries per second:
    // the first 20 go together, the other 40 take about two more seconds.
    auto wire = cv::makePtr<FakeTransport>();
    TimedProvider provider(0ms);
    wire->handler = provider.handler();
    auto params = fakeParams(wire);
    params.poll.firstDelay = 50ms;
    params.poll.jitter = 0;
    params.poll.maxQueriesPerSecond = 20;
    auto c = TaskClient::create(params);
    ASSERT_TRUE(c.ok());
    const int kTasks = 60;
    EXPECT_EQ(InFlight(**c, kTasks).wait(), kTasks);
    std::lock_guard<std::mutex> lock(provider.mu);
    ASSERT_EQ(provider.queryTimes.size(), size_t(kTasks));
    std::sort(provider.queryTimes.begin(), provider.queryTimes.end());
    const auto first = provider.queryTimes.front();
    auto after = [&](size_t i) { return provider.queryTimes[i] - first; };
    // Never over the rate: query i + 20 is at least a second after query i (less a tick).
    for (size_t i = 0; i + 20 < provider.queryTimes.size(); ++i)
        EXPECT_GE(provider.queryTimes[i + 20] - provider.queryTimes[i], 950ms) << i;
    EXPECT_GE(after(kTasks - 1), 1900ms);
    // The burst: the 20th query did not wait for the rate (a strict 50 ms pacing takes 950 ms).
    EXPECT_LT(after(19), 500ms);
}

TEST(Remote_Engine, adaptivePollingLearnsTheTaskTime) {
    // Every task takes 200 ms at the provider (its own created_at/updated_at say so). After a
    // few tasks the engine polls near 200 ms, not on the fixed schedule.
    auto wire = cv::makePtr<FakeTransport>();
    TimedProvider provider(200ms);
    provider.edit = [](std::string body, bool done) {
        // The provider's clock: created 1700000000000, updated 200 ms later when done.
        const std::string from = "\"updated_at\":1700000001000";
        body.replace(body.find(from), from.size(),
                     std::string("\"updated_at\":") + (done ? "1700000000200" : "1700000000100"));
        return body;
    };
    wire->handler = provider.handler();
    auto params = fakeParams(wire);
    params.poll.adaptive = true;
    params.poll.firstDelay = 20ms;  // before learning: every 20 ms (~10 queries per task)
    params.poll.interval = 20ms;
    params.poll.multiplier = 1.0;
    params.poll.maxInterval = 20ms;
    params.poll.jitter = 0;
    auto p = createProvider(params);
    const cv::Mat input(320, 400, CV_8UC3, cv::Scalar(5, 6, 7));
    for (int i = 0; i < 4; ++i)
        ASSERT_TRUE((*p)->expand(expandOf(ImageSource::fromMat(input))).ok());
    std::lock_guard<std::mutex> lock(provider.mu);
    EXPECT_GE(provider.queries["t0"], 8);
    // Learned from three tasks: the fourth is queried at the learned time, once or twice.
    EXPECT_LE(provider.queries["t3"], 2) << "queries of the 4th task";
}

TEST(Remote_Engine, aFinishedTaskFreesItsSlotBeforeItsResultIsDownloaded) {
    // One provider slot. The first task's result download hangs; the provider already said the
    // task finished, so its slot is free: the second task is created meanwhile, and the first
    // call's onRemoteDone comes before its completion.
    auto wire = cv::makePtr<FakeTransport>();
    std::mutex mu;
    std::condition_variable cv;
    bool release = false;
    int creates = 0;
    const std::string png = pngBytes(40, 30, cv::Scalar(1, 2, 3));
    wire->handler = [&](const HttpRequest& r) {
        std::unique_lock<std::mutex> lock(mu);
        if (r.url.rfind("http://fake/img/t0/", 0) == 0) {
            cv.wait_for(lock, 10s, [&] { return release; });
            return imageResponse(png);
        }
        if (r.url.rfind("http://fake/img/", 0) == 0) return imageResponse(png);
        if (r.method == HttpMethod::POST) {
            const std::string id = "t" + std::to_string(creates++);
            cv.notify_all();
            return jsonResponse(200, envelope(taskJson(id, "submitted", "")));
        }
        const std::string id = r.url.substr(r.url.rfind('/') + 1);
        return jsonResponse(
            200, envelope(taskJson(id, "succeed", "", 1, "http://fake/img/" + id + "/")));
    };
    auto params = fakeParams(wire);
    params.maxSlots = 1;
    auto p = createProvider(params);
    ASSERT_TRUE(p.ok());
    const cv::Mat input(320, 400, CV_8UC3, cv::Scalar(5, 6, 7));
    std::promise<Result<TaskOutput>> first, second;
    std::atomic<int> remoteDoneBeforeCompletion{0};
    std::atomic<bool> completed0{false};
    CallOptions o0;
    o0.onRemoteDone = [&] {
        if (!completed0.load()) ++remoteDoneBeforeCompletion;
    };
    (*p)->expandAsync(expandOf(ImageSource::fromMat(input)), o0, [&](Result<TaskOutput> r) {
        completed0 = true;
        first.set_value(std::move(r));
    });
    (*p)->expandAsync(expandOf(ImageSource::fromMat(input)), CallOptions(),
                      [&](Result<TaskOutput> r) { second.set_value(std::move(r)); });
    {
        std::unique_lock<std::mutex> lock(mu);
        // The first task's result cannot have arrived yet: its download waits for `release`.
        ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return creates == 2; }))
            << "the second task was not created while the first one's result was downloading";
        EXPECT_FALSE(completed0.load());
        release = true;
        cv.notify_all();
    }
    auto r0 = first.get_future().get();
    auto r1 = second.get_future().get();
    ASSERT_TRUE(r0.ok()) << r0.status().toString();
    ASSERT_TRUE(r1.ok()) << r1.status().toString();
    EXPECT_EQ(remoteDoneBeforeCompletion.load(), 1);
    EXPECT_EQ(creates, 2);
}

TEST(Remote_Engine, cancelAbortsInFlightTransfersAtOnce) {
    // The real curl transport against the emulator, whose create answers after 5 s: a cancel
    // ends the call within a tick, not at the request timeout.
    emulator::Params ep;
    ep.latency = 100ms;
    ep.apiKeys = {"k"};
    emulator::FaultSpec slow;
    slow.kind = emulator::FaultKind::SLOW;
    slow.rate = 1.0;
    slow.delay = 5s;
    ep.faults = {slow};
    auto server = emulator::Server::create(ep);
    ASSERT_TRUE(server->start().ok());
    RemoteParams rp;
    rp.profile = "anyapi";
    rp.baseUrl = server->baseUrl();
    rp.apiKey = "k";
    auto p = createProvider(rp);
    ASSERT_TRUE(p.ok());
    CallOptions opt;
    opt.cancel = std::make_shared<std::atomic<bool>>(false);
    std::thread canceller([&] {
        std::this_thread::sleep_for(300ms);
        opt.cancel->store(true);
    });
    const auto t0 = std::chrono::steady_clock::now();
    auto out = (*p)->expand(expandOf(ImageSource::fromMat(cv::Mat(320, 400, CV_8UC3))), opt);
    const auto took = std::chrono::steady_clock::now() - t0;
    canceller.join();
    EXPECT_EQ(out.code(), Code::CANCELLED) << out.status();
    EXPECT_LT(took, 1500ms);
    EXPECT_FALSE(out.status().externalTaskId().empty());  // for a resume by external id
    p = Status(Code::CANCELLED, "released");
    server->stop();
}

TEST(Remote_Engine, providerCallbackCompletesTheTaskWithoutPolling) {
    // The emulator signs its callbacks; the provider's receiver verifies them and the engine
    // completes the task at once, long before its first poll would have been due.
    const std::string secret = "whsec_" + base64Encode(std::vector<uint8_t>(24, 7));
    emulator::Params ep;
    ep.latency = 300ms;
    ep.apiKeys = {"k"};
    ep.webhookSecret = secret;
    auto server = emulator::Server::create(ep);
    ASSERT_TRUE(server->start().ok());
    RemoteParams rp;
    rp.profile = "anyapi";
    rp.baseUrl = server->baseUrl();
    rp.apiKey = "k";
    rp.poll.firstDelay = 60s;  // polling cannot be what completes it
    rp.poll.adaptive = false;
    rp.deadline = 30s;
    rp.callbackListen = "127.0.0.1:0";
    rp.webhookSecret = secret;
    auto p = createProvider(rp);
    ASSERT_TRUE(p.ok()) << p.status();
    const auto t0 = std::chrono::steady_clock::now();
    auto out = (*p)->expand(expandOf(ImageSource::fromMat(cv::Mat(320, 400, CV_8UC3))));
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_LT(took, 20s);
    rapidjson::Document d;
    d.Parse(server->statsJson().c_str());
    ASSERT_TRUE(d.IsObject());
    int64_t queries = 0;
    for (const auto& m : d["requests_by_route"].GetObject())
        if (std::string(m.name.GetString()).rfind("GET /kling/v1/images/editing/expand/", 0) == 0)
            queries += m.value.GetInt64();
    EXPECT_EQ(queries, 0) << server->statsJson();
    p = Status(Code::CANCELLED, "released");
    server->stop();
}

TEST(Remote_Engine, callbackSignaturesAreChecked) {
    auto wire = cv::makePtr<FakeTransport>();
    auto params = fakeParams(wire);
    params.webhookSecret = "whsec_" + base64Encode(std::vector<uint8_t>(24, 1));
    auto c = TaskClient::create(params);
    ASSERT_TRUE(c.ok());
    const std::string body = taskJson("t1", "succeed", "e", 1);
    EXPECT_EQ((*c)->deliverCallback(body, {}).code(), Code::UNAUTHENTICATED);  // unsigned
    const std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
    const std::string wrong =
        signWebhook("whsec_" + base64Encode(std::vector<uint8_t>(24, 2)), "m1", ts, body);
    EXPECT_EQ((*c)->deliverCallback(body, {{"webhook-id", "m1"},
                                           {"webhook-timestamp", ts},
                                           {"webhook-signature", wrong}})
                  .code(),
              Code::UNAUTHENTICATED);
    const std::string right = signWebhook(params.webhookSecret, "m1", ts, body);
    EXPECT_TRUE((*c)->deliverCallback(body, {{"webhook-id", "m1"},
                                             {"webhook-timestamp", ts},
                                             {"webhook-signature", right}})
                    .ok());
    EXPECT_EQ((*c)->deliverCallback("not json", {{"webhook-id", "m1"},
                                                 {"webhook-timestamp", ts},
                                                 {"webhook-signature", right}})
                  .code(),
              Code::UNAUTHENTICATED);  // the signature covers the body

    // Over HTTP: a refused signature is 401, and the log line carries no secret.
    std::vector<std::string> lines;
    std::mutex mu;
    CallbackServer::Params sp;
    sp.log = [&](LogLevel, const std::string& l) {
        std::lock_guard<std::mutex> lock(mu);
        lines.push_back(l);
    };
    auto srv =
        CallbackServer::start(sp, [&](const std::string& b, const CallbackServer::Headers& h) {
            return (*c)->deliverCallback(b, h);
        });
    ASSERT_TRUE(srv.ok());
    auto http = createCurlTransport();
    HttpRequest req;
    req.method = HttpMethod::POST;
    req.url = "http://127.0.0.1:" + std::to_string((*srv)->port()) + "/cvgen-callback";
    req.body = body;
    req.headers = {{"webhook-id", "m1"}, {"webhook-timestamp", ts}, {"webhook-signature", wrong}};
    EXPECT_EQ(http->send(req).httpStatus, 401);
    req.headers.back().second = right;
    EXPECT_EQ(http->send(req).httpStatus, 204);
    (*srv)->stop();
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].find(params.webhookSecret), std::string::npos);
    EXPECT_EQ(lines[0].find(wrong), std::string::npos);
}

}  // namespace
}  // namespace remote
}  // namespace cvgen
