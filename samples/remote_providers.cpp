// The same expand against the remote profiles — Kling official (JWT, /v1), AnyAPI (/kling/v1),
// CometAPI (/kling/v1, bottom_expansion_ratio, string n) and a user profile from JSON — pointed
// at the emulator. Nothing here reaches the internet: without --base-url the sample starts the
// emulator in-process on 127.0.0.1 (an ephemeral port).
//
// Usage: sample_remote_providers [--base-url URL] [IMAGE] [OUTPUT_DIR] [PROFILE.json] [TARGET]
//   --base-url  an emulator already running, e.g. `cvgen serve --port 8080` → http://127.0.0.1:8080
//               (keys from CVGEN_API_KEY, KLING_ACCESS_KEY, KLING_SECRET_KEY; default demo keys)
//   IMAGE       default samples/data/chelsea.png
//   OUTPUT_DIR  <profile>_<W>x<H>.png per profile (default: out/remote_providers)
//   PROFILE     a user profile (default: samples/profiles/my_aggregator.json)
//   TARGET      WxH (default: 800x450)
// Exit status: 0 when every profile produced the target, 1 otherwise, 2 for bad arguments.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "cvgen/core.hpp"
#include "cvgen/emulator.hpp"
#include "cvgen/remote.hpp"
#include "cvgen/stages.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string envOr(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : std::string(fallback);
}

}  // namespace

int main(int argc, char** argv) {
    std::string baseUrl;
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--base-url" && i + 1 < argc)
            baseUrl = argv[++i];
        else
            args.push_back(a);
    }
    const std::string imagePath = args.size() > 0 ? args[0] : "samples/data/chelsea.png";
    const std::string outputDir = args.size() > 1 ? args[1] : "out/remote_providers";
    const std::string userProfile =
        args.size() > 2 ? args[2] : "samples/profiles/my_aggregator.json";
    auto target = cvgen::parseSize(args.size() > 3 ? args[3] : "800x450");
    if (!target.ok()) {
        std::cerr << "bad target: " << target.status() << "\n";
        return 2;
    }

    // Keys come from the application (here: the environment), never from the library.
    const std::string apiKey = envOr("CVGEN_API_KEY", "demo-key");
    const std::string accessKey = envOr("KLING_ACCESS_KEY", "demo-access");
    const std::string secretKey = envOr("KLING_SECRET_KEY", "demo-secret");

    cv::Ptr<cvgen::emulator::Server> emulator;
    if (baseUrl.empty()) {
        cvgen::emulator::Params ep;  // 127.0.0.1, ephemeral port
        ep.apiKeys = {apiKey};
        ep.accessKey = accessKey;
        ep.secretKey = secretKey;
        ep.latency = 200ms;
        emulator = cvgen::emulator::Server::create(ep);
        if (cvgen::Status st = emulator->start(); !st.ok()) {
            std::cerr << "emulator: " << st << "\n";
            return 1;
        }
        baseUrl = emulator->baseUrl();
        std::printf("emulator listening on %s\n", baseUrl.c_str());
    }

    const cv::Mat image = cv::imread(imagePath, cv::IMREAD_COLOR);
    if (image.empty()) {
        std::cerr << "cannot read " << imagePath << " (run from the repository root)\n";
        return 2;
    }
    std::error_code ec;
    fs::create_directories(outputDir, ec);

    int failed = 0;
    const std::vector<std::string> profiles = {"kling", "anyapi", "cometapi", userProfile};
    for (const std::string& name : profiles) {
        cvgen::remote::RemoteParams rp;
        rp.profile = name;         // a built-in name or a .json file
        rp.baseUrl = baseUrl;      // the emulator instead of the provider's real host
        rp.apiKey = apiKey;        // Bearer profiles (anyapi, cometapi, the user's)
        rp.accessKey = accessKey;  // kling: a JWT signed with the secret key
        rp.secretKey = secretKey;
        rp.deadline = 60s;
        rp.poll.firstDelay = 100ms;  // the emulator is fast; real providers take ~10-60 s
        rp.poll.interval = 100ms;
        rp.proxy = "none";  // loopback: never through an HTTP proxy
        cvgen::Result<cv::Ptr<cvgen::Provider>> provider = cvgen::remote::createProvider(rp);
        if (!provider.ok()) {
            std::cerr << name << ": " << provider.status() << "\n";
            ++failed;
            continue;
        }
        auto profile = cvgen::remote::resolveProfile(name);
        const std::string label = profile.ok() ? profile->name : name;

        cvgen::stages::ExpandToTarget::Params ex;
        ex.target = cvgen::TargetSpec::exact(*target);
        ex.provider = std::shared_ptr<cvgen::Provider>(*provider);
        ex.preflight = true;  // remote input rules: sides >= 300 px, aspect 1:2.5..2.5:1, 10 MB
        ex.prompt = "continue the scene";
        cvgen::Result<cvgen::stages::Frame> out =
            cvgen::stages::ExpandToTarget::create(ex)->process(cvgen::stages::Frame(image));
        if (!out.ok()) {
            const cvgen::Status st = out.status();
            std::cerr << label << ": " << st.toString() << (st.retryable() ? " (retryable)" : "")
                      << "\n";
            ++failed;
            continue;
        }
        const fs::path dst = fs::path(outputDir) / (label + "_" + std::to_string(out->image.cols) +
                                                    "x" + std::to_string(out->image.rows) + ".png");
        cv::imwrite(dst.string(), out->image);
        std::printf("%-14s %s %s  %dx%d -> %dx%d  task", label.c_str(),
                    profile.ok() ? profile->createPath(cvgen::Operation::EXPAND).c_str() : "",
                    profile.ok() ? cvgen::remote::toString(profile->auth) : "", image.cols,
                    image.rows, out->image.cols, out->image.rows);
        for (const std::string& id : out->meta.taskIds) std::printf(" %s", id.c_str());
        std::printf("  -> %s\n", dst.string().c_str());
        if (out->image.size() != *target) ++failed;
    }
    if (emulator) {
        std::printf("emulator stats: %s\n", emulator->statsJson().c_str());
        emulator->stop();
    }
    std::printf("%zu of %zu profiles done\n", profiles.size() - failed, profiles.size());
    return failed == 0 ? 0 : 1;
}
