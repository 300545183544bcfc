// Batch throughput against the emulator on loopback, through the real batch runner
// (cvgen::stages::BatchRunner + the remote "anyapi" provider), the way users run a batch.
//
// N small images (400x300 JPEG, expanded to 600x400, written as BMP so the client's image work is
// a few hundred microseconds) go through an emulator started as a SEPARATE process
// (`cvgen serve --port 0 --latency L --concurrency C`), with C slots in flight.
// Ideal wall time = ceil(N/C) * L. Printed: measured wall / ideal, and the client's CPU time per
// task (getrusage of this process around the run: HTTP, JSON, base64, journal, threads, plus the
// small image work; the emulator's CPU is reported beside it from its own rusage).
//
// Each run uses one poll policy:
//   tuned   — first poll at L, then every 25 ms (no growth, no jitter): the policy for a known L;
//   default — RemoteParams' default PollPolicy (first poll after ~1 s ±20 %, then 1 s × 1.5…),
//             what `cvgen batch --provider anyapi` uses today.
// Targets: N=400, L=0.5 s, C=50 → measured/ideal ≤ 1.10 and < 5 ms client CPU per task.
//
// Usage: bench_batch [--n=400] [--latency=0.5] [--concurrency=50] [--poll=tuned|default|both]
//                    [--repeat=1] [--cvgen=PATH]
// PATH defaults to ../apps/cvgen/cvgen next to this executable (the build tree layout).
// Prints "RESULT key=value …" lines for scripts/bench.sh.
// BENCH_BATCH_DEBUG=1 prints every item's size, attempts and step timings to stderr.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cvgen/remote.hpp"
#include "cvgen/stages.hpp"

#include "bench_util.hpp"

namespace fs = std::filesystem;

