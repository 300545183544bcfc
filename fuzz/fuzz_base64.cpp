// libFuzzer target: strict base64 decoding (and the data-URL prefix stripper). Every decoded
// buffer must re-encode to the canonical input.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cvgen/core/base64.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto decoded = cvgen::base64Decode(text);
    if (decoded.ok()) {
        // Strict decoding accepts only canonical text (after one optional data-URL prefix):
        // encoding gives the input back.
        if (cvgen::base64Encode(*decoded) != cvgen::stripDataUrlPrefix(text)) std::abort();
    }
    (void)cvgen::base64Decode(cvgen::stripDataUrlPrefix(text));
    return 0;
}
