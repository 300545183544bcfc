// docs/CLI.md is the `--help` of every subcommand, verbatim: this test fails when a flag or a help
// text changes without `bash scripts/update_cli_docs.sh`, or when a subcommand is missing.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace cvgen::stages {
namespace {

const std::string kDocPath = std::string(CVGEN_SOURCE_DIR) + "/docs/CLI.md";

// stdout of `cvgen ARGS --help`, and its exit code.
std::pair<int, std::string> cliHelp(const std::string& sub) {
    const std::string cmd =
        "'" + std::string(CVGEN_CLI_PATH) + "'" + (sub.empty() ? "" : " " + sub) + " --help";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return {-1, ""};
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int rc = ::pclose(p);
    return {rc, out};
}

std::string trimTrailingNewlines(std::string s) {
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
}

// "## cvgen" / "## cvgen <sub>" heading → the ```text block after it.
std::map<std::string, std::string> docSections(const std::string& doc) {
    std::map<std::string, std::string> out;
    std::istringstream in(doc);
    std::string line, current;
    bool inHeading = false, inBlock = false;
    std::string block;
    while (std::getline(in, line)) {
        if (!inBlock && line.rfind("## cvgen", 0) == 0) {
            current = line == "## cvgen" ? "" : line.substr(std::string("## cvgen ").size());
            inHeading = true;
        } else if (inHeading && !inBlock && line == "```text") {
            inBlock = true;
            block.clear();
        } else if (inBlock && line == "```") {
            out[current] = trimTrailingNewlines(block);
            inBlock = inHeading = false;
        } else if (inBlock) {
            block += line + "\n";
        }
    }
    return out;
}

// The subcommand names of `cvgen --help`, in order.
std::vector<std::string> subcommands(const std::string& topHelp) {
    std::vector<std::string> subs;
    std::istringstream in(topHelp);
    std::string line;
    bool on = false;
    while (std::getline(in, line)) {
        if (line == "Subcommands:") {
            on = true;
        } else if (on && line.size() > 2 && line.compare(0, 2, "  ") == 0 && line[2] != ' ') {
            subs.push_back(line.substr(2, line.find(' ', 2) - 2));
        }
    }
    return subs;
}

TEST(Stages_CliReference, docsCliMdMatchesEveryHelpOutput) {
    if (std::string(CVGEN_CLI_PATH).empty()) GTEST_SKIP() << "cvgen CLI not built";
    std::ifstream in(kDocPath);
    ASSERT_TRUE(in) << "missing " << kDocPath;
    std::stringstream ss;
    ss << in.rdbuf();
    const auto sections = docSections(ss.str());

    const auto [rc, top] = cliHelp("");
    ASSERT_EQ(rc, 0);
    const std::vector<std::string> subs = subcommands(top);
    ASSERT_GE(subs.size(), 5u) << top;  // expand, plan, batch, upscale, serve… at least

    std::vector<std::string> expected = {""};
    expected.insert(expected.end(), subs.begin(), subs.end());
    for (const std::string& sub : expected) {
        SCOPED_TRACE("cvgen " + sub);
        const auto [code, help] = cliHelp(sub);
        EXPECT_EQ(code, 0);
        auto it = sections.find(sub);
        ASSERT_NE(it, sections.end()) << "docs/CLI.md has no section for `cvgen " << sub
                                      << "`: run bash scripts/update_cli_docs.sh";
        EXPECT_EQ(it->second, trimTrailingNewlines(help))
            << "docs/CLI.md is out of date: run bash scripts/update_cli_docs.sh";
    }
    EXPECT_EQ(sections.size(), expected.size()) << "docs/CLI.md documents a removed subcommand";
}

}  // namespace
}  // namespace cvgen::stages
