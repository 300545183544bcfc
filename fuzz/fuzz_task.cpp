// libFuzzer target: the task-envelope / callback body parser and the Standard Webhooks
// verifier of the remote client (modules/remote/src/task.cpp).
#include <chrono>
#include <cstdint>
#include <string>

#include "cvgen/remote/task.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string body(reinterpret_cast<const char*>(data), size);
    (void)cvgen::remote::parseTaskObject(body);

    // The same bytes as an HTTP answer of a create route and of a query route.
    cvgen::remote::HttpResponse r;
    r.httpStatus = size > 0 ? 200 + (data[0] % 4) * 100 : 200;
    r.body = body;
    (void)cvgen::remote::statusFromResponse(r, "POST /v1/images/editing/expand", true);
    (void)cvgen::remote::statusFromResponse(r, "GET /v1/images/editing/expand/x", false);
    (void)cvgen::remote::parseRetryAfter(body);

    // Callback verification: split the input into secret, id, timestamp, signature and body.
    std::string parts[5];
    size_t k = 0;
    for (char c : body) {
        if (c == '\n' && k < 4)
            ++k;
        else
            parts[k].push_back(c);
    }
    const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
    (void)cvgen::remote::verifyWebhook(parts[0], parts[1], parts[2], parts[3], parts[4], now);
    (void)cvgen::remote::verifyWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", parts[1], parts[2],
                                       parts[3], parts[4], now);
    return 0;
}
