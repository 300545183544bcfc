// Internal: deterministic fault draws, shared by every request handler.
#ifndef CVGEN_EMULATOR_SRC_FAULT_INJECTOR_HPP
#define CVGEN_EMULATOR_SRC_FAULT_INJECTOR_HPP

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cvgen/emulator/faults.hpp"

namespace cvgen::emulator::detail {

/** @brief When in a request's life a fault is drawn. */
enum class FaultPhase {
    BEFORE,    ///< before processing: errors without side effects
    AFTER,     ///< after processing: drop, malformed JSON, slow
    CREATE,    ///< the fate of a new task: failed / stuck
    DOWNLOAD,  ///< a result download: truncated
};

FaultPhase phaseOf(FaultKind kind) noexcept;

class FaultInjector {
public:
    FaultInjector(std::vector<FaultSpec> specs, uint64_t seed);

    /** @brief Draws the rules of `phase` matching the request, in order; the first hit wins
     * and is counted in the stats. */
    std::optional<FaultSpec> draw(FaultPhase phase, const std::string& method,
                                  const std::string& path);

    /** @brief Hits so far, by kind name. */
    std::map<std::string, int64_t> injected() const;

private:
    struct Rule {
        FaultSpec spec;
        std::mt19937_64 rng;
        int64_t seen = 0;
        int64_t hits = 0;
    };
    mutable std::mutex mu_;
    std::vector<Rule> rules_;
    std::map<std::string, int64_t> injected_;
};

}  // namespace cvgen::emulator::detail

#endif  // CVGEN_EMULATOR_SRC_FAULT_INJECTOR_HPP
