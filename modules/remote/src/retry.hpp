// The one retry policy of remote/: how long to back off, and what an HTTP exchange's outcome
// means for the next step. Every retry decision of the task engine is made here.
#ifndef CVGEN_REMOTE_RETRY_HPP
#define CVGEN_REMOTE_RETRY_HPP

#include <chrono>

#include "cvgen/core/status.hpp"
#include "cvgen/remote/client.hpp"
#include "cvgen/remote/http.hpp"

namespace cvgen {
namespace remote {
namespace detail {

/** Exponential back-off from policy.initialBackoff (×2 per attempt, capped at maxBackoff),
 * scaled by `jitter`; at least rateLimitBackoff after a rate limit; never shorter than the
 * provider's Retry-After. */
std::chrono::milliseconds backoff(const RetryPolicy& policy, int attempt, const Status& st,
                                  double jitter);

/** What a create exchange's outcome asks for. */
enum class CreateStep {
    CREATED,      ///< a task came back
    LOOKUP,       ///< may have been processed: look the task up by external id before anything
    ADOPT,        ///< "external_task_id already exists": look it up and adopt it
    RETRY,        ///< certainly not processed and transient: send again after a back-off
    FAIL,         ///< final
    UNKNOWN_SENT  ///< may have been processed and no lookup route exists: never re-send
};

/** Classifies a create's answer. `st` is statusFromResponse() of it (or the parse error of a
 * 2xx). `canLookup`: the route has a lookup by external id. */
CreateStep classifyCreate(const HttpResponse& r, const Status& st, bool parsedOk, bool canLookup,
                          bool afterAmbiguous, bool haveExternalId);

/** True when a query, lookup or download failing with `st` may be tried again (attempt counts
 * from 1). */
bool mayRetry(const Status& st, int attempt, int maxAttempts);

}  // namespace detail
}  // namespace remote
}  // namespace cvgen

#endif  // CVGEN_REMOTE_RETRY_HPP
