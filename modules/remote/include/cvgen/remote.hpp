#ifndef CVGEN_REMOTE_HPP
#define CVGEN_REMOTE_HPP

/** @file
 * @brief cvgen remote providers: Kling (official and relays) and Ideogram over HTTP. */

#include "cvgen/remote/auth.hpp"
#include "cvgen/remote/client.hpp"
#include "cvgen/remote/http.hpp"
#include "cvgen/remote/log.hpp"
#include "cvgen/remote/profile.hpp"
#include "cvgen/remote/task.hpp"

#endif  // CVGEN_REMOTE_HPP
