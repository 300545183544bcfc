#ifndef CVGEN_APPS_PROVIDER_FACTORY_HPP
#define CVGEN_APPS_PROVIDER_FACTORY_HPP

// The one place the CLI turns --provider and its flags into a cvgen::Provider, so every
// subcommand offers the same flags and a new provider is wired in once.

#include <chrono>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cvgen/core/provider.hpp"
#include "cvgen/core/status.hpp"
#include "cvgen/local/local_provider.hpp"

namespace cvgen::cli {

/** @brief Provider flags shared by every operation subcommand. */
struct ProviderOptions {
    std::string name =
        "local";                ///< --provider: local|kling|anyapi|cometapi[-v2]|ideogram|FILE.json
    std::string baseUrl;        ///< --base-url: override the profile's base URL
    std::string caFile;         ///< --ca-file: PEM bundle for TLS verification
    double timeoutSeconds = 0;  ///< --timeout: overall deadline per operation (0 = default)
    local::LocalProvider::Params local;  ///< offline engine options (set by the subcommands)
    /** @brief Extra attempts of one create, query or download at a remote provider (its engine's
     * RetryPolicy); -1 = the client's default. */
    int retries = -1;
    int maxSlots = 0;  ///< remote task slots in flight (a task of n images holds n); 0 = unbounded
    /** @brief "HOST:PORT" of a callback receiver (remote providers); the secret that signs the
     * callbacks comes from CVGEN_WEBHOOK_SECRET. */
    std::string callbackListen;
    std::string callbackUrl;  ///< the URL the provider POSTs to ("" = http://HOST:PORT/...)

    /** @brief --timeout as a duration. */
    std::chrono::milliseconds timeout() const {
        return std::chrono::milliseconds(static_cast<int64_t>(timeoutSeconds * 1000.0));
    }
};

/** @brief Adds --provider, --base-url, --ca-file and --timeout to `app`, bound to `opts`. */
void addProviderOptions(CLI::App* app, ProviderOptions& opts);

/** @brief Builds the provider named by `opts.name`.
 *
 * "local" (the default) is the offline engine. The remote profiles (kling, anyapi, cometapi,
 * cometapi-v2, ideogram) and profile files (*.json) build the remote client, with keys from the
 * environment only (never argv): CVGEN_API_KEY (Bearer), KLING_ACCESS_KEY + KLING_SECRET_KEY (Kling
 * JWT), IDEOGRAM_API_KEY (Api-Key; falls back to CVGEN_API_KEY). Missing keys are UNAUTHENTICATED,
 * an unknown profile file NOT_FOUND/INVALID_ARGUMENT; any other name is INVALID_ARGUMENT.
 */
Result<std::shared_ptr<Provider>> makeProvider(const ProviderOptions& opts);

/** @brief The CallOptions for one operation (deadline from --timeout). */
CallOptions makeCallOptions(const ProviderOptions& opts);

}  // namespace cvgen::cli

#endif  // CVGEN_APPS_PROVIDER_FACTORY_HPP
