#include "provider_factory.hpp"

#include <cstdlib>

#ifdef CVGEN_HAVE_REMOTE
#include "cvgen/remote/client.hpp"
#endif

namespace cvgen::cli {

void addProviderOptions(CLI::App* app, ProviderOptions& opts) {
    app->add_option("--provider", opts.name,
                    "local (offline engine, default) | kling | anyapi | cometapi | cometapi-v2 | "
                    "ideogram | FILE.json (a provider profile)")
        ->capture_default_str();
    app->add_option("--base-url", opts.baseUrl, "Override the provider's base URL");
    app->add_option("--ca-file", opts.caFile, "PEM file of CA certificates for TLS verification")
        ->check(CLI::ExistingFile);
    app->add_option("--timeout", opts.timeoutSeconds,
                    "Give up waiting for the task after this many seconds (0 = provider default)")
        ->check(CLI::Range(0.0, 86400.0));
}

Result<std::shared_ptr<Provider>> makeProvider(const ProviderOptions& opts) {
    if (opts.name == "local") {
        std::shared_ptr<Provider> p = local::LocalProvider::create(opts.local);
        return p;
    }
    bool remote = opts.name.size() > 5 && opts.name.compare(opts.name.size() - 5, 5, ".json") == 0;
#ifdef CVGEN_HAVE_REMOTE
    for (const std::string& r : remote::builtinProfileNames()) remote = remote || opts.name == r;
#else
    for (const char* r : {"kling", "anyapi", "cometapi", "cometapi-v2", "ideogram"})
        remote = remote || opts.name == r;
#endif
    if (remote) {
#ifdef CVGEN_HAVE_REMOTE
        // Keys come from the environment only (never argv, so they stay out of `ps` and shell
        // history). Kling uses a JWT when both access and secret keys are set.
        auto env = [](const char* n) {
            const char* v = std::getenv(n);
            return v ? std::string(v) : std::string();
        };
        remote::RemoteParams rp;
        rp.profile = opts.name;
        rp.baseUrl = opts.baseUrl;
        rp.caFile = opts.caFile;
        if (opts.timeoutSeconds > 0) rp.deadline = opts.timeout();
        if (opts.retries >= 0) rp.retry.maxAttempts = opts.retries + 1;
        rp.maxSlots = opts.maxSlots;
        rp.callbackListen = opts.callbackListen;
        rp.callbackUrl = opts.callbackUrl;
        rp.webhookSecret = env("CVGEN_WEBHOOK_SECRET");
        rp.apiKey = env(opts.name == "ideogram" ? "IDEOGRAM_API_KEY" : "CVGEN_API_KEY");
        if (rp.apiKey.empty()) rp.apiKey = env("CVGEN_API_KEY");
        rp.accessKey = env("KLING_ACCESS_KEY");
        rp.secretKey = env("KLING_SECRET_KEY");
        auto p = remote::createProvider(rp);
        if (!p.ok()) return p.status();
        return std::shared_ptr<Provider>(*p);
#else
        return Status(Code::UNIMPLEMENTED, "provider '" + opts.name +
                                               "' needs the remote module, which this build of "
                                               "the CLI does not have; use --provider local");
#endif
    }
    return invalidArgument("--provider: unknown provider '" + opts.name +
                           "' (expected local, kling, anyapi, cometapi, cometapi-v2, ideogram or "
                           "a .json profile file)");
}

CallOptions makeCallOptions(const ProviderOptions& opts) {
    CallOptions c;
    c.deadline = opts.timeout();
    return c;
}

}  // namespace cvgen::cli
