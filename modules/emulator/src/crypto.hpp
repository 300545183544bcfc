// Internal: Kling JWT verification (HMAC and base64url: core; webhook signing: webhook.cpp).
#ifndef CVGEN_EMULATOR_SRC_CRYPTO_HPP
#define CVGEN_EMULATOR_SRC_CRYPTO_HPP

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cvgen/core/status.hpp"

namespace cvgen::emulator::detail {

/** @brief Outcome of checking a Kling JWT: the provider code (0 = valid) and the `iss`. */
struct JwtCheck {
    int code = 0;  ///< 0 ok, 1000 unknown issuer, 1002 malformed/bad signature, 1003, 1004
    std::string issuer;
    std::string message;
};

/** @brief True when `token` has the shape header.payload.signature. */
bool looksLikeJwt(std::string_view token);

/** @brief Verifies an HS256 JWT against one access/secret key pair at time `nowSeconds`. */
JwtCheck verifyKlingJwt(std::string_view token, const std::string& accessKey,
                        const std::string& secretKey, int64_t nowSeconds);

/** @brief Reads `iss` from a JWT without verifying it (open mode accounts); "" if none. */
std::string jwtIssuerUnverified(std::string_view token);

}  // namespace cvgen::emulator::detail

#endif  // CVGEN_EMULATOR_SRC_CRYPTO_HPP
