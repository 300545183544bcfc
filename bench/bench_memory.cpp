// Memory of a batch: peak RSS of `cvgen batch` (a child process; getrusage ru_maxrss via wait4)
// over N = 100 and N = 1000 generated 4 MP images (2304x1728 JPEG, cheap-to-decode content;
// 8 distinct images copied N times), expanded by the offline engine to 2400x1800 and written as
// JPEG. Target: RSS(1000) / RSS(100) <= 1.2 — a batch streams, never holds the whole folder.
//
// Usage: bench_memory [--small=100] [--large=1000] [--concurrency=2] [--contact-sheet=on|off]
//                     [--cvgen=PATH]
// PATH defaults to ../apps/cvgen/cvgen next to this executable (the build tree layout).
// Prints "RESULT key=value …" lines for scripts/bench.sh.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "bench_util.hpp"

namespace fs = std::filesystem;

namespace {

struct Options {
    int small = 100;
    int large = 1000;
    int concurrency = 2;
    bool contactSheet = true;
    std::string mode = "edge";
    std::string cvgen;
};

void makeInputs(const fs::path& dir, int n) {
    fs::create_directories(dir);
    std::vector<std::vector<uint8_t>> variants;
    cv::RNG rng(4);
    for (int v = 0; v < 8; ++v) {
        cv::Mat small(54, 72, CV_8UC3);
        rng.fill(small, cv::RNG::UNIFORM, 0, 256);
        cv::Mat img;
        cv::resize(small, img, cv::Size(2304, 1728), 0, 0, cv::INTER_CUBIC);
        cv::circle(img, cv::Point(1152, 864), 200 + 40 * v, cv::Scalar(40 * v, 220, 60), 12);
        std::vector<uint8_t> bytes;
        cv::imencode(".jpg", img, bytes, {cv::IMWRITE_JPEG_QUALITY, 90});
        variants.push_back(std::move(bytes));
    }
    for (int i = 0; i < n; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "img_%05d.jpg", i);
        const fs::path p = dir / name;
        if (fs::exists(p)) continue;
        FILE* f = std::fopen(p.c_str(), "wb");
        if (!f) continue;
        const auto& b = variants[size_t(i) % variants.size()];
        std::fwrite(b.data(), 1, b.size(), f);
        std::fclose(f);
    }
}

struct Run {
    int exitCode = -1;
    long maxRssKb = 0;
    double wall = 0, cpu = 0;
};

Run runBatch(const Options& o, const fs::path& in, const fs::path& out) {
    Run r;
    std::error_code ec;
    fs::remove_all(out, ec);
    const std::string conc = std::to_string(o.concurrency);
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t pid = fork();
    if (pid < 0) return r;
    if (pid == 0) {
        std::vector<std::string> args = {
            o.cvgen,         "batch",    in.string(), out.string(), "--provider",
            "local",         "--target", "2400x1800", "--format",   "jpg",
            "--concurrency", conc,       "--mode",    o.mode,       "-q"};
        if (!o.contactSheet) {
            args.push_back("--contact-sheet");
            args.push_back("none");
        }
        if (FILE* devnull = std::fopen("/dev/null", "w")) dup2(fileno(devnull), STDOUT_FILENO);
        std::vector<char*> argvChild;
        for (auto& a : args) argvChild.push_back(a.data());
        argvChild.push_back(nullptr);
        execv(o.cvgen.c_str(), argvChild.data());
        std::perror("exec cvgen");
        _exit(127);
    }
    int status = 0;
    rusage ru{};
    wait4(pid, &status, 0, &ru);
    r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.maxRssKb = ru.ru_maxrss;  // kilobytes on Linux
    r.cpu = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
            double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    o.cvgen = cvgen::bench::defaultCvgen(argv[0]);
    for (int i = 1; i < argc; ++i) {
        auto val = [&](const char* key) { return cvgen::bench::flagValue(argv[i], key); };
        if (const char* v = val("--small="))
            o.small = std::atoi(v);
        else if (const char* v2 = val("--large="))
            o.large = std::atoi(v2);
        else if (const char* v3 = val("--concurrency="))
            o.concurrency = std::atoi(v3);
        else if (const char* v4 = val("--contact-sheet="))
            o.contactSheet = std::string(v4) != "off";
        else if (const char* v6 = val("--mode="))
            o.mode = v6;
        else if (const char* v5 = val("--cvgen="))
            o.cvgen = v5;
        else {
            std::fprintf(stderr,
                         "usage: bench_memory [--small=100] [--large=1000] [--concurrency=2] "
                         "[--contact-sheet=on|off] [--cvgen=PATH]\n");
            return 2;
        }
    }
    if (o.small < 1 || o.large < o.small || o.concurrency < 1) {
        std::fprintf(stderr, "bench_memory: bad option value\n");
        return 2;
    }
    if (!fs::exists(o.cvgen)) {
        std::fprintf(stderr,
                     "bench_memory: %s not found (build the cvgen target or pass --cvgen)\n",
                     o.cvgen.c_str());
        return 1;
    }
    const fs::path tmp =
        fs::temp_directory_path() / ("cvgen-bench-memory-" + std::to_string(getpid()));
    std::printf(
        "batch memory: cvgen batch --provider local, 2304x1728 (4.0 MP) JPEG -> 2400x1800 JPEG, "
        "concurrency %d, contact sheet %s\n",
        o.concurrency, o.contactSheet ? "on" : "off");
    std::printf("%8s %12s %10s %12s %6s\n", "N", "peak RSS MB", "wall s", "cpu ms/img", "exit");
    std::vector<Run> runs;
    int rc = 0;
    for (int n : {o.small, o.large}) {
        const fs::path in = tmp / ("in" + std::to_string(n));
        makeInputs(in, n);
        Run r = runBatch(o, in, tmp / "out");
        std::printf("%8d %12.1f %10.2f %12.1f %6d\n", n, r.maxRssKb / 1024.0, r.wall,
                    r.cpu * 1e3 / n, r.exitCode);
        std::fflush(stdout);
        if (r.exitCode != 0) rc = 1;
        runs.push_back(r);
        std::error_code ec;
        fs::remove_all(in, ec);
    }
    std::error_code ec;
    fs::remove_all(tmp, ec);
    const double ratio =
        runs[0].maxRssKb > 0 ? double(runs[1].maxRssKb) / double(runs[0].maxRssKb) : 0.0;
    std::printf(
        "RESULT memory small=%d large=%d rss_small_mb=%.1f rss_large_mb=%.1f ratio=%.3f "
        "wall_small_s=%.2f wall_large_s=%.2f ok=%d\n",
        o.small, o.large, runs[0].maxRssKb / 1024.0, runs[1].maxRssKb / 1024.0, ratio, runs[0].wall,
        runs[1].wall, rc == 0 ? 1 : 0);
    return rc;
}
