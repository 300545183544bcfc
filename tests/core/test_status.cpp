#include <gtest/gtest.h>

#include "cvgen/core/status.hpp"

using namespace cvgen;

TEST(Core_Status, defaultIsOk) {
    Status st;
    EXPECT_TRUE(st.ok());
    EXPECT_EQ(st.code(), Code::OK);
    EXPECT_EQ(st.toString(), "OK");
}

TEST(Core_Status, carriesProviderDetails) {
    Status st = resourceExhausted("concurrency over the resource pack limit")
                    .withProviderCode(1303)
                    .withHttpStatus(429)
                    .withRequestId("req-1")
                    .withRetryable(true)
                    .withRetryAfter(std::chrono::milliseconds(2000));
    EXPECT_EQ(st.code(), Code::RESOURCE_EXHAUSTED);
    EXPECT_EQ(st.providerCode(), 1303);
    EXPECT_EQ(st.httpStatus(), 429);
    EXPECT_TRUE(st.retryable());
    ASSERT_TRUE(st.retryAfter().has_value());
    EXPECT_EQ(st.retryAfter()->count(), 2000);
    EXPECT_EQ(st.toString(),
              "RESOURCE_EXHAUSTED: concurrency over the resource pack limit "
              "[provider code 1303, HTTP 429, request id req-1]");
}

TEST(Core_Status, codeNamesRoundTrip) {
    for (int i = 0; i <= static_cast<int>(Code::UNAUTHENTICATED); ++i) {
        const auto c = static_cast<Code>(i);
        SCOPED_TRACE(codeName(c));
        auto back = codeFromName(codeName(c));
        ASSERT_TRUE(back.has_value());
        EXPECT_EQ(*back, c);
    }
    EXPECT_FALSE(codeFromName("NOPE").has_value());
}

TEST(Core_Status, withContextPrefixesMessage) {
    Status st = dataLoss("truncated").withContext("download image 2");
    EXPECT_EQ(st.code(), Code::DATA_LOSS);
    EXPECT_EQ(st.message(), "download image 2: truncated");
}

TEST(Core_Result, valueAndError) {
    Result<int> good = 42;
    ASSERT_TRUE(good.ok());
    EXPECT_EQ(*good, 42);
    EXPECT_TRUE(good.status().ok());

    Result<int> bad = unavailable("server said 503");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.code(), Code::UNAVAILABLE);
    EXPECT_TRUE(bad.status().retryable());
    EXPECT_EQ(bad.valueOr(7), 7);
    EXPECT_THROW(bad.value(), std::logic_error);
}

TEST(Core_Result, okStatusWithoutValueIsACallerBug) {
    EXPECT_THROW(Result<int>{Status()}, std::logic_error);
}

namespace {
Status failsAt(int step, int where) {
    return step == where ? invalidArgument("step " + std::to_string(step)) : Status();
}
Status runSteps(int where) {
    for (int i = 0; i < 3; ++i) CVGEN_RETURN_IF_ERROR(failsAt(i, where));
    return Status();
}
}  // namespace

TEST(Core_Status, returnIfErrorStopsAtFirstFailure) {
    EXPECT_TRUE(runSteps(-1).ok());
    EXPECT_EQ(runSteps(1).message(), "step 1");
}
