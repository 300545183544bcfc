#include "cvgen/remote/profile.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

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
    return {"kling", "anyapi", "cometapi", "ideogram"};
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
        p.baseUrl = "https://api.cometapi.com";
        p.klingPrefix = "/kling/v1";
        p.auth = AuthStyle::BEARER;
        p.nAsString = true;
        p.fieldNames["down_expansion_ratio"] = "bottom_expansion_ratio";
        p.operations = kling;
    } else if (name == "ideogram") {
        p.baseUrl = "https://api.ideogram.ai";
        p.klingPrefix.clear();
        p.upscalePath = "/upscale";
        p.auth = AuthStyle::API_KEY;
        p.operations = {Operation::UPSCALE};
    } else {
        return notFound("no built-in provider profile named '" + name +
                        "' (kling, anyapi, cometapi, ideogram, or a .json file)");
    }
    return p;
}

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
