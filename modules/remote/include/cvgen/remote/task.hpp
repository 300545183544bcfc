#ifndef CVGEN_REMOTE_TASK_HPP
#define CVGEN_REMOTE_TASK_HPP

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cvgen/core/status.hpp"
#include "cvgen/remote/http.hpp"

namespace cvgen {
namespace remote {

/** @brief Kling task states ("submitted", "processing", "succeed", "failed"). */
enum class TaskStatus { SUBMITTED, PROCESSING, SUCCEED, FAILED, UNKNOWN };

/** @brief Wire spelling of a status. */
const char* toString(TaskStatus s) noexcept;
/** @brief True for SUCCEED and FAILED. */
inline bool isTerminal(TaskStatus s) noexcept {
    return s == TaskStatus::SUCCEED || s == TaskStatus::FAILED;
}

/** @brief One result image reference of a task. */
struct TaskImage {
    int index = 0;
    std::string url;
    std::string watermarkUrl;
};

/** @brief The task object as the provider sends it (in `data`, or bare in a callback). */
struct TaskObject {
    std::string taskId;
    std::string externalTaskId;
    TaskStatus status = TaskStatus::UNKNOWN;
    std::string statusText;     ///< as sent
    std::string statusMessage;  ///< task_status_msg (failure reason)
    int64_t createdAtMs = 0;
    int64_t updatedAtMs = 0;
    double unitsDeducted = 0;       ///< final_unit_deduction
    std::vector<TaskImage> images;  ///< task_result.images, then series_images
};

/** @brief Parses a bare task object (callback body) or an envelope's `data`. Accepts
 * `task_result` as `{}`, `null` or absent, ids as strings or numbers.
 * @return INTERNAL for malformed JSON / a body without `task_id`. */
Result<TaskObject> parseTaskObject(const std::string& body);

/** @brief Maps a non-success answer to a Status, exactly once: the HTTP status and business
 * code become a Code, with the provider code, message, request id, retryable and Retry-After.
 *
 * Returns OK for HTTP 2xx with `code` 0 (or no `code`, Ideogram). Rules worth knowing:
 * 1000–1002 UNAUTHENTICATED; 1003/1004 UNAUTHENTICATED retryable (re-issue the JWT);
 * 1100–1102 RESOURCE_EXHAUSTED not retryable; 1103/1304 PERMISSION_DENIED; 1200/1201
 * INVALID_ARGUMENT; 1202/1203 NOT_FOUND; 1300/1301 INVALID_ARGUMENT (content policy);
 * 1302/1303 and HTTP 429 RESOURCE_EXHAUSTED retryable (Retry-After, else ≥ 1 s);
 * 5000–5002 and HTTP 5xx UNAVAILABLE retryable; 402 RESOURCE_EXHAUSTED; 422 INVALID_ARGUMENT.
 * A 404 on a create route is NOT_FOUND "route not available at this provider (<route>)".
 * A non-JSON body (HTML error page) with 2xx is UNAVAILABLE retryable (a gateway answered, not
 * the API); malformed JSON that looks like JSON with 2xx is INTERNAL, not retryable.
 * @param route e.g. "POST /kling/v1/images/editing/expand", used in messages.
 */
Status statusFromResponse(const HttpResponse& r, const std::string& route, bool createRoute);

/** @brief Parses Retry-After (delta seconds or an HTTP date relative to `now`). */
std::optional<std::chrono::milliseconds> parseRetryAfter(
    const std::string& value,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

/** @brief Verifies a Standard Webhooks signature.
 * @param secret "whsec_<base64>" (the prefix is optional)
 * @param signatureHeader "v1,<base64>", possibly several separated by spaces
 * @return OK, UNAUTHENTICATED (no signature matches, or the timestamp is outside
 * now ± tolerance), INVALID_ARGUMENT (malformed secret or headers). */
Status verifyWebhook(const std::string& secret, const std::string& webhookId,
                     const std::string& webhookTimestamp, const std::string& signatureHeader,
                     const std::string& body, std::chrono::system_clock::time_point now,
                     std::chrono::seconds tolerance = std::chrono::seconds(300));

/** @brief The "v1,<base64>" signature of a payload (for emitting or testing callbacks). */
std::string signWebhook(const std::string& secret, const std::string& webhookId,
                        const std::string& webhookTimestamp, const std::string& body);

}  // namespace remote
}  // namespace cvgen

#endif  // CVGEN_REMOTE_TASK_HPP
