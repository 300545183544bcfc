#ifndef CVGEN_REMOTE_CLIENT_HPP
#define CVGEN_REMOTE_CLIENT_HPP

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/provider.hpp"
#include "cvgen/core/status.hpp"
#include "cvgen/remote/auth.hpp"
#include "cvgen/remote/http.hpp"
#include "cvgen/remote/log.hpp"
#include "cvgen/remote/profile.hpp"
#include "cvgen/remote/task.hpp"

namespace cvgen {
namespace remote {

/** @brief When to query a running task.
 *
 * Adaptive (the default): once a few tasks of the same operation have finished in this client,
 * queries are placed at quantiles of their durations (the provider's created_at/updated_at when
 * it sends them): the first near the low end, then short intervals around the expected end, so a
 * task is seen soon after it ends with about four queries. Until then, and when `adaptive` is
 * off: first after `firstDelay`, then every `interval` growing by `multiplier` up to
 * `maxInterval`. Each wait is scaled by a random factor in [1-jitter, 1+jitter]; all queries of
 * one client share a cap of `maxQueriesPerSecond`.
 */
struct PollPolicy {
    std::chrono::milliseconds firstDelay{500};
    std::chrono::milliseconds interval{500};
    double multiplier = 1.3;
    std::chrono::milliseconds maxInterval{5000};
    double jitter = 0.1;
    bool adaptive = true;
    double maxQueriesPerSecond = 100;  ///< per client (one provider account); 0 = no cap
};

/** @brief How transient failures of one HTTP exchange (create, query, download) are retried:
 * exponential backoff from `initialBackoff` to `maxBackoff`, at least `rateLimitBackoff` after
 * 429/1302/1303, and never shorter than the provider's Retry-After. */
struct RetryPolicy {
    int maxAttempts = 5;
    std::chrono::milliseconds initialBackoff{500};
    std::chrono::milliseconds maxBackoff{30000};
    std::chrono::milliseconds rateLimitBackoff{1000};
};

/** @brief Everything a TaskClient needs; the library reads no environment variables. */
struct ClientParams {
    Profile profile;          ///< resolveProfile("kling") etc.; baseUrl may be overridden here
    Credentials credentials;  ///< what the profile's auth style needs
    /** @brief The wire; empty = createCurlTransport(transportParams). Tests pass a fake. */
    cv::Ptr<HttpTransport> transport;
    CurlTransportParams transportParams;
    JwtParams jwt;
    PollPolicy poll;
    RetryPolicy retry;
    /** @brief Used when CallOptions::deadline is 0. */
    std::chrono::milliseconds defaultDeadline{std::chrono::minutes(10)};
    /** @brief Bound on in-flight result slots (a task holds n); 0 = unbounded. submit() waits
     * for free slots until its deadline. */
    int maxSlots = 0;
    size_t maxDownloadBytes = size_t(64) << 20;  ///< per result image
    int downloadAttempts = 5;  ///< tries of one result download (an idempotent GET)
    LogCallback log;           ///< redacted lines; empty = silent
    uint64_t seed = 0;         ///< jitter and generated external ids; 0 = random
    /** @brief Test hook: when set, every wait the engine schedules (poll times, back-offs) is
     * reported here and fires at once instead of after that time. */
    std::function<void(std::chrono::milliseconds)> sleep;
    /** @brief Sent as callback_url with every create whose request has none: the provider POSTs
     * the task there on each change, and deliverCallback() completes it at once (polling stays
     * as the slow fallback, so a lost callback costs only time). */
    std::string callbackUrl;
    /** @brief "whsec_<base64>": when set, deliverCallback() accepts only bodies whose Standard
     * Webhooks signature verifies. */
    std::string webhookSecret;
    /** @brief Largest result image accepted, in pixels, checked before decoding (a hostile
     * server's decompression bomb is DATA_LOSS for that task, nothing more). */
    int64_t maxResultPixels = 100'000'000;
};

struct TaskState;  // private, defined in src/

/** @brief A submitted (or resumed) task. Copies share state. Releases its slots when the task
 * ends, is cancelled, or the last copy is destroyed. */
class TaskHandle {
public:
    TaskHandle() = default;
    explicit TaskHandle(std::shared_ptr<TaskState> s) : s_(std::move(s)) {}
    bool valid() const noexcept { return bool(s_); }
    /** @brief Provider task id (empty until known, e.g. for a synchronous upscale). */
    std::string taskId() const;
    std::string externalTaskId() const;
    Operation operation() const;
    /** @brief Last status seen. */
    TaskStatus status() const;
    std::shared_ptr<TaskState> state() const { return s_; }

private:
    std::shared_ptr<TaskState> s_;
};

/** @brief The ids a DEADLINE_EXCEEDED (or other) Status carries for a later resume. */
struct TaskRef {
    std::string taskId;
    std::string externalTaskId;
};
/** @brief The task ids a Status carries (Status::taskId()/externalTaskId(); older messages with
 * "task_id=…" / "external_task_id=…" are read too); nullopt if none. */
std::optional<TaskRef> taskRefFromStatus(const Status& st);

/** @brief The task engine of one provider account: one event loop (libcurl multi + timers) runs
 * every create, query and download of this client, CPU work (encoding, base64, decoding) runs on
 * cvgen::WorkerPool::cpu(), and no thread waits per task.
 *
 * runAsync()/resumeAsync() return at once and call the completion when the task has ended and
 * its images are decoded. submit/poll/wait/waitAll are blocking facades over the same engine.
 *
 * Every create carries an external_task_id (the caller's or "cvgen-<16 hex>"). When a create
 * may have reached the server without an answer (timeout after sending, reset, 5xx), the task
 * is looked up by that id before anything is re-sent: one logical task, one create.
 * @note Touches the network. Thread-safe: any thread may submit/wait on any handle, but one
 * handle should be waited on by one thread at a time.
 */
class TaskClient {
public:
    virtual ~TaskClient() = default;

