#ifndef CVGEN_APPS_CLI_CAPABILITIES_HPP
#define CVGEN_APPS_CLI_CAPABILITIES_HPP

// What the operation subcommands tell the user from the provider layer's capability table:
// default models, legacy-model and no-effect warnings. Warnings go to stderr and never change
// the exit code.

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>

#include "cvgen/core/image_limits.hpp"
#include "provider_factory.hpp"

namespace cvgen::cli {

/** @brief True for the offline engine ("local"), false for a remote profile or profile file. */
bool isLocal(const ProviderOptions& opts);

/** @brief The model an endpoint uses when none is named ("kling-v3" for generate,
 * "kling-image-o1" for omni); "" when this build has no remote module. */
std::string defaultModelName(Endpoint e);

/** @brief Prints "cvgen CMD: warning: WHAT" to stderr. */
void warn(const std::string& command, const std::string& what);

/** @brief Whether the user set a flag on the command line (e.g. `sub->count(flag) > 0`). */
using FlagGiven = std::function<bool(const char*)>;

/** @brief For each of `flags` the user set, "cvgen CMD: warning: FLAG has no effect WHERE",
 * e.g. where = "at a remote provider (it seeds the offline placeholder only)". */
void warnNoEffect(const std::string& command, const FlagGiven& given,
                  std::initializer_list<const char*> flags, const std::string& where);

/** @brief The upscale behind a remote provider, from the capability table. */
struct RemoteUpscale {
    std::string api;      ///< whose API serves it ("Ideogram")
    double maxScale = 0;  ///< its largest factor; it takes none of its own
};

/** @brief The upscale route of the remote provider `opts` names; nullopt offline, for a
 * provider without an upscale route, when its profile cannot be read (building the provider
 * then says why) or when this build has no remote module. */
std::optional<RemoteUpscale> remoteUpscale(const ProviderOptions& opts);

/** @brief Warns when `model` is a legacy name of the endpoint (still accepted, dropped from the
 * provider's current list), naming the current ones. Unknown names are left to the request's
 * validation, which refuses them before any network call. */
void warnIfLegacyModel(const std::string& command, Endpoint e, const std::string& model);

}  // namespace cvgen::cli

#endif  // CVGEN_APPS_CLI_CAPABILITIES_HPP
