#include "cvgen/core/hmac.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace cvgen {

std::string hmacSha256(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    // A zero-length key still needs a valid pointer for OpenSSL.
    static const unsigned char kEmpty = 0;
    HMAC(EVP_sha256(), key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data()),
         static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), out, &len);
    return std::string(reinterpret_cast<const char*>(out), len);
}

bool constantTimeEqual(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace cvgen
