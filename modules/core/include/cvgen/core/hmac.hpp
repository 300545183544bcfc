// HMAC-SHA256 and a constant-time comparison: the one implementation behind Kling's JWTs (remote
// and the emulator), Standard Webhooks signatures (both sides) and anything else that signs.
#ifndef CVGEN_CORE_HMAC_HPP
#define CVGEN_CORE_HMAC_HPP

#include <string>
#include <string_view>

namespace cvgen {

/** @brief HMAC-SHA256 of `data` under `key` (any length, empty included): 32 raw bytes. */
std::string hmacSha256(std::string_view key, std::string_view data);

/** @brief True when `a` and `b` are equal, in a time that depends only on their lengths (for
 * comparing a received signature with the expected one). */
bool constantTimeEqual(std::string_view a, std::string_view b) noexcept;

}  // namespace cvgen

#endif  // CVGEN_CORE_HMAC_HPP
