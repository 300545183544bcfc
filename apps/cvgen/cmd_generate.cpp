// cvgen generate OUT --prompt TEXT [--aspect 16:9] [--resolution 1k|2k] [--n N] [--json] ...
// Offline (the default provider) the images are deterministic synthetic placeholders, and the
// output says so.
#include <chrono>
#include <iostream>
#include <optional>
#include <string>

#include "cli_capabilities.hpp"
#include "cli_output.hpp"
#include "command.hpp"
#include "provider_factory.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct GenerateArgs {
    std::string output, prompt, negativePrompt,
        model = cvgen::cli::defaultModelName(cvgen::Endpoint::GENERATE), aspect = "16:9",
        resolution = "1k", image, reference;
    std::optional<double> imageFidelity, humanFidelity;  // unset: not sent
    int n = 1;
    uint64_t seed = 0;
    bool json = false;
    cvgen::cli::ProviderOptions provider;
};

/** Flags the chosen provider ignores: said once each, on stderr. */
void warnIneffective(const cvgen::cli::FlagGiven& given, bool local) {
    using namespace cvgen::cli;
    if (local)
        warnNoEffect("generate", given,
                     {"--model", "--negative-prompt", "--image", "--reference", "--image-fidelity",
                      "--human-fidelity"},
                     "offline (the placeholder follows only the prompt, size, --n and --seed)");
    else
        warnNoEffect("generate", given, {"--seed"},
                     "at a remote provider (it seeds the offline placeholder only)");
}

int runGenerate(const GenerateArgs& a, const cvgen::cli::FlagGiven& given) {
    using namespace cvgen::cli;
    const auto t0 = Clock::now();
    if (!writableExtension(a.output)) {
        std::cerr << "cvgen generate: OUT must end in .png, .jpg, .jpeg, .webp, .bmp, .tif or "
                     ".tiff\n";
        return EXIT_USAGE;
    }
    const auto aspect = cvgen::parseAspectRatio(a.aspect);
    if (!aspect || *aspect == cvgen::AspectRatio::AUTO) {
        std::cerr << "cvgen generate: --aspect must be one of 16:9, 9:16, 1:1, 4:3, 3:4, 3:2, "
                     "2:3, 21:9\n";
        return EXIT_USAGE;
    }
    const auto resolution = cvgen::parseResolution(a.resolution);
    if (!resolution) {
        std::cerr << "cvgen generate: --resolution must be 1k or 2k\n";
        return EXIT_USAGE;
    }
    warnIneffective(given, isLocal(a.provider));
    if (!isLocal(a.provider)) warnIfLegacyModel("generate", cvgen::Endpoint::GENERATE, a.model);
    ProviderOptions po = a.provider;
    po.local.seed = a.seed;
    auto provider = makeProvider(po);
    if (!provider.ok()) return reportError("generate", provider.status(), a.json);

    cvgen::GenerateRequest req;
    req.model = a.model;
    req.prompt = a.prompt;
    req.negativePrompt = a.negativePrompt;
    req.aspectRatio = *aspect;
    req.resolution = *resolution;
    req.imageFidelity = a.imageFidelity;
    req.humanFidelity = a.humanFidelity;
    req.task.n = a.n;
    if (!a.image.empty()) {
        auto img = readImageFile(a.image);
        if (!img.ok()) return reportError("generate", img.status(), a.json);
        req.image = cvgen::ImageSource::fromMat(img.value());
    }
    if (!a.reference.empty()) {
        const auto ref = cvgen::parseImageReference(a.reference);
        if (!ref || *ref == cvgen::ImageReference::NONE) {
            std::cerr << "cvgen generate: --reference must be subject or face\n";
            return EXIT_USAGE;
        }
        req.imageReference = *ref;
    }
    auto out = provider.value()->generate(req, makeCallOptions(po));
    if (!out.ok()) return reportError("generate", out.status(), a.json);
    auto written = writeResults(a.output, out.value());
    if (!written.ok()) return reportError("generate", written.status(), a.json);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (a.json)
        std::cout << resultJson("generate", out.value(), written.value(), ms) << "\n";
    else
        printSummary("generate", out.value(), written.value(), ms);
    return EXIT_OK;
}

void setupGenerate(CLI::App& app) {
    auto args = std::make_shared<GenerateArgs>();
    auto* sub = app.add_subcommand(
        "generate",
        "Text (and optional reference image) to image. Offline: a deterministic synthetic "
        "placeholder, marked as such");
    sub->add_option("OUT", args->output, "Output image (n > 1: OUT_0, OUT_1, ...)")->required();
    sub->add_option("--prompt", args->prompt, "What to generate (required)")->required();
    sub->add_option("--negative-prompt", args->negativePrompt, "What to avoid");
    sub->add_option("--model", args->model,
                    "Model (remote): kling-v3 or kling-v2-1; legacy kling-v1, kling-v1-5, "
                    "kling-v2, kling-v2-new")
        ->capture_default_str();
    sub->add_option("--aspect", args->aspect, "16:9, 9:16, 1:1, 4:3, 3:4, 3:2, 2:3 or 21:9")
        ->capture_default_str();
    sub->add_option("--resolution", args->resolution, "1k or 2k")->capture_default_str();
    sub->add_option("--image", args->image, "Reference image")->check(CLI::ExistingFile);
    sub->add_option("--reference", args->reference,
                    "How the reference is used: subject|face (kling-v2-1, kling-v1-5)")
        ->check(CLI::IsMember({"subject", "face"}));
    sub->add_option("--image-fidelity", args->imageFidelity, "[0,1] (kling-v2-1)")
        ->check(CLI::Range(0.0, 1.0));
    sub->add_option("--human-fidelity", args->humanFidelity, "[0,1] (kling-v2-1, with subject)")
        ->check(CLI::Range(0.0, 1.0));
    sub->add_option("--n", args->n, "Number of images [1,9]")
        ->capture_default_str()
        ->check(CLI::Range(1, 9));
    sub->add_option("--seed", args->seed, "Seed of the offline placeholder images");
    sub->add_flag("--json", args->json, "Print one JSON object with outputs and timings");
    cvgen::cli::addProviderOptions(sub, args->provider);
    sub->callback([args, sub] {
        cvgen::cli::setExitCode(
            runGenerate(*args, [sub](const char* flag) { return sub->count(flag) > 0; }));
    });
}

const cvgen::cli::Registrar kRegister("generate", 20, setupGenerate);

}  // namespace
