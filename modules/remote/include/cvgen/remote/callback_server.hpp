#ifndef CVGEN_REMOTE_CALLBACK_SERVER_HPP
#define CVGEN_REMOTE_CALLBACK_SERVER_HPP

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/status.hpp"
#include "cvgen/remote/log.hpp"

namespace cvgen {
namespace remote {

/** @brief A small HTTP server that receives provider callbacks (the POSTs a provider sends to a
 * task's callback_url) and hands each body and its headers to a handler — the fast path of the
 * task engine: a task whose callback arrives completes at once, polling stays as the fallback.
 *
 * Answers 204 when the handler returns OK, 401 for UNAUTHENTICATED (a bad signature), 400 for
 * INVALID_ARGUMENT (a body that is not a task), 404 for other paths' GETs. Bodies over 1 MB are
 * refused. Logs a line per refused callback (never the body's secrets or the signature).
 * @note Touches the network (listens). Thread-safe.
 */
class CallbackServer {
public:
    struct Params {
        std::string host = "127.0.0.1";
        int port = 0;  ///< 0 = an ephemeral port (see port())
        LogCallback log;
    };
    using Headers = std::vector<std::pair<std::string, std::string>>;  ///< names lower-cased
    using Handler = std::function<Status(const std::string& body, const Headers& headers)>;

    virtual ~CallbackServer() = default;
    /** @brief The port it listens on. */
    virtual int port() const = 0;
    /** @brief Stops listening (idempotent; the destructor calls it). */
    virtual void stop() = 0;

    /** @brief Binds and starts serving on a thread of its own.
     * @return UNAVAILABLE when the address cannot be bound. */
    static Result<cv::Ptr<CallbackServer>> start(const Params& params, Handler handler);
};

/** @brief Splits "HOST:PORT" (e.g. "0.0.0.0:8090"). INVALID_ARGUMENT when malformed. */
Result<std::pair<std::string, int>> parseHostPort(const std::string& hostPort);

}  // namespace remote
}  // namespace cvgen

#endif  // CVGEN_REMOTE_CALLBACK_SERVER_HPP
