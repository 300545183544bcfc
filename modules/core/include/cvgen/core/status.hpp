#ifndef CVGEN_CORE_STATUS_HPP
#define CVGEN_CORE_STATUS_HPP

#include <chrono>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace cvgen {

/** @brief What went wrong, phrased as what the caller should do next (abseil's canonical codes).
 *
 * - INVALID_ARGUMENT: fix the input (a bad field, an image the rules reject).
 * - UNAUTHENTICATED / PERMISSION_DENIED: fix the key or the account; retrying does not help.
 * - RESOURCE_EXHAUSTED: quota, concurrency or funds; back off (1302/1303/429) or top up
 * (1100-1102).
 * - UNAVAILABLE: transient (5xx, connection reset); retry with backoff.
 * - DEADLINE_EXCEEDED: the caller's deadline passed; the remote task may still finish (resume it).
 * - NOT_FOUND: a task, file or route that does not exist (a 404 create route: not at this
 * provider).
 * - FAILED_PRECONDITION: the system is not in a state to do this (a task that failed remotely).
 * - DATA_LOSS: bytes arrived corrupt or truncated (a broken download, a bad image).
 * - OUTCOME_UNKNOWN: a request may have been processed but no answer came back, and nothing can
 * prove otherwise (a synchronous route has no lookup): do NOT resend; check the provider's
 * account for the task (Status::externalTaskId()) before trying again.
 */
enum class Code {
    OK = 0,
    CANCELLED,
    UNKNOWN,
    INVALID_ARGUMENT,
    DEADLINE_EXCEEDED,
    NOT_FOUND,
    ALREADY_EXISTS,
    PERMISSION_DENIED,
    RESOURCE_EXHAUSTED,
    FAILED_PRECONDITION,
    ABORTED,
    OUT_OF_RANGE,
    UNIMPLEMENTED,
    INTERNAL,
    UNAVAILABLE,
    DATA_LOSS,
    UNAUTHENTICATED,
    OUTCOME_UNKNOWN,
};

/** @brief The code's canonical upper-case name, e.g. "RESOURCE_EXHAUSTED". */
const char* codeName(Code code) noexcept;

/** @brief Parses a canonical code name; std::nullopt for an unknown one. */
std::optional<Code> codeFromName(const std::string& name) noexcept;

/** @brief The outcome of an operation that talks to the outside world (network, files, remote
 * tasks). Caller bugs throw instead; see STYLE.md.
 *
 * Besides the code and a one-line message, a Status carries what a provider said (its business
 * code, HTTP status and request id), whether retrying can help, and how long the provider asked
 * us to wait. The message never contains secrets.
 */
class [[nodiscard]] Status {
public:
    Status() = default;
    Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status okStatus() { return Status(); }

    bool ok() const noexcept { return code_ == Code::OK; }
    Code code() const noexcept { return code_; }
    const std::string& message() const noexcept { return message_; }

    /** @brief The provider's business code (e.g. 1303), 0 when none. */
    int providerCode() const noexcept { return providerCode_; }
    /** @brief The HTTP status that carried the error, 0 when none. */
    int httpStatus() const noexcept { return httpStatus_; }
    const std::string& requestId() const noexcept { return requestId_; }
    /** @brief True when the same request may succeed later (after retryAfter() if set). */
    bool retryable() const noexcept { return retryable_; }
    /** @brief The wait the provider asked for (Retry-After), if any. */
    std::optional<std::chrono::milliseconds> retryAfter() const noexcept { return retryAfter_; }
    /** @brief The provider task this status is about (empty when none), e.g. for a resume after
     * DEADLINE_EXCEEDED. */
    const std::string& taskId() const noexcept { return taskId_; }
    /** @brief The external task id (idempotency key) of the task this status is about. */
    const std::string& externalTaskId() const noexcept { return externalTaskId_; }

    Status& withTask(std::string taskId, std::string externalTaskId) & {
        if (!taskId.empty()) taskId_ = std::move(taskId);
        if (!externalTaskId.empty()) externalTaskId_ = std::move(externalTaskId);
        return *this;
    }
    Status&& withTask(std::string taskId, std::string externalTaskId) && {
        if (!taskId.empty()) taskId_ = std::move(taskId);
        if (!externalTaskId.empty()) externalTaskId_ = std::move(externalTaskId);
        return std::move(*this);
    }

