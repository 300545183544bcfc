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

/** @brief When to poll a running task: first after `firstDelay`, then every `interval`
 * growing by `multiplier` up to `maxInterval`, each wait scaled by a random factor in
 * [1-jitter, 1+jitter]. */
struct PollPolicy {
    std::chrono::milliseconds firstDelay{1000};
    std::chrono::milliseconds interval{1000};
    double multiplier = 1.5;
    std::chrono::milliseconds maxInterval{10000};
    double jitter = 0.2;
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
    int downloadAttempts = 3;
    LogCallback log;    ///< redacted lines; empty = silent
    uint64_t seed = 0;  ///< jitter and generated external ids; 0 = random
    /** @brief How to wait (tests inject a no-op that records). Default: sleep in short slices,
     * waking early on cancel. */
    std::function<void(std::chrono::milliseconds)> sleep;
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
/** @brief Extracts "task_id=…" / "external_task_id=…" from a Status message; nullopt if none. */
std::optional<TaskRef> taskRefFromStatus(const Status& st);

/** @brief Asynchronous task API: submit returns a handle at once (after the create call),
 * then poll, wait, waitAll or cancel it. Many tasks can be waited for by one thread with
 * waitAll(), which polls each when it is due.
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
    std::string profile = "kling";  ///< kling | anyapi | cometapi | ideogram | path.json
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
};

/** @brief resolveProfile + base URL override + curl transport + createProvider.
 * @return NOT_FOUND / INVALID_ARGUMENT for a bad profile, UNAUTHENTICATED for missing keys. */
Result<cv::Ptr<Provider>> createProvider(const RemoteParams& params);

}  // namespace remote
}  // namespace cvgen

#endif  // CVGEN_REMOTE_CLIENT_HPP
