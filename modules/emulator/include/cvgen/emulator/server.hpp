#ifndef CVGEN_EMULATOR_SERVER_HPP
#define CVGEN_EMULATOR_SERVER_HPP

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/status.hpp"
#include "cvgen/emulator/faults.hpp"

namespace cvgen::emulator {

/** @brief How the emulator makes result images. */
enum class RenderMode {
    FULL,  ///< the offline engine: the expand backdrop, synthetic generations, Lanczos upscale
    /** Banded gradients of exactly the size and type FULL would return, PNG-encoded in about a
     * millisecond of CPU per megapixel: for load and benchmark runs, where the engine's cost
     * (tens of ms per task) would make the server compete with the client it measures. */
    FAST
};

/** @brief Everything the emulator needs; validated by Server::create(). */
struct Params {
    std::string host = "127.0.0.1";  ///< address to bind
    int port = 0;                    ///< 0 = an ephemeral port (see Server::port())
    /** @brief Accepted static keys: `Authorization: Bearer <key>` and Ideogram's `Api-Key`.
     * When neither apiKeys nor accessKey is set the emulator is open: any non-empty
     * credential is accepted. */
    std::vector<std::string> apiKeys;
    std::string accessKey;  ///< Kling JWTs must carry `iss` = accessKey…
    std::string secretKey;  ///< …and be HS256-signed with secretKey
    /** @brief Time a task spends from submission to its end: `processing` at half of it,
     * `succeed`/`failed` at the end (later if rendering takes longer). With latencySd > 0, the
     * mean of the drawn times. */
    std::chrono::milliseconds latency{2000};
    /** @brief Standard deviation of a task's time; 0 = every task takes exactly `latency`.
     * Otherwise each task's time is drawn from a lognormal with mean `latency` and this standard
     * deviation, and `processing` comes at a uniformly drawn point before the end. The draws
     * come from a generator seeded by `seed` alone: the k-th task created gets the k-th draw,
     * whatever else happened. `updated_at` is the drawn instant of each change (the end later
     * only when rendering runs past it). */
    std::chrono::milliseconds latencySd{0};
    uint64_t seed = 1;                     ///< drives ids and fault draws (deterministic)
    std::vector<FaultSpec> faults;         ///< see FaultSpec; parseFaults() reads a file's text
    std::string tlsCertFile;               ///< PEM; with tlsKeyFile, serve HTTPS
    std::string tlsKeyFile;                ///< PEM private key
    std::string webhookSecret;             ///< "whsec_<base64>": callbacks are signed when set
    std::chrono::seconds resultTtl{3600};  ///< result URLs answer 410 after this
    /** @brief Concurrent task slots per account (a task holds `n` slots until it ends);
     * 0 = unlimited. Over the limit: HTTP 429, code 1303. */
    int concurrencyLimit = 0;
    /** @brief With concurrencyLimit: a task over the limit is accepted and waits in `submitted`
     * until enough of the account's slots free up, first come first served (as some aggregators
     * queue), instead of HTTP 429 / 1303. Its time (`latency`, `latencySd`) counts from when it
     * starts. A task needing more slots than the limit is still refused with 429 / 1303. */
    bool queue = false;
    /** @brief `/ideogram/upscale` answers a Kling-style task envelope (seed 003) instead of
     * the synchronous Ideogram body; the task is then queried at `/ideogram/upscale/{id}`. */
    bool upscaleAsTask = false;
    double upscaleFactor = 2.0;  ///< upscale results are this many times the input, in (1,8]
    /** @brief Under `/kling/v1` (and the upscale task envelope), send `"task_result": null`
     * before success, as some relays do, instead of Kling's `{}`. */
    bool nullTaskResultBeforeSuccess = false;
    /** @brief Under `/kling/v1`, also require what AnyAPI marks required: `n` on expand and
     * generation, `model_name` on generation and omni-image (HTTP 400, code 1201). */
    bool aggregatorStrict = false;
    /** @brief Enforce what the real services refuse, by the client's own table
     * (cvgen/remote/capabilities.hpp): each model's capabilities — image_fidelity only with
     * kling-v2-1, 4k and series only with kling-v3-omni, no `auto` ratio for a text-only
     * kling-v3-omni request, no negative_prompt with an image, at most 10 references… A refused
     * create is HTTP 400, code 1201, its message naming the field; on `/upscale` Ideogram's
     * `{"error": "<field>: …"}`. A field the service merely ignores (human_fidelity without a
     * subject reference, n with a series…) is not refused: the client stops those itself.
     * Without it the emulator accepts any known model with any option it can render. Input images
     * follow each endpoint's rules of the same table in both modes. */
    bool strict = false;
    /** @brief Connections open at once, in [1,100000]; further clients wait in the listen
     * backlog until one closes. Plain HTTP is event-driven: a connection waiting for its next
     * request (keep-alive, closed after 5 s idle) holds no thread; requests run on threads
     * created on demand (idle ones exit after 5 s). HTTPS (httplib) holds a thread per
     * connection until it has been idle for 2 s. The process needs a descriptor per connection.
     */
    int maxConnections = 1024;
    RenderMode render = RenderMode::FULL;  ///< see RenderMode
};

/** @brief A local HTTP(S) server speaking the Kling, aggregator (AnyAPI, CometAPI) and Ideogram
 * wire protocols (PROTOCOL.md), backed by the offline engine, with fault injection.
 *
 * Routes (prefix `P` is `/v1` for Kling's dialect and `/kling/v1` for the aggregators'):
 * - `POST P/images/{generations,editing/expand,omni-image}` creates a task;
 *   `GET …/{id}` queries one by task_id or external_task_id; `GET …?pageNum=&pageSize=` lists.
 * - `POST /upscale` (`Api-Key`) and `POST /ideogram/upscale` (Bearer), multipart
 *   `image_request` + `image_file`.
 * - `GET /_emulator/results/<task>/<index>.png` serves results (410 after resultTtl);
 *   `GET /_emulator/stats` answers statsJson() (requests by route, faults injected, tasks,
 *   callbacks, and `connections`: open, peak_open, accepted, threads, busy, waiting, max).
 * - `GET /_emulator/requests?limit=N` (N in [1,1000], default 100): the last N requests (the
 *   last 1,000 are kept), oldest first, each summarized for a test — method, path, route, status,
 *   query, headers, body length, JSON fields or multipart parts — with secrets masked (headers,
 *   parameters and fields named like auth/key/secret/token/password/cookie/signature, JWTs, the
 *   configured keys anywhere) and base64 payloads replaced by {base64_length, sha256}.
 *   `DELETE /_emulator/requests` clears it. Neither route, nor `/_emulator/stats`, is captured.
 *
 * Dialects: under `/v1` the expand bottom field is `down_expansion_ratio` and `n` must be an
 * integer; under `/kling/v1` `down_expansion_ratio` or `bottom_expansion_ratio` (equal when both
 * are given) and `n` as an integer or a decimal string. `n` is optional everywhere (default 1).
 * A duplicate `external_task_id` for the same account is HTTP 400, code 1201. Image URLs are only
 * accepted when they point at this emulator's own result URLs (it never fetches the internet);
 * any other URL is HTTP 400, code 1201 "image URL not reachable from the emulator".
 * Callbacks (loopback `callback_url` only) carry the bare task object on `submitted`,
 * `processing` and the final status.
 * @note Opens a listening socket and serves on background threads; all methods are thread-safe.
 */
class Server {
public:
    /** @brief Checks the params (throws std::invalid_argument on a caller bug: a negative port,
     * one of the TLS files without the other, a secret key without an access key, a webhook
     * secret without the `whsec_` prefix…). Does not bind yet. */
    static cv::Ptr<Server> create(const Params& params = Params());

    /** @brief Binds and serves on background threads; returns once listening.
     * @return UNAVAILABLE when the address cannot be bound, INVALID_ARGUMENT for unreadable TLS
     * files, FAILED_PRECONDITION when already started. */
    virtual Status start() = 0;
    /** @brief The bound port (valid after start()). */
    virtual int port() const = 0;
    /** @brief "http://HOST:PORT" (https with TLS). */
    virtual std::string baseUrl() const = 0;
    /** @brief Stops accepting, lets in-flight requests finish, stops the task clock. Idempotent. */
    virtual void stop() = 0;
    /** @brief The same JSON as `GET /_emulator/stats`. */
    virtual std::string statsJson() const = 0;
    virtual ~Server() = default;
};

/** @brief The Standard Webhooks signature header value `v1,<base64>` of a callback:
 * base64(HMAC-SHA256(base64-decode(secret without `whsec_`), "{id}.{timestamp}.{body}")).
 * @return INVALID_ARGUMENT when the secret is not `whsec_<base64>`. */
Result<std::string> webhookSignature(const std::string& secret, const std::string& msgId,
                                     int64_t timestampSeconds, const std::string& body);

}  // namespace cvgen::emulator

#endif  // CVGEN_EMULATOR_SERVER_HPP
