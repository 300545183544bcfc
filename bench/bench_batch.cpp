// Batch throughput against the emulator on loopback: `cvgen`'s real batch path (BatchRunner +
// the remote "anyapi" provider with its default, adaptive poll policy) side by side with the
// Python script a user would write (bench/py_baseline.py: requests + PIL thread pool, fixed 1 s
// poll), each against a fresh emulator started as a SEPARATE process
// (`cvgen serve --port 0 --latency L [--latency-sd SD] --concurrency C [--render fast]`).
//
// N small images (400x300 JPEG, expanded to 600x400, written as BMP) with C slots in flight.
// Ideal wall time = ceil(N/C) * L. Printed per client: wall, wall / ideal, CPU per task (this
// process's rusage for cvgen: HTTP, JSON, base64, decode, compose, write; the Python child's
// rusage for the script), queries per task (the emulator's own request counts) and slot occupancy
// (Σ task run time, from the emulator's stats, over Σ time the client held provider slots, from
// each item's "provider-slots" timing: create → the provider reported it finished; cvgen only),
// then cvgen / python ratios.
//
// Usage: bench_batch [--n=200] [--latency=0.5] [--latency-sd=0] [--concurrency=50]
//                    [--clients=cvgen,python] [--render=full|fast] [--callbacks]
//                    [--in=400x300] [--out=600x400] [--repeat=1] [--max-qps=Q] [--cvgen=PATH]
// PATH defaults to ../apps/cvgen/cvgen next to this executable (the build tree layout).
// Prints "RESULT key=value …" lines for scripts/bench.sh.
// BENCH_BATCH_DEBUG=1 prints every item's size, attempts and step timings to stderr.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cvgen/remote.hpp"
#include "cvgen/stages.hpp"

#include "bench_util.hpp"

namespace fs = std::filesystem;

