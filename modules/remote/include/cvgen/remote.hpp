#ifndef CVGEN_REMOTE_HPP
#define CVGEN_REMOTE_HPP

/** @file
 * @brief cvgen remote providers: Kling (official and relays) and Ideogram over HTTP.
 *
 * The common case, synchronous:
 * @code
 *   cvgen::remote::RemoteParams rp;
 *   rp.profile = "anyapi";                    // builtinProfileNames() or file.json
 *   rp.apiKey = keyFromTheEnvironment;        // the library never reads the environment
 *   auto provider = cvgen::remote::createProvider(rp);   // Result<cv::Ptr<cvgen::Provider>>
 *   cvgen::ExpandRequest req;                 // image, ratios, prompt, n…
 *   auto out = (*provider)->expand(req);      // Result<TaskOutput>: all n images + ids
 *   if (out.code() == cvgen::Code::DEADLINE_EXCEEDED)   // the task still runs remotely:
 *       auto ref = cvgen::remote::taskRefFromStatus(out.status());  // resume it later
 * @endcode
 * Many tasks without a thread each: TaskClient::runAsync() (or Provider::expandAsync()) with a
 * completion; one event loop per client waits for all of them (libcurl multi + timers), CPU work
 * runs on cvgen::WorkerPool::cpu(). Provider callbacks: RemoteParams::callbackListen.
 */

#include "cvgen/remote/auth.hpp"
#include "cvgen/remote/callback_server.hpp"
#include "cvgen/remote/capabilities.hpp"
#include "cvgen/remote/client.hpp"
#include "cvgen/remote/http.hpp"
#include "cvgen/remote/log.hpp"
#include "cvgen/remote/profile.hpp"
#include "cvgen/remote/task.hpp"

#endif  // CVGEN_REMOTE_HPP
