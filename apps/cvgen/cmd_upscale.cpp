// cvgen upscale IN OUT [--scale S] [--sharpen] [--prompt T] [--n N] [--resemblance R]
//               [--detail D] [--magic-prompt auto|on|off] [--seed S] [--json] [provider flags]
#include <cctype>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <optional>
#include <string>

#include "cli_capabilities.hpp"
#include "cli_output.hpp"
#include "command.hpp"
#include "provider_factory.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct UpscaleArgs {
    std::string input, output, prompt, magicPrompt = "auto";
    double scale = 2.0;
    bool sharpen = false;
    int n = 1, resemblance = 50, detail = 50;
    std::optional<int64_t> seed;
    bool json = false;
    cvgen::cli::ProviderOptions provider;
};

/** Flags the chosen provider ignores: said once each, on stderr. A provider without an upscale
 * route gets no warning: the call fails at once, saying so. */
void warnIneffective(const UpscaleArgs& a, const cvgen::cli::FlagGiven& given) {
    using namespace cvgen::cli;
    if (isLocal(a.provider)) {
        warnNoEffect("upscale", given,
                     {"--prompt", "--resemblance", "--detail", "--magic-prompt", "--seed"},
                     "offline (local resamples by exactly --scale)");
        return;
    }
    const auto route = remoteUpscale(a.provider);
    if (!route) return;
    char factor[32];
    std::snprintf(factor, sizeof factor, "%g", route->maxScale);
    warnNoEffect("upscale", given, {"--scale"},
                 "at --provider " + a.provider.name + ": " + route->api +
                     "'s upscale enlarges by up to " + factor + "x and takes no factor");
    warnNoEffect("upscale", given, {"--sharpen"}, "at a remote provider (offline only)");
}

int runUpscale(const UpscaleArgs& a, const cvgen::cli::FlagGiven& given) {
    using namespace cvgen::cli;
    const auto t0 = Clock::now();
    if (!writableExtension(a.output)) {
        std::cerr << "cvgen upscale: OUT must end in .png, .jpg, .jpeg, .webp, .bmp, .tif or "
                     ".tiff\n";
        return EXIT_USAGE;
    }
    std::string magic = a.magicPrompt;
    for (char& c : magic) c = char(std::toupper(static_cast<unsigned char>(c)));
    const auto magicPrompt = cvgen::parseMagicPrompt(magic);
    if (!magicPrompt) {  // CLI11 checks the value; a second line of defence
        std::cerr << "cvgen upscale: --magic-prompt must be auto, on or off\n";
        return EXIT_USAGE;
    }
    warnIneffective(a, given);
    ProviderOptions po = a.provider;
    po.local.sharpenUpscale = a.sharpen;
    auto provider = makeProvider(po);
    if (!provider.ok()) return reportError("upscale", provider.status(), a.json);
    auto img = readImageFile(a.input);
    if (!img.ok()) return reportError("upscale", img.status(), a.json);

    cvgen::UpscaleRequest req;
    req.image = cvgen::ImageSource::fromMat(img.value());
    req.scale = a.scale;
    req.prompt = a.prompt;
    req.numImages = a.n;
    req.resemblance = a.resemblance;
    req.detail = a.detail;
    req.magicPrompt = *magicPrompt;
    req.seed = a.seed;
    auto out = provider.value()->upscale(req, makeCallOptions(po));
    if (!out.ok()) return reportError("upscale", out.status(), a.json);
    auto written = writeResults(a.output, out.value());
    if (!written.ok()) return reportError("upscale", written.status(), a.json);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (a.json)
        std::cout << resultJson("upscale", out.value(), written.value(), ms) << "\n";
    else
        printSummary("upscale", out.value(), written.value(), ms);
    return EXIT_OK;
}

void setupUpscale(CLI::App& app) {
    auto args = std::make_shared<UpscaleArgs>();
    auto* sub = app.add_subcommand(
        "upscale", "Upscale an image (offline: Lanczos by exactly --scale; remote: Ideogram)");
    sub->add_option("IN", args->input, "Input image")->required()->check(CLI::ExistingFile);
    sub->add_option("OUT", args->output, "Output image (n > 1: OUT_0, OUT_1, ...)")->required();
    sub->add_option("--scale", args->scale,
                    "Scale factor, integer or fractional (offline; Ideogram enlarges by up to 2x "
                    "and takes no factor)")
        ->capture_default_str()
        ->check(CLI::Range(0.01, 16.0));
    sub->add_flag("--sharpen", args->sharpen, "Mild unsharp mask after resampling (offline)");
    sub->add_option("--prompt", args->prompt, "Optional prompt (remote providers)");
    sub->add_option("--n", args->n, "Number of result images [1,8]")
        ->capture_default_str()
        ->check(CLI::Range(1, 8));
    sub->add_option("--resemblance", args->resemblance,
                    "How closely the result follows the input [1,100] (remote)")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    sub->add_option("--detail", args->detail, "How much detail is added [1,100] (remote)")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    sub->add_option("--magic-prompt", args->magicPrompt,
                    "Ideogram's MagicPrompt: auto, on or off (remote)")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "on", "off"}, CLI::ignore_case));
    sub->add_option("--seed", args->seed, "Seed of the remote upscale [0,2147483647]")
        ->check(CLI::Range(int64_t(0), int64_t(2147483647)));
    sub->add_flag("--json", args->json, "Print one JSON object with outputs and timings");
    cvgen::cli::addProviderOptions(sub, args->provider);
    sub->callback([args, sub] {
        cvgen::cli::setExitCode(
            runUpscale(*args, [sub](const char* flag) { return sub->count(flag) > 0; }));
    });
}

const cvgen::cli::Registrar kRegister("upscale", 40, setupUpscale);

}  // namespace
