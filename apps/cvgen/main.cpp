// cvgen: generative image operations (expand, generate, omni-image, upscale) for OpenCV pipelines.
// This file only wires the registered subcommands together; each lives in cmd_<name>.cpp.
#include <algorithm>
#include <iostream>

#include "command.hpp"

namespace cvgen::cli {

std::vector<CommandEntry>& commandRegistry() {
    static std::vector<CommandEntry> registry;
    return registry;
}

Registrar::Registrar(std::string name, int order, CommandSetup setup) {
    commandRegistry().push_back({std::move(name), order, std::move(setup)});
}

namespace {
int g_exit = EXIT_OK;
}
void setExitCode(int code) {
    g_exit = code;
}
int exitCode() {
    return g_exit;
}

}  // namespace cvgen::cli

int main(int argc, char** argv) {
    using namespace cvgen::cli;
    CLI::App app{
        "cvgen: generative image operations for OpenCV pipelines (expand to a target "
        "canvas, generate, omni-image, upscale) through Kling, Ideogram and aggregators, "
        "or the offline engine.\n\nExit codes: 0 all done, 1 some items failed, "
        "2 usage error, 3 stopped early.",
        "cvgen"};
    app.require_subcommand(1);
    auto entries = commandRegistry();
    std::sort(entries.begin(), entries.end(),
              [](const CommandEntry& a, const CommandEntry& b) { return a.order < b.order; });
    for (const auto& e : entries) e.setup(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return EXIT_USAGE;
    } catch (const std::exception& e) {
        // A caller bug surfaced through the library (bad option combination): a usage error.
        std::cerr << "cvgen: " << e.what() << "\n";
        return EXIT_USAGE;
    }
    return exitCode();
}
