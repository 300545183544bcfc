#ifndef CVGEN_APPS_COMMAND_HPP
#define CVGEN_APPS_COMMAND_HPP

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace cvgen::cli {

/** @brief Documented exit codes of the cvgen CLI. */
enum ExitCode : int {
    EXIT_OK = 0,            ///< everything done
    EXIT_FAILED = 1,        ///< some item (or the one operation) failed
    EXIT_USAGE = 2,         ///< bad command line
    EXIT_STOPPED_EARLY = 3  ///< a batch stopped early (every first item failed the same way)
};

/** @brief Adds one subcommand to `app`; its callback must call setExitCode(). */
using CommandSetup = std::function<void(CLI::App& app)>;

struct CommandEntry {
    std::string name;
    int order;
    CommandSetup setup;
};

/** @brief Registered subcommands (filled by static Registrar objects in each cmd_*.cpp). */
std::vector<CommandEntry>& commandRegistry();

/** @brief Registers a subcommand at static-initialisation time. */
struct Registrar {
    Registrar(std::string name, int order, CommandSetup setup);
};

/** @brief The process exit code the subcommand decided. */
void setExitCode(int code);
int exitCode();

}  // namespace cvgen::cli

#endif  // CVGEN_APPS_COMMAND_HPP
