// The capability table through the client: every per-model rule refused before the network
// (the fake transport sees no request) and accepted where the model allows it (with the exact
// fields on the wire); the CometAPI dialects; the upscale preflight with Ideogram's rules, on a
// fake and end to end against the emulator on loopback.
#include <gtest/gtest.h>

#include <functional>

#include <rapidjson/document.h>

#include "cvgen/emulator.hpp"
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

/** A fake that creates, answers the first query with success and serves a small image; an
 * Ideogram-style multipart create is answered synchronously. */
struct Wire {
    cv::Ptr<FakeTransport> fake = cv::makePtr<FakeTransport>();
    Wire() {
        fake->handler = [](const HttpRequest& r) {
            if (r.url.rfind("http://fake/img/", 0) == 0) {
                HttpResponse resp;
                resp.httpStatus = 200;
                resp.body = pngBytes(32, 24, cv::Scalar(1, 2, 3));
                return resp;
            }
            if (r.method == HttpMethod::POST && !r.parts.empty())
                return jsonResponse(
                    200,
                    "{\"created\":\"x\",\"data\":[{\"url\":\"http://fake/img/0.png\","
                    "\"is_image_safe\":true,\"seed\":1,\"prompt\":\"\","
                    "\"resolution\":\"32x24\"}]}");
            if (r.method == HttpMethod::POST)
                return jsonResponse(200, envelope(taskJson("t-1", "submitted", "e")));
            return jsonResponse(200, envelope(taskJson("t-1", "succeed", "e", 1)));
        };
    }
    cv::Ptr<Provider> provider(const std::string& profile) const {
        ClientParams p;
        p.profile = builtinProfile(profile).value();
        p.profile.baseUrl = "http://api.fake";
        p.credentials = {"key", "AK", "SK"};
        p.transport = fake;
        p.poll.firstDelay = 1ms;
        p.poll.interval = 1ms;
        p.defaultDeadline = 10s;
        p.sleep = [](std::chrono::milliseconds) {};
        return createProvider(p).value();
    }
    /** The JSON body of the one create sent. */
    rapidjson::Document body() const {
        rapidjson::Document d;
        for (const auto& r : fake->requests())
            if (r.method == HttpMethod::POST) {
                d.Parse(r.body.c_str());
                return d;
            }
        ADD_FAILURE() << "no create was sent";
        return d;
    }
};

ImageSource refImage() {
    return ImageSource::fromMat(cv::Mat(400, 400, CV_8UC3, cv::Scalar(9, 9, 9)));
}

GenerateRequest generate(const std::string& model) {
    GenerateRequest g;
    g.model = model;
    g.prompt = "a lighthouse";
    return g;
}

OmniRequest omni(const std::string& model) {
    OmniRequest o;
    o.model = model;
    o.prompt = "a harbour";
    return o;
}

struct Refused {
    const char* name;
    std::function<Result<TaskOutput>(Provider&)> call;
    const char* field;
    const char* text;   ///< in the message
    const char* model;  ///< named in the message too
};

