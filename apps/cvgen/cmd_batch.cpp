// `cvgen batch IN OUT --op expand --target 1920x1080`: one operation over a folder of images
// (see cvgen/stages/batch.hpp). Exit codes: 0 all done, 1 some items failed, 2 usage error,
// 3 stopped early (the first items all failed the same way) or interrupted.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>

#include "command.hpp"

#ifdef CVGEN_HAVE_STAGES
#include "cvgen/core/planner.hpp"
#include "cvgen/stages.hpp"
#ifdef CVGEN_HAVE_LOCAL
#include "cvgen/local/local_provider.hpp"
#endif
#endif

// The CLI's shared --provider/--base-url/--ca-file/--timeout handling, when present.
#if defined(CVGEN_HAVE_STAGES) && defined(CVGEN_HAVE_LOCAL) && __has_include("provider_factory.hpp")
#include "provider_factory.hpp"
#define CVGEN_BATCH_PROVIDER_FACTORY 1
#endif

namespace {

#ifdef CVGEN_HAVE_STAGES

namespace st = cvgen::stages;

struct BatchOptions {
    std::string input, output;
    std::string op = "expand";
    std::string target;
    std::string anchor = "center";
    std::string mode = "blur";
#ifdef CVGEN_BATCH_PROVIDER_FACTORY
    cvgen::cli::ProviderOptions provider;
#else
    std::string provider = "local";
#endif
    std::string smaller = "fail";
    std::string reach = "multi-pass";
    double scale = 2.0;
    std::string prompt;
    int n = 1;
    int concurrency = 4;
    int retries = 4;
    std::string callbackListen, callbackUrl;
    bool resume = false, retryFailed = false, dryRun = false, quiet = false;
    std::string report, journal, shard, contactSheet, naming = "{stem}_{W}x{H}.{ext}", format;
    std::vector<std::string> include, exclude;
    int earlyStop = 5;
    int quality = 95;
};

// SIGINT/SIGTERM: stop starting items, cancel waits; a second signal kills as usual.
std::shared_ptr<std::atomic<bool>> g_cancel = std::make_shared<std::atomic<bool>>(false);
extern "C" void onSignal(int sig) {
    g_cancel->store(true);
    ::signal(sig, SIG_DFL);
}

std::string fmtDuration(double s) {
    if (s < 0) return "?";
    const long t = long(std::lround(s));
    char buf[32];
    if (t >= 3600)
        std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
    return buf;
}

/** Live bar on a terminal, plain periodic lines otherwise (both on stderr). */
class ProgressPrinter {
public:
    explicit ProgressPrinter(bool quiet) : quiet_(quiet), tty_(::isatty(2) != 0) {}

