#include "cvgen/remote/auth.hpp"

#include <mutex>

#include "cvgen/core/base64.hpp"
#include "cvgen/core/hmac.hpp"
#include "json_util.hpp"

namespace cvgen {
namespace remote {

const char* toString(AuthStyle s) noexcept {
    switch (s) {
        case AuthStyle::BEARER:
            return "bearer";
        case AuthStyle::KLING_JWT:
            return "kling_jwt";
        case AuthStyle::API_KEY:
            return "api_key";
    }
    return "?";
}

std::optional<AuthStyle> parseAuthStyle(const std::string& s) noexcept {
    if (s == "bearer") return AuthStyle::BEARER;
    if (s == "kling_jwt" || s == "jwt") return AuthStyle::KLING_JWT;
    if (s == "api_key") return AuthStyle::API_KEY;
    return std::nullopt;
}

namespace {

std::string jsonEscape(const std::string& s) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.String(s.c_str(), rapidjson::SizeType(s.size()));
    return sb.GetString();
}

class StaticAuth final : public Authenticator {
public:
    StaticAuth(std::string name, std::string value, std::string key)
        : name_(std::move(name)), value_(std::move(value)), key_(std::move(key)) {}
    std::pair<std::string, std::string> header() override { return {name_, value_}; }
    void invalidate() override {}
    bool canReissue() const override { return false; }
    std::vector<std::string> secrets() const override { return {key_}; }

private:
    std::string name_, value_, key_;
};

class JwtAuth final : public Authenticator {
public:
    JwtAuth(Credentials c, JwtParams p) : c_(std::move(c)), p_(std::move(p)) {
        if (!p_.clock) p_.clock = [] { return std::chrono::system_clock::now(); };
    }
    std::pair<std::string, std::string> header() override {
        std::lock_guard<std::mutex> lock(mu_);
        const auto now = p_.clock();
        if (token_.empty() || now + p_.refreshMargin >= expires_) {
            token_ = makeKlingJwt(c_.accessKey, c_.secretKey, now, p_.ttl);
            expires_ = now + p_.ttl;
            issued_.push_back(token_);
            if (issued_.size() > 8) issued_.erase(issued_.begin());
        }
        return {"Authorization", "Bearer " + token_};
    }
    void invalidate() override {
        std::lock_guard<std::mutex> lock(mu_);
        token_.clear();
    }
    bool canReissue() const override { return true; }
    std::vector<std::string> secrets() const override {
        std::lock_guard<std::mutex> lock(mu_);
        std::vector<std::string> s = issued_;
        s.push_back(c_.secretKey);
        s.push_back(c_.accessKey);
        return s;
    }

private:
    Credentials c_;
    JwtParams p_;
    mutable std::mutex mu_;
    std::string token_;
    std::chrono::system_clock::time_point expires_;
    std::vector<std::string> issued_;
};

class AuthTransport final : public HttpTransport {
public:
    AuthTransport(cv::Ptr<HttpTransport> inner, cv::Ptr<Authenticator> auth)
        : inner_(std::move(inner)), auth_(std::move(auth)) {}

    HttpResponse send(const HttpRequest& req) override {
        HttpResponse r = inner_->send(withHeader(req));
        if (r.status.ok() && r.httpStatus == 401 && auth_->canReissue() && tokenRejected(r.body)) {
            auth_->invalidate();
            r = inner_->send(withHeader(req));
        }
        return r;
    }

    void sendAsync(HttpRequest req, HttpDone done) override {
        HttpRequest first = withHeader(req);
        auto inner = inner_;
        auto auth = auth_;
        inner_->sendAsync(std::move(first), [inner, auth, req = std::move(req),
                                             done = std::move(done)](HttpResponse r) mutable {
            if (r.status.ok() && r.httpStatus == 401 && auth->canReissue() &&
                tokenRejected(r.body)) {
                auth->invalidate();
                HttpRequest again = req;
                again.headers.push_back(auth->header());
                inner->sendAsync(std::move(again), std::move(done));
                return;
            }
            done(std::move(r));
        });
    }

private:
    static bool tokenRejected(const std::string& body) {
        rapidjson::Document d;
        if (!detail::parseJson(body, d)) return false;
        const auto code = detail::getInt(d, "code");
        return code && (*code == 1003 || *code == 1004);
    }
    HttpRequest withHeader(const HttpRequest& req) {
        HttpRequest r = req;
        r.headers.push_back(auth_->header());
        return r;
    }
    cv::Ptr<HttpTransport> inner_;
    cv::Ptr<Authenticator> auth_;
};

}  // namespace

std::string makeKlingJwt(const std::string& accessKey, const std::string& secretKey,
                         std::chrono::system_clock::time_point now, std::chrono::seconds ttl) {
    const long long t =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    const std::string header = R"({"alg":"HS256","typ":"JWT"})";
    const std::string payload = "{\"iss\":" + jsonEscape(accessKey) +
                                ",\"exp\":" + std::to_string(t + ttl.count()) +
                                ",\"nbf\":" + std::to_string(t - 5) + "}";
    const std::string signingInput = base64UrlEncode(header) + "." + base64UrlEncode(payload);
    return signingInput + "." + base64UrlEncode(hmacSha256(secretKey, signingInput));
}

Result<cv::Ptr<Authenticator>> Authenticator::create(AuthStyle style, const Credentials& creds,
                                                     const JwtParams& jwt) {
    switch (style) {
        case AuthStyle::BEARER:
            if (creds.apiKey.empty()) return unauthenticated("an API key is required (Bearer)");
            return cv::Ptr<Authenticator>(
                cv::makePtr<StaticAuth>("Authorization", "Bearer " + creds.apiKey, creds.apiKey));
        case AuthStyle::API_KEY:
            if (creds.apiKey.empty()) return unauthenticated("an API key is required (Api-Key)");
            return cv::Ptr<Authenticator>(
                cv::makePtr<StaticAuth>("Api-Key", creds.apiKey, creds.apiKey));
        case AuthStyle::KLING_JWT:
            if (creds.accessKey.empty() || creds.secretKey.empty()) {
                // Kling also accepts a plain API key as Bearer.
                if (!creds.apiKey.empty()) return create(AuthStyle::BEARER, creds, jwt);
                return unauthenticated(
                    "an access key and a secret key (or an API key) are required");
            }
            CV_Assert(jwt.ttl.count() > 10 && jwt.refreshMargin < jwt.ttl);
            return cv::Ptr<Authenticator>(cv::makePtr<JwtAuth>(creds, jwt));
    }
    return unauthenticated("unknown auth style");
}

cv::Ptr<HttpTransport> withAuth(cv::Ptr<HttpTransport> inner, cv::Ptr<Authenticator> auth) {
    CV_Assert(inner && auth);
    return cv::makePtr<AuthTransport>(std::move(inner), std::move(auth));
}

}  // namespace remote
}  // namespace cvgen
