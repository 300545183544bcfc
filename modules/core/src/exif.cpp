#include "exif.hpp"

#include <cstring>

namespace cvgen::detail {

namespace {

struct TiffReader {
    const uint8_t* p;
    size_t n;
    bool little;

    bool u16(size_t off, uint32_t& v) const {
        if (off > n || n - off < 2) return false;
        v = little ? uint32_t(p[off] | (p[off + 1] << 8)) : uint32_t((p[off] << 8) | p[off + 1]);
        return true;
    }
    bool u32(size_t off, uint32_t& v) const {
        if (off > n || n - off < 4) return false;
        if (little)
            v = uint32_t(p[off]) | (uint32_t(p[off + 1]) << 8) | (uint32_t(p[off + 2]) << 16) |
                (uint32_t(p[off + 3]) << 24);
        else
            v = (uint32_t(p[off]) << 24) | (uint32_t(p[off + 1]) << 16) |
                (uint32_t(p[off + 2]) << 8) | uint32_t(p[off + 3]);
        return true;
    }
    /** The first value of an entry of type SHORT (3) or LONG (4). */
    bool scalar(size_t entry, uint32_t& v) const {
        uint32_t type = 0, count = 0;
        if (!u16(entry + 2, type) || !u32(entry + 4, count) || count == 0) return false;
        size_t at = entry + 8;
        const size_t size = type == 3 ? 2 : type == 4 ? 4 : 0;
        if (size == 0) return false;
        if (uint64_t(size) * count > 4) {  // stored elsewhere; the field holds the offset
            uint32_t off = 0;
            if (!u32(entry + 8, off)) return false;
            at = off;
        }
        return type == 3 ? u16(at, v) : u32(at, v);
    }
};

bool openTiff(const uint8_t* p, size_t n, TiffReader& r, size_t& ifd, uint32_t& entries) {
    if (p == nullptr || n < 8) return false;
    if (std::memcmp(p, "II*\0", 4) == 0)
        r = {p, n, true};
    else if (std::memcmp(p, "MM\0*", 4) == 0)
        r = {p, n, false};
    else
        return false;
    uint32_t off = 0;
    if (!r.u32(4, off) || off < 8) return false;
    ifd = off;
    if (!r.u16(ifd, entries)) return false;
    return uint64_t(ifd) + 2 + uint64_t(entries) * 12 <= n;
}

}  // namespace

int exifOrientation(const uint8_t* tiff, size_t n) noexcept {
    TiffFields f;
    if (!readTiffFirstIfd(tiff, n, f)) return 1;
    return f.orientation;
}

bool readTiffFirstIfd(const uint8_t* tiff, size_t n, TiffFields& out) noexcept {
    TiffReader r{nullptr, 0, true};
    size_t ifd = 0;
    uint32_t entries = 0;
    if (!openTiff(tiff, n, r, ifd, entries)) return false;
    for (uint32_t i = 0; i < entries; ++i) {
        const size_t e = ifd + 2 + size_t(i) * 12;
        uint32_t tag = 0, v = 0;
        if (!r.u16(e, tag)) return false;
        switch (tag) {
            case 256:
                if (r.scalar(e, v)) out.width = v;
                break;
            case 257:
                if (r.scalar(e, v)) out.height = v;
                break;
            case 258:
                if (r.scalar(e, v)) out.bitsPerSample = v;
                break;
            case 274:
                if (r.scalar(e, v) && v >= 1 && v <= 8) out.orientation = int(v);
                break;
            case 277:
                if (r.scalar(e, v)) out.samplesPerPixel = v;
                break;
            case 338: {
                uint32_t count = 0;
                if (r.u32(e + 4, count)) out.extraSamples = count;
                break;
            }
            default:
                break;
        }
    }
    return true;
}

}  // namespace cvgen::detail
