#include "cvgen/core/base64.hpp"

#include <array>
#include <cstdio>
#include <cstring>

namespace cvgen {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Encode table: every 12-bit value → its two output characters, so 3 input bytes need two
// lookups and two 16-bit stores.
struct EncodeTable {
    std::array<uint16_t, 4096> pair{};
    EncodeTable() {
        for (int i = 0; i < 4096; ++i) {
            const char two[2] = {kAlphabet[i >> 6], kAlphabet[i & 63]};
            std::memcpy(&pair[i], two, 2);
        }
    }
};

// Decode tables: one per position in a 4-character group, each already shifted into place, so a
// group decodes as d0[a] | d1[b] | d2[c] | d3[d]. Invalid characters set bit 24+ (kBad), which
// survives the OR and is tested once per group.
constexpr uint32_t kBad = 0x01000000u;
struct DecodeTables {
    std::array<uint32_t, 256> d0, d1, d2, d3;
    DecodeTables() {
        d0.fill(kBad);
        d1.fill(kBad);
        d2.fill(kBad);
        d3.fill(kBad);
        for (uint32_t v = 0; v < 64; ++v) {
            const auto c = static_cast<unsigned char>(kAlphabet[v]);
            d0[c] = v << 18;
            d1[c] = v << 12;
            d2[c] = v << 6;
            d3[c] = v;
        }
    }
};

const EncodeTable& encodeTable() {
    static const EncodeTable t;
    return t;
}
const DecodeTables& decodeTables() {
    static const DecodeTables t;
    return t;
}

int sextet(char c) {
    const char* p = static_cast<const char*>(std::memchr(kAlphabet, c, 64));
    return (p && c != '\0') ? int(p - kAlphabet) : -1;
}

Status badChar(size_t pos, unsigned char c) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "base64: invalid character 0x%02x at offset %zu", c, pos);
    return invalidArgument(buf);
}

}  // namespace

std::string base64Encode(const uint8_t* data, size_t size) {
    const auto& t = encodeTable().pair;
    std::string out(base64EncodedSize(size), '\0');
    char* o = out.data();
    size_t i = 0;
    for (; i + 3 <= size; i += 3) {
        const uint32_t v = (uint32_t(data[i]) << 16) | (uint32_t(data[i + 1]) << 8) | data[i + 2];
        std::memcpy(o, &t[v >> 12], 2);
        std::memcpy(o + 2, &t[v & 0xFFF], 2);
        o += 4;
    }
    if (const size_t rest = size - i; rest > 0) {
        const uint32_t v = (uint32_t(data[i]) << 16) | (rest == 2 ? uint32_t(data[i + 1]) << 8 : 0);
        o[0] = kAlphabet[(v >> 18) & 63];
        o[1] = kAlphabet[(v >> 12) & 63];
        o[2] = rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
        o[3] = '=';
    }
    return out;
}

std::string_view stripDataUrlPrefix(std::string_view text) noexcept {
    if (text.size() >= 5 && text.compare(0, 5, "data:") == 0) {
        const size_t comma = text.find(',');
        const size_t marker = text.find(";base64,");
        if (comma != std::string_view::npos && marker != std::string_view::npos &&
            marker + 7 == comma)
            return text.substr(comma + 1);
    }
    return text;
}

Result<std::vector<uint8_t>> base64Decode(std::string_view text) {
    const size_t offset = size_t(stripDataUrlPrefix(text).data() - text.data());
    text.remove_prefix(offset);
    if (text.size() % 4 != 0)
        return invalidArgument("base64: length " + std::to_string(text.size()) +
                               " is not a multiple of 4");
    std::vector<uint8_t> out;
    if (text.empty()) return out;

    size_t pad = 0;
    if (text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
    const size_t groups = text.size() / 4;
    out.resize(groups * 3 - pad);

    const auto& t = decodeTables();
    const auto* in = reinterpret_cast<const unsigned char*>(text.data());
    uint8_t* o = out.data();
    const size_t full = pad ? groups - 1 : groups;
    for (size_t g = 0; g < full; ++g, in += 4, o += 3) {
        const uint32_t v = t.d0[in[0]] | t.d1[in[1]] | t.d2[in[2]] | t.d3[in[3]];
        if (v & ~0xFFFFFFu) {
            for (size_t k = 0; k < 4; ++k)
                if (sextet(char(in[k])) < 0) return badChar(g * 4 + k + offset, in[k]);
        }
        o[0] = uint8_t(v >> 16);
        o[1] = uint8_t(v >> 8);
        o[2] = uint8_t(v);
    }
    if (pad) {
        const size_t base = (groups - 1) * 4;
        int s[4];
        for (size_t k = 0; k < 4 - pad; ++k) {
            s[k] = sextet(char(in[k]));
            if (s[k] < 0) return badChar(base + k + offset, in[k]);
        }
        if (pad == 1 && in[2] == '=') return badChar(base + 2 + offset, in[2]);
        if (pad == 2) {
            if (s[1] & 0x0F) return invalidArgument("base64: non-zero bits in final padding");
            o[0] = uint8_t((s[0] << 2) | (s[1] >> 4));
        } else {
            if (s[2] & 0x03) return invalidArgument("base64: non-zero bits in final padding");
            o[0] = uint8_t((s[0] << 2) | (s[1] >> 4));
            o[1] = uint8_t(((s[1] & 0x0F) << 4) | (s[2] >> 2));
        }
    }
    return out;
}

std::string base64UrlEncode(std::string_view bytes) {
    std::string s = base64Encode(bytes);
    while (!s.empty() && s.back() == '=') s.pop_back();
    for (char& c : s) {
        if (c == '+') c = '-';
        if (c == '/') c = '_';
    }
    return s;
}

Result<std::string> base64UrlDecode(std::string_view text) {
    std::string s(text);
    for (char& c : s) {
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (c == '+' || c == '/' || c == ':' || c == ';' || c == ',')
            return invalidArgument("not base64url");
    }
    while (s.size() % 4 != 0) s.push_back('=');
    auto bytes = base64Decode(s);
    if (!bytes.ok()) return bytes.status();
    return std::string(bytes->begin(), bytes->end());
}

}  // namespace cvgen