    void update(const st::BatchProgress& p) {
        if (quiet_) return;
        if (tty_) {
            const int width = 30;
            const int fill = p.total ? int(double(p.finished) / double(p.total) * width) : width;
            std::string bar(size_t(fill), '#');
            bar.resize(size_t(width), '.');
            std::fprintf(stderr,
                         "\r[%s] %zu/%zu  ok %zu  failed %zu  skipped %zu  %.2f img/s  ETA %s   ",
                         bar.c_str(), p.finished, p.total, p.ok + p.planned, p.failed, p.skipped,
                         p.itemsPerSecond, fmtDuration(p.etaSeconds).c_str());
            std::fflush(stderr);
            drawn_ = true;
            return;
        }
        // Plain: every 10% (at least every item for small batches) or every 10 s.
        const size_t step = std::max<size_t>(1, p.total / 10);
        if (p.finished == p.total || p.finished >= lastPrinted_ + step ||
            p.elapsedSeconds - lastTime_ >= 10) {
            lastPrinted_ = p.finished;
            lastTime_ = p.elapsedSeconds;
            std::fprintf(stderr,
                         "batch: %zu/%zu done (ok %zu, failed %zu, skipped %zu), %.2f img/s, "
                         "ETA %s\n",
                         p.finished, p.total, p.ok + p.planned, p.failed, p.skipped,
                         p.itemsPerSecond, fmtDuration(p.etaSeconds).c_str());
        }
    }
    void done() {
        if (drawn_) std::fprintf(stderr, "\n");
        drawn_ = false;
    }

private:
    bool quiet_, tty_;
    bool drawn_ = false;
    size_t lastPrinted_ = 0;
    double lastTime_ = 0;
};

int usage(const std::string& msg) {
    std::cerr << "cvgen batch: " << msg << "\n";
    return cvgen::cli::EXIT_USAGE;
}

int runBatch(const BatchOptions& o) {
    st::BatchRunner::Params p;
    p.input = o.input;
    p.output = o.output;
    p.include = o.include;
    p.exclude = o.exclude;
    p.naming = o.naming;
    p.outputFormat = o.format;
    p.jpegQuality = o.quality;
    p.prompt = o.prompt;
    p.imagesPerTask = o.n;
    p.concurrency = o.concurrency;
    p.resume = o.resume;
    p.retryFailed = o.retryFailed;
    p.dryRun = o.dryRun;
    p.earlyStopAfter = o.earlyStop;
    p.journalPath = o.journal;
    p.reportPath = o.report;
    if (o.retryFailed && !o.resume) return usage("--retry-failed needs --resume");
    if (o.contactSheet == "none")
        p.contactSheet = false;
    else
        p.contactSheetDir = o.contactSheet;
    if (!o.shard.empty()) {
        auto sh = st::parseShard(o.shard);
        if (!sh.ok()) return usage(sh.status().message());
        p.shard = *sh;
    }

    if (o.op == "expand") {
        p.op = st::BatchOp::EXPAND;
        if (o.target.empty()) return usage("--op expand needs --target (e.g. 1920x1080 or 16:9)");
        auto t = cvgen::parseTarget(o.target);
        if (!t.ok()) return usage("--target: " + t.status().message());
        p.target = *t;
        auto a = cvgen::parsePlacement(o.anchor);
        if (!a.ok()) return usage("--anchor: " + a.status().message());
        p.placement = *a;
        if (o.smaller == "fail")
            p.planner.smallerTarget = cvgen::SmallerTarget::FAIL;
        else if (o.smaller == "crop")
            p.planner.smallerTarget = cvgen::SmallerTarget::CROP;
        else if (o.smaller == "scale-down")
            p.planner.smallerTarget = cvgen::SmallerTarget::SCALE_DOWN;
        else
            return usage("--smaller must be fail, crop or scale-down");
        if (o.reach == "multi-pass")
            p.planner.reach = cvgen::Reach::MULTI_PASS;
        else if (o.reach == "scale-to-fit")
            p.planner.reach = cvgen::Reach::SCALE_TO_FIT;
        else
            return usage("--reach must be multi-pass or scale-to-fit");
    } else if (o.op == "upscale") {
        p.op = st::BatchOp::UPSCALE;
        if (!(o.scale > 1.0) || !std::isfinite(o.scale)) return usage("--scale must be > 1");
        p.scale = o.scale;
    } else {
        return usage("--op must be expand or upscale");
    }

#ifdef CVGEN_BATCH_PROVIDER_FACTORY
    {
        cvgen::cli::ProviderOptions po = o.provider;
        po.retries = o.retries;
        po.maxSlots = o.concurrency;
        po.callbackListen = o.callbackListen;
        po.callbackUrl = o.callbackUrl;
        auto mode = cvgen::local::parseExpandMode(o.mode);
        if (!mode) return usage("--mode must be blur, soft or edge");
        po.local.mode = *mode;
        auto made = cvgen::cli::makeProvider(po);
        if (!made.ok()) {
            std::cerr << "cvgen batch: " << made.status().toString() << "\n";
            const auto c = made.code();
            return c == cvgen::Code::INVALID_ARGUMENT || c == cvgen::Code::NOT_FOUND
                       ? cvgen::cli::EXIT_USAGE
                       : cvgen::cli::EXIT_FAILED;
        }
        p.provider = *made;
        p.callDeadline = cvgen::cli::makeCallOptions(po).deadline;
    }
#elif defined(CVGEN_HAVE_LOCAL)
    if (o.provider != "local")
        return usage("--provider " + o.provider +
                     ": only the offline engine ('local') is available in this build");
    {
        cvgen::local::LocalProvider::Params lp;
        auto mode = cvgen::local::parseExpandMode(o.mode);
        if (!mode) return usage("--mode must be blur, soft or edge");
        lp.mode = *mode;
        p.provider = cvgen::local::LocalProvider::create(lp);
    }
#else
    return usage("this cvgen was built without the offline engine");
#endif

    ProgressPrinter progress(o.quiet);
    std::mutex outMu;
    p.onProgress = [&](const st::BatchProgress& pr) { progress.update(pr); };
    if (o.dryRun) {
        p.onItem = [&](const st::ItemReport& r) {
            std::lock_guard<std::mutex> lock(outMu);
            if (r.status == st::ItemStatus::PLANNED)
                std::cout << "plan " << r.relPath << ": " << r.inputSize.width << "x"
                          << r.inputSize.height << " -> " << r.outputSize.width << "x"
                          << r.outputSize.height << ", " << r.tasks
                          << (r.tasks == 1 ? " task" : " tasks") << " -> " << r.output << "\n";
            else
                std::cout << "FAIL " << r.relPath << ": " << cvgen::codeName(r.code) << ": "
                          << r.message << "\n";
        };
    } else if (!o.quiet) {
        p.onItem = [&](const st::ItemReport& r) {
            if (r.status != st::ItemStatus::FAILED) return;
            std::lock_guard<std::mutex> lock(outMu);
            progress.done();
            std::cerr << "failed " << r.relPath << ": " << cvgen::codeName(r.code) << ": "
                      << r.message << "\n";
        };
    }
    p.cancel = g_cancel;

    cvgen::Result<st::BatchSummary> res = cvgen::Status(cvgen::Code::UNKNOWN, "not run");
    try {
        auto runner = st::BatchRunner::create(p);
        ::signal(SIGINT, onSignal);
        ::signal(SIGTERM, onSignal);
        res = runner->run();
        ::signal(SIGINT, SIG_DFL);
        ::signal(SIGTERM, SIG_DFL);
    } catch (const std::invalid_argument& e) {
        return usage(e.what());
    }
    progress.done();
    if (!res.ok()) {
        const cvgen::Status s = res.status();
        std::cerr << "cvgen batch: " << s.toString() << "\n";
        const auto c = s.code();
        return c == cvgen::Code::INVALID_ARGUMENT || c == cvgen::Code::NOT_FOUND ||
                       c == cvgen::Code::FAILED_PRECONDITION
                   ? cvgen::cli::EXIT_USAGE
                   : cvgen::cli::EXIT_FAILED;
    }
    const st::BatchSummary& s = *res;
    std::ostringstream out;
    if (o.dryRun) {
        out << "dry run: " << s.total << " items, " << s.planned << " planned, " << s.failed
            << " failing, " << s.tasks << " tasks, " << s.resultImages
            << " result images; nothing written\n";
    } else {
        out << "batch " << o.op << ": " << s.total << " items: " << s.ok << " ok, " << s.failed
            << " failed, " << s.skipped << " skipped";
        if (s.notRun) out << ", " << s.notRun << " not run";
        char secs[32];
        std::snprintf(secs, sizeof secs, "%.1f", s.seconds);
        out << " in " << secs << " s -> " << o.output << "\n";
        if (!s.reportPath.empty()) out << "report: " << s.reportPath << "\n";
        if (!s.contactSheetHtml.empty())
            out << "contact sheet: " << s.contactSheetHtml << " and " << s.contactSheetPng << "\n";
        if (!s.journalPath.empty()) out << "journal: " << s.journalPath << "\n";
    }
    std::cout << out.str();
    if (s.stoppedEarly) std::cerr << "cvgen batch: " << s.stopReason << "\n";
    if (s.cancelled)
        std::cerr << "cvgen batch: interrupted; rerun the same command with --resume to "
                     "finish\n";
    return s.exitCode();
}

void setupBatch(CLI::App& app) {
    auto o = std::make_shared<BatchOptions>();
    auto* sub = app.add_subcommand(
        "batch",
        "Run one operation over a folder of images (recursive) or a list file; outputs mirror "
        "the input tree in OUT.\n\nA journal (OUT/.cvgen-journal.jsonl) records every item: "
        "after a crash or Ctrl-C, rerun with --resume to skip finished items and collect "
        "submitted tasks instead of creating them again. A JSONL report (one line per item "
        "plus a summary) and a contact sheet (HTML + PNG montage) are written to OUT.\n\n"
        "--shard I/N (0-based) takes the items whose relative path hashes (64-bit FNV-1a) to I "
        "modulo N, so N machines (a Kubernetes Indexed Job, a Slurm array) can share one "
        "folder without coordination; each shard keeps its own journal and report.\n\n"
        "Exit codes: 0 all done, 1 some items failed, 2 usage error, 3 stopped early (the "
        "first items all failed the same way at the provider) or interrupted.");
    sub->add_option("IN", o->input, "Input folder or list file (one path per line)")->required();
    sub->add_option("OUT", o->output, "Output folder (never the input folder)")->required();
    sub->add_option("--op", o->op, "Operation: expand or upscale")->capture_default_str();
    sub->add_option("--target", o->target,
                    "expand: target canvas, e.g. 1920x1080, 16:9, 16:9@1080p, 16:9@1.5x");
    sub->add_option("--anchor", o->anchor,
                    "expand: where the original sits: center, top-left, top, …, or X,Y")
        ->capture_default_str();
    sub->add_option("--smaller", o->smaller,
                    "expand: when the target is smaller than an image: fail, crop, scale-down")
        ->capture_default_str();
    sub->add_option("--reach", o->reach,
                    "expand: beyond one call's limits: multi-pass (original untouched) or "
                    "scale-to-fit")
        ->capture_default_str();
    sub->add_option("--mode", o->mode, "Offline engine fill: blur, soft or edge")
        ->capture_default_str();
    sub->add_option("--scale", o->scale, "upscale: factor (> 1)")->capture_default_str();
    sub->add_option("--prompt", o->prompt, "Optional prompt passed to the provider");
    sub->add_option("--n", o->n, "Result images per task (1-9; each holds one slot)")
        ->capture_default_str();
#ifdef CVGEN_BATCH_PROVIDER_FACTORY
    cvgen::cli::addProviderOptions(sub, o->provider);
#else
    sub->add_option("--provider", o->provider, "Provider profile (local = offline engine)")
        ->capture_default_str();
#endif
    sub->add_option("--concurrency", o->concurrency, "Slots in flight (a task of n images holds n)")
        ->capture_default_str();
    sub->add_option(
           "--retries", o->retries,
           "Extra attempts of one create, query or download at a remote provider (its engine "
           "owns retries; a create that may have been processed is never re-sent)")
        ->capture_default_str();
    sub->add_option("--callback-listen", o->callbackListen,
                    "HOST:PORT: receive provider callbacks there; a task whose callback arrives "
                    "completes at once, polling stays as the fallback (signatures checked with "
                    "CVGEN_WEBHOOK_SECRET when set)");
    sub->add_option("--callback-url", o->callbackUrl,
                    "URL the provider posts callbacks to (default http://HOST:PORT/cvgen-callback "
                    "of --callback-listen)");
    sub->add_flag("--resume", o->resume, "Continue the run recorded in the journal");
    sub->add_flag("--retry-failed", o->retryFailed, "With --resume: also retry failed items");
    sub->add_flag("--dry-run", o->dryRun,
                  "Read headers and plan every item; print tasks and result images; write "
                  "nothing");
    sub->add_option("--report", o->report, "Report file (default OUT/report.jsonl; none = off)");
    sub->add_option("--journal", o->journal, "Journal file (default OUT/.cvgen-journal.jsonl)");
    sub->add_option("--contact-sheet", o->contactSheet,
                    "Folder of contact_sheet.html/.png (default OUT; none = off)");
    sub->add_option("--shard", o->shard, "Take shard I of N (0-based), e.g. 0/4");
    sub->add_option("--include", o->include, "Only files matching this glob (repeatable)")
        ->allow_extra_args(false);
    sub->add_option("--exclude", o->exclude, "Skip files matching this glob (repeatable)")
        ->allow_extra_args(false);
    sub->add_option("--naming", o->naming, "Output name: {stem} {ext} {name} {W} {H} {op}")
        ->capture_default_str();
    sub->add_option("--format", o->format,
                    "Output format (png, jpg, webp, tif, bmp); default: "
                    "the input's");
    sub->add_option("--quality", o->quality, "JPEG/WebP quality 1-100")->capture_default_str();
    sub->add_option("--early-stop", o->earlyStop,
                    "Stop when the first K items all fail the same way (0 = never)")
        ->capture_default_str();
    sub->add_flag("-q,--quiet", o->quiet, "No progress output");
    sub->callback([o] { cvgen::cli::setExitCode(runBatch(*o)); });
}

#else

void setupBatch(CLI::App& app) {
    auto* sub = app.add_subcommand("batch", "Run one operation over a folder (not built)");
    sub->allow_extras();
    sub->callback([] {
        std::cerr << "cvgen batch: this cvgen was built without the stages module\n";
        cvgen::cli::setExitCode(cvgen::cli::EXIT_FAILED);
    });
}

#endif

const cvgen::cli::Registrar kRegister("batch", 30, setupBatch);

}  // namespace
