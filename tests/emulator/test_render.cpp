// --render fast: results of exactly the size and type the full renderer gives, valid PNGs, for
// every operation; the fast PNG encoder itself over many sizes and types.
#include <gtest/gtest.h>

#include "emu_test_util.hpp"

using namespace emutest;
namespace emu = cvgen::emulator;

namespace {

struct Result {
    std::vector<cv::Mat> images, watermarked;
    std::vector<std::string> pngs;
};

/** Creates a task, waits for success and downloads every result (and watermark) file. */
Result runTask(emu::Server& s, const std::string& route, const std::string& body) {
    Result out;
    Response r = postJson(s.baseUrl() + route, body, {bearer()});
    EXPECT_EQ(r.status, 200) << r.body.substr(0, 300);
    if (r.status != 200) return out;
    const std::string id = parse(r.body)["data"]["task_id"].GetString();
    auto fin = waitFinal(s.baseUrl() + route + "/" + id);
    EXPECT_STREQ(fin["data"]["task_status"].GetString(), "succeed");
    const auto& result = fin["data"]["task_result"];
    const char* key =
        result.HasMember("series_images") && !result["series_images"].GetArray().Empty()
            ? "series_images"
            : "images";
    for (const auto& im : result[key].GetArray()) {
        Response png = get(im["url"].GetString());
        EXPECT_EQ(png.status, 200);
        EXPECT_EQ(png.header("content-type"), "image/png");
        out.pngs.push_back(png.body);
        out.images.push_back(decode(png.body));
        if (im.HasMember("watermark_url")) {
            Response wm = get(im["watermark_url"].GetString());
            out.watermarked.push_back(decode(wm.body));
        }
    }
    return out;
}

}  // namespace

TEST(Emulator_Render, fastResultsHaveTheSizeAndTypeOfFullOnes) {
    auto fullParams = fastParams();
    auto fast = fastParams();
    fast.render = emu::RenderMode::FAST;
    auto full = start(fullParams);
    auto quick = start(fast);
    const std::string img = pngBase64(320, 400);
    cv::Mat rgba(300, 360, CV_8UC4, cv::Scalar(10, 20, 30, 200));
    cv::Mat gray16(330, 300, CV_16UC1, cv::Scalar(40000));
    struct Case {
        const char* name;
        std::string route, body;
        size_t count;
    } cases[] = {
        {"expand, RGB, watermark", "/v1/images/editing/expand",
         "{\"image\":\"" + img +
             "\",\"up_expansion_ratio\":0.1,\"down_expansion_ratio\":0.25,"
             "\"left_expansion_ratio\":0.33,\"right_expansion_ratio\":0.05,\"n\":2,"
             "\"watermark_info\":{\"enabled\":true}}",
         2},
        {"expand, RGBA", "/kling/v1/images/editing/expand",
         "{\"image\":\"" + cvgen::base64Encode(encode(rgba)) +
             "\",\"up_expansion_ratio\":0.5,\"bottom_expansion_ratio\":0.5,"
             "\"left_expansion_ratio\":0,\"right_expansion_ratio\":0.2}",
         1},
        {"expand, 16-bit gray", "/v1/images/editing/expand",
         "{\"image\":\"" + cvgen::base64Encode(encode(gray16)) +
             "\",\"up_expansion_ratio\":0.2,\"down_expansion_ratio\":0,"
             "\"left_expansion_ratio\":0.1,\"right_expansion_ratio\":0.1}",
         1},
        {"generation 16:9 1k", "/kling/v1/images/generations",
         R"({"prompt":"p","aspect_ratio":"16:9","n":3})", 3},
        {"generation 21:9 2k", "/v1/images/generations",
         R"({"prompt":"p","aspect_ratio":"21:9","resolution":"2k"})", 1},
        {"omni auto from the image", "/kling/v1/images/omni-image",
         "{\"prompt\":\"p\",\"aspect_ratio\":\"auto\",\"image_list\":[{\"image\":\"" + img +
             "\"}]}",
         1},
        {"omni series", "/kling/v1/images/omni-image",
         R"({"prompt":"p","result_type":"series","series_amount":3,"aspect_ratio":"3:4"})", 3},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const Result a = runTask(*full, c.route, c.body);
        const Result b = runTask(*quick, c.route, c.body);
        ASSERT_EQ(a.images.size(), c.count);
        ASSERT_EQ(b.images.size(), c.count);
        for (size_t i = 0; i < c.count; ++i) {
            ASSERT_FALSE(b.images[i].empty()) << "not a decodable PNG";
            EXPECT_EQ(b.pngs[i].compare(0, 8, "\x89PNG\r\n\x1a\n"), 0);
            EXPECT_EQ(b.images[i].size(), a.images[i].size());
            EXPECT_EQ(b.images[i].type(), a.images[i].type());
        }
        ASSERT_EQ(b.watermarked.size(), a.watermarked.size());
        for (size_t i = 0; i < b.watermarked.size(); ++i) {
            EXPECT_EQ(b.watermarked[i].size(), a.watermarked[i].size());
            // The watermark band is white, the picture above it is not.
            const cv::Mat& w = b.watermarked[i];
            EXPECT_EQ(w.at<cv::Vec3b>(w.rows - 1, w.cols / 2), cv::Vec3b(255, 255, 255));
            EXPECT_NE(b.images[i].at<cv::Vec3b>(w.rows - 1, 0), cv::Vec3b(255, 255, 255));
        }
    }
}

TEST(Emulator_Render, fastUpscaleSynchronousAndAsTask) {
    auto p = fastParams();
    p.render = emu::RenderMode::FAST;
    p.upscaleFactor = 1.5;
    p.upscaleAsTask = true;
    auto s = start(p);
    Request rq;
    rq.method = "POST";
    rq.url = s->baseUrl() + "/upscale";
    rq.headers = {"Api-Key: test-key"};
    rq.parts = {{"image_request", R"({"num_images":2})", "", "application/json"},
                {"image_file", encode(testImage(301, 333)), "in.png", "image/png"}};
    Response r = send(rq);
    ASSERT_EQ(r.status, 200) << r.body;
    auto d = parse(r.body);
    ASSERT_EQ(d["data"].Size(), 2u);
    EXPECT_STREQ(d["data"][0]["resolution"].GetString(), "452x500");  // round(1.5 x), as Lanczos
    cv::Mat m = decode(get(d["data"][1]["url"].GetString()).body);
    EXPECT_EQ(m.size(), cv::Size(452, 500));
    EXPECT_EQ(m.type(), CV_8UC3);

    rq.url = s->baseUrl() + "/ideogram/upscale";
    rq.headers = {bearer()};
    r = send(rq);
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string id = parse(r.body)["data"]["task_id"].GetString();
    auto fin = waitFinal(s->baseUrl() + "/ideogram/upscale/" + id);
    ASSERT_STREQ(fin["data"]["task_status"].GetString(), "succeed");
    ASSERT_EQ(fin["data"]["task_result"]["images"].Size(), 2u);
    m = decode(get(fin["data"]["task_result"]["images"][0]["url"].GetString()).body);
    EXPECT_EQ(m.size(), cv::Size(452, 500));
}
