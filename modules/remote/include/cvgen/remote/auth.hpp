#ifndef CVGEN_REMOTE_AUTH_HPP
#define CVGEN_REMOTE_AUTH_HPP

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/status.hpp"
#include "cvgen/remote/http.hpp"

namespace cvgen {
namespace remote {

/** @brief How a profile authenticates. */
enum class AuthStyle {
    BEARER,     ///< `Authorization: Bearer <api key>`
    KLING_JWT,  ///< `Authorization: Bearer <HS256 JWT>` from access key + secret key
    API_KEY,    ///< `Api-Key: <api key>` (Ideogram)
};

/** @brief Wire/config spelling: "bearer", "kling_jwt", "api_key". */
const char* toString(AuthStyle s) noexcept;
/** @brief Parses the spelling of toString(AuthStyle); nullopt when unknown. */
std::optional<AuthStyle> parseAuthStyle(const std::string& s) noexcept;

/** @brief Keys, handed in by the application (the library never reads the environment). */
struct Credentials {
    std::string apiKey;     ///< BEARER / API_KEY
    std::string accessKey;  ///< KLING_JWT
    std::string secretKey;  ///< KLING_JWT
};

/** @brief Builds a Kling JWT: header {"alg":"HS256","typ":"JWT"}, payload
 * {"iss": accessKey, "exp": now+ttl, "nbf": now-5} (Unix seconds), HMAC-SHA256 with secretKey,
 * base64url without padding. */
std::string makeKlingJwt(const std::string& accessKey, const std::string& secretKey,
                         std::chrono::system_clock::time_point now,
                         std::chrono::seconds ttl = std::chrono::seconds(1800));

/** @brief Parameters of the JWT flavour. */
struct JwtParams {
    std::chrono::seconds ttl{1800};
    std::chrono::seconds refreshMargin{300};  ///< re-issue this long before exp
    /** @brief Clock (tests inject one); default system_clock::now. */
    std::function<std::chrono::system_clock::time_point()> clock;
};

/** @brief Produces the auth header of each request; the JWT flavour caches its token and
 * re-issues it before expiry. Thread-safe. */
class Authenticator {
public:
    virtual ~Authenticator() = default;
    /** @brief The header to add (name, value). */
    virtual std::pair<std::string, std::string> header() = 0;
    /** @brief Drops a cached token (after a 1003/1004 answer) so the next header() re-issues. */
    virtual void invalidate() = 0;
    /** @brief True when invalidate() can produce a different credential (JWT). */
    virtual bool canReissue() const = 0;
    /** @brief Every secret this authenticator may put on the wire (for log redaction). */
    virtual std::vector<std::string> secrets() const = 0;

    /** @brief Checks the credentials the style needs.
     * @return UNAUTHENTICATED naming what is missing. */
    static Result<cv::Ptr<Authenticator>> create(AuthStyle style, const Credentials& creds,
                                                 const JwtParams& jwt = JwtParams());
};

/** @brief Transport decorator adding the auth header; on HTTP 401 with business code 1003/1004
 * (token not yet valid / expired) it re-issues the JWT and retries the request once. */
cv::Ptr<HttpTransport> withAuth(cv::Ptr<HttpTransport> inner, cv::Ptr<Authenticator> auth);

}  // namespace remote
}  // namespace cvgen

#endif  // CVGEN_REMOTE_AUTH_HPP
