#include "cvgen/core/version.hpp"

namespace cvgen {

const char* versionString() noexcept {
    return CVGEN_VERSION_STRING;
}

}  // namespace cvgen