    /** @brief Validates (INVALID_ARGUMENT before any network call), takes n slots, encodes the
     * image(s) and creates the task. */
    virtual Result<TaskHandle> submit(const ExpandRequest& req, const CallOptions& opt = {}) = 0;
    virtual Result<TaskHandle> submit(const GenerateRequest& req, const CallOptions& opt = {}) = 0;
    virtual Result<TaskHandle> submit(const OmniRequest& req, const CallOptions& opt = {}) = 0;
    virtual Result<TaskHandle> submit(const UpscaleRequest& req, const CallOptions& opt = {}) = 0;

    /** @brief A handle for a task created earlier (by task id or external task id), e.g. after
     * a DEADLINE_EXCEEDED. No network call until poll/wait. */
    virtual TaskHandle resume(const std::string& taskIdOrExternalId, Operation op) = 0;

    /** @brief One query now, no waiting; updates the handle. */
    virtual Result<TaskObject> poll(TaskHandle& handle, const CallOptions& opt = {}) = 0;

    /** @brief Polls until the task ends, then downloads and decodes every image.
     * @return the output; FAILED_PRECONDITION with task_status_msg for a failed task;
     * DEADLINE_EXCEEDED (with task_id/external_task_id, see taskRefFromStatus) when the task is
     * still running at the deadline — wait() again or resume() later; CANCELLED. */
    virtual Result<TaskOutput> wait(TaskHandle& handle, const CallOptions& opt = {}) = 0;

    /** @brief wait() for many handles on this one thread, polling each when due. */
    virtual std::vector<Result<TaskOutput>> waitAll(std::vector<TaskHandle>& handles,
                                                    const CallOptions& opt = {}) = 0;

    /** @brief Stops tracking the task and frees its slots (the providers have no cancel API:
     * the remote task runs on and can still be resumed). */
    virtual void cancel(TaskHandle& handle) = 0;

