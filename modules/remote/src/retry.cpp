#include "retry.hpp"

#include <algorithm>

namespace cvgen {
namespace remote {
namespace detail {

std::chrono::milliseconds backoff(const RetryPolicy& policy, int attempt, const Status& st,
                                  double jitter) {
    double b = double(policy.initialBackoff.count());
    for (int i = 1; i < attempt; ++i) b *= 2;
    std::chrono::milliseconds d(int64_t(std::min(b, double(policy.maxBackoff.count())) * jitter));
    if (st.code() == Code::RESOURCE_EXHAUSTED) d = std::max(d, policy.rateLimitBackoff);
    if (st.retryAfter()) d = std::max(d, *st.retryAfter());
    return d;
}

CreateStep classifyCreate(const HttpResponse& r, const Status& st, bool parsedOk, bool canLookup,
                          bool afterAmbiguous, bool haveExternalId) {
    if (st.ok() && parsedOk) return CreateStep::CREATED;
    // The create may have happened: no answer after sending, a 5xx, or a 2xx whose body is
    // unreadable (HTML from a gateway, cut-off JSON).
    const bool ambiguous = (!r.status.ok() && r.mayHaveReachedServer) ||
                           (r.status.ok() && r.httpStatus >= 500) ||
                           (r.status.ok() && r.httpStatus >= 200 && r.httpStatus < 300 &&
                            (st.code() == Code::INTERNAL || st.code() == Code::UNAVAILABLE));
    if (ambiguous) return canLookup ? CreateStep::LOOKUP : CreateStep::UNKNOWN_SENT;
    // "external_task_id already exists": an earlier create was still being processed when a
    // lookup said not found, or libcurl silently re-sent a create whose reused keep-alive
    // connection died without an answer. Our external id is the idempotency key: adopt it.
    if (st.providerCode() == 1201 && canLookup && haveExternalId &&
        (afterAmbiguous || st.message().find("external_task_id") != std::string::npos))
        return CreateStep::ADOPT;
    return st.retryable() ? CreateStep::RETRY : CreateStep::FAIL;
}

bool mayRetry(const Status& st, int attempt, int maxAttempts) {
    return st.retryable() && attempt < maxAttempts;
}

}  // namespace detail
}  // namespace remote
}  // namespace cvgen
