// Small RapidJSON helpers shared by the journal, the report and the batch runner (src only).
#ifndef CVGEN_STAGES_SRC_JSON_UTIL_HPP
#define CVGEN_STAGES_SRC_JSON_UTIL_HPP

#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace cvgen::stages::detail {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

inline void key(JsonWriter& w, const char* k, const std::string& v) {
    w.Key(k);
    w.String(v.c_str(), rapidjson::SizeType(v.size()));
}
inline void key(JsonWriter& w, const char* k, const char* v) {
    w.Key(k);
    w.String(v);
}
inline void keyInt(JsonWriter& w, const char* k, long long v) {
    w.Key(k);
    w.Int64(v);
}
inline void keyDouble(JsonWriter& w, const char* k, double v) {
    w.Key(k);
    w.Double(v);
}
inline void keyBool(JsonWriter& w, const char* k, bool v) {
    w.Key(k);
    w.Bool(v);
}
inline void keyStrings(JsonWriter& w, const char* k, const std::vector<std::string>& v) {
    w.Key(k);
    w.StartArray();
    for (const auto& s : v) w.String(s.c_str(), rapidjson::SizeType(s.size()));
    w.EndArray();
}

inline std::string getString(const rapidjson::Value& o, const char* k) {
    if (!o.IsObject()) return std::string();
    auto it = o.FindMember(k);
    if (it == o.MemberEnd() || !it->value.IsString()) return std::string();
    return std::string(it->value.GetString(), it->value.GetStringLength());
}
inline long long getInt(const rapidjson::Value& o, const char* k, long long fallback = 0) {
    if (!o.IsObject()) return fallback;
    auto it = o.FindMember(k);
    if (it == o.MemberEnd() || !it->value.IsInt64()) return fallback;
    return it->value.GetInt64();
}
inline std::vector<std::string> getStrings(const rapidjson::Value& o, const char* k) {
    std::vector<std::string> out;
    if (!o.IsObject()) return out;
    auto it = o.FindMember(k);
    if (it == o.MemberEnd() || !it->value.IsArray()) return out;
    for (const auto& v : it->value.GetArray())
        if (v.IsString()) out.emplace_back(v.GetString(), v.GetStringLength());
    return out;
}

}  // namespace cvgen::stages::detail

#endif  // CVGEN_STAGES_SRC_JSON_UTIL_HPP
