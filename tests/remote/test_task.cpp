#include <gtest/gtest.h>

#include "fake_transport.hpp"

namespace cvgen {
namespace remote {
namespace {

using namespace std::chrono_literals;
using testing::jsonResponse;

struct ErrorCase {
    int http;
    int code;
    Code expected;
    bool retryable;
};

TEST(Remote_Errors, everyBusinessCodeOfTheProtocolTable) {
    const std::vector<ErrorCase> cases = {
        {401, 1000, Code::UNAUTHENTICATED, false},    {401, 1001, Code::UNAUTHENTICATED, false},
        {401, 1002, Code::UNAUTHENTICATED, false},    {401, 1003, Code::UNAUTHENTICATED, true},
        {401, 1004, Code::UNAUTHENTICATED, true},     {429, 1100, Code::RESOURCE_EXHAUSTED, false},
        {429, 1101, Code::RESOURCE_EXHAUSTED, false}, {429, 1102, Code::RESOURCE_EXHAUSTED, false},
        {403, 1103, Code::PERMISSION_DENIED, false},  {400, 1200, Code::INVALID_ARGUMENT, false},
        {400, 1201, Code::INVALID_ARGUMENT, false},   {404, 1202, Code::NOT_FOUND, false},
        {404, 1203, Code::NOT_FOUND, false},          {400, 1300, Code::INVALID_ARGUMENT, false},
        {400, 1301, Code::INVALID_ARGUMENT, false},   {429, 1302, Code::RESOURCE_EXHAUSTED, true},
        {429, 1303, Code::RESOURCE_EXHAUSTED, true},  {429, 1304, Code::PERMISSION_DENIED, false},
        {500, 5000, Code::UNAVAILABLE, true},         {503, 5001, Code::UNAVAILABLE, true},
        {504, 5002, Code::UNAVAILABLE, true},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.code);
        const auto r =
            jsonResponse(c.http, "{\"code\":" + std::to_string(c.code) + ",\"message\":\"detail " +
                                     std::to_string(c.code) + "\",\"request_id\":\"rid-9\"}");
        const Status st = statusFromResponse(r, "GET /v1/images/generations/1", false);
        EXPECT_EQ(st.code(), c.expected);
        EXPECT_EQ(st.retryable(), c.retryable);
        EXPECT_EQ(st.providerCode(), c.code);
        EXPECT_EQ(st.httpStatus(), c.http);
        EXPECT_EQ(st.requestId(), "rid-9");
        EXPECT_NE(st.message().find("detail " + std::to_string(c.code)), std::string::npos);
    }
}

TEST(Remote_Errors, httpStatusWithoutBusinessCode) {
    const std::vector<ErrorCase> cases = {
        {400, 0, Code::INVALID_ARGUMENT, false},   {401, 0, Code::UNAUTHENTICATED, false},
        {402, 0, Code::RESOURCE_EXHAUSTED, false}, {403, 0, Code::PERMISSION_DENIED, false},
        {422, 0, Code::INVALID_ARGUMENT, false},   {429, 0, Code::RESOURCE_EXHAUSTED, true},
        {500, 0, Code::UNAVAILABLE, true},         {502, 0, Code::UNAVAILABLE, true},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.http);
        const Status st = statusFromResponse(jsonResponse(c.http, "{\"error\":\"nope\"}"),
                                             "POST /upscale", false);
        EXPECT_EQ(st.code(), c.expected);
        EXPECT_EQ(st.retryable(), c.retryable);
        EXPECT_NE(st.message().find("nope"), std::string::npos);
    }
}

TEST(Remote_Errors, successAndBusinessErrorInside200) {
    EXPECT_TRUE(statusFromResponse(jsonResponse(200, "{\"code\":0,\"data\":{}}"), "r", true).ok());
    EXPECT_TRUE(
        statusFromResponse(jsonResponse(200, "{\"created\":\"x\",\"data\":[]}"), "r", true).ok());
    const Status st =
        statusFromResponse(jsonResponse(200, "{\"code\":1201,\"message\":\"n: bad\"}"), "r", true);
    EXPECT_EQ(st.code(), Code::INVALID_ARGUMENT);
    EXPECT_EQ(st.providerCode(), 1201);
}

TEST(Remote_Errors, createRoute404SaysRouteNotAvailable) {
    const Status st = statusFromResponse(jsonResponse(404, "{\"message\":\"Not Found\"}"),
                                         "POST /kling/v1/images/editing/expand", true);
    EXPECT_EQ(st.code(), Code::NOT_FOUND);
    EXPECT_NE(st.message().find(
                  "route not available at this provider (POST /kling/v1/images/editing/expand)"),
              std::string::npos);
    HttpResponse html;
    html.httpStatus = 404;
    html.body = "<html><body>404 page not found</body></html>";
    EXPECT_EQ(statusFromResponse(html, "POST /x", true).code(), Code::NOT_FOUND);
}

TEST(Remote_Errors, htmlAndMalformedBodiesAreTyped) {
    HttpResponse r;
    r.httpStatus = 200;
    r.body = "<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>";
    Status st = statusFromResponse(r, "GET /v1/images/generations/1", false);
    EXPECT_EQ(st.code(), Code::UNAVAILABLE);
    EXPECT_TRUE(st.retryable());
    r.httpStatus = 502;
    r.body = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    st = statusFromResponse(r, "GET /v1/images/generations/1", false);
    EXPECT_EQ(st.code(), Code::UNAVAILABLE);
    EXPECT_TRUE(st.retryable());
    r.httpStatus = 200;
    r.body = "{\"code\":0,\"data\":{\"task_id\":";
    st = statusFromResponse(r, "GET /v1/images/generations/1", false);
    EXPECT_EQ(st.code(), Code::INTERNAL);
    EXPECT_FALSE(st.retryable());
}

TEST(Remote_Errors, retryAfterHonoured) {
    auto r = jsonResponse(429, "{\"code\":1303,\"message\":\"busy\"}", {{"retry-after", "7"}});
    const Status st = statusFromResponse(r, "POST /v1/images/generations", true);
    ASSERT_TRUE(st.retryAfter().has_value());
    EXPECT_EQ(*st.retryAfter(), 7000ms);
    const auto now =
        std::chrono::system_clock::from_time_t(1445412480);  // Wed, 21 Oct 2015 07:28:00
    EXPECT_EQ(parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now), 30000ms);
    EXPECT_EQ(parseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", now), 0ms);
    EXPECT_FALSE(parseRetryAfter("soon", now).has_value());
    EXPECT_FALSE(parseRetryAfter("", now).has_value());
}

TEST(Remote_Errors, transportFailureKeepsItsCode) {
    HttpResponse r;
    r.status = unavailable("connection refused").withRetryable(true);
    const Status st = statusFromResponse(r, "POST /v1/images/generations", true);
    EXPECT_EQ(st.code(), Code::UNAVAILABLE);
    EXPECT_TRUE(st.retryable());
}

TEST(Remote_TaskObject, acceptsEmptyNullAndMissingResult) {
    for (const std::string result : {"{}", "null", ""}) {
        SCOPED_TRACE(result);
        const std::string body = "{\"task_id\":\"t1\",\"task_status\":\"processing\"" +
                                 (result.empty() ? "" : ",\"task_result\":" + result) + "}";
        auto t = parseTaskObject(body);
        ASSERT_TRUE(t.ok()) << t.status();
        EXPECT_EQ(t->taskId, "t1");
        EXPECT_EQ(t->status, TaskStatus::PROCESSING);
        EXPECT_TRUE(t->images.empty());
    }
}

TEST(Remote_TaskObject, parsesEverythingIncludingNumericIdsAndSeries) {
    auto t = parseTaskObject(
        "{\"task_id\":123456789012,\"task_status\":\"succeed\",\"task_status_msg\":\"\","
        "\"task_info\":{\"external_task_id\":\"e-1\"},\"created_at\":1733851336696,"
        "\"updated_at\":1733851340000,\"final_unit_deduction\":\"4\",\"task_result\":{"
        "\"result_type\":\"series\",\"images\":[{\"index\":1,\"url\":\"http://x/1.png\"}],"
        "\"series_images\":[{\"index\":2,\"url\":\"http://x/2.png\",\"watermark_url\":\"w\"}]}}");
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->taskId, "123456789012");
    EXPECT_EQ(t->externalTaskId, "e-1");
    EXPECT_EQ(t->status, TaskStatus::SUCCEED);
    EXPECT_EQ(t->createdAtMs, 1733851336696);
    EXPECT_DOUBLE_EQ(t->unitsDeducted, 4.0);
    ASSERT_EQ(t->images.size(), 2u);
    EXPECT_EQ(t->images[1].index, 2);
    EXPECT_EQ(t->images[1].watermarkUrl, "w");
}

