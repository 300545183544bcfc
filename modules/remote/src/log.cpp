#include "cvgen/remote/log.hpp"

#include <algorithm>
#include <cctype>

namespace cvgen {
namespace remote {
namespace {

bool isB64(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=' ||
           c == '-' || c == '_';
}
bool isJwtChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

void replaceAll(std::string& s, const std::string& what, const std::string& with) {
    if (what.empty()) return;
    for (size_t pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + with.size()))
        s.replace(pos, what.size(), with);
}

// Masks what follows "<name>:" (case-insensitive) up to the end of the line, a quote or a comma.
void maskHeaderValues(std::string& s, const std::string& lowerName) {
    std::string lower = toLowerAscii(s);
    size_t pos = 0;
    while ((pos = lower.find(lowerName, pos)) != std::string::npos) {
        size_t v = pos + lowerName.size();
        while (v < s.size() && (s[v] == ' ' || s[v] == '"' || s[v] == ':')) ++v;
        size_t e = v;
        while (e < s.size() && s[e] != '\n' && s[e] != '\r' && s[e] != '"' && s[e] != ',') ++e;
        if (e > v) {
            s.replace(v, e - v, "[redacted]");
            lower = toLowerAscii(s);
        }
        pos = v;
    }
}

}  // namespace

std::string redact(const std::string& text, const std::vector<std::string>& secrets) {
    // Order matters for speed on multi-megabyte bodies: the linear passes run on the full text,
    // the header masking on what is left after long base64 runs were cut.
    std::string s = text;
    for (const auto& secret : secrets)
        if (secret.size() >= 4) replaceAll(s, secret, "[redacted]");
    // JWTs: "eyJ…" spans with at least two dots. Each span is scanned once.
    for (size_t pos = s.find("eyJ"); pos != std::string::npos;) {
        size_t e = pos;
        int dots = 0;
        while (e < s.size() && isJwtChar(s[e])) dots += s[e++] == '.';
        if (dots >= 2) {
            s.replace(pos, e - pos, "[jwt]");
            e = pos + 5;
        }
        pos = s.find("eyJ", std::max(e, pos + 1));
    }
    // Long base64 runs (image payloads): keep a short head.
    std::string out;
    out.reserve(std::min<size_t>(s.size(), 4096));
    for (size_t i = 0; i < s.size();) {
        size_t e = i;
        while (e < s.size() && isB64(s[e])) ++e;
        if (e - i > 64) {
            out.append(s, i, 8);
            out += "...<base64 " + std::to_string(e - i) + " chars>";
            i = e;
        } else if (e > i) {
            out.append(s, i, e - i);
            i = e;
        } else {
            out += s[i++];
        }
    }
    maskHeaderValues(out, "authorization:");
    maskHeaderValues(out, "api-key:");
    maskHeaderValues(out, "\"secret_key\"");
    return out;
}

namespace {

const char* methodName(HttpMethod m) {
    return m == HttpMethod::POST ? "POST" : "GET";
}

class LoggingTransport final : public HttpTransport {
public:
    LoggingTransport(cv::Ptr<HttpTransport> inner, LogCallback log, std::vector<std::string> s)
        : inner_(std::move(inner)), log_(std::move(log)), secrets_(std::move(s)) {}

    HttpResponse send(const HttpRequest& req) override {
        if (!log_) return inner_->send(req);
        emit(log_, secrets_, LogLevel::DEBUG, requestLine(req));
        HttpResponse r = inner_->send(req);
        logResponse(log_, secrets_, req, r);
        return r;
    }

    void sendAsync(HttpRequest req, HttpDone done) override {
        if (!log_) return inner_->sendAsync(std::move(req), std::move(done));
        emit(log_, secrets_, LogLevel::DEBUG, requestLine(req));
        const std::string method = methodName(req.method), url = req.url;
        inner_->sendAsync(std::move(req), [log = log_, secrets = secrets_, method, url,
                                           done = std::move(done)](HttpResponse r) {
            logResponse(log, secrets, method, url, r);
            done(std::move(r));
        });
    }

private:
    static std::string requestLine(const HttpRequest& req) {
        std::string line = std::string("-> ") + methodName(req.method) + " " + req.url;
        for (const auto& [k, v] : req.headers) {
            const std::string lk = toLowerAscii(k);
            const bool secret = lk == "authorization" || lk == "api-key";
            line += "\n   " + k + ": " + (secret ? std::string("[redacted]") : v);
        }
        if (!req.body.empty()) line += "\n   " + req.body;
        for (const auto& p : req.parts)
            line += "\n   part " + p.name + " (" + std::to_string(p.data.size()) + " bytes)" +
                    (p.filename.empty() ? ": " + p.data : std::string());
        return line;
    }
    static void logResponse(const LogCallback& log, const std::vector<std::string>& secrets,
                            const HttpRequest& req, const HttpResponse& r) {
        logResponse(log, secrets, methodName(req.method), req.url, r);
    }
    static void logResponse(const LogCallback& log, const std::vector<std::string>& secrets,
                            const std::string& method, const std::string& url,
                            const HttpResponse& r) {
        if (!r.status.ok()) {
            emit(log, secrets, LogLevel::WARN,
                 "<- " + method + " " + url + " failed: " + r.status.toString() +
                     (r.mayHaveReachedServer ? " (may have reached the server)" : ""));
        } else {
            const bool binary =
                r.body.size() > 4 && !(r.body[0] == '{' || r.body[0] == '[' || r.body[0] == '<');
            emit(log, secrets, r.httpStatus >= 400 ? LogLevel::WARN : LogLevel::DEBUG,
                 "<- HTTP " + std::to_string(r.httpStatus) + " " + url + " (" +
                     std::to_string(r.elapsed.count()) + " ms, " + std::to_string(r.body.size()) +
                     " bytes)" + (binary ? std::string() : "\n   " + r.body));
        }
    }

private:
    // Redact first, then cut: a cut must never split a secret and leave half of it.
    static void emit(const LogCallback& log, const std::vector<std::string>& secrets,
                     LogLevel level, const std::string& line) {
        std::string s = redact(line, secrets);
        if (s.size() > 4096) s = s.substr(0, 4096) + "...(" + std::to_string(s.size()) + " chars)";
        log(level, s);
    }

    cv::Ptr<HttpTransport> inner_;
    LogCallback log_;
    std::vector<std::string> secrets_;
};

}  // namespace

cv::Ptr<HttpTransport> withLogging(cv::Ptr<HttpTransport> inner, LogCallback log,
                                   std::vector<std::string> secrets) {
    CV_Assert(inner);
    return cv::makePtr<LoggingTransport>(std::move(inner), std::move(log), std::move(secrets));
}

}  // namespace remote
}  // namespace cvgen
