#include "provider_factory.hpp"

#include <array>

namespace cvgen::cli {

void addProviderOptions(CLI::App* app, ProviderOptions& opts) {
    app->add_option("--provider", opts.name,
                    "local (offline engine, default) | kling | anyapi | cometapi | ideogram | "
                    "FILE.json (a provider profile)")
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
    static const std::array<const char*, 4> kRemote = {"kling", "anyapi", "cometapi", "ideogram"};
    bool remote = opts.name.size() > 5 && opts.name.compare(opts.name.size() - 5, 5, ".json") == 0;
    for (const char* r : kRemote) remote = remote || opts.name == r;
    if (remote)
        return Status(Code::UNIMPLEMENTED, "provider '" + opts.name +
                                               "' is not available in this build of the CLI yet; "
                                               "use --provider local (the offline engine)");
    return invalidArgument("--provider: unknown provider '" + opts.name +
                           "' (expected local, kling, anyapi, cometapi, ideogram or a .json "
                           "profile file)");
}

CallOptions makeCallOptions(const ProviderOptions& opts) {
    CallOptions c;
    c.deadline = opts.timeout();
    return c;
}

}  // namespace cvgen::cli
