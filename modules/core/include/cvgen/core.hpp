#ifndef CVGEN_CORE_HPP
#define CVGEN_CORE_HPP

/** @file
 * @brief Umbrella header of cvgen::core: status and result types, the provider interface and
 * request validation, base64. No network.
 */
#include "cvgen/core/base64.hpp"
#include "cvgen/core/codec.hpp"
#include "cvgen/core/compose.hpp"
#include "cvgen/core/hmac.hpp"
#include "cvgen/core/image_limits.hpp"
#include "cvgen/core/planner.hpp"
#include "cvgen/core/preflight.hpp"
#include "cvgen/core/provider.hpp"
#include "cvgen/core/status.hpp"
#include "cvgen/core/version.hpp"
#include "cvgen/core/worker_pool.hpp"

#endif  // CVGEN_CORE_HPP
