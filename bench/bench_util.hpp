#ifndef CVGEN_BENCH_BENCH_UTIL_HPP
#define CVGEN_BENCH_BENCH_UTIL_HPP

// Small helpers shared by the plain-main benchmark programs (bench_batch, bench_memory).

#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

namespace cvgen::bench {

/** The cvgen CLI next to this benchmark in the build tree (build/dev/apps/cvgen/cvgen). */
inline std::string defaultCvgen(const char* argv0) {
    std::error_code ec;
    std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) self = std::filesystem::absolute(argv0);
    return (self.parent_path().parent_path() / "apps" / "cvgen" / "cvgen").string();
}

/** The value of `arg` when it is "<key>VALUE" (key like "--n="), nullptr otherwise. */
inline const char* flagValue(const char* arg, const char* key) {
    const size_t k = std::strlen(key);
    return std::strncmp(arg, key, k) == 0 ? arg + k : nullptr;
}

}  // namespace cvgen::bench

#endif  // CVGEN_BENCH_BENCH_UTIL_HPP
