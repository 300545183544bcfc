// libFuzzer target: the provider-profile loader (modules/remote/src/profile.cpp).
#include <cstdint>
#include <string>

#include "cvgen/remote/profile.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string json(reinterpret_cast<const char*>(data), size);
    auto p = cvgen::remote::parseProfileJson(json);
    if (p.ok()) {
        for (cvgen::Operation op : p->operations) (void)p->createPath(op);
        (void)p->field("down_expansion_ratio");
    }
    return 0;
}
