#ifndef CVGEN_EMULATOR_FAULTS_HPP
#define CVGEN_EMULATOR_FAULTS_HPP

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "cvgen/core/status.hpp"

namespace cvgen::emulator {

/** @brief What an injected fault does. Wire names (JSON `kind`, `--fault`) in parentheses.
 *
 * Faults that fire BEFORE the request is processed (no side effect, no task created):
 * - RATE_LIMIT (`rate_limit`): HTTP 429, code 1302, `Retry-After`.
 * - CONCURRENCY (`concurrency`): HTTP 429, code 1303, `Retry-After`.
 * - SERVER_ERROR (`server_error`): HTTP 500, code 5000.
 * - SERVICE_UNAVAILABLE (`unavailable`): HTTP 503, code 5001, `Retry-After`.
 * - GATEWAY_TIMEOUT (`gateway_timeout`): HTTP 504, code 5002.
 * - HTML_ERROR (`html_error`): an HTML error page from a "gateway" (HTTP `status`, default 502).
 * - ROUTE_NOT_FOUND (`not_found`): HTTP 404 `404 page not found` (text/plain), as a relay
 *   without the route answers.
 * - TOKEN_EXPIRED (`token_expired`): HTTP 401, code 1004, whatever the credentials.
 *
 * Faults that fire AFTER the request was processed (a create DID happen):
 * - DROP_CONNECTION (`drop_connection`): the connection is shut down without any response.
 * - MALFORMED_JSON (`malformed_json`): HTTP 200 with a cut-off JSON body.
 * - SLOW (`slow`): the real response, sent after `delay` (to push a client past its timeout).
 *
 * Faults on the task or the download:
 * - TASK_FAILED (`task_failed`): the created task ends `failed` with a `task_status_msg`
 *   (synchronous upscale: `is_image_safe: false` and an empty `url`).
 * - TASK_STUCK (`task_stuck`): the created task stays `processing` forever (holding its slots).
 * - TRUNCATED_DOWNLOAD (`truncated_download`): a result image download announces its full
 *   Content-Length but only half the bytes are sent before the connection closes.
 */
enum class FaultKind {
    RATE_LIMIT,
    CONCURRENCY,
    SERVER_ERROR,
    SERVICE_UNAVAILABLE,
    GATEWAY_TIMEOUT,
    HTML_ERROR,
    ROUTE_NOT_FOUND,
    TOKEN_EXPIRED,
    DROP_CONNECTION,
    MALFORMED_JSON,
    SLOW,
    TASK_FAILED,
    TASK_STUCK,
    TRUNCATED_DOWNLOAD,
};

/** @brief Every fault kind, in declaration order. */
const std::vector<FaultKind>& allFaultKinds();

/** @brief The wire name of a kind ("rate_limit", "drop_connection", …). */
const char* toString(FaultKind kind) noexcept;

/** @brief Parses a wire name; std::nullopt when unknown. */
std::optional<FaultKind> parseFaultKind(const std::string& name) noexcept;

/** @brief One fault rule: which requests it may hit and how often.
 *
 * A request matches when its path starts with `route` (empty = every route except
 * `/_emulator/stats`) and its method equals `method` (empty = any). Of the matching requests,
 * the first `skip` pass untouched; after that each one is hit with probability `rate`, drawn
 * from a generator seeded by Params::seed and the rule's position (deterministic for a given
 * sequence of requests), until `count` hits (negative = unlimited). Rules are tried in order;
 * the first that hits wins. Task faults are only drawn on creates; TRUNCATED_DOWNLOAD only on
 * result downloads.
 */
struct FaultSpec {
    FaultKind kind = FaultKind::SERVER_ERROR;
    double rate = 1.0;                      ///< probability in [0,1]
    std::string route;                      ///< path prefix, e.g. "/kling/v1/images/editing/expand"
    std::string method;                     ///< "GET", "POST" or empty for any
    int skip = 0;                           ///< let this many matching requests through first
    int count = -1;                         ///< at most this many hits (negative = unlimited)
    std::chrono::milliseconds delay{3000};  ///< SLOW: how long the response is held back
    std::chrono::seconds retryAfter{1};     ///< 429/503: the Retry-After header value
    int httpStatus = 0;                     ///< HTML_ERROR: the HTTP status (0 = 502)
};

/** @brief Parses a fault file.
 *
 * Format: either a JSON array of rules or an object `{"faults": [rules]}`. A rule:
 * `{"kind": "rate_limit", "rate": 0.2, "route": "/kling/v1/images", "method": "POST",
 *   "skip": 0, "count": -1, "delay_ms": 3000, "retry_after": 1, "status": 502}`;
 * only `kind` is required.
 * @return the rules, or INVALID_ARGUMENT naming the bad rule and field.
 */
Result<std::vector<FaultSpec>> parseFaults(const std::string& json);

/** @brief Parses the `--fault` command-line form `KIND[=RATE][@ROUTE]`, e.g.
 * `rate_limit=0.25@/kling/v1/images`. @return the rule or INVALID_ARGUMENT. */
Result<FaultSpec> parseFaultFlag(const std::string& flag);

}  // namespace cvgen::emulator

#endif  // CVGEN_EMULATOR_FAULTS_HPP
