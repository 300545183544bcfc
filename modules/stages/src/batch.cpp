// The batch runner's item flow: plan, read, stage (provider calls), write, record; the pump that
// starts items as memory and slots allow. Setup and the end of a run: batch_run.cpp.
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

namespace cvgen::stages::detail {

std::string BatchRunnerImpl::opParams() const {
    std::ostringstream o;
    o << "op=" << toString(p_.op) << ";provider=" << provider_->name();
    if (p_.op == BatchOp::EXPAND) {
        o << ";target=" << describeTarget(p_.target)
          << ";placement=" << describePlacement(p_.placement)
          << ";smaller=" << toString(p_.planner.smallerTarget)
          << ";reach=" << toString(p_.planner.reach);
    } else {
        o << ";scale=" << p_.scale;
    }
    o << ";n=" << p_.imagesPerTask << ";prompt=" << hex64(stableHash(p_.prompt))
      << ";naming=" << p_.naming << ";format=" << p_.outputFormat;
    return o.str();
}

std::string BatchRunnerImpl::outputExt(const std::string& relPath) const {
    if (!p_.outputFormat.empty()) return lower(p_.outputFormat);
    std::string ext = lower(fs::path(relPath).extension().string());
    if (!ext.empty() && ext[0] == '.') ext.erase(0, 1);
    if (ext.empty() || ext == "gif") return "png";
    return ext;
}

ItemReport BatchRunnerImpl::planItem(const InputItem& in) {
    ItemReport r;
    r.input = in.path;
    r.relPath = in.relPath;
    r.provider = provider_->name();
    auto fail = [&](const Status& st) {
        r.status = ItemStatus::FAILED;
        r.code = st.code();
        r.providerCode = st.providerCode();
        r.message = st.message();
        return r;
    };
    const auto t0 = Clock::now();
    Result<std::vector<uint8_t>> bytes = readFileBytes(in.path);
    if (!bytes.ok()) return fail(bytes.status());
    Result<ImageHeader> hdr = readHeader(*bytes);
    if (!hdr.ok()) return fail(hdr.status());
    r.inputSize = cv::Size(hdr->displayWidth(), hdr->displayHeight());
    if (p_.op == BatchOp::EXPAND) {
        Result<Plan> plan = planCanvas(r.inputSize, p_.target, p_.placement,
                                       withProviderLimits(p_.planner, *provider_));
        if (!plan.ok()) return fail(plan.status());
        r.outputSize = plan->target;
        r.tasks = int(plan->passes.size());
        r.warnings = plan->notes;
    } else {
        r.outputSize = cv::Size(int(std::lround(r.inputSize.width * p_.scale)),
                                int(std::lround(r.inputSize.height * p_.scale)));
        r.tasks = 1;
    }
    r.resultImages = r.tasks * p_.imagesPerTask;
    r.output = (outDir_ / outputRelPath(in.relPath, p_.naming, outputExt(in.relPath), r.outputSize,
                                        toString(p_.op)))
                   .string();
    r.timings["plan"] = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    r.status = ItemStatus::PLANNED;
    return r;
}

Status BatchRunnerImpl::failItem(const ItemRunPtr& run, const Status& st, bool record) {
    ItemReport& r = run->o.report;
    r.status = ItemStatus::FAILED;
    r.code = st.code();
    r.providerCode = st.providerCode();
    r.message = st.message();
    if (st.code() == Code::OUTCOME_UNKNOWN)
        r.warnings.push_back(
            "the provider may have processed this request (external task id " +
            (st.externalTaskId().empty() ? r.externalTaskId : st.externalTaskId()) +
            "); it was not re-sent: check the provider's account before "
            "retrying this item");
    if (record && journal_) {
        Status js = journal_->failed(run->w->item.relPath, st, r.taskIds);
        if (!js.ok()) r.warnings.push_back("journal: " + js.toString());
    }
    r.timings["total"] = msSince(run->t0);
    return st;
}

void BatchRunnerImpl::readItem(const ItemRunPtr& run) {
    const Work& w = *run->w;
    ItemReport& r = run->o.report;
    // Read and decode (EXIF orientation applied: what a viewer shows is what gets expanded).
    Result<std::vector<uint8_t>> bytes = readFileBytes(w.item.path);
    if (!bytes.ok()) {
        (void)failItem(run, bytes.status(), true);
        return itemDone(run);
    }
    auto shared = std::make_shared<const std::vector<uint8_t>>(std::move(bytes).value());
    Result<cv::Mat> decoded = decodeImage(*shared);
    if (!decoded.ok()) {
        (void)failItem(run, decoded.status().withContext("decode"), true);
        return itemDone(run);
    }
    r.inputSize = decoded->size();
    r.timings["read"] = msSince(run->t0);
    {
        // What an item holds at its peak, roughly: its file, the decoded input, the request
        // and the result (a larger canvas), so read-ahead stays within kReadAheadBytes.
        const size_t est = shared->size() + decoded->total() * decoded->elemSize() * 4;
        size_t cur = itemBytes_.load();
        while (est > cur && !itemBytes_.compare_exchange_weak(cur, est)) {
        }
    }
    if (p_.cancel && p_.cancel->load()) {
        r.status = ItemStatus::NOT_RUN;
        r.code = Code::CANCELLED;
        r.message = "batch cancelled before this item started; rerun with --resume";
        return itemDone(run);
    }
    r.attempts = 1;
    if (journal_) {
        Status js = journal_->intent(w.item.relPath, r.externalTaskId, 1);
        if (!js.ok()) {
            (void)failItem(run, js.withContext("journal"), false);
            return itemDone(run);
        }
    }
    run->ctx = std::make_shared<ItemContext>();
    // Each finished task goes to the journal at once (flushed), with its ids.
    auto onTask = [this, run](const std::string& key, const std::string& taskId) {
        if (!journal_) return;
        Status js = journal_->task(run->w->item.relPath, key, taskId);
        if (!js.ok()) run->o.report.warnings.push_back("journal: " + js.toString());
    };
    auto observed = std::make_shared<ObservedProvider>(provider_, run->ctx, p_, onTask, *slots_,
                                                       slotsPerTask_, admission_, stop_);
    Frame frame(std::move(decoded).value(), w.item.path);
    frame.meta.externalTaskId = r.externalTaskId;
    frame.meta.sourceBytes = std::move(shared);
    // An intent without an outcome may have created tasks: collect them instead of creating
    // them again.
    frame.meta.resumeTasks = w.prev.state != ItemState::NONE;
    startStage(run, std::move(frame), std::move(observed));
}

void BatchRunnerImpl::startStage(const ItemRunPtr& run, Frame frame,
                                 std::shared_ptr<Provider> observed) {
    CallOptions call;
    call.deadline = p_.callDeadline;
    call.cancel = p_.cancel;
    run->stageStart = Clock::now();
    auto onResult = [this, run](Result<Frame> res) {
        WorkerPool::cpu().post([this, run, res = std::move(res)]() mutable {
            try {
                writeItem(run, std::move(res));
            } catch (const std::exception& e) {
                (void)failItem(run, internalError(std::string("unexpected exception: ") + e.what()),
                               true);
                itemDone(run);
            }
        });
    };
    if (p_.op == BatchOp::EXPAND) {
        ExpandToTarget::Params ep;
        ep.target = p_.target;
        ep.placement = p_.placement;
        ep.planner = p_.planner;
        ep.preflight = p_.preflight && provider_->name() != "local";
        ep.provider = std::move(observed);
        ep.prompt = p_.prompt;
        ep.call = call;
        ExpandToTarget::create(ep)->processAsync(std::move(frame), std::move(onResult));
    } else {
        UpscaleStage::Params up;
        up.scale = p_.scale;
        up.prompt = p_.prompt;
        up.provider = std::move(observed);
        up.call = call;
        UpscaleStage::create(up)->processAsync(std::move(frame), std::move(onResult));
    }
}

void BatchRunnerImpl::writeItem(const ItemRunPtr& run, Result<Frame> result) {
    const Work& w = *run->w;
    Outcome& o = run->o;
    ItemReport& r = o.report;
    r.timings[p_.op == BatchOp::EXPAND ? "expand-to-target" : "upscale"] = msSince(run->stageStart);
    {
        std::lock_guard<std::mutex> lock(run->ctx->mu);
        r.taskIds.insert(r.taskIds.end(), run->ctx->taskIds.begin(), run->ctx->taskIds.end());
        r.tasks += int(run->ctx->taskIds.size());
        if (run->ctx->slotMs > 0) r.timings["provider-slots"] = run->ctx->slotMs;
        o.fromProvider = !result.ok() && run->ctx->providerError &&
                         run->ctx->lastProviderError.code() == result.code();
    }
    if (!result.ok() && result.code() == Code::CANCELLED) {
        // No outcome line: a resume will collect whatever the provider still runs.
        r.status = ItemStatus::NOT_RUN;
        r.code = Code::CANCELLED;
        r.message = result.status().message() + "; rerun with --resume";
        r.timings["total"] = msSince(run->t0);
        return itemDone(run);
    }
    if (!result.ok()) {
        (void)failItem(run, result.status(), true);
        return itemDone(run);
    }
    Frame frame = std::move(result).value();
    for (const auto& wmsg : frame.meta.warnings) r.warnings.push_back(wmsg);
    for (const auto& t : frame.meta.transforms)
        if (t.rfind("wire: ", 0) == 0) r.warnings.push_back(t);
    if (!frame.meta.provider.empty()) r.provider = frame.meta.provider;
    r.outputSize = frame.image.size();
    r.resultImages = r.tasks * p_.imagesPerTask;

    const auto tw = Clock::now();
    const std::string ext = outputExt(w.item.relPath);
    const fs::path outPath =
        outDir_ / outputRelPath(w.item.relPath, p_.naming, ext, r.outputSize, toString(p_.op));
    if (inputPaths_.count(canonicalish(outPath))) {
        (void)failItem(run,
                       invalidArgument("output " + outPath.string() +
                                       " is an input file; refusing to overwrite it"),
                       true);
        return itemDone(run);
    }
    std::error_code ec;
    fs::create_directories(outPath.parent_path(), ec);
    if (ec) {
        (void)failItem(
            run,
            unavailable("cannot create " + outPath.parent_path().string() + ": " + ec.message()),
            true);
        return itemDone(run);
    }
    const ImageFormat fmt = formatFromExtension(outPath.string());
    cv::Mat toWrite = prepareForFormat(frame.image, fmt, r.warnings);
    Status ws = writeImageAtomic(outPath.string(), toWrite, p_.jpegQuality);
    if (!ws.ok()) {
        (void)failItem(run, ws.withContext("write"), true);
        return itemDone(run);
    }
    r.output = outPath.string();
    r.timings["write"] = msSince(tw);
    if (journal_) {
        Status js = journal_->done(w.item.relPath, r.output, r.taskIds);
        if (!js.ok()) r.warnings.push_back("journal: " + js.toString());
    }
    r.status = ItemStatus::OK;
    r.timings["total"] = msSince(run->t0);
    itemDone(run);
}

void BatchRunnerImpl::itemDone(const ItemRunPtr& run) {
    finish(std::move(run->o));
    if (!earlyWindow_.load())
        admission_.close();  // decided (or never open): whatever waits goes
    else
        admission_.finished();
    pump(true);
    // The last touch of this runner by a worker: run() may return (and the runner go) as soon as
    // the count reaches 0, so the notify happens under the lock and nothing follows it.
    std::lock_guard<std::mutex> lock(mu_);
    --inFlight_;
    --progress_.inFlight;
    idle_.notify_all();
}

void BatchRunnerImpl::pump(bool finishing) {
    std::vector<size_t> toStart;
    std::vector<size_t> notRun;
    {
        std::lock_guard<std::mutex> lock(mu_);
        const bool stopping = stop_.load() || (p_.cancel && p_.cancel->load());
        while (next_ < work_.size()) {
            if (stopping) {
                notRun.push_back(next_++);
                continue;
            }
            // Items in memory: enough to keep every provider slot busy while others read, decode,
            // compose or write (the slots themselves are the SlotGate's). An item finishing
            // (`finishing`) still counts until itemDone's last step.
            // While the first earlyK_ outcomes are not all in, EarlyAdmission holds back the
            // provider calls, not the reading.
            const size_t busy = inFlight_ - (finishing ? 1 : 0);
            const size_t cap = maxItems();
            if (busy >= cap) break;
            ++inFlight_;
            ++progress_.inFlight;
            toStart.push_back(next_++);
        }
    }
    for (size_t i : notRun) {
        Outcome o;
        o.report.input = work_[i].item.path;
        o.report.relPath = work_[i].item.relPath;
        o.report.status = ItemStatus::NOT_RUN;
        o.report.provider = provider_->name();
        o.report.message = stop_.load() ? "not started: the batch stopped early"
                                        : "not started: the batch was cancelled";
        finish(std::move(o));
    }
    if (!notRun.empty()) {
        std::lock_guard<std::mutex> lock(mu_);
        idle_.notify_all();
    }
    for (size_t i : toStart) {
        auto run = std::make_shared<ItemRun>();
        run->w = &work_[i];
        run->t0 = Clock::now();
        ItemReport& r = run->o.report;
        r.input = run->w->item.path;
        r.relPath = run->w->item.relPath;
        r.provider = provider_->name();
        r.externalTaskId =
            "cvgen-" + hex64(stableHash(runId_ + "\n" + r.relPath + "\n" + opParams()));
        WorkerPool::cpu().post([this, run] {
            try {
                readItem(run);
            } catch (const std::exception& e) {
                (void)failItem(run, internalError(std::string("unexpected exception: ") + e.what()),
                               true);
                itemDone(run);
            }
        });
    }
}

void BatchRunnerImpl::drainCallbacks() {
    std::unique_lock<std::mutex> lock(mu_);
    if (draining_) return;  // the thread draining now will call ours too
    draining_ = true;
    while (!events_.empty()) {
        auto ev = std::move(events_.front());
        events_.pop_front();
        lock.unlock();
        if (p_.onItem) p_.onItem(ev.first);
        if (p_.onProgress && ev.second.total > 0) p_.onProgress(ev.second);
        lock.lock();
    }
    draining_ = false;
    idle_.notify_all();
}

void BatchRunnerImpl::finish(Outcome&& o) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        record(o);
    }
    drainCallbacks();
}

