#include "fast_png.hpp"

#include <algorithm>
#include <array>

namespace cvgen::emulator::detail {
namespace {

constexpr uint32_t kAdlerMod = 65521;

/** Adler-32 over a byte stream, with an O(1) step for "one byte then n zeros" (a zero row). */
struct Adler32 {
    uint32_t a = 1, b = 0;
    void add(const uint8_t* p, size_t n) {
        for (size_t i = 0; i < n; ++i) {
            a = (a + p[i]) % kAdlerMod;
            b = (b + a) % kAdlerMod;
        }
    }
    void addByteThenZeros(uint8_t first, size_t zeros) {
        a = (a + first) % kAdlerMod;
        b = (b + a) % kAdlerMod;
        b = static_cast<uint32_t>((uint64_t(b) + uint64_t(a) * (zeros % kAdlerMod)) % kAdlerMod);
    }
    uint32_t value() const { return (b << 16) | a; }
};

uint32_t crc32(const uint8_t* p, size_t n) {
    static const std::array<uint32_t, 256> table = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/** One deflate block with the fixed Huffman code (RFC 1951 §3.2.6), written LSB first. */
class FixedDeflate {
public:
    FixedDeflate() { bits(1, 1), bits(1, 2); }  // BFINAL = 1, BTYPE = 01

    void literal(uint8_t v) {
        if (v < 144)
            code(0x30u + v, 8);
        else
            code(0x190u + (v - 144u), 9);
    }
    /** `n` copies of the previous byte (a match at distance 1). */
    void repeat(size_t n) {
        static const uint16_t kBase[29] = {3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                           15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                           67, 83, 99, 115, 131, 163, 195, 227, 258};
        static const uint8_t kExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                           2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
        while (n > 0) {
            if (n < 3) {  // too short for a match
                for (; n > 0; --n) literal(last_);
                return;
            }
            // 258 at most; never leave a remainder of 1 or 2 after a long run.
            size_t len = std::min<size_t>(n, 258);
            if (n > 258 && n - 258 < 3) len = n - 3;
            int s = 28;
            while (kBase[s] > len) --s;
            const uint32_t sym = 257u + uint32_t(s);
            if (sym < 280)
                code(sym - 256u, 7);
            else
                code(0xC0u + (sym - 280u), 8);
            bits(uint32_t(len - kBase[s]), kExtra[s]);
            code(0, 5);  // distance code 0: distance 1
            n -= len;
        }
    }
    void byte(uint8_t v) {
        literal(v);
        last_ = v;
    }
    std::vector<uint8_t> finish() {
        code(0, 7);  // end of block (256)
        if (nbits_ > 0) out_.push_back(static_cast<uint8_t>(acc_));
        return std::move(out_);
    }

private:
    void bits(uint32_t v, int n) {
        acc_ |= uint64_t(v) << nbits_;
        nbits_ += n;
        while (nbits_ >= 8) {
            out_.push_back(static_cast<uint8_t>(acc_));
            acc_ >>= 8;
            nbits_ -= 8;
        }
    }
    void code(uint32_t c, int n) {  // Huffman codes go most significant bit first
        uint32_t r = 0;
        for (int i = 0; i < n; ++i) r |= ((c >> i) & 1u) << (n - 1 - i);
        bits(r, n);
    }
    std::vector<uint8_t> out_;
    uint64_t acc_ = 0;
    int nbits_ = 0;
    uint8_t last_ = 0;
};

void put32(std::vector<uint8_t>& o, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) o.push_back(static_cast<uint8_t>(v >> s));
}

void putChunk(std::vector<uint8_t>& o, const char* type, const std::vector<uint8_t>& data) {
    put32(o, static_cast<uint32_t>(data.size()));
    const size_t start = o.size();
    o.insert(o.end(), type, type + 4);
    o.insert(o.end(), data.begin(), data.end());
    put32(o, crc32(o.data() + start, data.size() + 4));
}

}  // namespace

bool fastPngSupports(int type) {
    const int depth = CV_MAT_DEPTH(type), cn = CV_MAT_CN(type);
    return (depth == CV_8U || depth == CV_16U) && (cn == 1 || cn == 3 || cn == 4);
}

std::vector<uint8_t> fastPatternPng(cv::Size size, int type, bool watermark) {
    CV_Assert(fastPngSupports(type));
    CV_Assert(size.width >= 1 && size.height >= 1 && size.width <= 65535 && size.height <= 65535);
    const int cn = CV_MAT_CN(type);
    const size_t bytesPerSample = CV_MAT_DEPTH(type) == CV_16U ? 2 : 1;
    const size_t rowBytes = size_t(size.width) * size_t(cn) * bytesPerSample;

    // Bands of identical rows: up to 8 gradient bands, then the watermark's white band.
    const int wmRows = watermark ? std::min(size.height, std::max(12, size.height / 20)) : 0;
    const int body = size.height - wmRows;
    const int bands = std::min(body, 8);

    FixedDeflate deflate;
    Adler32 adler;
    std::vector<uint8_t> row(rowBytes);
    auto band = [&](int rows, bool white, int index) {
        if (rows <= 0) return;
        for (int x = 0; x < size.width; ++x) {
            const int ramp = size.width > 1 ? 255 * x / (size.width - 1) : 128;
            for (int c = 0; c < cn; ++c) {
                int v;
                if (white || (cn == 2 && c == 1) || (cn == 4 && c == 3))
                    v = 255;  // white, or opaque alpha
                else if (c == 0)
                    v = ramp;
                else if (c == 1)
                    v = bands > 1 ? 40 + 175 * index / (bands - 1) : 128;
                else
                    v = 255 - ramp;
                uint8_t* p = &row[(size_t(x) * size_t(cn) + size_t(c)) * bytesPerSample];
                p[0] = static_cast<uint8_t>(v);
                if (bytesPerSample == 2) p[1] = static_cast<uint8_t>(v);
            }
        }
        // The band's first row: filter "none" and its samples.
        const uint8_t none = 0;
        deflate.byte(none);
        adler.add(&none, 1);
        for (uint8_t v : row) deflate.byte(v);
        adler.add(row.data(), row.size());
        // Every further row: filter "up" (2), then all zero differences.
        for (int r = 1; r < rows; ++r) {
            deflate.byte(2);
            deflate.byte(0);
            deflate.repeat(rowBytes - 1);
            adler.addByteThenZeros(2, rowBytes);
        }
    };
    for (int b = 0; b < bands; ++b)
        band(int(int64_t(body) * (b + 1) / bands - int64_t(body) * b / bands), false, b);
    band(wmRows, true, 0);

    std::vector<uint8_t> idat = {0x78, 0x01};  // zlib header: deflate, 32 KiB window
    const std::vector<uint8_t> stream = deflate.finish();
    idat.insert(idat.end(), stream.begin(), stream.end());
    put32(idat, adler.value());

    std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    std::vector<uint8_t> ihdr;
    put32(ihdr, static_cast<uint32_t>(size.width));
    put32(ihdr, static_cast<uint32_t>(size.height));
    static const uint8_t kColorType[5] = {0, 0, 4, 2, 6};  // gray, gray+alpha, RGB, RGBA
    ihdr.push_back(static_cast<uint8_t>(8 * bytesPerSample));
    ihdr.push_back(kColorType[cn]);
    ihdr.push_back(0);  // deflate
    ihdr.push_back(0);  // adaptive filtering
    ihdr.push_back(0);  // no interlace
    putChunk(png, "IHDR", ihdr);
    putChunk(png, "IDAT", idat);
    putChunk(png, "IEND", {});
    return png;
}

}  // namespace cvgen::emulator::detail
