// cvgen check FILE... [--endpoint expand|generate|omni|upscale] [--json]
// Checks image files against a provider's input rules by reading only their headers.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "command.hpp"
#include "cvgen/core/image_limits.hpp"

namespace {

struct CheckArgs {
    std::vector<std::string> files;
    std::string endpoint = "expand";
    bool json = false;
};

void writeJson(const std::vector<std::string>& files,
               const std::vector<cvgen::Result<cvgen::CheckReport>>& results,
               const std::string& endpoint, bool allOk) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("endpoint");
    w.String(endpoint.c_str());
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
    const cvgen::ImageLimits limits = cvgen::ImageLimits::forEndpoint(*endpoint);
    std::vector<cvgen::Result<cvgen::CheckReport>> results;
    bool allOk = true;
    for (const auto& f : a.files) {
        results.push_back(cvgen::checkFile(f, limits));
        const auto& r = results.back();
        allOk = allOk && r.ok() && r->ok();
    }
    if (a.json) {
        writeJson(a.files, results, a.endpoint, allOk);
    } else {
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
        "Check image files against a provider's input rules (size, aspect, bytes, format) "
        "without decoding them. Exit 0 when all pass, 1 otherwise.");
    sub->add_option("files", args->files, "Image files to check")->required();
    sub->add_option("--endpoint", args->endpoint, "Whose rules: expand, generate, omni, upscale")
        ->check(CLI::IsMember({"expand", "generate", "omni", "upscale"}))
        ->capture_default_str();
    sub->add_flag("--json", args->json, "Print one JSON object instead of text");
    sub->callback([args] { runCheck(*args); });
}

const cvgen::cli::Registrar kRegister("check", 100, setupCheck);

}  // namespace
