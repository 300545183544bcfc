// libFuzzer target: the safe image decoder (modules/core/src/codec.cpp): header sniffing and
// decoding with small limits, so bombs are refused before OpenCV allocates.
#include <cstdint>

#include "cvgen/core/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    (void)cvgen::sniffFormat(data, size);
    auto h = cvgen::readHeader(data, size);
    cvgen::DecodeOptions o;
    o.maxPixels = 1 << 20;
    auto m = cvgen::decodeImage(data, size, o);
    if (m.ok() && (m->empty() || double(m->total()) > double(o.maxPixels))) __builtin_trap();
    (void)h;
    return 0;
}