namespace {

struct Options {
    int n = 400;
    double latency = 0.5;
    int concurrency = 50;
    std::string poll = "both";
    int repeat = 1;
    std::string cvgen;
};

double cpuSeconds(int who) {
    rusage ru{};
    getrusage(who, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/** The emulator as a child process; stdout is a pipe drained by a thread after the first line. */
class Emulator {
public:
    bool start(const Options& o) {
        int fds[2];
        if (pipe(fds) != 0) return false;
        const std::string latency = std::to_string(o.latency);
        const std::string conc = std::to_string(o.concurrency);
        pid_ = fork();
        if (pid_ < 0) return false;
        if (pid_ == 0) {
            dup2(fds[1], STDOUT_FILENO);
            close(fds[0]);
            close(fds[1]);
            execl(o.cvgen.c_str(), o.cvgen.c_str(), "serve", "--port", "0", "--api-key",
                  "bench-key", "--latency", latency.c_str(), "--concurrency", conc.c_str(),
                  static_cast<char*>(nullptr));
            std::perror("exec cvgen");
            _exit(127);
        }
        close(fds[1]);
        out_ = fdopen(fds[0], "r");
        char line[512];
        if (!out_ || !std::fgets(line, sizeof line, out_)) return false;
        const std::string s(line);
        const auto at = s.find("listening on ");
        if (at == std::string::npos) return false;
        url_ = s.substr(at + 13);
        while (!url_.empty() && (url_.back() == '\n' || url_.back() == '\r')) url_.pop_back();
        drain_ = std::thread([f = out_] {
            char buf[4096];
            while (std::fread(buf, 1, sizeof buf, f) > 0) {
            }
        });
        return true;
    }
    /** Stops it (SIGTERM) and returns its CPU seconds. */
    double stop() {
        if (pid_ <= 0) return 0;
        kill(pid_, SIGTERM);
        int status = 0;
        rusage ru{};
        wait4(pid_, &status, 0, &ru);
        pid_ = -1;
        if (drain_.joinable()) drain_.join();
        if (out_) std::fclose(out_);
        out_ = nullptr;
        return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    }
    ~Emulator() { stop(); }
    const std::string& url() const { return url_; }

private:
    pid_t pid_ = -1;
    FILE* out_ = nullptr;
    std::thread drain_;
    std::string url_;
};

void makeInputs(const fs::path& dir, int n) {
    fs::create_directories(dir);
    cv::RNG rng(9);
    std::vector<std::vector<uint8_t>> variants;
    for (int v = 0; v < 8; ++v) {
        cv::Mat img(300, 400, CV_8UC3);
        cv::randu(img, 0, 256);
        cv::GaussianBlur(img, img, cv::Size(0, 0), 8);
        cv::circle(img, cv::Point(200, 150), 40 + 10 * v, cv::Scalar(30 * v, 200, 90), 4);
        std::vector<uint8_t> bytes;
        cv::imencode(".jpg", img, bytes, {cv::IMWRITE_JPEG_QUALITY, 90});
        variants.push_back(std::move(bytes));
    }
    for (int i = 0; i < n; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "img_%05d.jpg", i);
        FILE* f = std::fopen((dir / name).c_str(), "wb");
        if (!f) continue;
        const auto& b = variants[size_t(i) % variants.size()];
        std::fwrite(b.data(), 1, b.size(), f);
        std::fclose(f);
    }
}

struct RunResult {
    bool ok = false;
    double wall = 0, clientCpu = 0, emulatorCpu = 0;
    size_t done = 0, failed = 0;
    std::string firstError;
};

RunResult runOnce(const Options& o, bool tunedPoll, const fs::path& in, const fs::path& out) {
    RunResult r;
    Emulator emu;
    if (!emu.start(o)) {
        r.firstError = "could not start the emulator (" + o.cvgen + " serve)";
        return r;
    }
    cvgen::remote::RemoteParams rp;
    rp.profile = "anyapi";
    rp.baseUrl = emu.url();
    rp.apiKey = "bench-key";
    rp.proxy = "none";
    if (tunedPoll) {
        rp.poll.firstDelay = std::chrono::milliseconds(std::llround(o.latency * 1000));
        rp.poll.interval = std::chrono::milliseconds(25);
        rp.poll.multiplier = 1.0;
        rp.poll.maxInterval = std::chrono::milliseconds(25);
        rp.poll.jitter = 0.0;
    }
    auto provider = cvgen::remote::createProvider(rp);
    if (!provider.ok()) {
        r.firstError = provider.status().toString();
        return r;
    }
    std::error_code ec;
    fs::remove_all(out, ec);

    cvgen::stages::BatchRunner::Params bp;
    bp.input = in.string();
    bp.output = out.string();
    bp.target = cvgen::TargetSpec::exact(cv::Size(600, 400));
    bp.outputFormat = "bmp";
    bp.provider = *provider;  // cv::Ptr is a std::shared_ptr
    bp.concurrency = o.concurrency;
    bp.reportPath = "none";
    bp.contactSheet = false;
    std::string firstError;
    bp.onItem = [&](const cvgen::stages::ItemReport& it) {
        if (it.status == cvgen::stages::ItemStatus::FAILED && firstError.empty())
            firstError = std::string(cvgen::codeName(it.code)) + ": " + it.message;
        if (std::getenv("BENCH_BATCH_DEBUG")) {
            std::string t;
            for (const auto& kv : it.timings) t += " " + kv.first + "=" + std::to_string(kv.second);
            std::fprintf(stderr, "item %s %dx%d ->%dx%d attempts=%d tasks=%d%s\n",
                         it.relPath.c_str(), it.inputSize.width, it.inputSize.height,
                         it.outputSize.width, it.outputSize.height, it.attempts, it.tasks,
                         t.c_str());
        }
    };
    auto runner = cvgen::stages::BatchRunner::create(bp);

    const double cpu0 = cpuSeconds(RUSAGE_SELF);
    const auto t0 = std::chrono::steady_clock::now();
    auto summary = runner->run();
    const auto t1 = std::chrono::steady_clock::now();
    r.clientCpu = cpuSeconds(RUSAGE_SELF) - cpu0;
    r.wall = std::chrono::duration<double>(t1 - t0).count();
    r.emulatorCpu = emu.stop();
    if (!summary.ok()) {
        r.firstError = summary.status().toString();
        return r;
    }
    r.done = summary->ok;
    r.failed = summary->failed + summary->notRun;
    r.firstError = firstError;
    r.ok = summary->ok == size_t(o.n);
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    o.cvgen = cvgen::bench::defaultCvgen(argv[0]);
    for (int i = 1; i < argc; ++i) {
        auto val = [&](const char* key) { return cvgen::bench::flagValue(argv[i], key); };
        if (const char* v = val("--n="))
            o.n = std::atoi(v);
        else if (const char* v2 = val("--latency="))
            o.latency = std::atof(v2);
        else if (const char* v3 = val("--concurrency="))
            o.concurrency = std::atoi(v3);
        else if (const char* v4 = val("--poll="))
            o.poll = v4;
        else if (const char* v5 = val("--repeat="))
            o.repeat = std::atoi(v5);
        else if (const char* v6 = val("--cvgen="))
            o.cvgen = v6;
        else {
            std::fprintf(stderr,
                         "usage: bench_batch [--n=400] [--latency=0.5] [--concurrency=50] "
                         "[--poll=tuned|default|both] [--repeat=1] [--cvgen=PATH]\n");
            return 2;
        }
    }
    if (o.n < 1 || o.concurrency < 1 || o.latency <= 0 || o.repeat < 1 ||
        (o.poll != "tuned" && o.poll != "default" && o.poll != "both")) {
        std::fprintf(stderr, "bench_batch: bad option value\n");
        return 2;
    }
    if (!fs::exists(o.cvgen)) {
        std::fprintf(stderr, "bench_batch: %s not found (build the cvgen target or pass --cvgen)\n",
                     o.cvgen.c_str());
        return 1;
    }
    std::error_code ec;
    const fs::path tmp =
        fs::temp_directory_path() / ("cvgen-bench-batch-" + std::to_string(getpid()));
    makeInputs(tmp / "in", o.n);

    const double ideal = std::ceil(double(o.n) / o.concurrency) * o.latency;
    std::printf("batch throughput: N=%d tasks, L=%.3f s, C=%d, ideal wall = ceil(N/C)*L = %.2f s\n",
                o.n, o.latency, o.concurrency, ideal);
    std::printf(
        "(400x300 JPEG -> 600x400 BMP through BatchRunner + remote 'anyapi' provider; "
        "emulator in a separate process)\n");
    std::printf("%-8s %4s %9s %8s %14s %14s %6s\n", "poll", "rep", "wall s", "ratio",
                "client ms/task", "emul. ms/task", "ok");
    int rc = 0;
    for (const std::string policy : {"tuned", "default"}) {
        if (o.poll != "both" && o.poll != policy) continue;
        std::vector<RunResult> runs;
        for (int rep = 0; rep < o.repeat; ++rep) {
            RunResult r = runOnce(o, policy == "tuned", tmp / "in", tmp / "out");
            std::printf("%-8s %4d %9.3f %8.3f %14.3f %14.3f %6zu\n", policy.c_str(), rep + 1,
                        r.wall, r.wall / ideal, r.clientCpu * 1e3 / o.n, r.emulatorCpu * 1e3 / o.n,
                        r.done);
            std::fflush(stdout);
            if (!r.ok) {
                std::printf("  run failed: %zu ok, %zu failed/not run; first error: %s\n", r.done,
                            r.failed, r.firstError.c_str());
                rc = 1;
                continue;
            }
            runs.push_back(r);
        }
        if (runs.empty()) continue;
        std::sort(runs.begin(), runs.end(),
                  [](const RunResult& a, const RunResult& b) { return a.wall < b.wall; });
        const RunResult& med = runs[runs.size() / 2];
        std::vector<double> cpu;
        for (const auto& r : runs) cpu.push_back(r.clientCpu);
        std::sort(cpu.begin(), cpu.end());
        std::printf(
            "RESULT batch_%s n=%d latency=%.3f concurrency=%d wall_s=%.3f ideal_s=%.3f "
            "ratio=%.3f best_ratio=%.3f client_cpu_ms_per_task=%.3f emulator_cpu_ms_per_task=%.3f "
            "runs=%zu\n",
            policy.c_str(), o.n, o.latency, o.concurrency, med.wall, ideal, med.wall / ideal,
            runs.front().wall / ideal, cpu[cpu.size() / 2] * 1e3 / o.n, med.emulatorCpu * 1e3 / o.n,
            runs.size());
    }
    fs::remove_all(tmp, ec);
    return rc;
}
