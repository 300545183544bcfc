#include "crypto.hpp"

#include <rapidjson/document.h>

#include "cvgen/core/base64.hpp"
#include "cvgen/core/hmac.hpp"
#include "cvgen/emulator/server.hpp"

namespace cvgen::emulator {
namespace detail {

bool looksLikeJwt(std::string_view token) {
    size_t dots = 0;
    for (char c : token) dots += c == '.';
    return dots == 2 && token.size() >= 5;
}

namespace {

bool splitJwt(std::string_view token, std::string_view parts[3]) {
    const size_t a = token.find('.');
    if (a == std::string_view::npos) return false;
    const size_t b = token.find('.', a + 1);
    if (b == std::string_view::npos || token.find('.', b + 1) != std::string_view::npos)
        return false;
    parts[0] = token.substr(0, a);
    parts[1] = token.substr(a + 1, b - a - 1);
    parts[2] = token.substr(b + 1);
    return !parts[0].empty() && !parts[1].empty() && !parts[2].empty();
}

bool readSeconds(const rapidjson::Value& obj, const char* name, int64_t* out, bool* present) {
    *present = false;
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd()) return true;
    *present = true;
    if (it->value.IsInt64()) {
        *out = it->value.GetInt64();
        return true;
    }
    if (it->value.IsNumber()) {
        *out = static_cast<int64_t>(it->value.GetDouble());
        return true;
    }
    return false;
}

}  // namespace

std::string jwtIssuerUnverified(std::string_view token) {
    std::string_view parts[3];
    if (!splitJwt(token, parts)) return "";
    auto payload = base64UrlDecode(parts[1]);
    if (!payload.ok()) return "";
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(payload->c_str(), payload->size());
    if (doc.HasParseError() || !doc.IsObject()) return "";
    auto it = doc.FindMember("iss");
    return it != doc.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

JwtCheck verifyKlingJwt(std::string_view token, const std::string& accessKey,
                        const std::string& secretKey, int64_t nowSeconds) {
    JwtCheck r;
    std::string_view parts[3];
    auto invalid = [&](const char* why) {
        r.code = 1002;
        r.message = std::string("Authorization is invalid: ") + why;
        return r;
    };
    if (!splitJwt(token, parts)) return invalid("not a JWT");
    auto header = base64UrlDecode(parts[0]);
    auto payload = base64UrlDecode(parts[1]);
    auto sig = base64UrlDecode(parts[2]);
    if (!header.ok() || !payload.ok() || !sig.ok()) return invalid("bad base64url");
    rapidjson::Document h, p;
    h.Parse<rapidjson::kParseIterativeFlag>(header->c_str(), header->size());
    p.Parse<rapidjson::kParseIterativeFlag>(payload->c_str(), payload->size());
    if (h.HasParseError() || !h.IsObject() || p.HasParseError() || !p.IsObject())
        return invalid("bad JSON");
    auto alg = h.FindMember("alg");
    if (alg == h.MemberEnd() || !alg->value.IsString() ||
        std::string(alg->value.GetString()) != "HS256")
        return invalid("alg must be HS256");
    auto iss = p.FindMember("iss");
    if (iss == p.MemberEnd() || !iss->value.IsString()) return invalid("iss missing");
    r.issuer = iss->value.GetString();
    if (r.issuer != accessKey) {
        r.code = 1000;
        r.message = "Authentication failed: unknown access key";
        return r;
    }
    const std::string_view signingInput = token.substr(0, parts[0].size() + 1 + parts[1].size());
    if (!constantTimeEqual(*sig, hmacSha256(secretKey, signingInput)))
        return invalid("signature mismatch");
    int64_t exp = 0, nbf = 0;
    bool hasExp = false, hasNbf = false;
    if (!readSeconds(p, "exp", &exp, &hasExp) || !readSeconds(p, "nbf", &nbf, &hasNbf))
        return invalid("exp/nbf must be numbers");
    if (!hasExp) return invalid("exp missing");
    if (hasNbf && nowSeconds < nbf) {
        r.code = 1003;
        r.message = "Authorization is not yet valid";
        return r;
    }
    if (nowSeconds >= exp) {
        r.code = 1004;
        r.message = "Authorization has expired";
        return r;
    }
    return r;
}

}  // namespace detail

}  // namespace cvgen::emulator
