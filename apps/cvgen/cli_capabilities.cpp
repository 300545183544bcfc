#include "cli_capabilities.hpp"

#include <iostream>

#ifdef CVGEN_HAVE_REMOTE
#include "cvgen/remote/capabilities.hpp"
#include "cvgen/remote/profile.hpp"
#endif

namespace cvgen::cli {

bool isLocal(const ProviderOptions& opts) {
    return opts.name == "local";
}

std::string defaultModelName(Endpoint e) {
#ifdef CVGEN_HAVE_REMOTE
    const remote::ModelCaps* m = remote::defaultModel(e);
    return m ? m->name : "";
#else
    (void)e;
    return "";
#endif
}

void warn(const std::string& command, const std::string& what) {
    std::cerr << "cvgen " << command << ": warning: " << what << "\n";
}

void warnNoEffect(const std::string& command, const FlagGiven& given,
                  std::initializer_list<const char*> flags, const std::string& where) {
    for (const char* f : flags)
        if (given(f)) warn(command, std::string(f) + " has no effect " + where);
}

std::optional<RemoteUpscale> remoteUpscale(const ProviderOptions& opts) {
#ifdef CVGEN_HAVE_REMOTE
    if (isLocal(opts)) return std::nullopt;
    auto profile = remote::resolveProfile(opts.name);
    if (!profile.ok() || !profile->supports(Operation::UPSCALE)) return std::nullopt;
    const remote::EndpointRules rules = remote::endpointRules(*profile, Endpoint::UPSCALE);
    return RemoteUpscale{rules.api, rules.maxUpscale};
#else
    (void)opts;
    return std::nullopt;
#endif
}

void warnIfLegacyModel(const std::string& command, Endpoint e, const std::string& model) {
#ifdef CVGEN_HAVE_REMOTE
    const remote::ModelCaps* m = remote::findModel(e, model);
    if (!m || m->current) return;
    std::string current;
    for (const remote::ModelCaps* c : remote::models(e))
        if (c->current) current += std::string(current.empty() ? "" : ", ") + c->name;
    warn(command, model +
                      " is a legacy model: still accepted, but no longer in Kling's current "
                      "list (" +
                      current + ")");
#else
    (void)command;
    (void)e;
    (void)model;
#endif
}

}  // namespace cvgen::cli
