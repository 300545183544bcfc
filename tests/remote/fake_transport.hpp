// A scripted HttpTransport for unit tests: a tiny in-memory Kling-like server whose behaviour
// each test adjusts, recording every request.
#ifndef CVGEN_TESTS_REMOTE_FAKE_TRANSPORT_HPP
#define CVGEN_TESTS_REMOTE_FAKE_TRANSPORT_HPP

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "cvgen/remote.hpp"

namespace cvgen {
namespace remote {
namespace testing {

inline HttpResponse jsonResponse(int http, const std::string& body,
                                 std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpResponse r;
    r.httpStatus = http;
    r.body = body;
    r.headers = std::move(headers);
    r.headers.emplace_back("content-type", "application/json");
    return r;
}

inline HttpResponse transportFailure(Status st, bool maySent) {
    HttpResponse r;
    r.status = std::move(st);
    r.mayHaveReachedServer = maySent;
    return r;
}

inline std::string envelope(const std::string& data, int code = 0,
                            const std::string& message = "SUCCEED") {
    return "{\"code\":" + std::to_string(code) + ",\"message\":\"" + message +
           "\",\"request_id\":\"req-1\"" + (data.empty() ? "" : ",\"data\":" + data) + "}";
}

inline std::string taskJson(const std::string& id, const std::string& status,
                            const std::string& ext, int nImages = 0,
                            const std::string& base = "http://fake/img/") {
    std::string imgs;
    for (int i = 0; i < nImages; ++i)
        imgs += std::string(i ? "," : "") + "{\"index\":" + std::to_string(i) + ",\"url\":\"" +
                base + std::to_string(i) + ".png\"}";
    const std::string result = nImages ? "{\"images\":[" + imgs + "]}" : "{}";
    return "{\"task_id\":\"" + id + "\",\"task_status\":\"" + status + "\",\"task_status_msg\":\"" +
           (status == "failed" ? "content moderation" : "") +
           "\",\"task_info\":{\"external_task_id\":\"" + ext +
           "\"},\"created_at\":1700000000000,\"updated_at\":1700000001000" +
           (status == "succeed" ? ",\"final_unit_deduction\":\"2.5\"" : "") +
           ",\"task_result\":" + result + "}";
}

inline std::string pngBytes(int w, int h, cv::Scalar color) {
    cv::Mat m(h, w, CV_8UC3, color);
    std::vector<uint8_t> buf;
    cv::imencode(".png", m, buf);
    return std::string(buf.begin(), buf.end());
}

/** Scripted transport: `handler` answers; every request is recorded. */
class FakeTransport final : public HttpTransport {
public:
    std::function<HttpResponse(const HttpRequest&)> handler;

    HttpResponse send(const HttpRequest& req) override {
        {
            std::lock_guard<std::mutex> lock(mu_);
            requests_.push_back(req);
        }
        return handler ? handler(req) : jsonResponse(500, "{}");
    }
    std::vector<HttpRequest> requests() const {
        std::lock_guard<std::mutex> lock(mu_);
        return requests_;
    }
    int count(HttpMethod m, const std::string& urlPart) const {
        std::lock_guard<std::mutex> lock(mu_);
        int n = 0;
        for (const auto& r : requests_)
            if (r.method == m && r.url.find(urlPart) != std::string::npos) ++n;
        return n;
    }

private:
    mutable std::mutex mu_;
    std::vector<HttpRequest> requests_;
};

}  // namespace testing
}  // namespace remote
}  // namespace cvgen

#endif
