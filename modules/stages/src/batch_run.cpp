// The batch runner's setup and end: inputs and shards, the journal and resume, the report file,
// the contact sheet and summary; BatchRunner::create.
#include "batch_runner.hpp"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <iomanip>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "compose_util.hpp"
#include "cvgen/core/codec.hpp"
#include "cvgen/stages/ops.hpp"
#include "json_util.hpp"

namespace cvgen::stages {
namespace detail {

Result<BatchSummary> BatchRunnerImpl::run() {
    start_ = Clock::now();
    provider_ = p_.provider ? p_.provider : defaultProvider();
    if (!p_.outputFormat.empty()) {
        const ImageFormat f = formatFromExtension("x." + p_.outputFormat);
        if (f == ImageFormat::UNKNOWN || f == ImageFormat::GIF)
            return invalidArgument("unknown output format '" + p_.outputFormat +
                                   "' (use png, jpg, webp, tif or bmp)");
    }
    outDir_ = fs::path(p_.output);
    const fs::path inCanon = canonicalish(p_.input), outCanon = canonicalish(p_.output);
    std::error_code ec;
    const bool inputIsDir = fs::is_directory(inCanon, ec);
    if (inputIsDir && inCanon == outCanon)
        return invalidArgument("the output folder is the input folder (" + p_.input +
                               "); choose another one so inputs are never overwritten");

    InputQuery q;
    q.input = p_.input;
    q.include = p_.include;
    q.exclude = p_.exclude;
    q.extensions = p_.extensions;
    if (inputIsDir && isInside(outCanon, inCanon)) q.skipDir = outCanon.string();
    Result<std::vector<InputItem>> listed = listInputs(q);
    if (!listed.ok()) return listed.status();
    std::vector<InputItem> items;
    for (const auto& it : *listed) {
        inputPaths_.insert(canonicalish(it.path));
        if (p_.shard.contains(it.relPath)) items.push_back(it);
    }
    summary_.total = items.size();
    progress_.total = items.size();

    const std::string shardSuffix =
        p_.shard.count > 1
            ? ".shard-" + std::to_string(p_.shard.index) + "-of-" + std::to_string(p_.shard.count)
            : std::string();

    if (p_.dryRun) {
        for (const auto& it : items) {
            Outcome o = guarded(it, [&] {
                Outcome planned;
                planned.report = planItem(it);
                return planned;
            });
            finish(std::move(o));
        }
        summary_.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
        return summary_;
    }

    fs::create_directories(outDir_, ec);
    if (ec) return unavailable("cannot create output folder " + p_.output + ": " + ec.message());
    removeStaleTemps(outDir_);

    // Journal: resume an earlier run, or start a fresh one.
    const std::string journalPath =
        p_.journalPath.empty() ? (outDir_ / (".cvgen-journal" + shardSuffix + ".jsonl")).string()
                               : p_.journalPath;
    JournalContents prev;
    bool resumed = false;
    if (p_.resume) {
        Result<JournalContents> loaded = Journal::load(journalPath);
        if (loaded.ok()) {
            prev = std::move(loaded).value();
            JournalHeader want{prev.header.runId, toString(p_.op), opParams()};
            if (prev.header.op != want.op || prev.header.opParams != want.opParams)
                return failedPrecondition(
                    "the journal " + journalPath + " was written for other parameters (" +
                    prev.header.opParams + "); now: " + want.opParams +
                    ". Use another output folder, or run without --resume to start over");
            resumed = true;
        } else if (loaded.code() != Code::NOT_FOUND) {
            return loaded.status().withContext("resume");
        }
    }
    if (resumed) {
        runId_ = prev.header.runId;
        Result<cv::Ptr<Journal>> j = Journal::openForAppend(journalPath);
        if (!j.ok()) return j.status();
        journal_ = *j;
    } else {
        runId_ = randomRunId();
        Result<cv::Ptr<Journal>> j =
            Journal::create(journalPath, JournalHeader{runId_, toString(p_.op), opParams()});
        if (!j.ok()) return j.status();
        journal_ = *j;
    }
    summary_.journalPath = journalPath;

    summary_.reportPath = p_.reportPath.empty()
                              ? (outDir_ / ("report" + shardSuffix + ".jsonl")).string()
                              : p_.reportPath;
    if (summary_.reportPath != "none") {
        const fs::path rp(summary_.reportPath);
        if (rp.has_parent_path()) fs::create_directories(rp.parent_path(), ec);
        report_ = std::fopen(summary_.reportPath.c_str(), "w");
        if (!report_) return unavailable("cannot write the report " + summary_.reportPath);
    } else {
        summary_.reportPath.clear();
    }

    // Decide what each item needs.
    std::vector<Work> work;
    for (const auto& it : items) {
        Work w{it, JournalItem()};
        auto found = prev.items.find(it.relPath);
        if (found != prev.items.end()) w.prev = found->second;
        if (w.prev.state == ItemState::DONE && fs::is_regular_file(w.prev.output, ec)) {
            Outcome o;
            o.report.input = it.path;
            o.report.relPath = it.relPath;
            o.report.output = w.prev.output;
            o.report.status = ItemStatus::SKIPPED;
            o.report.provider = provider_->name();
            o.report.taskIds = w.prev.taskIds;
            o.report.message = "done by an earlier run";
            finish(std::move(o));
            continue;
        }
        if (w.prev.state == ItemState::FAILED && !p_.retryFailed) {
            Outcome o;
            o.report.input = it.path;
            o.report.relPath = it.relPath;
            o.report.status = ItemStatus::FAILED;
            o.report.provider = provider_->name();
            o.report.code = codeFromName(w.prev.code).value_or(Code::UNKNOWN);
            o.report.message = "failed in an earlier run (" + w.prev.message +
                               "); pass --retry-failed to retry it";
            o.report.taskIds = w.prev.taskIds;
            {
                std::lock_guard<std::mutex> lock(mu_);
                ++summary_.failed;
                ++progress_.failed;
                ++progress_.finished;
                if (report_) {
                    std::fputs((reportLine(o.report) + "\n").c_str(), report_);
                    std::fflush(report_);
                }
                BatchProgress none;  // total 0: onItem only
                events_.emplace_back(o.report, none);
            }
            drainCallbacks();
            continue;
        }
        if (w.prev.state == ItemState::FAILED) w.prev.state = ItemState::NONE;  // fresh retry
        work.push_back(std::move(w));
    }
    toProcess_ = work.size();
    earlyK_ = p_.earlyStopAfter > 0 ? std::min(size_t(p_.earlyStopAfter), toProcess_) : 0;
    earlyWindow_ = earlyK_ >= 2;
    if (earlyWindow_) admission_.open(size_t(std::max(1, p_.concurrency / slotsPerTask_)));

    slotsPerTask_ = std::min(p_.imagesPerTask, p_.concurrency);
    slots_ = std::make_unique<SlotGate>(p_.concurrency);
    // No thread per item: items start as slots free up (pump), each step posts the next, and
    // this thread only waits for the last one (waking every 50 ms to notice a cancel).
    work_ = std::move(work);
    pump();
    {
        std::unique_lock<std::mutex> lock(mu_);
        while (next_ < work_.size() || inFlight_ > 0 || draining_ || !events_.empty()) {
            idle_.wait_for(lock, std::chrono::milliseconds(50));
            if (p_.cancel && p_.cancel->load() && next_ < work_.size()) {
                lock.unlock();
                pump();  // marks what has not started as not run
                lock.lock();
            }
        }
    }

    summary_.cancelled = p_.cancel && p_.cancel->load();
    summary_.seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    if (report_) {
        std::fputs((summaryLine(summary_, toString(p_.op)) + "\n").c_str(), report_);
        std::fclose(report_);
        report_ = nullptr;
    }
    if (p_.contactSheet && !sheet_.empty()) {
        const fs::path dir = p_.contactSheetDir.empty() ? outDir_ : fs::path(p_.contactSheetDir);
        fs::create_directories(dir, ec);
        const std::string html = (dir / ("contact_sheet" + shardSuffix + ".html")).string();
        const std::string png = (dir / ("contact_sheet" + shardSuffix + ".png")).string();
        std::sort(sheet_.begin(), sheet_.end(),
                  [](const ContactSheetEntry& a, const ContactSheetEntry& b) {
                      return a.label < b.label;
                  });
        Status cs = writeContactSheet(sheet_, html, png);
        if (cs.ok()) {
            summary_.contactSheetHtml = html;
            summary_.contactSheetPng = png;
        }
    }
    return summary_;
}

}  // namespace detail

cv::Ptr<BatchRunner> BatchRunner::create(const Params& p) {
    if (p.input.empty()) throw std::invalid_argument("BatchRunner: empty input");
    if (p.output.empty()) throw std::invalid_argument("BatchRunner: empty output");
    if (p.concurrency < 1 || p.concurrency > 10000)
        throw std::invalid_argument("BatchRunner: concurrency must be in [1,10000]");
    if (p.imagesPerTask < 1 || p.imagesPerTask > 9)
        throw std::invalid_argument("BatchRunner: imagesPerTask must be in [1,9]");
    if (p.jpegQuality < 1 || p.jpegQuality > 100)
        throw std::invalid_argument("BatchRunner: jpegQuality must be in [1,100]");
    if (p.shard.count < 1 || p.shard.index < 0 || p.shard.index >= p.shard.count)
        throw std::invalid_argument("BatchRunner: shard index must be in [0,count)");
    if (p.op == BatchOp::UPSCALE && !(p.scale > 1.0))
        throw std::invalid_argument("BatchRunner: upscale scale must be > 1");
    if (p.naming.empty()) throw std::invalid_argument("BatchRunner: empty naming scheme");
    return cv::makePtr<detail::BatchRunnerImpl>(p);
}

}  // namespace cvgen::stages
