// libFuzzer target: the emulator's Kling JWT checks (modules/emulator/src/crypto.cpp, private)
// and core's base64url decoder under them.
#include <cstdint>
#include <string_view>

#include "crypto.hpp"
#include "cvgen/core/base64.hpp"

using cvgen::base64UrlDecode;
using namespace cvgen::emulator::detail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view token(reinterpret_cast<const char*>(data), size);
    (void)looksLikeJwt(token);
    (void)jwtIssuerUnverified(token);
    (void)base64UrlDecode(token);
    JwtCheck c = verifyKlingJwt(token, "fuzz-access", "fuzz-secret", 1700000000);
    // A token that verifies names the access key as its issuer.
    if (c.code == 0 && c.issuer != "fuzz-access") __builtin_trap();
    return 0;
}
