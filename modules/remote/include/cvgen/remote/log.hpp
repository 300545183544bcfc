#ifndef CVGEN_REMOTE_LOG_HPP
#define CVGEN_REMOTE_LOG_HPP

#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/remote/http.hpp"

namespace cvgen {
namespace remote {

/** @brief Severity of a log line. */
enum class LogLevel { DEBUG, INFO, WARN, ERROR };

/** @brief Receives one already-redacted line. Called from the thread doing the work. */
using LogCallback = std::function<void(LogLevel, const std::string&)>;

/** @brief Removes secrets from a text: every occurrence of each string in `secrets` (≥4 chars),
 * anything shaped like a JWT, the values of Authorization / Api-Key headers, and it truncates
 * long base64 runs to "<base64 N chars>". */
std::string redact(const std::string& text, const std::vector<std::string>& secrets);

/** @brief Transport decorator logging each request and response through `log`, redacted
 * (headers Authorization / Api-Key masked, known secrets and JWTs removed, base64 truncated,
 * bodies cut at 2 KB). No-op wrapper when `log` is empty. Put it OUTSIDE withAuth only if the
 * auth header should not be seen at all; inside, the header is masked. */
cv::Ptr<HttpTransport> withLogging(cv::Ptr<HttpTransport> inner, LogCallback log,
                                   std::vector<std::string> secrets);

}  // namespace remote
}  // namespace cvgen

#endif  // CVGEN_REMOTE_LOG_HPP