TEST(Remote_CapabilityWire, everyRefusedCombinationNeverLeavesTheMachine) {
    const std::vector<Refused> cases = {
        {"fidelity on kling-v3",
         [](Provider& p) {
             auto g = generate("kling-v3");
             g.image = refImage();
             g.imageFidelity = 0.7;
             return p.generate(g);
         },
         "image_fidelity", "image_fidelity: not supported by kling-v3 (only kling-v2-1)",
         "kling-v3"},
        {"human fidelity on kling-v1-5",
         [](Provider& p) {
             auto g = generate("kling-v1-5");
             g.image = refImage();
             g.imageReference = ImageReference::SUBJECT;
             g.humanFidelity = 0.3;
             return p.generate(g);
         },
         "human_fidelity", "not supported by kling-v1-5 (only kling-v2-1)", "kling-v1-5"},
        {"image_reference on kling-v3",
         [](Provider& p) {
             auto g = generate("kling-v3");
             g.image = refImage();
             g.imageReference = ImageReference::FACE;
             return p.generate(g);
         },
         "image_reference", "face not supported by kling-v3 (only kling-v2-1, kling-v1-5)",
         "kling-v3"},
        {"kling-v1-5 image without image_reference",
         [](Provider& p) {
             auto g = generate("kling-v1-5");
             g.image = refImage();
             return p.generate(g);
         },
         "image_reference", "required by kling-v1-5", "kling-v1-5"},
        {"negative prompt with an image",
         [](Provider& p) {
             auto g = generate("kling-v2-1");
             g.image = refImage();
             g.negativePrompt = "blur";
             return p.generate(g);
         },
         "negative_prompt", "not supported with a reference image by kling-v2-1", "kling-v2-1"},
        {"human fidelity without a subject reference (ignored upstream, refused here)",
         [](Provider& p) {
             auto g = generate("kling-v2-1");
             g.image = refImage();
             g.imageReference = ImageReference::FACE;
             g.humanFidelity = 0.3;
             return p.generate(g);
         },
         "human_fidelity", "only takes effect with image_reference subject", "kling-v2-1"},
        {"image_reference without an image",
         [](Provider& p) {
             auto g = generate("kling-v2-1");
             g.imageReference = ImageReference::SUBJECT;
             return p.generate(g);
         },
         "image_reference", "needs a reference image", "kling-v2-1"},
        {"21:9 on kling-v1",
         [](Provider& p) {
             auto g = generate("kling-v1");
             g.aspectRatio = AspectRatio::R21_9;
             return p.generate(g);
         },
         "aspect_ratio", "21:9 not supported by kling-v1", "kling-v1"},
        {"2k on kling-v1-5",
         [](Provider& p) {
             auto g = generate("kling-v1-5");
             g.resolution = Resolution::R2K;
             return p.generate(g);
         },
         "resolution", "2k not supported by kling-v1-5", "kling-v1-5"},
        {"text-to-image on kling-v2-new",
         [](Provider& p) { return p.generate(generate("kling-v2-new")); }, "image",
         "required by kling-v2-new (it has no text-to-image)", "kling-v2-new"},
        {"unknown generation model", [](Provider& p) { return p.generate(generate("kling-v9")); },
         "model_name", "unknown generate model 'kling-v9'", "kling-v9"},
        {"4k on kling-image-o1",
         [](Provider& p) {
             auto o = omni("kling-image-o1");
             o.resolution = Resolution::R4K;
             return p.omni(o);
         },
         "resolution", "4k not supported by kling-image-o1 (only kling-v3-omni)", "kling-image-o1"},
        {"series on kling-image-o1",
         [](Provider& p) {
             auto o = omni("kling-image-o1");
             o.resultType = OmniResultType::SERIES;
             o.seriesAmount = 3;
             return p.omni(o);
         },
         "result_type", "series not supported by kling-image-o1 (only kling-v3-omni)",
         "kling-image-o1"},
        {"explicit auto on a text-only kling-v3-omni",
         [](Provider& p) {
             auto o = omni("kling-v3-omni");
             o.aspectRatio = AspectRatio::AUTO;
             return p.omni(o);
         },
         "aspect_ratio", "auto needs a reference image with kling-v3-omni", "kling-v3-omni"},
        {"series_amount 10",
         [](Provider& p) {
             auto o = omni("kling-v3-omni");
             o.resultType = OmniResultType::SERIES;
             o.seriesAmount = 10;
             return p.omni(o);
         },
         "series_amount", "must be in [2,9] or auto with kling-v3-omni, got 10", "kling-v3-omni"},
        {"unknown omni model", [](Provider& p) { return p.omni(omni("kling-v3")); }, "model_name",
         "unknown omni model 'kling-v3'", "kling-v3"},
    };
    for (const Refused& c : cases) {
        SCOPED_TRACE(c.name);
        Wire w;
        auto p = w.provider("anyapi");
        auto out = c.call(*p);
        EXPECT_EQ(out.code(), Code::INVALID_ARGUMENT) << out.status();
        EXPECT_EQ(out.status().message().rfind(std::string(c.field) + ": ", 0), 0u) << out.status();
        EXPECT_NE(out.status().message().find(c.text), std::string::npos) << out.status();
        EXPECT_NE(out.status().message().find(c.model), std::string::npos) << out.status();
        EXPECT_TRUE(w.fake->requests().empty()) << w.fake->requests().size() << " requests";
    }
}

