// Private RapidJSON helpers (never included by public headers).
#ifndef CVGEN_REMOTE_JSON_UTIL_HPP
#define CVGEN_REMOTE_JSON_UTIL_HPP

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

namespace cvgen {
namespace remote {
namespace detail {

/** Parses `text` as JSON; false when it is not valid JSON. */
inline bool parseJson(const std::string& text, rapidjson::Document& d) {
    d.Parse(text.c_str(), text.size());
    return !d.HasParseError();
}

inline const rapidjson::Value* member(const rapidjson::Value& obj, const char* key) {
    if (!obj.IsObject()) return nullptr;
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
}

/** A string member, or a number member printed as text (relays send ids both ways). */
inline std::string getString(const rapidjson::Value& obj, const char* key) {
    const rapidjson::Value* v = member(obj, key);
    if (!v) return {};
    if (v->IsString()) return std::string(v->GetString(), v->GetStringLength());
    if (v->IsInt64()) return std::to_string(v->GetInt64());
    if (v->IsUint64()) return std::to_string(v->GetUint64());
    if (v->IsNumber()) return std::to_string(v->GetDouble());
    return {};
}

/** An integer member given as a number or a numeric string ("n": "2"). */
inline std::optional<int64_t> getInt(const rapidjson::Value& obj, const char* key) {
    const rapidjson::Value* v = member(obj, key);
    if (!v) return std::nullopt;
    if (v->IsInt64()) return v->GetInt64();
    if (v->IsNumber()) {
        // A float outside int64's range (or NaN) is not an integer we can use: converting it
        // would be undefined behaviour (found by fuzz_task).
        const double d = v->GetDouble();
        if (!(d >= -9.2e18 && d <= 9.2e18)) return std::nullopt;
        return int64_t(d);
    }
    if (v->IsString() && v->GetStringLength() > 0) {
        char* end = nullptr;
        const long long x = std::strtoll(v->GetString(), &end, 10);
        if (end && *end == '\0') return int64_t(x);
    }
    return std::nullopt;
}

/** A number member given as a number or a numeric string. */
inline std::optional<double> getDouble(const rapidjson::Value& obj, const char* key) {
    const rapidjson::Value* v = member(obj, key);
    if (!v) return std::nullopt;
    if (v->IsNumber()) return v->GetDouble();
    if (v->IsString() && v->GetStringLength() > 0) {
        char* end = nullptr;
        const double x = std::strtod(v->GetString(), &end);
        if (end && *end == '\0') return x;
    }
    return std::nullopt;
}

}  // namespace detail
}  // namespace remote
}  // namespace cvgen

#endif  // CVGEN_REMOTE_JSON_UTIL_HPP
