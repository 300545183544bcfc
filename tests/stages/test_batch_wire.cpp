// What the batch puts on the wire through the real remote client (scripted transport): a
// compliant file goes out byte-identical, a non-compliant one re-encoded, and the report says
// which; a cancelled batch stops at once with nothing half-written.
#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <opencv2/imgcodecs.hpp>

#include "cvgen/core/base64.hpp"
#include "cvgen/core/codec.hpp"
#include "cvgen/remote.hpp"
#include "cvgen/stages/batch.hpp"
#include "remote/fake_transport.hpp"
#include "stages/stages_test_util.hpp"

namespace cvgen::stages {
namespace {

using namespace std::chrono_literals;
using remote::HttpMethod;
using remote::HttpRequest;
using remote::HttpResponse;
using remote::testing::envelope;
using remote::testing::FakeTransport;
using remote::testing::jsonResponse;
using remote::testing::taskJson;
using testing::countTempFiles;
using testing::TempDir;

/** A Kling-like server that answers each expand with a canvas of the requested size. */
struct CanvasServer {
    cv::Ptr<FakeTransport> wire = cv::makePtr<FakeTransport>();
    std::mutex mu;
    std::map<std::string, cv::Size> canvases;  // task id → result size
    std::vector<std::string> sentImages;       // decoded base64 of each create, in order
    std::atomic<int> ids{0};
    std::chrono::milliseconds taskTime{0};
    std::map<std::string, std::chrono::steady_clock::time_point> created;

