// `cvgen serve`: the provider emulator on a local port (see cvgen/emulator/server.hpp).
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include "command.hpp"

#ifdef CVGEN_HAVE_EMULATOR
#include "cvgen/emulator.hpp"
#endif

namespace {

#ifdef CVGEN_HAVE_EMULATOR

struct ServeOptions {
    std::string host = "127.0.0.1";
    int port = 0;
    std::string tlsCert, tlsKey;
    std::vector<std::string> apiKeys;
    std::string accessKey, secretKey;
    double latencySeconds = 2.0;
    double latencySdSeconds = 0.0;
    uint64_t seed = 1;
    std::string faultsFile;
    std::vector<std::string> faultFlags;
    std::string webhookSecret;
    int64_t resultTtlSeconds = 3600;
    int concurrency = 0;
    bool queue = false;
    bool upscaleAsTask = false;
    double upscaleFactor = 2.0;
    bool nullTaskResult = false;
    bool aggregatorStrict = false;
    bool strict = false;
    int maxConnections = 1024;
    std::string render = "full";
};

/** Each connection is a descriptor: raise the soft limit toward the hard one so that
 * --max-connections clients (plus result files, callbacks) fit. */
void raiseDescriptorLimit(int maxConnections) {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
    const rlim_t want = static_cast<rlim_t>(maxConnections) + 256;
    if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < want) {
        lim.rlim_cur = lim.rlim_max == RLIM_INFINITY ? want : std::min(want, lim.rlim_max);
        setrlimit(RLIMIT_NOFILE, &lim);
    }
}

int runServe(const ServeOptions& o) {
    namespace emu = cvgen::emulator;
    // Block the stop signals before any thread exists, so every server thread inherits the mask
    // and the signals are only ever taken by sigwait() below.
    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGINT);
    sigaddset(&stopSignals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
    emu::Params p;
    p.host = o.host;
    p.port = o.port;
    p.tlsCertFile = o.tlsCert;
    p.tlsKeyFile = o.tlsKey;
    p.apiKeys = o.apiKeys;
    p.accessKey = o.accessKey;
    p.secretKey = o.secretKey;
    if (!std::isfinite(o.latencySeconds) || o.latencySeconds < 0) {
        std::cerr << "cvgen serve: --latency must be >= 0 seconds\n";
        return cvgen::cli::EXIT_USAGE;
    }
    p.latency = std::chrono::milliseconds(std::llround(o.latencySeconds * 1000.0));
    if (!std::isfinite(o.latencySdSeconds) || o.latencySdSeconds < 0) {
        std::cerr << "cvgen serve: --latency-sd must be >= 0 seconds\n";
        return cvgen::cli::EXIT_USAGE;
    }
    p.latencySd = std::chrono::milliseconds(std::llround(o.latencySdSeconds * 1000.0));
    p.seed = o.seed;
    p.webhookSecret = o.webhookSecret;
    p.resultTtl = std::chrono::seconds(o.resultTtlSeconds);
    p.concurrencyLimit = o.concurrency;
    p.queue = o.queue;
    p.upscaleAsTask = o.upscaleAsTask;
    p.upscaleFactor = o.upscaleFactor;
    p.nullTaskResultBeforeSuccess = o.nullTaskResult;
    p.aggregatorStrict = o.aggregatorStrict;
    p.strict = o.strict;
    p.maxConnections = o.maxConnections;
    p.render = o.render == "fast" ? emu::RenderMode::FAST : emu::RenderMode::FULL;
    raiseDescriptorLimit(o.maxConnections);
    if (!o.faultsFile.empty()) {
        std::ifstream in(o.faultsFile);
        if (!in) {
            std::cerr << "cvgen serve: cannot read " << o.faultsFile << "\n";
            return cvgen::cli::EXIT_USAGE;
        }
        std::stringstream text;
        text << in.rdbuf();
        auto faults = emu::parseFaults(text.str());
        if (!faults.ok()) {
            std::cerr << "cvgen serve: " << o.faultsFile << ": " << faults.status().message()
                      << "\n";
            return cvgen::cli::EXIT_USAGE;
        }
        p.faults = std::move(faults).value();
    }
    for (const auto& flag : o.faultFlags) {
        auto f = emu::parseFaultFlag(flag);
        if (!f.ok()) {
            std::cerr << "cvgen serve: " << f.status().message() << "\n";
            return cvgen::cli::EXIT_USAGE;
        }
        p.faults.push_back(*f);
    }
    cv::Ptr<emu::Server> server;
    try {
        server = emu::Server::create(p);
    } catch (const std::invalid_argument& e) {
        std::cerr << "cvgen serve: " << e.what() << "\n";
        return cvgen::cli::EXIT_USAGE;
    }
    const cvgen::Status st = server->start();
    if (!st.ok()) {
        std::cerr << "cvgen serve: " << st.toString() << "\n";
        return cvgen::cli::EXIT_FAILED;
    }
    std::cout << "listening on " << server->baseUrl() << std::endl;  // flushed: scripts wait on it
    int sig = 0;
    sigwait(&stopSignals, &sig);
    server->stop();
    std::cerr << "cvgen serve: stopped (signal " << sig << ")\n";
    return cvgen::cli::EXIT_OK;
}