TEST(Remote_CapabilityWire, allowedCombinationsGoOutWithTheirFields) {
    {
        SCOPED_TRACE("kling-v2-1 subject reference with both fidelities");
        Wire w;
        auto g = generate("kling-v2-1");
        g.image = refImage();
        g.imageReference = ImageReference::SUBJECT;
        g.imageFidelity = 0.7;
        g.humanFidelity = 0.3;
        ASSERT_TRUE(w.provider("anyapi")->generate(g).ok());
        auto d = w.body();
        EXPECT_STREQ(d["model_name"].GetString(), "kling-v2-1");
        EXPECT_STREQ(d["image_reference"].GetString(), "subject");
        EXPECT_DOUBLE_EQ(d["image_fidelity"].GetDouble(), 0.7);
        EXPECT_DOUBLE_EQ(d["human_fidelity"].GetDouble(), 0.3);
    }
    {
        SCOPED_TRACE("kling-v3 with a reference: no fidelity field unless asked");
        Wire w;
        auto g = generate("kling-v3");
        g.image = refImage();
        ASSERT_TRUE(w.provider("anyapi")->generate(g).ok());
        auto d = w.body();
        EXPECT_TRUE(d.HasMember("image"));
        EXPECT_FALSE(d.HasMember("image_fidelity"));
        EXPECT_FALSE(d.HasMember("human_fidelity"));
        EXPECT_FALSE(d.HasMember("image_reference"));
    }
    {
        SCOPED_TRACE("no model named: the current default, kling-v3, is named on the wire");
        Wire w;
        GenerateRequest g;
        g.prompt = "x";
        g.negativePrompt = "blur";  // text-only: allowed
        ASSERT_TRUE(w.provider("anyapi")->generate(g).ok());
        auto d = w.body();
        EXPECT_STREQ(d["model_name"].GetString(), "kling-v3");
        EXPECT_STREQ(d["negative_prompt"].GetString(), "blur");
        EXPECT_STREQ(d["aspect_ratio"].GetString(), "16:9");
    }
    {
        SCOPED_TRACE("kling-v2-new restyle: no resolution or ratio is sent");
        Wire w;
        auto g = generate("kling-v2-new");
        g.image = refImage();
        ASSERT_TRUE(w.provider("anyapi")->generate(g).ok());
        auto d = w.body();
        EXPECT_STREQ(d["model_name"].GetString(), "kling-v2-new");
        EXPECT_FALSE(d.HasMember("resolution"));
        EXPECT_FALSE(d.HasMember("aspect_ratio"));
    }
    {
        SCOPED_TRACE("kling-v3-omni 4k series of auto length, text only");
        Wire w;
        auto o = omni("kling-v3-omni");
        o.resolution = Resolution::R4K;
        o.resultType = OmniResultType::SERIES;
        o.seriesAuto = true;
        ASSERT_TRUE(w.provider("anyapi")->omni(o).ok());
        auto d = w.body();
        EXPECT_STREQ(d["resolution"].GetString(), "4k");
        EXPECT_STREQ(d["result_type"].GetString(), "series");
        ASSERT_TRUE(d["series_amount"].IsString());
        EXPECT_STREQ(d["series_amount"].GetString(), "auto");
        EXPECT_STREQ(d["aspect_ratio"].GetString(), "16:9");  // not auto: text-only v3-omni
        EXPECT_FALSE(d.HasMember("n"));
    }
    {
        SCOPED_TRACE("kling-v3-omni series of 3 with an image: auto ratio");
        Wire w;
        auto o = omni("kling-v3-omni");
        o.images.push_back(refImage());
        o.resultType = OmniResultType::SERIES;
        o.seriesAmount = 3;
        ASSERT_TRUE(w.provider("anyapi")->omni(o).ok());
        auto d = w.body();
        EXPECT_EQ(d["series_amount"].GetInt(), 3);
        EXPECT_STREQ(d["aspect_ratio"].GetString(), "auto");
    }
    {
        SCOPED_TRACE("kling-image-o1 text-only: auto is its default");
        Wire w;
        OmniRequest o;
        o.prompt = "x";
        ASSERT_TRUE(w.provider("anyapi")->omni(o).ok());
        auto d = w.body();
        EXPECT_STREQ(d["model_name"].GetString(), "kling-image-o1");
        EXPECT_STREQ(d["aspect_ratio"].GetString(), "auto");
    }
}

TEST(Remote_CapabilityWire, cometApiDialectsOnTheWire) {
    struct Case {
        const char* profile;
        const char* down;    ///< the field carrying the downward ratio
        const char* absent;  ///< the other spelling, never sent
        bool nString;
    };
    for (const Case& c :
         {Case{"cometapi", "bottom_expansion_ratio", "down_expansion_ratio", true},
          Case{"cometapi-v2", "down_expansion_ratio", "bottom_expansion_ratio", false}}) {
        SCOPED_TRACE(c.profile);
        Wire w;
        ExpandRequest r;
        r.image = refImage();
        r.ratios = {0.1, 0.2, 0.3, 0.4};
        r.task.n = 2;
        ASSERT_TRUE(w.provider(c.profile)->expand(r).ok());
        const auto reqs = w.fake->requests();
        ASSERT_FALSE(reqs.empty());
        EXPECT_EQ(reqs[0].url, "http://api.fake/kling/v1/images/editing/expand");
        auto d = w.body();
        ASSERT_TRUE(d.HasMember(c.down));
        EXPECT_DOUBLE_EQ(d[c.down].GetDouble(), 0.2);
        EXPECT_FALSE(d.HasMember(c.absent));
        EXPECT_DOUBLE_EQ(d["up_expansion_ratio"].GetDouble(), 0.1);
        EXPECT_DOUBLE_EQ(d["left_expansion_ratio"].GetDouble(), 0.3);
        EXPECT_DOUBLE_EQ(d["right_expansion_ratio"].GetDouble(), 0.4);
        if (c.nString) {
            ASSERT_TRUE(d["n"].IsString());
            EXPECT_STREQ(d["n"].GetString(), "2");
        } else {
            ASSERT_TRUE(d["n"].IsInt());
            EXPECT_EQ(d["n"].GetInt(), 2);
        }
    }
}

