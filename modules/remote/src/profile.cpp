#include "cvgen/remote/profile.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "cvgen/remote/capabilities.hpp"
#include "json_util.hpp"

namespace cvgen {
namespace remote {

bool Profile::supports(Operation op) const {
    if (std::find(operations.begin(), operations.end(), op) == operations.end()) return false;
    return op == Operation::UPSCALE ? !upscalePath.empty() : true;
}

std::string Profile::field(const std::string& canonical) const {
    auto it = fieldNames.find(canonical);
    return it == fieldNames.end() ? canonical : it->second;
}

std::string Profile::createPath(Operation op) const {
    switch (op) {
        case Operation::EXPAND:
            return klingPrefix + "/images/editing/expand";
        case Operation::GENERATE:
            return klingPrefix + "/images/generations";
        case Operation::OMNI:
            return klingPrefix + "/images/omni-image";
        case Operation::UPSCALE:
            return upscalePath;
    }
    return {};
}

std::vector<std::string> builtinProfileNames() {
    return {"kling", "anyapi", "cometapi", "cometapi-v2", "ideogram"};
}

Result<Profile> builtinProfile(const std::string& name) {
    Profile p;
    p.name = name;
    const std::vector<Operation> kling = {Operation::EXPAND, Operation::GENERATE, Operation::OMNI};
    if (name == "kling") {
        p.baseUrl = "https://api-singapore.klingai.com";
        p.klingPrefix = "/v1";
        p.auth = AuthStyle::KLING_JWT;
        p.operations = kling;
    } else if (name == "anyapi") {
        p.baseUrl = "https://www.anyapi.vip";
        p.klingPrefix = "/kling/v1";
        p.upscalePath = "/ideogram/upscale";
        p.auth = AuthStyle::BEARER;
        p.operations = kling;
        p.operations.push_back(Operation::UPSCALE);
    } else if (name == "cometapi") {
        // Seed 001's page: bottom_expansion_ratio, and n documented as a string.
        p.baseUrl = "https://api.cometapi.com";
        p.klingPrefix = "/kling/v1";
        p.auth = AuthStyle::BEARER;
        p.nAsString = true;
        p.fieldNames["down_expansion_ratio"] = "bottom_expansion_ratio";
        p.operations = kling;
    } else if (name == "cometapi-v2") {
        // CometAPI's newer page: Kling's own down_expansion_ratio and an integer n (issue #16).
        p.baseUrl = "https://api.cometapi.com";
        p.klingPrefix = "/kling/v1";
        p.auth = AuthStyle::BEARER;
        p.operations = kling;
    } else if (name == "ideogram") {
        p.baseUrl = "https://api.ideogram.ai";
        p.klingPrefix.clear();
        p.upscalePath = "/upscale";
        p.auth = AuthStyle::API_KEY;
        p.operations = {Operation::UPSCALE};
    } else {
        std::string names;
        for (const std::string& n : builtinProfileNames()) names += n + ", ";
        return notFound("no built-in provider profile named '" + name + "' (" + names +
                        "or a .json file)");
    }
    return p;
}

namespace {

/** One endpoint's "input_limits" object over `base` (the endpoint's built-in rules): every key
 * optional. The error message starts with the bad key. */
Result<ImageLimits> parseLimits(const rapidjson::Value& v, ImageLimits l) {
    if (!v.IsObject()) return invalidArgument("must be an object");
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
        const std::string key = it->name.GetString();
        const rapidjson::Value& x = it->value;
        if (key == "formats") {
            if (!x.IsArray() || x.Empty()) return invalidArgument(key + ": must be a list");
            l.formats.clear();
            for (const auto& f : x.GetArray()) {
                const ImageFormat fmt = f.IsString()
                                            ? formatFromExtension(std::string("x.") + f.GetString())
                                            : ImageFormat::UNKNOWN;
                if (fmt == ImageFormat::UNKNOWN)
                    return invalidArgument(key +
                                           ": each must be jpeg, png, webp, tiff, bmp or gif");
                l.formats.push_back(fmt);
            }
        } else if (key == "max_bytes" || key == "min_side") {
            if (!x.IsInt64() || x.GetInt64() < 1)
                return invalidArgument(key + ": must be a positive integer");
            if (key == "max_bytes")
                l.maxBytes = size_t(x.GetInt64());
            else if (x.GetInt64() > 65535)
                return invalidArgument(key + ": must be at most 65535");
            else
                l.minSide = int(x.GetInt64());
        } else if (key == "min_aspect" || key == "max_aspect") {
            if (!x.IsNumber()) return invalidArgument(key + ": must be a number");
            (key == "min_aspect" ? l.minAspect : l.maxAspect) = x.GetDouble();
        } else {
            return invalidArgument(key +
                                   ": unknown key (formats, max_bytes, min_side, "
                                   "min_aspect, max_aspect)");
        }
    }
    // The preflight's own contract (planConform): 0 < minAspect <= 1 <= maxAspect.
    if (!(l.minAspect > 0 && l.minAspect <= 1 && l.maxAspect >= 1 && l.maxAspect <= 65535 &&
          l.minAspect >= 1.0 / 65535))
        return invalidArgument("min_aspect/max_aspect: need 1/65535 <= min <= 1 <= max <= 65535");
    return l;
}

}  // namespace

Result<Profile> parseProfileJson(const std::string& json) {
    rapidjson::Document d;
    if (!detail::parseJson(json, d) || !d.IsObject())
        return invalidArgument("profile: not a JSON object");
    Profile p;
    if (const auto* ext = detail::member(d, "extends")) {
        if (!ext->IsString()) return invalidArgument("profile: extends: must be a string");
        auto base = builtinProfile(ext->GetString());
        if (!base.ok()) return invalidArgument("profile: extends: " + base.status().message());
        p = *base;
    } else {
        p.operations = {Operation::EXPAND, Operation::GENERATE, Operation::OMNI};
    }
    auto str = [&](const char* key, std::string& out) -> Status {
        const auto* v = detail::member(d, key);
        if (!v) return Status();
        if (!v->IsString())
            return invalidArgument(std::string("profile: ") + key + ": must be a string");
        out = v->GetString();
        return Status();
    };
    std::string name = "custom", auth;
    if (!p.name.empty()) name = p.name;
    CVGEN_RETURN_IF_ERROR(str("name", name));
    p.name = name;
    CVGEN_RETURN_IF_ERROR(str("base_url", p.baseUrl));
    CVGEN_RETURN_IF_ERROR(str("kling_prefix", p.klingPrefix));
    CVGEN_RETURN_IF_ERROR(str("upscale_path", p.upscalePath));
    CVGEN_RETURN_IF_ERROR(str("auth", auth));
    if (!auth.empty()) {
        auto a = parseAuthStyle(auth);
        if (!a) return invalidArgument("profile: auth: must be bearer, kling_jwt or api_key");
        p.auth = *a;
    }
    if (const auto* v = detail::member(d, "n_as_string")) {
        if (!v->IsBool()) return invalidArgument("profile: n_as_string: must be a boolean");
        p.nAsString = v->GetBool();
    }
    if (const auto* v = detail::member(d, "fields")) {
        if (!v->IsObject()) return invalidArgument("profile: fields: must be an object");
        for (auto it = v->MemberBegin(); it != v->MemberEnd(); ++it) {
            if (!it->value.IsString())
                return invalidArgument(std::string("profile: fields.") + it->name.GetString() +
                                       ": must be a string");
            p.fieldNames[it->name.GetString()] = it->value.GetString();
        }
    }
    if (const auto* v = detail::member(d, "operations")) {
        if (!v->IsArray()) return invalidArgument("profile: operations: must be an array");
        p.operations.clear();
        for (const auto& e : v->GetArray()) {
            auto op = e.IsString() ? parseOperation(e.GetString()) : std::nullopt;
            if (!op)
                return invalidArgument(
                    "profile: operations: each must be expand, generate, omni or upscale");
            p.operations.push_back(*op);
        }
    }
    if (const auto* v = detail::member(d, "input_limits")) {
        if (!v->IsObject()) return invalidArgument("profile: input_limits: must be an object");
        for (auto it = v->MemberBegin(); it != v->MemberEnd(); ++it) {
            const std::string key = it->name.GetString();
            const auto e = parseEndpoint(key);
            if (!e)
                return invalidArgument("profile: input_limits." + key +
                                       ": must be expand, generate, omni or upscale");
            auto limits = parseLimits(it->value, endpointRules(*e).input);
            if (!limits.ok())
                return invalidArgument("profile: input_limits." + key + "." +
                                       limits.status().message());
            p.inputLimits[*e] = *limits;
        }
    }
    if (p.baseUrl.rfind("http://", 0) != 0 && p.baseUrl.rfind("https://", 0) != 0)
        return invalidArgument("profile: base_url: must start with http:// or https://");
    while (!p.baseUrl.empty() && p.baseUrl.back() == '/') p.baseUrl.pop_back();
    for (const std::string* path : {&p.klingPrefix, &p.upscalePath})
        if (!path->empty() && (*path)[0] != '/')
            return invalidArgument("profile: paths must start with '/'");
    return p;
}

Result<Profile> loadProfileFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return notFound("cannot read provider profile " + path);
    std::ostringstream ss;
    ss << f.rdbuf();
    auto p = parseProfileJson(ss.str());
    if (!p.ok()) return p.status().withContext(path);
    return p;
}

Result<Profile> resolveProfile(const std::string& nameOrPath) {
    const std::string ext = ".json";
    if (nameOrPath.size() > ext.size() &&
        nameOrPath.compare(nameOrPath.size() - ext.size(), ext.size(), ext) == 0)
        return loadProfileFile(nameOrPath);
    return builtinProfile(nameOrPath);
}

}  // namespace remote
}  // namespace cvgen