TEST(Remote_TaskObject, failedTaskAndMalformed) {
    auto t = parseTaskObject(
        "{\"task_id\":\"t\",\"task_status\":\"failed\",\"task_status_msg\":\"unsafe\"}");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->status, TaskStatus::FAILED);
    EXPECT_EQ(t->statusMessage, "unsafe");
    EXPECT_EQ(parseTaskObject("{\"task_status\":\"failed\"}").code(), Code::INTERNAL);
    EXPECT_EQ(parseTaskObject("<html>").code(), Code::INTERNAL);
}

const std::string kSecret = "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXR0ZXN0c2VjcmV0MTI=";
const std::string kBody =
    "{\"id\":\"1234567890\",\"status\":\"succeeded\",\"message\":\"\",\"create_time\":"
    "1781080778802,\"update_time\":1781080794151}";
const std::string kSig = "v1,UsKlJP00XoQyOn410NM9xv34sP+Gl0jnOO9Lcpr7NJ4=";

std::chrono::system_clock::time_point at(long long s) {
    return std::chrono::system_clock::time_point(std::chrono::seconds(s));
}

TEST(Remote_Webhook, protocolTestVector) {
    EXPECT_EQ(signWebhook(kSecret, "9876543210", "1781080794", kBody), kSig);
    EXPECT_TRUE(
        verifyWebhook(kSecret, "9876543210", "1781080794", kSig, kBody, at(1781080794)).ok());
    // Several signatures (key rotation): any match is enough.
    EXPECT_TRUE(
        verifyWebhook(kSecret, "9876543210", "1781080794", "v1,AAAA " + kSig, kBody, at(1781080800))
            .ok());
}