    /** @brief Creates, waits for and downloads a task without blocking: `done` receives the
     * output (or the error) exactly once, on a worker thread, with no lock held. Slots are taken
     * before the create (queued in order while none are free) and released when the task ends.
     */
    virtual void runAsync(const ExpandRequest& req, const CallOptions& opt, Completion done) = 0;
    virtual void runAsync(const GenerateRequest& req, const CallOptions& opt, Completion done) = 0;
    virtual void runAsync(const OmniRequest& req, const CallOptions& opt, Completion done) = 0;
    virtual void runAsync(const UpscaleRequest& req, const CallOptions& opt, Completion done) = 0;
    /** @brief Collects a task created earlier (task id or external id) without blocking. */
    virtual void resumeAsync(const std::string& taskIdOrExternalId, Operation op,
                             const CallOptions& opt, Completion done) = 0;

    /** @brief A provider callback (the POSTed body and its headers, names lower-cased): a task in
     * flight that it reports ended goes to its download at once.
     * @return OK (also for a task this client does not track), UNAUTHENTICATED for a missing or
     * bad signature when ClientParams::webhookSecret is set, INVALID_ARGUMENT for a body that is
     * not a task. Never logs the body or the signature. */
    virtual Status deliverCallback(
        const std::string& body,
        const std::vector<std::pair<std::string, std::string>>& headers) = 0;

    /** @brief Slots currently held by in-flight tasks. */
    virtual int slotsInUse() const = 0;
    virtual const Profile& profile() const = 0;

    /** @brief Checks params (credentials for the profile's auth style → UNAUTHENTICATED) and
     * builds the decorated transport stack (logging inside auth). */
    static Result<cv::Ptr<TaskClient>> create(const ClientParams& params);
};

/** @brief The synchronous cvgen::Provider over a TaskClient (submit + wait). */
Result<cv::Ptr<Provider>> createProvider(const ClientParams& params);

/** @brief What the CLI's provider factory hands over: a profile name or JSON path plus
 * overrides. Keys come from the application (environment), never read here. */
struct RemoteParams {
    std::string profile = "kling";  ///< builtinProfileNames() or path.json
    std::string baseUrl;            ///< overrides the profile's base URL when set
    std::string apiKey;
    std::string accessKey;
    std::string secretKey;
    std::string caFile;  ///< PEM bundle to trust (e.g. the emulator's self-signed cert)
    std::string proxy;   ///< "" = the usual environment variables, "none" = direct, or a URL
    std::chrono::milliseconds connectTimeout{10000};
    std::chrono::milliseconds requestTimeout{60000};               ///< per HTTP exchange
    std::chrono::milliseconds deadline{std::chrono::minutes(10)};  ///< per operation default
    PollPolicy poll;
    RetryPolicy retry;
    int maxSlots = 0;
    LogCallback log;
    /** @brief "HOST:PORT": run a callback receiver there (cvgen::remote::CallbackServer), owned
     * by the provider, feeding deliverCallback(). */
    std::string callbackListen;
    /** @brief The URL the provider should POST to (reaching callbackListen); "" with
     * callbackListen set = http://HOST:PORT/cvgen-callback. */
    std::string callbackUrl;
    std::string webhookSecret;  ///< see ClientParams::webhookSecret
};

/** @brief resolveProfile + base URL override + curl transport + createProvider (+ the callback
 * receiver when RemoteParams::callbackListen is set).
 * @return NOT_FOUND / INVALID_ARGUMENT for a bad profile, UNAUTHENTICATED for missing keys,
 * UNAVAILABLE when the callback address cannot be bound. */
Result<cv::Ptr<Provider>> createProvider(const RemoteParams& params);

}  // namespace remote
}  // namespace cvgen

#endif  // CVGEN_REMOTE_CLIENT_HPP
