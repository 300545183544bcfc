#include "responses.hpp"

#include <ctime>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace cvgen::emulator::detail {
void json(httplib::Response& res, int status, const std::string& body) {
    res.status = status;
    res.set_content(body, kJson);
}

void envelopeError(httplib::Response& res, Family family, int status, int code,
                   const std::string& message, const std::string& requestId,
                   std::chrono::seconds retryAfter) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    if (family == Family::IDEOGRAM) {
        w.Key("error");
        w.String(message);
    } else {
        w.Key("code");
        w.Int(code);
        w.Key("message");
        w.String(message);
        w.Key("request_id");
        w.String(requestId);
    }
    w.EndObject();
    json(res, status, sb.GetString());
    if (retryAfter.count() >= 0) res.set_header("Retry-After", std::to_string(retryAfter.count()));
}

void envelopeOk(httplib::Response& res, const std::string& dataJson, const std::string& requestId) {
    json(res, 200,
         "{\"code\":0,\"message\":\"SUCCEED\",\"request_id\":\"" + requestId +
             "\",\"data\":" + dataJson + "}");
}

std::string isoNow() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000000+00:00", &tm);
    return buf;
}

}  // namespace cvgen::emulator::detail
