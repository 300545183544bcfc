// Hostile images through `cvgen check` and `cvgen batch`: a corpus generated here (truncated,
// zero bytes, decompression bombs, wrong extensions, CMYK JPEG, 16-bit PNG, 1xN strips,
// 20000x20000 headers, EXIF nonsense). Every file gets a clear per-item answer, nothing crashes,
// failures write no output.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "cvgen/core/codec.hpp"
#include "reliability/rel_util.hpp"

namespace cvgen::reliability {
namespace {

using Bytes = std::vector<uint8_t>;

void put32(Bytes& b, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}

uint32_t crc32(const Bytes& b) {
    uint32_t c = 0xFFFFFFFFu;
    for (uint8_t v : b) {
        c ^= v;
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

void chunk(Bytes& png, const char* type, const Bytes& data) {
    put32(png, uint32_t(data.size()));
    Bytes td(type, type + 4);
    td.insert(td.end(), data.begin(), data.end());
    png.insert(png.end(), td.begin(), td.end());
    put32(png, crc32(td));
}

/** A PNG whose IHDR claims w x h but whose IDAT is a few bytes (a decompression bomb header). */
Bytes bombPng(uint32_t w, uint32_t h) {
    Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    Bytes ihdr;
    put32(ihdr, w);
    put32(ihdr, h);
    ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
    chunk(png, "IHDR", ihdr);
    // A zlib stream with one stored block of 16 zero bytes (no adler check needed to refuse).
    Bytes z = {0x78, 0x01, 0x01, 16, 0, 0xEF, 0xFF};
    z.resize(z.size() + 16, 0);
    chunk(png, "IDAT", z);
    chunk(png, "IEND", {});
    return png;
}

Bytes encode(const cv::Mat& m, const char* ext) {
    std::vector<uchar> b;
    EXPECT_TRUE(cv::imencode(ext, m, b));
    return Bytes(b.begin(), b.end());
}

/** Rewrites the first SOF0 of a JPEG: size and (optionally) 4 components (CMYK-like). */
Bytes patchSof(Bytes jpg, int w, int h) {
    for (size_t i = 2; i + 9 < jpg.size(); ++i)
        if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) {
            jpg[i + 5] = uint8_t(h >> 8);
            jpg[i + 6] = uint8_t(h);
            jpg[i + 7] = uint8_t(w >> 8);
            jpg[i + 8] = uint8_t(w);
            break;
        }
    return jpg;
}

/** Inserts an APP1 "Exif" segment of garbage (a bogus TIFF header and IFD offsets). */
Bytes exifNonsense(const Bytes& jpg) {
    Bytes app1 = {0xFF, 0xE1, 0x00, 0x00, 'E',  'x',  'i',  'f',  0,    0,    'M',
                  'M',  0,    42,   0xFF, 0xFF, 0xFF, 0xF0, 0x00, 0x09, 0x01, 0x12,
                  0x00, 0x03, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF};
    app1[2] = uint8_t((app1.size() - 2) >> 8);
    app1[3] = uint8_t(app1.size() - 2);
    Bytes out(jpg.begin(), jpg.begin() + 2);
    out.insert(out.end(), app1.begin(), app1.end());
    out.insert(out.end(), jpg.begin() + 2, jpg.end());
    return out;
}

void writeBytes(const fs::path& p, const Bytes& b) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

struct Hostile {
    std::string name;
    Bytes bytes;
    bool valid;  ///< a usable image (must be processed), otherwise it must fail cleanly
};

std::vector<Hostile> corpus() {
    const cv::Mat photo = noiseImage({400, 400}, CV_8UC3, 9);
    const Bytes png = encode(photo, ".png");
    const Bytes jpg = encode(photo, ".jpg");
    std::vector<Hostile> c;
    c.push_back({"truncated.png", Bytes(png.begin(), png.begin() + long(png.size() / 2)), false});
    c.push_back({"truncated.jpg", Bytes(jpg.begin(), jpg.begin() + long(jpg.size() / 3)), false});
    c.push_back({"zero.png", {}, false});
    c.push_back({"bomb_100000.png", bombPng(100000, 100000), false});
    c.push_back({"header_20000.png", bombPng(20000, 20000), false});
    c.push_back({"bomb_65500.jpg", patchSof(jpg, 65500, 65500), false});
    c.push_back({"text_named.png", Bytes{'h', 'e', 'l', 'l', 'o', '\n'}, false});
    c.push_back({"png_named.jpg", png, true});  // content decides, not the extension
    c.push_back({"strip_1x2000.png", encode(noiseImage({1, 2000}, CV_8UC3, 1), ".png"), false});
    c.push_back({"strip_2000x1.png", encode(noiseImage({2000, 1}, CV_8UC3, 1), ".png"), false});
    c.push_back({"deep16.png", encode(noiseImage({400, 400}, CV_16UC3, 2), ".png"), true});
    c.push_back({"exif_nonsense.jpg", exifNonsense(jpg), true});
    // CMYK JPEG: OpenCV cannot write one and libjpeg refuses a hand-patched 4-component SOF
    // without matching scans; covered as "not decodable or decoded": see RELIABILITY.md.
    return c;
}

TEST(Reliability_HostileImages, checkAndBatchAnswerEveryFileWithoutCrashing) {
    TempDir d;
    const auto files = corpus();
    std::vector<std::string> args = {cliPath(), "check", "--json"};
    for (const auto& h : files) {
        writeBytes(d.path() / "in" / h.name, h.bytes);
        args.push_back(d.str("in/" + h.name));
    }
    std::string out, err;
    const int rcCheck = runCli(args, &out, &err, {}, d.path());
    EXPECT_EQ(rcCheck, 1) << out << err;  // some fail, none crash
    for (const auto& h : files) EXPECT_NE(out.find(h.name), std::string::npos) << h.name << out;

    const int rcBatch = runCli({cliPath(), "batch", d.str("in"), d.str("out"), "--target",
                                "440x440", "--early-stop", "0", "--contact-sheet", "none", "-q"},
                               &out, &err, {}, d.path());
    EXPECT_EQ(rcBatch, 1) << out << err;
    const std::string report = readText(d.str("out/report.jsonl"));
    std::istringstream lines(report);
    std::string line;
    int items = 0;
    while (std::getline(lines, line)) {
        rapidjson::Document j;
        j.Parse(line.c_str());
        ASSERT_TRUE(j.IsObject()) << line;
        if (std::string(j["type"].GetString()) != "item") continue;
        ++items;
        const std::string input = j["input"].GetString();
        const auto it = std::find_if(files.begin(), files.end(), [&](const Hostile& h) {
            return input.size() >= h.name.size() &&
                   input.compare(input.size() - h.name.size(), h.name.size(), h.name) == 0;
        });
        ASSERT_NE(it, files.end()) << input;
        SCOPED_TRACE(it->name + ": " + line);
        const std::string status = j["status"].GetString();
        const std::string output = j.HasMember("output") && j["output"].IsString()
                                       ? j["output"].GetString()
                                       : std::string();
        if (it->valid) {
            EXPECT_EQ(status, "ok");
            auto img = decodeImage(*readFileBytes(output));
            ASSERT_TRUE(img.ok()) << img.status();
            EXPECT_EQ(img->size(), cv::Size(440, 440));
        } else {
            EXPECT_EQ(status, "failed");
            EXPECT_FALSE(std::string(j["message"].GetString()).empty());
            EXPECT_TRUE(output.empty() || !fs::exists(output)) << "no output for a failure";
        }
    }
    // Zero-byte and text files may be filtered by extension listing; every other one is a line.
    EXPECT_GE(items, int(files.size()) - 2) << report;
    EXPECT_EQ(countTempFiles(d.path() / "out"), 0);
}

}  // namespace
}  // namespace cvgen::reliability
