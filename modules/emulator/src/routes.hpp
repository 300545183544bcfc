// Internal: which route a request is (protocol family, action, task kind), from method and path.
#ifndef CVGEN_EMULATOR_SRC_ROUTES_HPP
#define CVGEN_EMULATOR_SRC_ROUTES_HPP

#include <string>

#include "tasks.hpp"

namespace cvgen::emulator::detail {

/** Which protocol family a path belongs to: it decides auth and the error body shape. */
enum class Family { KLING, AGGREGATOR, IDEOGRAM, IDEOGRAM_AGG, RESULTS, STATS, UNKNOWN };
enum class Action { CREATE, QUERY, LIST, DOWNLOAD, STATS, REQUESTS, CLEAR_REQUESTS, NONE };

struct Route {
    Family family = Family::UNKNOWN;
    Action action = Action::NONE;
    TaskKind kind = TaskKind::GENERATION;
    std::string id;    // task or external id (QUERY), task id (DOWNLOAD)
    std::string file;  // DOWNLOAD: "<index>.png"
    std::string key;   // stats key, e.g. "GET /v1/images/editing/expand/{id}"
};

/** @brief The route of a request; family UNKNOWN and action NONE when none matches. */
Route resolve(const std::string& method, const std::string& path);

}  // namespace cvgen::emulator::detail

#endif  // CVGEN_EMULATOR_SRC_ROUTES_HPP
