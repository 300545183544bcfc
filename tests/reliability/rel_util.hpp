// Shared helpers of the reliability tests: temp folders, child processes (the `cvgen` CLI and a
// `cvgen serve` emulator), emulator stats.
#ifndef CVGEN_TESTS_RELIABILITY_REL_UTIL_HPP
#define CVGEN_TESTS_RELIABILITY_REL_UTIL_HPP

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <rapidjson/document.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "stages/stages_test_util.hpp"

namespace cvgen::reliability {

namespace fs = std::filesystem;
using stages::testing::countTempFiles;
using stages::testing::noiseImage;
using stages::testing::TempDir;
using stages::testing::writePng;

inline std::string cliPath() {
    return CVGEN_CLI_PATH;
}

inline std::string readText(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline void writeText(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

/** A child process; stdout and stderr go to files. Killed (SIGKILL) when still running at
 * destruction, so a failing test never leaves a process behind. */
class Child {
public:
    Child(const std::vector<std::string>& args, const std::string& outPath,
          const std::string& errPath, const std::map<std::string, std::string>& env = {}) {
        pid_ = ::fork();
        if (pid_ == 0) {
            FILE* out = std::fopen(outPath.c_str(), "w");
            FILE* err = std::fopen(errPath.c_str(), "w");
            if (out) ::dup2(fileno(out), 1);
            if (err) ::dup2(fileno(err), 2);
            for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
            std::vector<char*> argv;
            for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
    }
    ~Child() {
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            wait();
        }
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    pid_t pid() const { return pid_; }
    /** Exit code, or -signal. */
    int wait() {
        if (reaped_) return rc_;
        int status = 0;
        ::waitpid(pid_, &status, 0);
        reaped_ = true;
        rc_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        return rc_;
    }
    bool running() {
        if (reaped_) return false;
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == 0) return true;
        reaped_ = true;
        rc_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        return false;
    }
    void kill(int sig) {
        if (!reaped_) ::kill(pid_, sig);
    }

private:
    pid_t pid_ = -1;
    bool reaped_ = false;
    int rc_ = 0;
};

/** Runs a command to completion; returns the exit code and fills out/err. */
inline int runCli(const std::vector<std::string>& args, std::string* out, std::string* err,
                  const std::map<std::string, std::string>& env, const fs::path& dir) {
    static int k = 0;
    const std::string o = (dir / ("run" + std::to_string(k) + ".out")).string();
    const std::string e = (dir / ("run" + std::to_string(k++) + ".err")).string();
    Child c(args, o, e, env);
    const int rc = c.wait();
    if (out) *out = readText(o);
    if (err) *err = readText(e);
    return rc;
}

/** `cvgen serve` as a child; waits for the "listening on" line. */
class ServeChild {
public:
    ServeChild(std::vector<std::string> extra, const fs::path& dir,
               const std::map<std::string, std::string>& env = {}) {
        static int k = 0;
        out_ = (dir / ("serve" + std::to_string(k) + ".out")).string();
        err_ = (dir / ("serve" + std::to_string(k++) + ".err")).string();
        std::vector<std::string> args = {cliPath(), "serve", "--port", "0"};
        args.insert(args.end(), extra.begin(), extra.end());
        child_ = std::make_unique<Child>(args, out_, err_, env);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < until && child_->running()) {
            const std::string text = readText(out_);
            const auto p = text.find("listening on ");
            const auto nl = text.find('\n', p);
            if (p != std::string::npos && nl != std::string::npos) {
                baseUrl_ = text.substr(p + 13, nl - p - 13);
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    ~ServeChild() { stop(); }
    const std::string& baseUrl() const { return baseUrl_; }
    bool ok() const { return !baseUrl_.empty(); }
    void stop() {
        if (child_ && child_->running()) {
            child_->kill(SIGTERM);
            for (int i = 0; i < 300 && child_->running(); ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        child_.reset();
    }
    std::string output() const { return readText(out_) + readText(err_); }

private:
    std::unique_ptr<Child> child_;
    std::string out_, err_, baseUrl_;
};

inline size_t appendBody(char* p, size_t size, size_t n, void* user) {
    static_cast<std::string*>(user)->append(p, size * n);
    return size * n;
}

/** A plain GET with libcurl (the library has no public GET); "" and status 0 on a failure. */
inline std::string httpGet(const std::string& url, long* status = nullptr,
                           const std::string& caFile = "") {
    CURL* c = curl_easy_init();
    std::string body;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &appendBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (!caFile.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, caFile.c_str());
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    else
        body.clear();
    curl_easy_cleanup(c);
    if (status) *status = code;
    return body;
}

/** Checks creates_by_external_id: every value exactly 1. Returns the number of ids. */
inline int expectOneCreatePerExternalId(const std::string& statsJson, std::string* why) {
    rapidjson::Document d;
    d.Parse(statsJson.c_str());
    if (!d.IsObject() || !d.HasMember("creates_by_external_id")) {
        *why = "no stats: " + statsJson;
        return -1;
    }
    int n = 0;
    for (const auto& m : d["creates_by_external_id"].GetObject()) {
        ++n;
        if (m.value.GetInt64() != 1)
            *why += std::string(m.name.GetString()) + " created " +
                    std::to_string(m.value.GetInt64()) + " times; ";
    }
    return n;
}

}  // namespace cvgen::reliability

#endif  // CVGEN_TESTS_RELIABILITY_REL_UTIL_HPP
