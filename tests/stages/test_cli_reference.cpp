// docs/CLI.md is the `--help` of every subcommand, verbatim: this test fails when a flag or a help
// text changes without `bash scripts/update_cli_docs.sh`, or when a subcommand is missing. And the
// README stays honest: every `cvgen <sub> --flag` it shows exists, its pictures exist and are
// small.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
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

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Every command line the README shows: code-block lines (joined across trailing backslashes) and
// inline `code` spans, from the word "cvgen" on.
std::vector<std::string> readmeCommandLines(const std::string& readme) {
    std::vector<std::string> out;
    std::istringstream in(readme);
    std::string line, joined;
    bool block = false;
    auto take = [&](const std::string& text) {
        for (size_t at = text.find("cvgen "); at != std::string::npos;
             at = text.find("cvgen ", at + 1)) {
            if (at > 0 && text[at - 1] != ' ' && text[at - 1] != '`' && text[at - 1] != '"' &&
                text[at - 1] != '(')
                continue;
            out.push_back(text.substr(at));
            break;
        }
    };
    while (std::getline(in, line)) {
        if (line.rfind("```", 0) == 0) {
            block = !block;
            continue;
        }
        if (block) {
            if (!line.empty() && line.back() == '\\') {
                joined += line.substr(0, line.size() - 1);
                continue;
            }
            take(joined + line);
            joined.clear();
        } else {
            for (size_t a = line.find('`'); a != std::string::npos; a = line.find('`', a + 1)) {
                const size_t b = line.find('`', a + 1);
                if (b == std::string::npos) break;
                take(line.substr(a + 1, b - a - 1));
                a = b;
            }
        }
    }
    return out;
}

TEST(Stages_CliReference, readmeShowsOnlySubcommandsAndFlagsThatExist) {
    if (std::string(CVGEN_CLI_PATH).empty()) GTEST_SKIP() << "cvgen CLI not built";
    const std::string readme = readFile(std::string(CVGEN_SOURCE_DIR) + "/README.md");
    ASSERT_FALSE(readme.empty());
    const auto subs = subcommands(cliHelp("").second);
    const std::set<std::string> known(subs.begin(), subs.end());
    std::map<std::string, std::string> helps;
    int checked = 0;
    for (const std::string& cmd : readmeCommandLines(readme)) {
        SCOPED_TRACE(cmd);
        std::istringstream words(cmd);
        std::string cvgen, sub, w;
        words >> cvgen >> sub;
        if (!known.count(sub)) continue;  // prose such as "cvgen expand | plan | …"
        if (!helps.count(sub)) helps[sub] = cliHelp(sub).second;
        while (words >> w) {
            if (w.rfind("--", 0) != 0 || w.size() < 3) continue;
            std::string flag = w.substr(0, w.find_first_of("=`\"'),;"));
            EXPECT_NE(helps[sub].find(flag), std::string::npos)
                << "README shows `cvgen " << sub << " " << flag << "`, which does not exist";
            ++checked;
        }
    }
    EXPECT_GE(checked, 20);  // the README does show many flags
}

TEST(Stages_CliReference, readmeHasTheTwoCommandsFirstAndSmallPictures) {
    const std::string readme = readFile(std::string(CVGEN_SOURCE_DIR) + "/README.md");
    const size_t firstScreen = 1500;  // characters: about 25 lines
    EXPECT_LT(readme.find("bash scripts/demo.sh"), firstScreen);
    EXPECT_LT(readme.find("bash scripts/test.sh"), firstScreen);
    int pictures = 0;
    for (size_t at = readme.find("](docs/images/"); at != std::string::npos;
         at = readme.find("](docs/images/", at + 1)) {
        const size_t end = readme.find(')', at);
        const std::string rel = readme.substr(at + 2, end - at - 2);
        SCOPED_TRACE(rel);
        const std::string path = std::string(CVGEN_SOURCE_DIR) + "/" + rel;
        ASSERT_TRUE(std::filesystem::exists(path));
        const std::string bytes = readFile(path);
        EXPECT_LE(bytes.size(), 60u * 1024u);
        ASSERT_GE(bytes.size(), 3u);
        EXPECT_EQ(bytes.substr(0, 3), std::string("\xFF\xD8\xFF"));  // JPEG
        ++pictures;
    }
    EXPECT_GE(pictures, 4);
    EXPECT_LE(pictures, 8);
}

}  // namespace
}  // namespace cvgen::stages