    CanvasServer() {
        wire->handler = [this](const HttpRequest& r) { return handle(r); };
    }
    HttpResponse handle(const HttpRequest& r) {
        if (r.url.rfind("http://fake/img/", 0) == 0) {
            const std::string id = r.url.substr(16, r.url.rfind('/') - 16);
            cv::Size s;
            {
                std::lock_guard<std::mutex> lock(mu);
                s = canvases[id];
            }
            std::vector<uint8_t> png;
            cv::imencode(".png", cv::Mat(s, CV_8UC3, cv::Scalar(40, 80, 120)), png);
            HttpResponse out;
            out.httpStatus = 200;
            out.body.assign(png.begin(), png.end());
            return out;
        }
        if (r.method == HttpMethod::POST) {
            rapidjson::Document d;
            d.Parse(r.body.c_str());
            auto bytes = base64Decode(std::string(d["image"].GetString()));
            cv::Mat in = cv::imdecode(*bytes, cv::IMREAD_COLOR);
            const double l = d["left_expansion_ratio"].GetDouble();
            const double rr = d["right_expansion_ratio"].GetDouble();
            const double u = d["up_expansion_ratio"].GetDouble();
            const double dn = d["down_expansion_ratio"].GetDouble();
            const std::string id = "t" + std::to_string(ids++);
            std::lock_guard<std::mutex> lock(mu);
            sentImages.emplace_back(bytes->begin(), bytes->end());
            canvases[id] = cv::Size(int(std::lround(in.cols * (1 + l + rr))),
                                    int(std::lround(in.rows * (1 + u + dn))));
            created[id] = std::chrono::steady_clock::now();
            return jsonResponse(200, envelope(taskJson(id, "submitted", "e")));
        }
        const std::string id = r.url.substr(r.url.rfind('/') + 1);
        bool done;
        {
            std::lock_guard<std::mutex> lock(mu);
            done = std::chrono::steady_clock::now() - created[id] >= taskTime;
        }
        return jsonResponse(200, envelope(taskJson(id, done ? "succeed" : "processing", "e",
                                                   done ? 1 : 0, "http://fake/img/" + id + "/")));
    }
    std::shared_ptr<Provider> provider() {
        remote::ClientParams p;
        p.profile = remote::builtinProfile("anyapi").value();
        p.profile.baseUrl = "http://api.fake";
        p.credentials = {"k", "", ""};
        p.transport = wire;
        p.poll.firstDelay = 5ms;
        p.poll.interval = 5ms;
        p.poll.adaptive = false;
        p.seed = 3;
        return *remote::createProvider(p);
    }
};

std::vector<uint8_t> writeJpeg(const std::filesystem::path& path, cv::Size size) {
    cv::Mat m(size, CV_8UC3);
    cv::randu(m, cv::Scalar::all(0), cv::Scalar::all(255));
    std::vector<uint8_t> jpeg;
    cv::imencode(".jpg", m, jpeg, {cv::IMWRITE_JPEG_QUALITY, 85});
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(jpeg.data()), std::streamsize(jpeg.size()));
    return jpeg;
}

TEST(Stages_BatchWire, compliantFileIsSentByteIdenticalAndTheReportSaysWhich) {
    TempDir d;
    const auto big = writeJpeg(d.path() / "in/big.jpg", {480, 360});  // meets every rule
    writeJpeg(d.path() / "in/small.jpg", {200, 150});                 // under 300 px: re-encoded
    CanvasServer server;
    BatchRunner::Params p;
    p.input = d.str("in");
    p.output = d.str("out");
    p.target = TargetSpec::exact({600, 450});
    p.provider = server.provider();
    p.contactSheet = false;
    std::map<std::string, ItemReport> reports;
    std::mutex mu;
    p.onItem = [&](const ItemReport& r) {
        std::lock_guard<std::mutex> lock(mu);
        reports[r.relPath] = r;
    };
    Result<BatchSummary> s = BatchRunner::create(p)->run();
    ASSERT_TRUE(s.ok()) << s.status();
    ASSERT_EQ(s->ok, 2u) << reports["small.jpg"].message;
    bool sawOriginal = false;
    for (const auto& sent : server.sentImages)
        sawOriginal = sawOriginal || std::vector<uint8_t>(sent.begin(), sent.end()) == big;
    EXPECT_TRUE(sawOriginal) << "the compliant JPEG went out as its own bytes";
    auto has = [](const ItemReport& r, const std::string& what) {
        for (const auto& w : r.warnings)
            if (w.find(what) != std::string::npos) return true;
        return false;
    };
    EXPECT_TRUE(has(reports["big.jpg"], "passed through unchanged"));
    EXPECT_TRUE(has(reports["small.jpg"], "re-encoded"));
    EXPECT_EQ(decodeImage(*readFileBytes(reports["big.jpg"].output))->size(), cv::Size(600, 450));
}

TEST(Stages_BatchWire, cancelStopsEveryItemInFlightPromptly) {
    TempDir d;
    for (int i = 0; i < 40; ++i)
        writeJpeg(d.path() / "in" / ("i" + std::to_string(i) + ".jpg"), {400, 300});
    CanvasServer server;
    server.taskTime = 60s;  // nothing finishes by itself
    BatchRunner::Params p;
    p.input = d.str("in");
    p.output = d.str("out");
    p.target = TargetSpec::exact({600, 400});
    p.provider = server.provider();
    p.concurrency = 40;
    p.contactSheet = false;
    p.cancel = std::make_shared<std::atomic<bool>>(false);
    std::chrono::steady_clock::time_point cancelAt;
    std::thread canceller([&] {
        // Once every item has its task, cancel (as Ctrl-C does).
        while (server.ids.load() < 40) std::this_thread::sleep_for(5ms);
        std::this_thread::sleep_for(50ms);
        cancelAt = std::chrono::steady_clock::now();
        p.cancel->store(true);
    });
    Result<BatchSummary> s = BatchRunner::create(p)->run();
    const auto end = std::chrono::steady_clock::now();
    canceller.join();
    const auto cancelledAfter = end - cancelAt;
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_TRUE(s->cancelled);
    EXPECT_EQ(s->notRun, 40u);
    EXPECT_EQ(s->exitCode(), 3);
    // Promptly: well below the 60 s task time and any request timeout (generous for ASan).
    EXPECT_LT(cancelledAfter, 3s);
    EXPECT_EQ(countTempFiles(d.path() / "out"), 0);
    EXPECT_EQ(server.wire->count(HttpMethod::POST, "/expand"), 40);  // one create per item
}

}  // namespace
}  // namespace cvgen::stages
