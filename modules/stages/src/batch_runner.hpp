// Internal: the batch runner's state and steps. batch.cpp runs the items (plan, read, stage,
// write, record); batch_run.cpp sets a run up (inputs, journal, resume, report) and ends it.
#ifndef CVGEN_STAGES_SRC_BATCH_RUNNER_HPP
#define CVGEN_STAGES_SRC_BATCH_RUNNER_HPP

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "batch_calls.hpp"
#include "batch_util.hpp"
#include "cvgen/core/worker_pool.hpp"
#include "cvgen/stages/batch.hpp"
#include "cvgen/stages/contact_sheet.hpp"
#include "cvgen/stages/journal.hpp"
#include "cvgen/stages/pipeline.hpp"

namespace cvgen::stages::detail {

class BatchRunnerImpl final : public BatchRunner {
public:
    explicit BatchRunnerImpl(Params p) : p_(std::move(p)) {}

    Result<BatchSummary> run() override;

private:
    struct Work {
        InputItem item;
        JournalItem prev;  ///< what an earlier run recorded (state NONE when nothing)
    };
    struct Outcome {
        ItemReport report;
        bool fromProvider = false;
    };
    /** One item in flight: read → stage (provider calls) → write, each step posted on. */
    struct ItemRun {
        const Work* w = nullptr;
        Outcome o;
        Clock::time_point t0, stageStart;
        std::shared_ptr<ItemContext> ctx;
    };
    using ItemRunPtr = std::shared_ptr<ItemRun>;

    std::string opParams() const;
    std::string outputExt(const std::string& relPath) const;
    void startStage(const ItemRunPtr& run, Frame frame, std::shared_ptr<Provider> observed);
    /** CPU pool: read and decode, journal the intent, hand the frame to the stage. */
    void readItem(const ItemRunPtr& run);
    /** CPU pool: the stage's result to a file, the journal and the report. */
    void writeItem(const ItemRunPtr& run, Result<Frame> result);
    /** Records the item's outcome, frees its slots and starts what may start. */
    void itemDone(const ItemRunPtr& run);
    Status failItem(const ItemRunPtr& run, const Status& st, bool record);
    /** Starts items while slots are free; marks the rest not run once the batch stops.
     * `finishing`: called by an item that is ending (and still counted in flight). */
    void pump(bool finishing = false);
    /** Calls onItem/onProgress for queued events, one caller at a time, with no lock held. */
    void drainCallbacks();
    /** The report line, summary, contact sheet and early-stop bookkeeping of one outcome;
     * mu_ held. */
    void record(Outcome& o);
    /** Runs `fn`; an exception (a library bug or an engine limit surfacing as cv::Exception)
     * fails this item as INTERNAL instead of terminating the whole batch from a worker. */
    template <typename Fn>
    Outcome guarded(const InputItem& item, Fn&& fn) {
        try {
            return fn();
        } catch (const std::exception& e) {
            Outcome o;
            o.report.input = item.path;
            o.report.relPath = item.relPath;
            o.report.provider = provider_->name();
            o.report.status = ItemStatus::FAILED;
            o.report.code = Code::INTERNAL;
            o.report.message = std::string("unexpected exception: ") + e.what();
            if (journal_) (void)journal_->failed(item.relPath, internalError(o.report.message), {});
            return o;
        }
    }
    ItemReport planItem(const InputItem& in);
    void finish(Outcome&& o);

    Params p_;
    std::shared_ptr<Provider> provider_;
    std::string runId_;
    cv::Ptr<Journal> journal_;
    std::set<fs::path> inputPaths_;  ///< canonical paths of every input (never overwritten)
    fs::path outDir_;
    int slotsPerTask_ = 1;
    std::unique_ptr<SlotGate> slots_;  ///< provider slots (only provider calls hold them)
    /** Items in memory at once: one per slot, plus as many read ahead (decoded, waiting for a
     * slot, or past their call: downloading, composing, writing) as fit kReadAheadBytes — up to
     * one more per slot, so a whole wave of slots freed at once finds its next items ready —
     * and never fewer than two per core. */
    size_t maxItems() const {
        const size_t slots = size_t(p_.concurrency / slotsPerTask_);
        const size_t floor = 2 * size_t(WorkerPool::cpu().maxThreads());
        const size_t per = itemBytes_.load();
        const size_t ahead =
            per == 0 ? floor : std::clamp(kReadAheadBytes / per, floor, std::max(floor, slots));
        return slots + ahead;
    }
    static constexpr size_t kReadAheadBytes = size_t(512) << 20;
    std::atomic<size_t> itemBytes_{0};  ///< the largest item's estimated memory so far
    std::vector<Work> work_;

    // Guarded by mu_.
    std::mutex mu_;
    std::condition_variable idle_;  ///< an item finished
    size_t next_ = 0;               ///< next work_ index to start
    size_t inFlight_ = 0;
    std::deque<std::pair<ItemReport, BatchProgress>> events_;  ///< for the user callbacks
    bool draining_ = false;
    FILE* report_ = nullptr;
    BatchSummary summary_;
    BatchProgress progress_;
    std::vector<ContactSheetEntry> sheet_;
    std::vector<Outcome> firstOutcomes_;  ///< the first K processed items, for early stop
    size_t earlyK_ = 0;
    size_t toProcess_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<bool> earlyWindow_{false};  ///< the first earlyK_ outcomes are not all in yet
    EarlyAdmission admission_;              ///< the provider calls allowed during that window
    Clock::time_point start_;
};

}  // namespace cvgen::stages::detail

#endif  // CVGEN_STAGES_SRC_BATCH_RUNNER_HPP
