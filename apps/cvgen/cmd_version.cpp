#include <iostream>

#include "command.hpp"
#include "cvgen/core/version.hpp"

namespace {

void setupVersion(CLI::App& app) {
    auto* sub = app.add_subcommand("version", "Print the cvgen version and the modules built in");
    sub->callback([] {
        std::cout << "cvgen " << cvgen::versionString() << "\n";
        cvgen::cli::setExitCode(cvgen::cli::EXIT_OK);
    });
}

const cvgen::cli::Registrar kRegister("version", 1000, setupVersion);

}  // namespace
