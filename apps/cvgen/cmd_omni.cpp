// cvgen omni OUT --prompt TEXT [--image FILE]... [--aspect auto] [--resolution 1k|2k|4k]
//           [--n N | --series auto|2..9] [--json] [provider flags]
#include <chrono>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli_capabilities.hpp"
#include "cli_output.hpp"
#include "command.hpp"
#include "provider_factory.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct OmniArgs {
    std::string output, prompt, model = cvgen::cli::defaultModelName(cvgen::Endpoint::OMNI), aspect,
                                resolution = "1k", series;
    std::vector<std::string> images, elements;
    int n = 1;
    uint64_t seed = 0;
    bool json = false;
    cvgen::cli::ProviderOptions provider;
};

/** Flags the chosen provider ignores: said once each, on stderr. */
void warnIneffective(const cvgen::cli::FlagGiven& given, bool local) {
    using namespace cvgen::cli;
    if (local)
        warnNoEffect("omni", given, {"--model", "--element"},
                     "offline (the placeholder follows only the prompt, the images' shape, the "
                     "size, the count and --seed)");
    else
        warnNoEffect("omni", given, {"--seed"},
                     "at a remote provider (it seeds the offline placeholder only)");
}

int runOmni(const OmniArgs& a, const cvgen::cli::FlagGiven& given) {
    using namespace cvgen::cli;
    const auto t0 = Clock::now();
    if (!writableExtension(a.output)) {
        std::cerr << "cvgen omni: OUT must end in .png, .jpg, .jpeg, .webp, .bmp, .tif or .tiff\n";
        return EXIT_USAGE;
    }
    const auto aspect = cvgen::parseAspectRatio(a.aspect);
    if (!a.aspect.empty() && !aspect) {
        std::cerr << "cvgen omni: --aspect must be auto, 16:9, 9:16, 1:1, 4:3, 3:4, 3:2, 2:3 or "
                     "21:9\n";
        return EXIT_USAGE;
    }
    const auto resolution = cvgen::parseResolution(a.resolution);
    if (!resolution) {
        std::cerr << "cvgen omni: --resolution must be 1k, 2k or 4k\n";
        return EXIT_USAGE;
    }
    int seriesAmount = cvgen::OmniRequest().seriesAmount;  // used only with --series N
    if (!a.series.empty() && a.series != "auto") {
        try {
            size_t used = 0;
            seriesAmount = std::stoi(a.series, &used);
            if (used != a.series.size()) seriesAmount = -1;
        } catch (const std::exception&) {
            seriesAmount = -1;
        }
        if (seriesAmount < 2 || seriesAmount > 9) {
            std::cerr << "cvgen omni: --series must be auto or 2..9\n";
            return EXIT_USAGE;
        }
    }
    warnIneffective(given, isLocal(a.provider));
    if (!isLocal(a.provider)) warnIfLegacyModel("omni", cvgen::Endpoint::OMNI, a.model);
    ProviderOptions po = a.provider;
    po.local.seed = a.seed;
    auto provider = makeProvider(po);
    if (!provider.ok()) return reportError("omni", provider.status(), a.json);

    cvgen::OmniRequest req;
    req.model = a.model;
    req.prompt = a.prompt;
    if (aspect) req.aspectRatio = *aspect;  // unset: the model's default for this request
    req.resolution = *resolution;
    req.elementIds = a.elements;
    req.task.n = a.n;
    if (!a.series.empty()) {
        req.resultType = cvgen::OmniResultType::SERIES;
        req.seriesAmount = seriesAmount;
        req.seriesAuto = a.series == "auto";
    }
    for (const auto& path : a.images) {
        auto img = readImageFile(path);
        if (!img.ok()) return reportError("omni", img.status(), a.json);
        req.images.push_back(cvgen::ImageSource::fromMat(img.value()));
    }
    auto out = provider.value()->omni(req, makeCallOptions(po));
    if (!out.ok()) return reportError("omni", out.status(), a.json);
    auto written = writeResults(a.output, out.value());
    if (!written.ok()) return reportError("omni", written.status(), a.json);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (a.json)
        std::cout << resultJson("omni", out.value(), written.value(), ms) << "\n";
    else
        printSummary("omni", out.value(), written.value(), ms);
    return EXIT_OK;
}

void setupOmni(CLI::App& app) {
    auto args = std::make_shared<OmniArgs>();
    auto* sub = app.add_subcommand(
        "omni",
        "Omni-image: prompt plus reference images (<<<image_1>>>...). Offline: a deterministic "
        "synthetic placeholder, marked as such");
    sub->add_option("OUT", args->output, "Output image (several: OUT_0, OUT_1, ...)")->required();
    sub->add_option("--prompt", args->prompt, "What to make (required)")->required();
    sub->add_option("--image", args->images, "Reference image (repeatable, up to 10)")
        ->check(CLI::ExistingFile);
    sub->add_option("--element", args->elements, "Element id (repeatable)");
    sub->add_option("--model", args->model,
                    "kling-image-o1 or kling-v3-omni (4k, --series, no auto text-to-image)")
        ->capture_default_str();
    sub->add_option("--aspect", args->aspect,
                    "auto (the first image's), 16:9, 1:1, ... Default: auto, but 16:9 for a "
                    "kling-v3-omni request without images");
    sub->add_option("--resolution", args->resolution, "1k, 2k or 4k (kling-v3-omni)")
        ->capture_default_str();
    auto* n = sub->add_option("--n", args->n, "Number of independent images [1,9]")
                  ->capture_default_str()
                  ->check(CLI::Range(1, 9));
    sub->add_option("--series", args->series,
                    "A coherent series of K images: 2..9, or auto (the model decides; "
                    "kling-v3-omni)")
        ->excludes(n);
    sub->add_option("--seed", args->seed, "Seed of the offline placeholder images");
    sub->add_flag("--json", args->json, "Print one JSON object with outputs and timings");
    cvgen::cli::addProviderOptions(sub, args->provider);
    sub->callback([args, sub] {
        cvgen::cli::setExitCode(
            runOmni(*args, [sub](const char* flag) { return sub->count(flag) > 0; }));
    });
}

const cvgen::cli::Registrar kRegister("omni", 25, setupOmni);

}  // namespace