    Status& withProviderCode(int c) & {
        providerCode_ = c;
        return *this;
    }
    Status& withHttpStatus(int s) & {
        httpStatus_ = s;
        return *this;
    }
    Status& withRequestId(std::string id) & {
        requestId_ = std::move(id);
        return *this;
    }
    Status& withRetryable(bool r) & {
        retryable_ = r;
        return *this;
    }
    Status& withRetryAfter(std::chrono::milliseconds d) & {
        retryAfter_ = d;
        return *this;
    }
    Status&& withProviderCode(int c) && {
        providerCode_ = c;
        return std::move(*this);
    }
    Status&& withHttpStatus(int s) && {
        httpStatus_ = s;
        return std::move(*this);
    }
    Status&& withRequestId(std::string id) && {
        requestId_ = std::move(id);
        return std::move(*this);
    }
    Status&& withRetryable(bool r) && {
        retryable_ = r;
        return std::move(*this);
    }
    Status&& withRetryAfter(std::chrono::milliseconds d) && {
        retryAfter_ = d;
        return std::move(*this);
    }

    /** @brief Returns a copy whose message is "<context>: <message>". */
    Status withContext(const std::string& context) const;

    /** @brief "CODE: message [provider code N, HTTP S, request id R]". */
    std::string toString() const;

private:
    Code code_ = Code::OK;
    std::string message_;
    int providerCode_ = 0;
    int httpStatus_ = 0;
    std::string requestId_;
    std::string taskId_, externalTaskId_;
    bool retryable_ = false;
    std::optional<std::chrono::milliseconds> retryAfter_;
};

std::ostream& operator<<(std::ostream& os, const Status& st);
std::ostream& operator<<(std::ostream& os, Code code);

/** @brief Shorthands for the common codes. */
Status invalidArgument(std::string message);
Status notFound(std::string message);
Status unavailable(std::string message);
Status internalError(std::string message);
Status dataLoss(std::string message);
Status deadlineExceeded(std::string message);
Status resourceExhausted(std::string message);
Status failedPrecondition(std::string message);
Status unauthenticated(std::string message);
Status permissionDenied(std::string message);
Status cancelled(std::string message);
Status outcomeUnknown(std::string message);

/** @brief A value or the Status explaining why there is none (abseil's StatusOr).
 *
 * Accessing value() of an error Result is a caller bug and throws std::logic_error.
 */
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
    Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
        if (std::get<Status>(v_).ok())
            throw std::logic_error("cvgen::Result constructed from an OK status without a value");
    }

    bool ok() const noexcept { return std::holds_alternative<T>(v_); }
    explicit operator bool() const noexcept { return ok(); }

    /** @brief OK when a value is held, the error otherwise. */
    Status status() const { return ok() ? Status() : std::get<Status>(v_); }
    Code code() const noexcept { return ok() ? Code::OK : std::get<Status>(v_).code(); }

    T& value() & {
        check();
        return std::get<T>(v_);
    }
    const T& value() const& {
        check();
        return std::get<T>(v_);
    }
    T&& value() && {
        check();
        return std::get<T>(std::move(v_));
    }

    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    template <typename U>
    T valueOr(U&& fallback) const& {
        return ok() ? std::get<T>(v_) : static_cast<T>(std::forward<U>(fallback));
    }

private:
    void check() const {
        if (!ok())
            throw std::logic_error("cvgen::Result::value() on an error: " +
                                   std::get<Status>(v_).toString());
    }
    std::variant<T, Status> v_;
};

}  // namespace cvgen

/** @brief Returns from the enclosing function when `expr` (a Status) is not OK. */
#define CVGEN_RETURN_IF_ERROR(expr)                            \
    do {                                                       \
        ::cvgen::Status cvgen_status_tmp_ = (expr);            \
        if (!cvgen_status_tmp_.ok()) return cvgen_status_tmp_; \
    } while (0)

#endif  // CVGEN_CORE_STATUS_HPP
