// HMAC-SHA256 (RFC 4231 vectors), the constant-time comparison and base64url (RFC 4648 §5):
// the primitives behind Kling JWTs and Standard Webhooks on both sides of the wire.
#include <gtest/gtest.h>

#include "cvgen/core/base64.hpp"
#include "cvgen/core/hmac.hpp"

namespace cvgen {
namespace {

std::string hex(const std::string& bytes) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (unsigned char c : bytes) {
        s += d[c >> 4];
        s += d[c & 15];
    }
    return s;
}

TEST(Core_Hmac, rfc4231Vectors) {
    // Test case 1: 20 bytes of 0x0b, "Hi There".
    EXPECT_EQ(hex(hmacSha256(std::string(20, '\x0b'), "Hi There")),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    // Test case 2: key "Jefe".
    EXPECT_EQ(hex(hmacSha256("Jefe", "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // Test case 6: a key longer than the block size.
    EXPECT_EQ(hex(hmacSha256(std::string(131, '\xaa'),
                             "Test Using Larger Than Block-Size Key - Hash Key First")),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    // An empty key is valid.
    EXPECT_EQ(hmacSha256("", "x").size(), 32u);
}

TEST(Core_Hmac, constantTimeEqualComparesWholeStrings) {
    EXPECT_TRUE(constantTimeEqual("", ""));
    EXPECT_TRUE(constantTimeEqual("abc", "abc"));
    EXPECT_FALSE(constantTimeEqual("abc", "abd"));
    EXPECT_FALSE(constantTimeEqual("abc", "abcd"));
    EXPECT_FALSE(constantTimeEqual(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(Core_Base64Url, encodesWithoutPaddingAndRoundTrips) {
    EXPECT_EQ(base64UrlEncode(""), "");
    EXPECT_EQ(base64UrlEncode("f"), "Zg");
    EXPECT_EQ(base64UrlEncode("fo"), "Zm8");
    EXPECT_EQ(base64UrlEncode("foo"), "Zm9v");
    EXPECT_EQ(base64UrlEncode("\xfb\xff\xbf"), "-_-_");
    std::string all;
    for (int i = 0; i < 256; ++i) all += char(i);
    auto back = base64UrlDecode(base64UrlEncode(all));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, all);
    auto padded = base64UrlDecode("Zm8=");
    ASSERT_TRUE(padded.ok());
    EXPECT_EQ(*padded, "fo");
}

TEST(Core_Base64Url, refusesStandardAlphabetAndGarbage) {
    for (const char* bad : {"+/+/", "Zm9v/w", "data:image/png;base64,Zm9v", "Zm9v!", "Z"}) {
        auto r = base64UrlDecode(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.status().code(), Code::INVALID_ARGUMENT) << bad;
    }
}

}  // namespace
}  // namespace cvgen
