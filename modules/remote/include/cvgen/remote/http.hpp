#ifndef CVGEN_REMOTE_HTTP_HPP
#define CVGEN_REMOTE_HTTP_HPP

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/status.hpp"

namespace cvgen {
namespace remote {

/** @brief HTTP methods the client uses. */
enum class HttpMethod { GET, POST };

/** @brief One part of a multipart/form-data body. */
struct MultipartPart {
    std::string name;         ///< form field name, e.g. "image_file"
    std::string contentType;  ///< e.g. "application/json", "image/png"; empty = text
    std::string filename;     ///< set for file parts
    std::string data;         ///< raw bytes
};

/** @brief One HTTP request. Header names are sent as given. */
struct HttpRequest {
    HttpMethod method = HttpMethod::GET;
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;                  ///< sent when `parts` is empty (POST)
    std::vector<MultipartPart> parts;  ///< when not empty, the body is multipart/form-data
    /** @brief Whole-request timeout; 0 = the transport's default. Callers clamp it to what is
     * left of their deadline. */
    std::chrono::milliseconds timeout{0};
    /** @brief Follow 3xx (only to http/https, limited count). Off for API calls so auth headers
     * never travel to another host; on for result downloads. */
    bool followRedirects = false;
    /** @brief Response size cap in bytes; 0 = the transport's default. */
    size_t maxResponseBytes = 0;
    /** @brief Set to true from any thread to abort the transfer (CANCELLED). */
    std::shared_ptr<std::atomic<bool>> cancel;
};

/** @brief One HTTP response, or the reason there is none.
 *
 * `status` is transport-level only: OK means an HTTP response arrived (whatever its HTTP status).
 * Non-OK codes: UNAVAILABLE (connect failure, reset, timeout — retryable), DATA_LOSS (body
 * shorter than announced), OUT_OF_RANGE (response larger than the cap), CANCELLED,
 * INVALID_ARGUMENT (bad URL), FAILED_PRECONDITION (TLS verification failed, redirect to a
 * forbidden scheme).
 */
struct HttpResponse {
    Status status;
    /** @brief True when the request may have reached the server even though no complete
     * response came back (timeout or reset after sending): a create must then be looked up
     * by its external id before it is sent again. False means it was certainly not sent. */
    bool mayHaveReachedServer = false;
    int httpStatus = 0;
    std::vector<std::pair<std::string, std::string>> headers;  ///< names lower-cased
    std::string body;
    std::chrono::milliseconds elapsed{0};

    /** @brief The first header value with this (case-insensitive) name, or nullptr. */
    const std::string* header(const std::string& name) const;
};

/** @brief Receives the response of an asynchronous send, exactly once. */
using HttpDone = std::function<void(HttpResponse)>;

/** @brief The one send function everything else decorates (auth, logging, the fake in tests).
 * @note Implementations must be safe to call from many threads at once and must not throw. */
class HttpTransport {
public:
    virtual ~HttpTransport() = default;
    /** @brief Sends one request and waits; network failures come back in HttpResponse::status.
     */
    virtual HttpResponse send(const HttpRequest& request) = 0;
    /** @brief Starts one request and returns at once; `done` gets the response on a library
     * thread. The libcurl transport runs every transfer on one event loop (no thread per
     * request); the default runs send() on cvgen::WorkerPool::blocking() (fakes in tests). */
    virtual void sendAsync(HttpRequest request, HttpDone done);
};

/** @brief Options of the libcurl transport. */
struct CurlTransportParams {
    std::chrono::milliseconds connectTimeout{10000};
    std::chrono::milliseconds totalTimeout{120000};  ///< default per-request timeout
    /** @brief Abort when fewer than lowSpeedBytes/s arrive for lowSpeedTime. */
    std::chrono::seconds lowSpeedTime{30};
    long lowSpeedBytes = 1;
    bool verifyTls = true;  ///< peer and host verification
    std::string caFile;     ///< PEM bundle to trust instead of the system store
    int maxRedirects = 3;   ///< only when a request asks to follow redirects; http/https only
    size_t maxResponseBytes = size_t(64) << 20;  ///< default response cap
    /** @brief Proxy URL; empty = libcurl's default, i.e. the http_proxy / https_proxy /
     * no_proxy environment variables. "none" disables proxies. */
    std::string proxy;
    std::string userAgent = "cvgen";
    /** @brief Connections to one host at once (0 = unlimited); more transfers queue. Idle
     * connections stay cached for reuse; HTTP/2 multiplexes transfers over one connection when
     * the server offers it. */
    long maxHostConnections = 64;
};

/** @brief The libcurl transport: every transfer on one event loop (libcurl's multi interface,
 * one shared connection cache, HTTP/2 multiplexing when offered). send() is a blocking facade
 * over sendAsync(). Setting HttpRequest::cancel aborts a transfer within ~50 ms.
 * @note Touches the network. Thread-safe. */
cv::Ptr<HttpTransport> createCurlTransport(const CurlTransportParams& params = {});

/** @brief The lower-case form of an ASCII string (header names). */
std::string toLowerAscii(std::string s);

}  // namespace remote
}  // namespace cvgen

#endif  // CVGEN_REMOTE_HTTP_HPP
