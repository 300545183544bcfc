#include "cvgen/core/status.hpp"

#include <array>
#include <sstream>

namespace cvgen {
namespace {

constexpr std::array<const char*, 18> kNames = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
    "OUTCOME_UNKNOWN",
};

}  // namespace

const char* codeName(Code code) noexcept {
    const auto i = static_cast<size_t>(code);
    return i < kNames.size() ? kNames[i] : "UNKNOWN";
}

std::optional<Code> codeFromName(const std::string& name) noexcept {
    for (size_t i = 0; i < kNames.size(); ++i)
        if (name == kNames[i]) return static_cast<Code>(i);
    return std::nullopt;
}

Status Status::withContext(const std::string& context) const {
    Status s = *this;
    s.message_ = context + ": " + message_;
    return s;
}

std::string Status::toString() const {
    std::ostringstream os;
    os << codeName(code_);
    if (!message_.empty()) os << ": " << message_;
    if (providerCode_ != 0 || httpStatus_ != 0 || !requestId_.empty()) {
        os << " [";
        const char* sep = "";
        if (providerCode_ != 0) {
            os << "provider code " << providerCode_;
            sep = ", ";
        }
        if (httpStatus_ != 0) {
            os << sep << "HTTP " << httpStatus_;
            sep = ", ";
        }
        if (!requestId_.empty()) os << sep << "request id " << requestId_;
        os << "]";
    }
    return os.str();
}

std::ostream& operator<<(std::ostream& os, const Status& st) {
    return os << st.toString();
}
std::ostream& operator<<(std::ostream& os, Code code) {
    return os << codeName(code);
}

Status invalidArgument(std::string m) {
    return Status(Code::INVALID_ARGUMENT, std::move(m));
}
Status notFound(std::string m) {
    return Status(Code::NOT_FOUND, std::move(m));
}
Status unavailable(std::string m) {
    return Status(Code::UNAVAILABLE, std::move(m)).withRetryable(true);
}
Status internalError(std::string m) {
    return Status(Code::INTERNAL, std::move(m));
}
Status dataLoss(std::string m) {
    return Status(Code::DATA_LOSS, std::move(m));
}
Status deadlineExceeded(std::string m) {
    return Status(Code::DEADLINE_EXCEEDED, std::move(m));
}
Status resourceExhausted(std::string m) {
    return Status(Code::RESOURCE_EXHAUSTED, std::move(m));
}
Status failedPrecondition(std::string m) {
    return Status(Code::FAILED_PRECONDITION, std::move(m));
}
Status unauthenticated(std::string m) {
    return Status(Code::UNAUTHENTICATED, std::move(m));
}
Status permissionDenied(std::string m) {
    return Status(Code::PERMISSION_DENIED, std::move(m));
}
Status cancelled(std::string m) {
    return Status(Code::CANCELLED, std::move(m));
}
Status outcomeUnknown(std::string m) {
    return Status(Code::OUTCOME_UNKNOWN, std::move(m));
}

}  // namespace cvgen
