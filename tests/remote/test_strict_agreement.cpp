// The client and the strict emulator (`cvgen serve --strict`) judge by the same capability table:
// over random requests, whatever the client lets out (with the defaults and spellings it puts on
// the wire) the strict emulator accepts, and whatever it refuses never reaches the network.
#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <random>

#include "cvgen/emulator.hpp"
#include "cvgen/remote.hpp"

namespace cvgen {
namespace remote {
namespace {

using namespace std::chrono_literals;

const std::string kKey = "strict-key";

ClientParams clientFor(const emulator::Server& srv, const std::string& profile) {
    ClientParams c;
    c.profile = builtinProfile(profile).value();
    c.profile.baseUrl = srv.baseUrl();
    c.credentials = {kKey, "", ""};
    c.transportParams.proxy = "none";  // loopback only, whatever the environment says
    c.transportParams.connectTimeout = 2000ms;
    c.transportParams.totalTimeout = 5000ms;
    c.defaultDeadline = 10s;
    return c;
}

/** Requests that reached the server and creates it accepted, from its stats. */
std::pair<int64_t, int64_t> reachedAndCreated(const emulator::Server& srv) {
    rapidjson::Document d;
    const std::string js = srv.statsJson();
    d.Parse(js.c_str());
    int64_t reached = 0;
    for (auto it = d["requests_by_route"].MemberBegin(); it != d["requests_by_route"].MemberEnd();
         ++it)
        if (std::string(it->name.GetString()).rfind("POST ", 0) == 0)
            reached += it->value.GetInt64();
    return {reached, d["creates"].GetInt64()};
}

template <typename T>
T pick(std::mt19937& rng, const std::vector<T>& v) {
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
}

bool coin(std::mt19937& rng) {
    return std::uniform_int_distribution<int>(0, 1)(rng) == 1;
}

const std::vector<AspectRatio> kRatios = {AspectRatio::R16_9, AspectRatio::R9_16,
                                          AspectRatio::R1_1,  AspectRatio::R21_9,
                                          AspectRatio::R3_2,  AspectRatio::AUTO};

std::vector<std::string> modelNames(Endpoint e) {
    std::vector<std::string> names = {""};  // the endpoint's default
    for (const ModelCaps* m : models(e)) names.push_back(m->name);
    return names;
}

GenerateRequest randomGenerate(std::mt19937& rng, const ImageSource& image) {
    GenerateRequest g;
    g.model = pick(rng, modelNames(Endpoint::GENERATE));
    g.prompt = "a lighthouse";
    if (coin(rng)) g.image = image;
    g.imageReference = pick<ImageReference>(
        rng, {ImageReference::NONE, ImageReference::SUBJECT, ImageReference::FACE});
    if (coin(rng)) g.imageFidelity = 0.4;
    if (coin(rng) && coin(rng)) g.humanFidelity = 0.3;
    if (coin(rng) && coin(rng)) g.negativePrompt = "blur";
    g.resolution = pick<Resolution>(rng, {Resolution::R1K, Resolution::R2K});
    g.aspectRatio = pick(rng, std::vector<AspectRatio>(kRatios.begin(), kRatios.end() - 1));
    return g;
}

OmniRequest randomOmni(std::mt19937& rng, const ImageSource& image) {
    OmniRequest o;
    o.model = pick(rng, modelNames(Endpoint::OMNI));
    o.prompt = "<<<image_1>>> at sea";
    const int images = pick<int>(rng, {0, 0, 1, 2});
    for (int i = 0; i < images; ++i) o.images.push_back(image);
    const int elements = pick<int>(rng, {0, 0, 1, 9});
    for (int i = 0; i < elements; ++i) o.elementIds.push_back(std::to_string(7000 + i));
    o.resolution = pick<Resolution>(rng, {Resolution::R1K, Resolution::R2K, Resolution::R4K});
    if (coin(rng)) {
        o.resultType = OmniResultType::SERIES;
        o.seriesAmount = pick<int>(rng, {2, 3});
        o.seriesAuto = coin(rng);
    }
    if (coin(rng)) o.aspectRatio = pick(rng, kRatios);  // else the model's default for it
    return o;
}

TEST(Remote_StrictAgreement, whatTheClientSendsTheStrictEmulatorAccepts) {
    emulator::Params ep;
    ep.apiKeys = {kKey};
    ep.strict = true;
    ep.render = emulator::RenderMode::FAST;
    ep.latency = 20ms;
    auto srv = emulator::Server::create(ep);
    ASSERT_TRUE(srv->start().ok());
    const ImageSource image = ImageSource::fromMat(cv::Mat(320, 320, CV_8UC3, cv::Scalar(40)));
    std::mt19937 rng(16);
    int sent = 0, refusedLocally = 0;
    for (const std::string profile : {"kling", "cometapi"}) {
        SCOPED_TRACE(profile);
        auto client = TaskClient::create(clientFor(*srv, profile));
        ASSERT_TRUE(client.ok()) << client.status();
        for (int i = 0; i < 150; ++i) {
            const auto before = reachedAndCreated(*srv);
            Result<TaskHandle> h = internalError("not sent");
            std::string what;
            if (i % 2 == 0) {
                const GenerateRequest g = randomGenerate(rng, image);
                what = "generate " + g.model;
                h = (*client)->submit(g);
            } else {
                const OmniRequest o = randomOmni(rng, image);
                what = "omni " + o.model;
                h = (*client)->submit(o);
            }
            SCOPED_TRACE(what + " #" + std::to_string(i));
            if (h.ok()) {
                ++sent;
                (*client)->cancel(*h);  // only the create matters here
                continue;
            }
            // Refused: by the client before the network, never by the strict emulator.
            ++refusedLocally;
            EXPECT_EQ(h.code(), Code::INVALID_ARGUMENT) << h.status();
            EXPECT_EQ(h.status().providerCode(), 0) << h.status();
            EXPECT_EQ(reachedAndCreated(*srv), before);
        }
    }
    // Every create that reached the server was accepted, and both outcomes were exercised.
    const auto [reached, created] = reachedAndCreated(*srv);
    EXPECT_EQ(reached, sent);
    EXPECT_EQ(created, sent);
    EXPECT_GT(sent, 30);
    EXPECT_GT(refusedLocally, 30);
}

}  // namespace
}  // namespace remote
}  // namespace cvgen
