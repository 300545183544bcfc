// cvgen check FILE... [--provider P] [--endpoint expand|generate|omni|upscale] [--json]
// Checks image files against a provider's input rules for one endpoint by reading only their
// headers. The rules are the provider layer's table (cvgen::remote::endpointRules), with a
// profile file's own limits when it has them.
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "command.hpp"
#include "cvgen/core/image_limits.hpp"
#include "cvgen/core/provider.hpp"
#ifdef CVGEN_HAVE_REMOTE
#include "cvgen/remote/capabilities.hpp"
#endif

namespace {

struct CheckArgs {
    std::vector<std::string> files;
    std::string endpoint = "expand";
    std::string provider;  ///< empty: the API the endpoint belongs to
    bool json = false;
};

/** Whose rules a check applies: the provider shown, the API that documents them, the limits. */
struct Rules {
    std::string provider;
    std::string api;
    cvgen::ImageLimits limits;
};

std::string describe(const cvgen::ImageLimits& l) {
    std::string formats;
    for (cvgen::ImageFormat f : l.formats)
        formats += std::string(formats.empty() ? "" : "/") + cvgen::formatName(f);
    std::string s = formats + ", at most " + std::to_string(l.maxBytes) + " bytes";
    if (l.minSide > 1) s += ", sides at least " + std::to_string(l.minSide) + " px";
    char aspect[64];
    std::snprintf(aspect, sizeof aspect, "%.4g to %.4g", l.minAspect, l.maxAspect);
    if (l.maxAspect < 1000) s += ", aspect (w/h) " + std::string(aspect);
    return s;
}

/** The rules of `endpoint` at the chosen provider; a usage error is reported and nullopt
 * returned. */
std::optional<Rules> rulesFor(const CheckArgs& a, cvgen::Endpoint endpoint) {
#ifdef CVGEN_HAVE_REMOTE
    namespace remote = cvgen::remote;
    if (a.provider.empty()) {
        const auto& r = remote::endpointRules(endpoint);
        return Rules{r.api, r.api, r.input};
    }
    if (a.provider == "local") {
        std::cerr << "cvgen check: the offline engine (local) takes any image it can decode; "
                     "name a remote provider\n";
        return std::nullopt;
    }
    auto profile = remote::resolveProfile(a.provider);
    if (!profile.ok()) {
        std::cerr << "cvgen check: --provider: " << profile.status().toString() << "\n";
        return std::nullopt;
    }
    const auto op = cvgen::parseOperation(a.endpoint);
    if (!op || !profile->supports(*op)) {
        std::cerr << "cvgen check: provider '" << profile->name << "' has no " << a.endpoint
                  << " route\n";
        return std::nullopt;
    }
    const auto r = remote::endpointRules(*profile, endpoint);
    return Rules{profile->name, r.api, r.input};
#else
    (void)endpoint;
    if (!a.provider.empty()) {
        std::cerr << "cvgen check: --provider needs the remote module, which this build of the "
                     "CLI does not have\n";
        return std::nullopt;
    }
    return Rules{"default", "strictest common", cvgen::ImageLimits()};
#endif
}

void writeJson(const std::vector<std::string>& files,
               const std::vector<cvgen::Result<cvgen::CheckReport>>& results,
               const std::string& endpoint, const Rules& rules, bool allOk) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("endpoint");
    w.String(endpoint.c_str());
    w.Key("provider");
    w.String(rules.provider.c_str());
    w.Key("api");
    w.String(rules.api.c_str());
    w.Key("ok");
    w.Bool(allOk);
    w.Key("files");
    w.StartArray();
    for (size_t i = 0; i < files.size(); ++i) {
        const auto& r = results[i];
        w.StartObject();
        w.Key("path");
        w.String(files[i].c_str());
        if (!r.ok()) {
            w.Key("ok");
            w.Bool(false);
            w.Key("error");
            w.StartObject();
            w.Key("code");
            w.String(cvgen::codeName(r.code()));
            w.Key("message");
            w.String(r.status().message().c_str());
            w.EndObject();
        } else {
            w.Key("ok");
            w.Bool(r->ok());
            w.Key("format");
            w.String(cvgen::formatName(r->format));
            w.Key("width");
            w.Int(r->width);
            w.Key("height");
            w.Int(r->height);
            w.Key("bytes");
            w.Uint64(r->bytes);
            w.Key("violations");
            w.StartArray();
            for (const auto& v : r->violations) {
                w.StartObject();
                w.Key("code");
                w.String(cvgen::toString(v.code));
                w.Key("measured");
                w.Double(v.measured);
                w.Key("limit");
                w.Double(v.limit);
                w.Key("message");
                w.String(v.message.c_str());
                w.EndObject();
            }
            w.EndArray();
        }
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    std::cout << sb.GetString() << "\n";
}

void runCheck(const CheckArgs& a) {
    const auto endpoint = cvgen::parseEndpoint(a.endpoint);
    if (!endpoint) {  // CLI11 validates the value; this is a second line of defence
        std::cerr << "cvgen check: unknown endpoint '" << a.endpoint << "'\n";
        cvgen::cli::setExitCode(cvgen::cli::EXIT_USAGE);
        return;
    }
    const auto rules = rulesFor(a, *endpoint);
    if (!rules) {
        cvgen::cli::setExitCode(cvgen::cli::EXIT_USAGE);
        return;
    }
    const cvgen::ImageLimits& limits = rules->limits;
    std::vector<cvgen::Result<cvgen::CheckReport>> results;
    bool allOk = true;
    for (const auto& f : a.files) {
        results.push_back(cvgen::checkFile(f, limits));
        const auto& r = results.back();
        allOk = allOk && r.ok() && r->ok();
    }
    if (a.json) {
        writeJson(a.files, results, a.endpoint, *rules, allOk);
    } else {
        std::cout << "rules: " << a.endpoint << " at " << rules->provider
                  << (rules->provider == rules->api ? "" : " (" + rules->api + ")") << ": "
                  << describe(limits) << "\n";
        for (size_t i = 0; i < a.files.size(); ++i) {
            const auto& r = results[i];
            if (!r.ok()) {
                std::cout << "ERROR " << a.files[i] << ": " << r.status().toString() << "\n";
                continue;
            }
            std::cout << (r->ok() ? "OK   " : "FAIL ") << a.files[i] << " ("
                      << cvgen::formatName(r->format) << " " << r->width << "x" << r->height << ", "
                      << r->bytes << " bytes)\n";
            for (const auto& v : r->violations)
                std::cout << "     " << cvgen::toString(v.code) << ": " << v.message << "\n";
        }
    }
    cvgen::cli::setExitCode(allOk ? cvgen::cli::EXIT_OK : cvgen::cli::EXIT_FAILED);
}

void setupCheck(CLI::App& app) {
    auto args = std::make_shared<CheckArgs>();
    auto* sub = app.add_subcommand(
        "check",
        "Check image files against a provider's input rules for one endpoint (size, aspect, "
        "bytes, format) without decoding them. Exit 0 when all pass, 1 otherwise.");
    sub->add_option("files", args->files, "Image files to check")->required();
    sub->add_option("--endpoint", args->endpoint, "Which endpoint: expand, generate, omni, upscale")
        ->check(CLI::IsMember({"expand", "generate", "omni", "upscale"}))
        ->capture_default_str();
    sub->add_option("--provider", args->provider,
                    "Whose rules: kling | anyapi | cometapi | cometapi-v2 | ideogram | FILE.json "
                    "(default: the API the endpoint belongs to: Kling, Ideogram for upscale)");
    sub->add_flag("--json", args->json, "Print one JSON object instead of text");
    sub->callback([args] { runCheck(*args); });
}

const cvgen::cli::Registrar kRegister("check", 100, setupCheck);

}  // namespace
