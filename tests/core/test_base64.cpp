#include <gtest/gtest.h>

#include <random>

#include "cvgen/core/base64.hpp"

using namespace cvgen;

namespace {
std::vector<uint8_t> bytesOf(const std::string& s) {
    return {s.begin(), s.end()};
}
}  // namespace

TEST(Core_Base64, rfc4648Vectors) {
    const std::pair<std::string, std::string> cases[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, enc] : cases) {
        SCOPED_TRACE(plain);
        EXPECT_EQ(base64Encode(plain), enc);
        auto dec = base64Decode(enc);
        ASSERT_TRUE(dec.ok()) << dec.status();
        EXPECT_EQ(*dec, bytesOf(plain));
    }
}

TEST(Core_Base64, allByteValuesAndRandomRoundTrip) {
    std::vector<uint8_t> all(256);
    for (int i = 0; i < 256; ++i) all[i] = uint8_t(i);
    EXPECT_EQ(*base64Decode(base64Encode(all)), all);

    std::mt19937 rng(7);
    for (int len = 0; len < 300; ++len) {
        std::vector<uint8_t> v(len);
        for (auto& b : v) b = uint8_t(rng());
        auto dec = base64Decode(base64Encode(v));
        ASSERT_TRUE(dec.ok()) << "len " << len;
        ASSERT_EQ(*dec, v) << "len " << len;
    }
}

TEST(Core_Base64, toleratesDataUrlPrefixOnly) {
    auto dec = base64Decode("data:image/png;base64,Zm9v");
    ASSERT_TRUE(dec.ok());
    EXPECT_EQ(*dec, bytesOf("foo"));
    EXPECT_EQ(base64Decode("data:image/png,Zm9v").code(), Code::INVALID_ARGUMENT);
}

TEST(Core_Base64, strictRejections) {
    const char* bad[] = {
        "Zm9",                   // length not a multiple of 4
        "Zm9v\n",                // whitespace
        "Zm 9",                  // space
        "Zm9-",                  // URL-safe alphabet is not standard base64
        "Zg=a",                  // padding in the middle of a group
        "Z===",                  // too much padding
        "====",                  // only padding
        "Zh==",                  // non-zero unused bits
        "Zm9=",                  // non-zero unused bits (1 pad)
        "Zg==Zm9v",              // padding before the end
        "Zm9v\x80\x80\x80\x80",  // bytes above 0x7f
    };
    for (const char* s : bad) {
        SCOPED_TRACE(s);
        auto r = base64Decode(s);
        EXPECT_FALSE(r.ok());
        EXPECT_EQ(r.code(), Code::INVALID_ARGUMENT);
    }
}

TEST(Core_Base64, errorNamesOffset) {
    auto r = base64Decode("Zm9vZm*v");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("offset 6"), std::string::npos) << r.status();
}
