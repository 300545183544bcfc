#ifndef CVGEN_CORE_VERSION_HPP
#define CVGEN_CORE_VERSION_HPP

namespace cvgen {

/** @brief The library version, "MAJOR.MINOR.PATCH". */
const char* versionString() noexcept;

}  // namespace cvgen

#endif  // CVGEN_CORE_VERSION_HPP
