// Runs a shell command (the built `cvgen` CLI, curl…) and collects its exit code and stdout, for
// the tests of every module that drive the CLI end to end.
#ifndef CVGEN_TESTS_CLI_RUN_HPP
#define CVGEN_TESTS_CLI_RUN_HPP

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace cvgen::testutil {

struct CommandRun {
    int exitCode = -1;  ///< -1 when the command could not be started or did not exit
    std::string out;    ///< what it wrote to stdout (add "2>&1" to the command for stderr)
};

/** @brief `command` through /bin/sh; blocks until it exits. */
inline CommandRun runCommand(const std::string& command) {
    CommandRun r;
    FILE* p = ::popen(command.c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int st = ::pclose(p);
    r.exitCode = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

/** @brief The built cvgen CLI with `args`; stderr dropped. */
inline CommandRun runCvgen(const std::string& args) {
    return runCommand(std::string(CVGEN_CLI_PATH) + " " + args + " 2>/dev/null");
}

}  // namespace cvgen::testutil

#endif  // CVGEN_TESTS_CLI_RUN_HPP
