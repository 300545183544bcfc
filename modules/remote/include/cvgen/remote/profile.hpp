#ifndef CVGEN_REMOTE_PROFILE_HPP
#define CVGEN_REMOTE_PROFILE_HPP

#include <map>
#include <string>
#include <vector>

#include "cvgen/core/image_limits.hpp"
#include "cvgen/core/provider.hpp"
#include "cvgen/core/status.hpp"
#include "cvgen/remote/auth.hpp"

namespace cvgen {
namespace remote {

// Operation (EXPAND, GENERATE, OMNI, UPSCALE) is cvgen::Operation from cvgen/core/provider.hpp.

/** @brief Everything that differs between providers speaking the Kling/Ideogram protocols. */
struct Profile {
    std::string name;     ///< "kling", "anyapi", "cometapi", "ideogram", or the user's
    std::string baseUrl;  ///< scheme://host[:port], no trailing slash
    /** @brief Prefix of the Kling image routes: "/v1" (official) or "/kling/v1" (relays). */
    std::string klingPrefix = "/v1";
    /** @brief Upscale route ("/upscale", "/ideogram/upscale"); empty = no upscale here. */
    std::string upscalePath;
    AuthStyle auth = AuthStyle::BEARER;
    bool nAsString = false;  ///< CometAPI documents `n` as a string
    /** @brief Canonical (Kling) top-level field name → this provider's name, e.g.
     * "down_expansion_ratio" → "bottom_expansion_ratio". */
    std::map<std::string, std::string> fieldNames;
    /** @brief Operations with a route here (expand/generate/omni need klingPrefix routes). */
    std::vector<Operation> operations;
    /** @brief Input image limits this provider documents in place of the endpoint's own (see
     * cvgen::remote::endpointRules(const Profile&, Endpoint)); only the endpoints it overrides
     * are present. */
    std::map<Endpoint, ImageLimits> inputLimits;

    bool supports(Operation op) const;
    /** @brief The wire name of a canonical field. */
    std::string field(const std::string& canonical) const;
    /** @brief Create route of an operation, without the base URL (e.g.
     * "/kling/v1/images/editing/expand"). */
    std::string createPath(Operation op) const;
};

/** @brief Names of the built-in profiles: kling, anyapi, cometapi (bottom_expansion_ratio,
 * string n), cometapi-v2 (down_expansion_ratio, integer n), ideogram. */
std::vector<std::string> builtinProfileNames();

/** @brief A built-in profile by name; NOT_FOUND when there is none. */
Result<Profile> builtinProfile(const std::string& name);

/** @brief A user profile from JSON text:
 * `{"name": "myrelay", "extends": "anyapi", "base_url": "https://relay.example",
 *   "kling_prefix": "/kling/v1", "upscale_path": "/ideogram/upscale",
 *   "auth": "bearer|kling_jwt|api_key", "n_as_string": false,
 *   "fields": {"down_expansion_ratio": "bottom_expansion_ratio"},
 *   "operations": ["expand", "generate", "omni", "upscale"],
 *   "input_limits": {"upscale": {"formats": ["jpeg", "png", "webp"], "max_bytes": 25000000,
 *                                "min_side": 1, "min_aspect": 0.4, "max_aspect": 2.5}}}`.
 * Every key but `base_url` (or `extends`) is optional; an endpoint's `input_limits` start from
 * its built-in rules (cvgen::remote::endpointRules) and replace only the keys given.
 * @return INVALID_ARGUMENT naming the bad key. */
Result<Profile> parseProfileJson(const std::string& json);

/** @brief parseProfileJson on a file's content; NOT_FOUND when unreadable. */
Result<Profile> loadProfileFile(const std::string& path);

/** @brief A built-in name, or a path to a JSON profile (anything ending in ".json"). */
Result<Profile> resolveProfile(const std::string& nameOrPath);

}  // namespace remote
}  // namespace cvgen

#endif  // CVGEN_REMOTE_PROFILE_HPP