void setupServe(CLI::App& app) {
    auto o = std::make_shared<ServeOptions>();
    auto* sub = app.add_subcommand(
        "serve",
        "Run the provider emulator: the Kling (/v1), aggregator (/kling/v1, /ideogram/upscale) "
        "and Ideogram (/upscale) wire protocols on a local port, backed by the offline engine, "
        "with fault injection. Stops on SIGINT/SIGTERM.");
    sub->add_option("--host", o->host, "Address to bind")->capture_default_str();
    sub->add_option("--port", o->port, "Port (0 = ephemeral; the real one is printed)")
        ->capture_default_str()
        ->check(CLI::Range(0, 65535));
    sub->add_option("--tls-cert", o->tlsCert, "PEM certificate: serve HTTPS");
    sub->add_option("--tls-key", o->tlsKey, "PEM private key of --tls-cert");
    sub->add_option("--api-key", o->apiKeys,
                    "Accepted Bearer / Api-Key value (repeatable; none and no --access-key = "
                    "accept any)");
    sub->add_option("--access-key", o->accessKey, "Kling access key (JWT iss)");
    sub->add_option("--secret-key", o->secretKey, "Kling secret key (JWT HS256 key)");
    sub->add_option("--latency", o->latencySeconds,
                    "Seconds from submitted to succeed (processing at half)")
        ->capture_default_str();
    sub->add_option("--latency-sd", o->latencySdSeconds,
                    "Standard deviation of a task's time in seconds: > 0 draws each from a "
                    "lognormal with mean --latency (seeded by --seed), processing at a random "
                    "point before the end")
        ->capture_default_str();
    sub->add_option("--seed", o->seed, "Seed of ids, fault draws and --latency-sd draws")
        ->capture_default_str();
    sub->add_option("--faults", o->faultsFile, "JSON fault file (see cvgen/emulator/faults.hpp)");
    sub->add_option("--fault", o->faultFlags,
                    "A fault rule KIND[=RATE][@ROUTE], e.g. rate_limit=0.2@/kling/v1 "
                    "(repeatable)");
    sub->add_option("--webhook-secret", o->webhookSecret,
                    "whsec_<base64>: sign callbacks (Standard Webhooks)");
    sub->add_option("--result-ttl", o->resultTtlSeconds, "Seconds a result URL stays downloadable")
        ->capture_default_str()
        ->check(CLI::Range(int64_t(0), int64_t(10) * 365 * 86400));
    sub->add_option("--concurrency", o->concurrency,
                    "Concurrent task slots per account (0 = unlimited; over: 429/1303)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1000000));
    sub->add_flag("--queue", o->queue,
                  "Over --concurrency, tasks wait in submitted until a slot frees (first come, "
                  "first served) instead of 429/1303");
    sub->add_flag("--upscale-as-task", o->upscaleAsTask,
                  "/ideogram/upscale answers a task envelope instead of the synchronous body");
    sub->add_option("--upscale-factor", o->upscaleFactor,
                    "Upscale results are this many times "
                    "the input, in (1,8]")
        ->capture_default_str();
    sub->add_flag("--null-task-result", o->nullTaskResult,
                  "Under /kling/v1 send \"task_result\": null before success (as some relays do)");
    sub->add_flag("--aggregator-strict", o->aggregatorStrict,
                  "Under /kling/v1 require n (expand, generation) and model_name, as AnyAPI does");
    sub->add_flag("--strict", o->strict,
                  "Refuse what the real services refuse, by the client's own table: each "
                  "model's capabilities (400, code 1201 naming the field); fields the services "
                  "merely ignore pass. Input images follow each endpoint's rules in both modes");
    sub->add_option("--max-connections", o->maxConnections,
                    "Connections open at once; more wait in the listen backlog (idle "
                    "keep-alive clients hold no thread)")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    sub->add_option("--render", o->render,
                    "Result images: full (the offline engine) or fast (a gradient of the same size "
                    "and type, ~1 ms per megapixel; for load and benchmark runs)")
        ->capture_default_str()
        ->check(CLI::IsMember({"full", "fast"}));
    sub->callback([o] { cvgen::cli::setExitCode(runServe(*o)); });
}

const cvgen::cli::Registrar kRegister("serve", 900, setupServe);

#endif  // CVGEN_HAVE_EMULATOR

}  // namespace
