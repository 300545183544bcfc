#ifndef CVGEN_TESTS_CORE_TEST_IMAGE_UTIL_HPP
#define CVGEN_TESTS_CORE_TEST_IMAGE_UTIL_HPP

// Helpers shared by the image tests of the core module: building encoded images and hostile
// byte strings inline, and a self-cleaning temporary directory.

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cvgen/core/codec.hpp"

namespace cvgen::testutil {

inline std::vector<uint8_t> encodeOrDie(const cv::Mat& m, ImageFormat f, int quality = 95) {
    auto r = encodeImage(m, f, quality);
    if (!r.ok()) {
        ADD_FAILURE() << "encode failed: " << r.status();
        return {};
    }
    return *r;
}

/** Inserts an APP1 "Exif" segment holding only an Orientation tag right after the SOI. */
inline std::vector<uint8_t> insertExifOrientation(const std::vector<uint8_t>& jpeg, int o,
                                                  bool little = false) {
    auto u16 = [&](std::vector<uint8_t>& v, unsigned x) {
        if (little) {
            v.push_back(uint8_t(x & 0xFF));
            v.push_back(uint8_t(x >> 8));
        } else {
            v.push_back(uint8_t(x >> 8));
            v.push_back(uint8_t(x & 0xFF));
        }
    };
    auto u32 = [&](std::vector<uint8_t>& v, unsigned x) {
        if (little) {
            u16(v, x & 0xFFFF);
            u16(v, x >> 16);
        } else {
            u16(v, x >> 16);
            u16(v, x & 0xFFFF);
        }
    };
    std::vector<uint8_t> tiff;
    if (little)
        tiff = {'I', 'I', 0x2A, 0x00};
    else
        tiff = {'M', 'M', 0x00, 0x2A};
    u32(tiff, 8);       // IFD0 offset
    u16(tiff, 1);       // one entry
    u16(tiff, 0x0112);  // Orientation
    u16(tiff, 3);       // SHORT
    u32(tiff, 1);       // count
    u16(tiff, unsigned(o));
    u16(tiff, 0);  // padding of the 4-byte value field
    u32(tiff, 0);  // no next IFD
    std::vector<uint8_t> app1 = {0xFF, 0xE1};
    const size_t len = 2 + 6 + tiff.size();
    app1.push_back(uint8_t(len >> 8));
    app1.push_back(uint8_t(len & 0xFF));
    const char exif[6] = {'E', 'x', 'i', 'f', 0, 0};
    app1.insert(app1.end(), exif, exif + 6);
    app1.insert(app1.end(), tiff.begin(), tiff.end());
    std::vector<uint8_t> out(jpeg.begin(), jpeg.begin() + 2);
    out.insert(out.end(), app1.begin(), app1.end());
    out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
    return out;
}

inline uint32_t crc32(const uint8_t* p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; ++i) {
        c ^= p[i];
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

/** A structurally complete PNG (IHDR, a tiny IDAT, IEND) whose header claims w×h RGB pixels. */
inline std::vector<uint8_t> pngClaiming(uint32_t w, uint32_t h) {
    std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    auto be32 = [&](uint32_t x) {
        for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(x >> s));
    };
    auto chunk = [&](const char* type, const std::vector<uint8_t>& data) {
        be32(uint32_t(data.size()));
        const size_t start = out.size();
        out.insert(out.end(), type, type + 4);
        out.insert(out.end(), data.begin(), data.end());
        be32(crc32(out.data() + start, out.size() - start));
    };
    std::vector<uint8_t> ihdr;
    for (uint32_t x : {w, h})
        for (int s = 24; s >= 0; s -= 8) ihdr.push_back(uint8_t(x >> s));
    ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
    chunk("IHDR", ihdr);
    chunk("IDAT", {0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01});
    chunk("IEND", {});
    return out;
}

/** A fresh directory under the system temp dir, removed with everything in it. */
class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "cvgen-test-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        root_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(root_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& root() const { return root_; }
    std::string path(const std::string& name) const { return root_ + "/" + name; }

private:
    std::string root_;
};

}  // namespace cvgen::testutil

#endif  // CVGEN_TESTS_CORE_TEST_IMAGE_UTIL_HPP