TEST(Remote_Webhook, rejectsTamperingAndStaleTimestamps) {
    EXPECT_EQ(verifyWebhook(kSecret, "9876543210", "1781080794", kSig, kBody + " ", at(1781080794))
                  .code(),
              Code::UNAUTHENTICATED);
    EXPECT_EQ(
        verifyWebhook(kSecret, "9876543211", "1781080794", kSig, kBody, at(1781080794)).code(),
        Code::UNAUTHENTICATED);
    EXPECT_EQ(verifyWebhook(kSecret, "9876543210", "1781080794", kSig, kBody, at(1781080794 + 301))
                  .code(),
              Code::UNAUTHENTICATED);
    EXPECT_EQ(verifyWebhook(kSecret, "9876543210", "1781080794", kSig, kBody, at(1781080794 - 301))
                  .code(),
              Code::UNAUTHENTICATED);
    EXPECT_TRUE(
        verifyWebhook(kSecret, "9876543210", "1781080794", kSig, kBody, at(1781080794 + 299)).ok());
    EXPECT_EQ(verifyWebhook("whsec_!!!", "1", "1781080794", kSig, kBody, at(1781080794)).code(),
              Code::INVALID_ARGUMENT);
    EXPECT_EQ(verifyWebhook(kSecret, "1", "12abc", kSig, kBody, at(1781080794)).code(),
              Code::INVALID_ARGUMENT);
}

TEST(Remote_Webhook, callbackBodyParsesAsTask) {
    auto t = parseTaskObject(testing::taskJson("cb-1", "succeed", "ext-cb", 2));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->externalTaskId, "ext-cb");
    EXPECT_EQ(t->images.size(), 2u);
}

}  // namespace
}  // namespace remote
}  // namespace cvgen