namespace {

struct Options {
    int n = 200;
    double latency = 0.5;
    double latencySd = 0;
    int concurrency = 50;
    std::string clients = "cvgen,python";
    std::string render;
    bool callbacks = false;  ///< cvgen only: a callback receiver, the emulator posts to it
    cv::Size in{400, 300}, out{600, 400};
    int repeat = 1;
    double maxQps = -1;  ///< cvgen's PollPolicy::maxQueriesPerSecond (-1 = the default)
    std::string cvgen;
    std::string python = "/usr/bin/python3";
    std::string script;  // bench/py_baseline.py in the source tree
};

/** A number field of /proc/self/status ("Threads:", "VmHWM:" in kB). */
int procStatus(const char* key) {
    FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    int v = 0;
    const size_t k = std::strlen(key);
    while (std::fgets(line, sizeof line, f))
        if (std::strncmp(line, key, k) == 0) v = std::atoi(line + k);
    std::fclose(f);
    return v;
}

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
        std::vector<std::string> args = {o.cvgen,         "serve",     "--port",    "0",
                                         "--api-key",     "bench-key", "--latency", latency,
                                         "--concurrency", conc,        "--seed",    "5"};
        if (o.latencySd > 0) {
            args.push_back("--latency-sd");
            args.push_back(std::to_string(o.latencySd));
        }
        if (!o.render.empty()) {
            args.push_back("--render");
            args.push_back(o.render);
        }
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        // Everything the child needs is built before fork(): only async-signal-safe calls after.
        pid_ = fork();
        if (pid_ < 0) return false;
        if (pid_ == 0) {
            dup2(fds[1], STDOUT_FILENO);
            close(fds[0]);
            close(fds[1]);
            execv(o.cvgen.c_str(), argv.data());
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

void makeInputs(const fs::path& dir, int n, cv::Size size) {
    fs::create_directories(dir);
    cv::RNG rng(9);
    std::vector<std::vector<uint8_t>> variants;
    for (int v = 0; v < 8; ++v) {
        cv::Mat img(size, CV_8UC3);
        cv::randu(img, 0, 256);
        cv::GaussianBlur(img, img, cv::Size(0, 0), 8);
        cv::circle(img, cv::Point(size.width / 2, size.height / 2), 20 + 10 * v,
                   cv::Scalar(30 * v, 200, 90), 4);
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
    double queriesPerTask = 0;
    double slotHeld = 0;   ///< Σ per-item time provider slots were held (s)
    double taskTime = 0;   ///< Σ run time of the emulator's finished tasks (s)
    int maxThreads = 0;    ///< cvgen: most threads of this process seen during the run
    double peakRssMb = 0;  ///< cvgen: this process's peak RSS (VmHWM) after the run
    std::string firstError;
};

/** GET <url>/_emulator/stats → task queries (GET on the expand route by id) and creates. */
void emulatorCounts(const std::string& url, int64_t* queries, int64_t* creates,
                    double* taskSeconds) {
    auto t = cvgen::remote::createCurlTransport();
    cvgen::remote::HttpRequest req;
    req.url = url + "/_emulator/stats";
    auto resp = t->send(req);
    rapidjson::Document d;
    d.Parse(resp.body.c_str());
    *queries = *creates = 0;
    *taskSeconds = 0;
    if (!d.IsObject() || !d.HasMember("requests_by_route")) return;
    if (d.HasMember("finished_ms") && d["finished_ms"].IsInt64())
        *taskSeconds = double(d["finished_ms"].GetInt64()) / 1000.0;
    for (const auto& m : d["requests_by_route"].GetObject()) {
        const std::string k = m.name.GetString();
        if (k == "GET /kling/v1/images/editing/expand/{id}") *queries += m.value.GetInt64();
        if (k == "POST /kling/v1/images/editing/expand") *creates += m.value.GetInt64();
    }
}

RunResult runCvgen(const Options& o, Emulator& emu, const fs::path& in, const fs::path& out) {
    RunResult r;
    cvgen::remote::RemoteParams rp;
    rp.profile = "anyapi";
    rp.baseUrl = emu.url();
    rp.apiKey = "bench-key";
    rp.proxy = "none";
    rp.maxSlots = o.concurrency;
    if (o.maxQps >= 0) rp.poll.maxQueriesPerSecond = o.maxQps;
    if (o.callbacks) rp.callbackListen = "127.0.0.1:0";
    rp.deadline = std::chrono::minutes(30);
    auto provider = cvgen::remote::createProvider(rp);
    if (!provider.ok()) {
        r.firstError = provider.status().toString();
        return r;
    }
    cvgen::stages::BatchRunner::Params bp;
    bp.input = in.string();
    bp.output = out.string();
    bp.target = cvgen::TargetSpec::exact(o.out);
    bp.outputFormat = "bmp";
    bp.provider = *provider;  // cv::Ptr is a std::shared_ptr
    bp.concurrency = o.concurrency;
    bp.reportPath = "none";
    bp.contactSheet = false;
    std::string firstError;
    double held = 0;
    bp.onItem = [&](const cvgen::stages::ItemReport& it) {
        if (it.status == cvgen::stages::ItemStatus::FAILED && firstError.empty())
            firstError = std::string(cvgen::codeName(it.code)) + ": " + it.message;
        auto st = it.timings.find("provider-slots");
        if (st != it.timings.end()) held += st->second / 1000.0;
        if (std::getenv("BENCH_BATCH_DEBUG")) {
            std::string t;
            for (const auto& kv : it.timings) t += " " + kv.first + "=" + std::to_string(kv.second);
            std::fprintf(stderr, "item %s %dx%d ->%dx%d tasks=%d%s\n", it.relPath.c_str(),
                         it.inputSize.width, it.inputSize.height, it.outputSize.width,
                         it.outputSize.height, it.tasks, t.c_str());
        }
    };
    auto runner = cvgen::stages::BatchRunner::create(bp);
    std::atomic<bool> running{true};
    std::thread sampler([&] {
        while (running.load()) {
            r.maxThreads = std::max(r.maxThreads, procStatus("Threads:"));
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    const double cpu0 = cpuSeconds(RUSAGE_SELF);
    const auto t0 = std::chrono::steady_clock::now();
    auto summary = runner->run();
    running = false;
    sampler.join();
    r.peakRssMb = procStatus("VmHWM:") / 1024.0;
    r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.clientCpu = cpuSeconds(RUSAGE_SELF) - cpu0;
    if (!summary.ok()) {
        r.firstError = summary.status().toString();
        return r;
    }
    r.done = summary->ok;
    r.failed = summary->failed + summary->notRun;
    r.firstError = firstError;
    r.slotHeld = held;
    r.ok = summary->ok == size_t(o.n);
    return r;
}

RunResult runPython(const Options& o, Emulator& emu, const fs::path& in, const fs::path& out) {
    RunResult r;
    const std::string conc = std::to_string(o.concurrency);
    std::vector<std::string> args = {o.python,        o.script,
                                     "--base-url",    emu.url(),
                                     "--key",         "bench-key",
                                     "--in",          in.string(),
                                     "--out",         out.string(),
                                     "--width",       std::to_string(o.out.width),
                                     "--height",      std::to_string(o.out.height),
                                     "--concurrency", conc,
                                     "--poll",        "1.0"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    if (pipe(fds) != 0) return r;
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t pid = fork();
    if (pid < 0) return r;
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(o.python.c_str(), argv.data());
        _exit(127);
    }
    close(fds[1]);
    std::string output;
    char buf[4096];
    ssize_t got;
    while ((got = read(fds[0], buf, sizeof buf)) > 0) output.append(buf, size_t(got));
    close(fds[0]);
    int status = 0;
    rusage ru{};
    wait4(pid, &status, 0, &ru);
    r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.clientCpu = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                  double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    int ok = 0, failed = 0;
    double wall = 0;
    const auto at = output.find("PY_RESULT");
    if (at == std::string::npos ||
        std::sscanf(output.c_str() + at, "PY_RESULT ok=%d failed=%d wall_s=%lf", &ok, &failed,
                    &wall) != 3) {
        r.firstError =
            "the Python client printed no result (exit status " + std::to_string(status) + ")";
        return r;
    }
    r.wall = wall;  // its own wall time (without the interpreter's start-up)
    r.done = size_t(ok);
    r.failed = size_t(failed);
    r.ok = ok == o.n;
    return r;
}

RunResult runOnce(const Options& o, const std::string& client, const fs::path& in,
                  const fs::path& out) {
    RunResult r;
    Emulator emu;
    if (!emu.start(o)) {
        r.firstError = "could not start the emulator (" + o.cvgen + " serve)";
        return r;
    }
    std::error_code ec;
    fs::remove_all(out, ec);
    r = client == "cvgen" ? runCvgen(o, emu, in, out) : runPython(o, emu, in, out);
    int64_t queries = 0, creates = 0;
    emulatorCounts(emu.url(), &queries, &creates, &r.taskTime);
    r.queriesPerTask = creates > 0 ? double(queries) / double(creates) : 0;
    r.emulatorCpu = emu.stop();
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    o.cvgen = cvgen::bench::defaultCvgen(argv[0]);
    o.script = (fs::path(CVGEN_BENCH_SOURCE_DIR) / "py_baseline.py").string();
    for (int i = 1; i < argc; ++i) {
        auto val = [&](const char* key) { return cvgen::bench::flagValue(argv[i], key); };
        if (const char* v = val("--n="))
            o.n = std::atoi(v);
        else if (const char* v2 = val("--latency="))
            o.latency = std::atof(v2);
        else if (const char* v3 = val("--concurrency="))
            o.concurrency = std::atoi(v3);
        else if (const char* v4 = val("--clients="))
            o.clients = v4;
        else if (const char* v5 = val("--repeat="))
            o.repeat = std::atoi(v5);
        else if (const char* v6 = val("--cvgen="))
            o.cvgen = v6;
        else if (const char* v7 = val("--latency-sd="))
            o.latencySd = std::atof(v7);
        else if (const char* v8 = val("--render="))
            o.render = v8;
        else if (std::strcmp(argv[i], "--callbacks") == 0)
            o.callbacks = true;
        else if (const char* q = val("--max-qps="))
            o.maxQps = std::atof(q);
        else if (const char* v9 = val("--in="))
            std::sscanf(v9, "%dx%d", &o.in.width, &o.in.height);
        else if (const char* v10 = val("--out="))
            std::sscanf(v10, "%dx%d", &o.out.width, &o.out.height);
        else {
            std::fprintf(
                stderr,
                "usage: bench_batch [--n=200] [--latency=0.5] [--latency-sd=0] "
                "[--concurrency=50] [--clients=cvgen,python] [--render=full|fast] "
                "[--callbacks] [--in=400x300] [--out=600x400] [--repeat=1] [--cvgen=PATH]\n");
            return 2;
        }
    }
    if (o.n < 1 || o.concurrency < 1 || o.latency <= 0 || o.repeat < 1 || o.latencySd < 0) {
        std::fprintf(stderr, "bench_batch: bad option value\n");
        return 2;
    }
    if (!fs::exists(o.cvgen)) {
        std::fprintf(stderr, "bench_batch: %s not found (build the cvgen target or pass --cvgen)\n",
                     o.cvgen.c_str());
        return 1;
    }
    std::vector<std::string> clients;
    for (const std::string c : {"cvgen", "python"})
        if (o.clients.find(c) != std::string::npos) clients.push_back(c);
    if (std::find(clients.begin(), clients.end(), "python") != clients.end() &&
        std::system((o.python + " -c 'import requests, PIL' 2>/dev/null").c_str()) != 0) {
        std::printf(
            "python client skipped: %s lacks requests/PIL (apt-get install "
            "python3-requests python3-pil)\n",
            o.python.c_str());
        clients.erase(std::remove(clients.begin(), clients.end(), "python"), clients.end());
    }
    std::error_code ec;
    const fs::path tmp =
        fs::temp_directory_path() / ("cvgen-bench-batch-" + std::to_string(getpid()));
    makeInputs(tmp / "in", o.n, o.in);

    const double ideal = std::ceil(double(o.n) / o.concurrency) * o.latency;
    std::printf("batch: N=%d tasks, L=%.3f s (sd %.3f), C=%d, ideal wall = ceil(N/C)*L = %.2f s\n",
                o.n, o.latency, o.latencySd, o.concurrency, ideal);
    std::printf("(%dx%d JPEG -> %dx%d BMP; emulator in a separate process%s%s)\n", o.in.width,
                o.in.height, o.out.width, o.out.height,
                o.render.empty() ? "" : (", --render " + o.render).c_str(),
                o.callbacks ? ", cvgen with a callback receiver" : "");
    std::printf("%-7s %4s %9s %8s %14s %14s %10s %10s %6s\n", "client", "rep", "wall s", "ratio",
                "client ms/task", "emul. ms/task", "queries/t", "occupancy", "ok");
    int rc = 0;
    std::map<std::string, RunResult> median;
    for (const std::string& client : clients) {
        std::vector<RunResult> runs;
        for (int rep = 0; rep < o.repeat; ++rep) {
            RunResult r = runOnce(o, client, tmp / "in", tmp / "out");
            const double occ = r.slotHeld > 0 ? r.taskTime / r.slotHeld : 0;
            std::printf("%-7s %4d %9.3f %8.3f %14.3f %14.3f %10.2f %10.3f %6zu\n", client.c_str(),
                        rep + 1, r.wall, r.wall / ideal, r.clientCpu * 1e3 / o.n,
                        r.emulatorCpu * 1e3 / o.n, r.queriesPerTask, occ, r.done);
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
        median[client] = med;
        std::printf(
            "RESULT batch_%s n=%d latency=%.3f latency_sd=%.3f concurrency=%d wall_s=%.3f "
            "ideal_s=%.3f ratio=%.3f client_cpu_ms_per_task=%.3f emulator_cpu_ms_per_task=%.3f "
            "queries_per_task=%.2f occupancy=%.3f max_threads=%d peak_rss_mb=%.1f runs=%zu\n",
            client.c_str(), o.n, o.latency, o.latencySd, o.concurrency, med.wall, ideal,
            med.wall / ideal, med.clientCpu * 1e3 / o.n, med.emulatorCpu * 1e3 / o.n,
            med.queriesPerTask, med.slotHeld > 0 ? med.taskTime / med.slotHeld : 0, med.maxThreads,
            med.peakRssMb, runs.size());
    }
    if (median.count("cvgen") && median.count("python")) {
        const RunResult& c = median["cvgen"];
        const RunResult& py = median["python"];
        std::printf("RESULT batch_vs_python wall_ratio=%.3f cpu_ratio=%.3f\n", c.wall / py.wall,
                    py.clientCpu > 0 ? c.clientCpu / py.clientCpu : 0);
    }
    fs::remove_all(tmp, ec);
    return rc;
}
