// Internal: `cvgen serve --strict` — a create's fields judged by the client's own capability table
// (cvgen/remote/capabilities.hpp), so a test catches a request the real service would refuse.
#ifndef CVGEN_EMULATOR_SRC_STRICT_HPP
#define CVGEN_EMULATOR_SRC_STRICT_HPP

#include <rapidjson/document.h>

#include "cvgen/core/image_limits.hpp"
#include "cvgen/core/status.hpp"
#include "cvgen/remote/capabilities.hpp"
#include "tasks.hpp"

namespace cvgen::emulator::detail {

/** @brief The endpoint a task kind is created at. */
Endpoint toEndpoint(TaskKind kind) noexcept;

/** @brief What a create body asks for: the fields present (not null; for strings not "", which
 * the seed examples send for "default") and their values.
 *
 * `body` is the JSON object of a Kling-style create, or an upscale's `image_request`. A value of
 * the wrong type or an unknown spelling is left out: the parse that follows names it. An
 * omni-image request without `aspect_ratio` gets the server's default, `auto` (OMNI L46), as the
 * real service would apply it. */
remote::RequestFeatures requestFeatures(TaskKind kind, const rapidjson::Value& body);

/** @brief The first rule of remote::checkFeatures() the body breaks that the real service
 * refuses (RuleScope::UPSTREAM: a field it merely ignores, such as human_fidelity without a
 * subject reference, passes), as INVALID_ARGUMENT with provider code 1201 and HTTP 400, its
 * message naming the field (e.g. `image_fidelity: not supported by kling-v3 (only
 * kling-v2-1)`); OK when the model can serve the request. */
Status checkCapabilities(TaskKind kind, const rapidjson::Value& body);

}  // namespace cvgen::emulator::detail

#endif  // CVGEN_EMULATOR_SRC_STRICT_HPP
