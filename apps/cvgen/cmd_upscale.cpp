// cvgen upscale IN OUT [--scale S] [--sharpen] [--prompt T] [--n N] [--json] [provider flags]
#include <chrono>
#include <iostream>
#include <string>

#include "cli_output.hpp"
#include "command.hpp"
#include "provider_factory.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct UpscaleArgs {
    std::string input, output, prompt;
    double scale = 2.0;
    bool sharpen = false;
    int n = 1;
    bool json = false;
    cvgen::cli::ProviderOptions provider;
};

int runUpscale(const UpscaleArgs& a) {
    using namespace cvgen::cli;
    const auto t0 = Clock::now();
    if (!writableExtension(a.output)) {
        std::cerr << "cvgen upscale: OUT must end in .png, .jpg, .jpeg, .webp, .bmp, .tif or "
                     ".tiff\n";
        return EXIT_USAGE;
    }
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
    sub->add_option("--scale", args->scale, "Scale factor, integer or fractional")
        ->capture_default_str()
        ->check(CLI::Range(0.01, 16.0));
    sub->add_flag("--sharpen", args->sharpen, "Mild unsharp mask after resampling (offline)");
    sub->add_option("--prompt", args->prompt, "Optional prompt (remote providers)");
    sub->add_option("--n", args->n, "Number of result images [1,8]")
        ->capture_default_str()
        ->check(CLI::Range(1, 8));
    sub->add_flag("--json", args->json, "Print one JSON object with outputs and timings");
    cvgen::cli::addProviderOptions(sub, args->provider);
    sub->callback([args] { cvgen::cli::setExitCode(runUpscale(*args)); });
}

const cvgen::cli::Registrar kRegister("upscale", 40, setupUpscale);

}  // namespace