TEST(Remote_CapabilityWire, upscaleInputKeepsItsSizeUnderIdeogramRules) {
    for (const char* profile : {"anyapi", "ideogram"})
        for (cv::Size size : {cv::Size(256, 256), cv::Size(600, 200), cv::Size(16, 16)}) {
            SCOPED_TRACE(std::string(profile) + " " + std::to_string(size.width) + "x" +
                         std::to_string(size.height));
            Wire w;
            UpscaleRequest u;
            u.image = ImageSource::fromMat(cv::Mat(size, CV_8UC3, cv::Scalar(5, 6, 7)));
            auto out = w.provider(profile)->upscale(u);
            ASSERT_TRUE(out.ok()) << out.status();
            const auto reqs = w.fake->requests();
            ASSERT_FALSE(reqs.empty());
            ASSERT_EQ(reqs[0].parts.size() >= 2, true);
            EXPECT_EQ(reqs[0].parts[1].name, "image_file");
            const std::string& bytes = reqs[0].parts[1].data;
            cv::Mat sent =
                cv::imdecode(std::vector<uint8_t>(bytes.begin(), bytes.end()), cv::IMREAD_COLOR);
            EXPECT_EQ(sent.size(), size);  // never padded or enlarged to 300 px
        }
    // The Kling endpoints still refuse such an input where the geometry must be kept.
    Wire w;
    ExpandRequest r;
    r.image = ImageSource::fromMat(cv::Mat(256, 256, CV_8UC3, cv::Scalar::all(1)));
    r.ratios = {0.1, 0.1, 0.1, 0.1};
    auto out = w.provider("anyapi")->expand(r);
    EXPECT_EQ(out.code(), Code::INVALID_ARGUMENT);
    EXPECT_EQ(out.status().message().rfind("image: ", 0), 0u) << out.status();
    EXPECT_NE(out.status().message().find("Kling expand input rules"), std::string::npos)
        << out.status();
    EXPECT_TRUE(w.fake->requests().empty());
}

TEST(Remote_CapabilityWire, relayProfileLimitsAreEnforced) {
    Wire w;
    ClientParams p;
    p.profile = parseProfileJson(R"({"extends":"anyapi","base_url":"http://api.fake",
        "input_limits":{"upscale":{"min_side":300,"formats":["png"]}}})")
                    .value();
    p.credentials = {"key", "", ""};
    p.transport = w.fake;
    p.sleep = [](std::chrono::milliseconds) {};
    auto provider = createProvider(p).value();
    UpscaleRequest u;
    u.image = ImageSource::fromMat(cv::Mat(256, 256, CV_8UC3, cv::Scalar::all(1)));
    auto out = provider->upscale(u);
    EXPECT_EQ(out.code(), Code::INVALID_ARGUMENT);
    EXPECT_EQ(out.status().message().rfind("image_file: ", 0), 0u) << out.status();
    EXPECT_TRUE(w.fake->requests().empty());
}

// ---------------- end to end: the real curl transport against the emulator ----------------

TEST(Remote_CapabilityWire, smallAndWideUpscalesSucceedAgainstTheEmulator) {
    emulator::Params ep;
    ep.host = "127.0.0.1";
    ep.port = 0;
    ep.apiKeys = {"emu-key"};
    ep.latency = 20ms;
    auto srv = emulator::Server::create(ep);
    ASSERT_TRUE(srv->start().ok());
    for (const char* profile : {"anyapi", "ideogram"}) {
        ClientParams c;
        c.profile = builtinProfile(profile).value();
        c.profile.baseUrl = srv->baseUrl();
        c.credentials = {"emu-key", "", ""};
        c.transportParams.proxy = "none";
        c.defaultDeadline = 20s;
        auto provider = createProvider(c);
        ASSERT_TRUE(provider.ok()) << provider.status();
        for (cv::Size size : {cv::Size(256, 256), cv::Size(600, 200)}) {
            SCOPED_TRACE(std::string(profile) + " " + std::to_string(size.width) + "x" +
                         std::to_string(size.height));
            cv::Mat img(size, CV_8UC3);
            cv::randu(img, cv::Scalar::all(0), cv::Scalar::all(255));
            UpscaleRequest u;
            u.image = ImageSource::fromMat(img);
            auto out = (*provider)->upscale(u);
            ASSERT_TRUE(out.ok()) << out.status();
            ASSERT_EQ(out->images.size(), 1u);
            EXPECT_EQ(out->images[0].image.size(), cv::Size(size.width * 2, size.height * 2));
        }
    }
}

}  // namespace
}  // namespace remote
}  // namespace cvgen