void BatchRunnerImpl::record(Outcome& o) {
    ItemReport& r = o.report;
    switch (r.status) {
        case ItemStatus::OK:
            ++summary_.ok;
            ++progress_.ok;
            break;
        case ItemStatus::FAILED:
            ++summary_.failed;
            ++progress_.failed;
            break;
        case ItemStatus::SKIPPED:
            ++summary_.skipped;
            ++progress_.skipped;
            break;
        case ItemStatus::PLANNED:
            ++summary_.planned;
            ++progress_.planned;
            break;
        case ItemStatus::NOT_RUN:
            ++summary_.notRun;
            break;
    }
    summary_.tasks += size_t(r.tasks);
    summary_.resultImages += size_t(r.resultImages);
    if (r.status != ItemStatus::NOT_RUN) ++progress_.finished;
    progress_.lastItem = r.relPath;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    progress_.elapsedSeconds = elapsed;
    const size_t processed = progress_.ok + progress_.failed + progress_.planned;
    progress_.itemsPerSecond = elapsed > 0 ? processed / elapsed : 0;
    const size_t remaining = progress_.total - progress_.finished;
    progress_.etaSeconds = progress_.itemsPerSecond > 0 ? remaining / progress_.itemsPerSecond : -1;

    if (report_) {
        const std::string line = reportLine(r);
        std::fputs(line.c_str(), report_);
        std::fputc('\n', report_);
        std::fflush(report_);
    }
    if (p_.contactSheet && !p_.dryRun &&
        (r.status == ItemStatus::OK || r.status == ItemStatus::SKIPPED ||
         r.status == ItemStatus::FAILED)) {
        ContactSheetEntry e;
        e.before = canonicalish(r.input).string();
        e.after = r.output.empty() ? std::string() : canonicalish(r.output).string();
        e.label = r.relPath;
        e.status = toString(r.status);
        if (r.status == ItemStatus::FAILED)
            e.detail = std::string(codeName(r.code)) + " " + r.message;
        else if (!r.inputSize.empty())
            e.detail = std::to_string(r.inputSize.width) + "x" +
                       std::to_string(r.inputSize.height) + " -> " +
                       std::to_string(r.outputSize.width) + "x" +
                       std::to_string(r.outputSize.height);
        sheet_.push_back(std::move(e));
    }

    // Early stop: the first K processed items all failed the same way, at the provider.
    if ((r.status == ItemStatus::OK || r.status == ItemStatus::FAILED) && earlyK_ >= 2 &&
        firstOutcomes_.size() < earlyK_) {
        firstOutcomes_.push_back(o);
        if (firstOutcomes_.size() == earlyK_) {
            earlyWindow_ = false;  // decided: itemDone closes the admission window
            const ItemReport& a = firstOutcomes_.front().report;
            bool same = true;
            for (const auto& f : firstOutcomes_)
                same = same && f.fromProvider && f.report.status == ItemStatus::FAILED &&
                       f.report.code == a.code && f.report.providerCode == a.providerCode;
            if (same && toProcess_ > earlyK_) {
                stop_ = true;
                summary_.stoppedEarly = true;
                std::ostringstream why;
                why << "stopped early: the first " << earlyK_ << " items all failed with "
                    << codeName(a.code);
                if (a.providerCode) why << " (provider code " << a.providerCode << ")";
                why << " from provider " << a.provider << ": " << a.message
                    << ". Fix the cause and rerun with --resume.";
                summary_.stopReason = why.str();
            }
        }
    }
    events_.emplace_back(r, progress_);
}

}  // namespace cvgen::stages::detail
