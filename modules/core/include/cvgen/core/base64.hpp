#ifndef CVGEN_CORE_BASE64_HPP
#define CVGEN_CORE_BASE64_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cvgen/core/status.hpp"

namespace cvgen {

/** @brief Standard base64 (RFC 4648, '+' '/', '=' padding), raw: no `data:` prefix, no line
 * breaks. This is what the providers expect in an `image` field. */
std::string base64Encode(const uint8_t* data, size_t size);
inline std::string base64Encode(const std::vector<uint8_t>& bytes) {
    return base64Encode(bytes.data(), bytes.size());
}
inline std::string base64Encode(std::string_view bytes) {
    return base64Encode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

/** @brief Strict decode of standard base64.
 *
 * Tolerates one leading `data:<mime>;base64,` prefix (what some relays send back). Everything
 * else is strict: the length must be a multiple of 4, padding only at the end, no whitespace,
 * no characters outside the alphabet, unused bits of the last group zero.
 * @return the bytes, or INVALID_ARGUMENT saying what and where (never garbage).
 */
Result<std::vector<uint8_t>> base64Decode(std::string_view text);

/** @brief The encoded length of `size` bytes. */
constexpr size_t base64EncodedSize(size_t size) noexcept {
    return (size + 2) / 3 * 4;
}

/** @brief base64url without padding (RFC 4648 §5; '-' '_'), as in JWTs. */
std::string base64UrlEncode(std::string_view bytes);
/** @brief Decodes base64url, padded or not; INVALID_ARGUMENT on anything else (standard
 * base64's '+' '/', a `data:` prefix, bad characters or length). */
Result<std::string> base64UrlDecode(std::string_view text);

/** @brief Strips a `data:<mime>;base64,` prefix, if present. */
std::string_view stripDataUrlPrefix(std::string_view text) noexcept;

}  // namespace cvgen

#endif  // CVGEN_CORE_BASE64_HPP
