// Ideogram's upscale input rules on the emulator (issue #16): JPEG/PNG/WebP up to 10 MB, no side
// or aspect rule (Kling's ≥300 px and 1:2.5–2.5:1 are not Ideogram's).
#include "emu_test_util.hpp"

using namespace emutest;

namespace {

struct Route {
    const char* path;
    std::string auth;
};

const Route kRoutes[] = {{"/upscale", "Api-Key: test-key"}, {"/ideogram/upscale", bearer()}};

Response upscale(const cvgen::emulator::Server& s, const Route& route, const std::string& file,
                 const std::string& filename = "in.png") {
    Request rq;
    rq.method = "POST";
    rq.url = s.baseUrl() + route.path;
    rq.headers = {route.auth};
    rq.parts = {{"image_request", "{}", "", "application/json"},
                {"image_file", file, filename, ""}};
    return send(rq);
}

}  // namespace

TEST(Emulator_UpscaleRules, smallAndWideImagesUpscale) {
    auto s = start(fastParams());
    struct Case {
        const char* name;
        cv::Size in;
        const char* ext;
    };
    const Case cases[] = {
        {"256x256 png", {256, 256}, ".png"},   {"3:1 png", {900, 300}, ".png"},
        {"1:5 jpeg", {100, 500}, ".jpg"},      {"16x16 png", {16, 16}, ".png"},
        {"256x256 webp", {256, 256}, ".webp"},
    };
    for (const Route& route : kRoutes) {
        for (const Case& c : cases) {
            SCOPED_TRACE(std::string(route.path) + " " + c.name);
            Response r = upscale(*s, route, encode(testImage(c.in.width, c.in.height), c.ext));
            ASSERT_EQ(r.status, 200) << r.body;
            auto d = parse(r.body);
            ASSERT_TRUE(d.IsObject() && d.HasMember("data")) << r.body;
            const auto& item = d["data"][0];
            const std::string want =
                std::to_string(c.in.width * 2) + "x" + std::to_string(c.in.height * 2);
            EXPECT_EQ(std::string(item["resolution"].GetString()), want);
            const cv::Mat out = decode(get(item["url"].GetString()).body);
            EXPECT_EQ(out.size(), cv::Size(c.in.width * 2, c.in.height * 2));
        }
    }
    s->stop();
}

TEST(Emulator_UpscaleRules, formatAndBytesStillRefused) {
    auto s = start(fastParams());
    // A valid 256x256 JPEG padded past 10^7 bytes with comment segments (FF FE, at most 65,533
    // bytes each, which decoders skip): only the encoded size breaks a rule.
    const std::string jpeg = encode(testImage(256, 256), ".jpg");
    std::string big = jpeg.substr(0, 2);
    while (big.size() < 10'000'001) {
        big += "\xFF\xFE\xFF\xFF";
        big += std::string(65533, 'x');
    }
    big += jpeg.substr(2);
    ASSERT_EQ(decode(big).size(), cv::Size(256, 256));
    const uint8_t gifBytes[] = {'G',  'I',  'F',  '8', '9', 'a', 0x40,
                                0x01, 0x2C, 0x01, 0,   0,   0,   0x3B};
    const std::string gif(reinterpret_cast<const char*>(gifBytes), sizeof gifBytes);
    struct Case {
        const char* name;
        std::string file;
        const char* mentions;
    };
    const Case cases[] = {{"over 10 MB", big, "bytes"}, {"gif", gif, "GIF"}};
    for (const Route& route : kRoutes) {
        for (const Case& c : cases) {
            SCOPED_TRACE(std::string(route.path) + " " + c.name);
            Response r = upscale(*s, route, c.file);
            ASSERT_EQ(r.status, 400) << r.body.substr(0, 300);
            auto d = parse(r.body);
            ASSERT_TRUE(d.IsObject()) << r.body;
            // Ideogram's own route answers {"error": …}; the aggregator's the Kling envelope.
            const bool official = std::string(route.path) == "/upscale";
            const std::string msg = official ? d["error"].GetString() : d["message"].GetString();
            if (!official) {
                EXPECT_EQ(d["code"].GetInt(), 1201);
            }
            EXPECT_EQ(msg.rfind("image_file: ", 0), 0u) << msg;
            EXPECT_NE(msg.find(c.mentions), std::string::npos) << msg;
        }
    }
    s->stop();
}
