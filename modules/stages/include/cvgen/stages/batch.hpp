#ifndef CVGEN_STAGES_BATCH_HPP
#define CVGEN_STAGES_BATCH_HPP

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/planner.hpp"
#include "cvgen/core/provider.hpp"
#include "cvgen/core/status.hpp"
#include "cvgen/stages/inputs.hpp"

namespace cvgen::stages {

/** @brief What a batch does to every image. */
enum class BatchOp {
    EXPAND,  ///< grow the canvas to a target (planner → provider → composition)
    UPSCALE  ///< upscale by a factor
};

/** @brief "expand" / "upscale". */
const char* toString(BatchOp op) noexcept;

/** @brief Outcome of one item. */
enum class ItemStatus {
    OK,       ///< output written
    FAILED,   ///< error (code and message in the report)
    SKIPPED,  ///< done by an earlier run (resume)
    PLANNED,  ///< dry run: planned, nothing written
    NOT_RUN   ///< not started: the batch stopped early or was cancelled
};

/** @brief "ok", "failed", "skipped", "planned", "not_run". */
const char* toString(ItemStatus s) noexcept;

/** @brief One line of the report. */
struct ItemReport {
    std::string input;    ///< path of the input
    std::string relPath;  ///< relative path (journal and shard key)
    std::string output;   ///< path of the output ("" when none was written)
    ItemStatus status = ItemStatus::NOT_RUN;
    Code code = Code::OK;  ///< error code (OK unless FAILED)
    int providerCode = 0;  ///< the provider's business code, 0 when none
    std::string message;   ///< error message (never secrets)
    std::string provider;  ///< provider name
    std::string externalTaskId;
    std::vector<std::string> taskIds;
    /** step → ms: "read", the stage's name, "write", "total", and "provider-slots" (how long
     * the item's provider calls held provider slots: from the create until the provider reported
     * the task finished). */
    std::map<std::string, double> timings;
    cv::Size inputSize;  ///< as displayed (EXIF applied); empty if unknown
    cv::Size outputSize;
    int attempts = 0;      ///< provider attempts made in this run
    int tasks = 0;         ///< tasks this item needs (dry run) or created
    int resultImages = 0;  ///< images those tasks produce
    std::vector<std::string> warnings;
};

/** @brief Counts and timing of a running batch (for progress displays). */
struct BatchProgress {
    size_t total = 0;     ///< items in this batch (after shard and filters)
    size_t finished = 0;  ///< ok + failed + skipped + planned
    size_t ok = 0, failed = 0, skipped = 0, planned = 0;
    size_t inFlight = 0;
    double elapsedSeconds = 0;
    double itemsPerSecond = 0;  ///< over the items processed in this run (skips excluded)
    double etaSeconds = -1;     ///< -1 while unknown
    std::string lastItem;
};

/** @brief What a batch did. */
struct BatchSummary {
    size_t total = 0, ok = 0, failed = 0, skipped = 0, planned = 0, notRun = 0;
    size_t tasks = 0, resultImages = 0;  ///< created (or, in a dry run, needed)
    bool stoppedEarly = false;
    bool cancelled = false;
    std::string stopReason;  ///< why it stopped early (a sentence), "" otherwise
    double seconds = 0;
    std::string reportPath, journalPath, contactSheetHtml, contactSheetPng;  ///< "" when none
    /** @brief CLI exit code: 3 stopped early or cancelled, 1 some item failed, 0 otherwise. */
    int exitCode() const noexcept;
};

/** @brief Runs one operation over a folder of images: many items in flight, a crash-safe journal
 * for resume, a JSONL report and a contact sheet.
 *
 * No thread per item: an item's steps (read and decode, each provider call through
 * Provider::*Async, composition, the atomic write) post each other on, CPU work on
 * cvgen::WorkerPool::cpu(); with a remote provider every wait is the provider engine's event
 * loop. Up to `concurrency` slots are in flight (an item whose tasks ask for n images holds n).
 *
 * Outputs mirror the input tree under `output`, named by `naming`, written to a temporary name
 * and renamed (temporary files left by a killed run of this host are removed on the next run).
 *
 * Resume: every item gets a deterministic external task id ("cvgen-" + FNV-1a of run id,
 * relative path and operation parameters; pass k of an expand adds "-p<k>"). An item whose
 * journal has an intent but no outcome is resumed: each task is first collected with
 * Provider::resume() by its id; only NOT_FOUND (never created) or UNIMPLEMENTED (the offline
 * engine: nothing was charged) lets it be created. Items done (output present) are skipped;
 * failed ones are retried only with `retryFailed`. A journal written for other parameters is
 * refused.
 *
 * Retries: none here. Whether an exchange is retried, and whether a create may be re-sent, is the
 * provider's decision (the remote engine's RetryPolicy, its shared rate-limit gate and its
 * lookups by external id); the batch records the outcome. OUTCOME_UNKNOWN (a request that may have
 * been processed and cannot be looked up) fails the item with a report warning naming the
 * external task id to check. An input is never overwritten: the output folder may not be the
 * input folder, and an item whose output path is an input path fails with INVALID_ARGUMENT.
 * @note Touches the network when the provider is remote.
 */
class BatchRunner {
public:
    /** @brief Everything a batch needs; validated in create(). */
    struct Params {
        std::string input;   ///< folder (recursive) or list file, see InputQuery
        std::string output;  ///< output folder (created)
        std::vector<std::string> include, exclude;  ///< globs, see InputQuery
        std::vector<std::string> extensions = InputQuery().extensions;
        /** @brief Output name inside the mirrored folder. Tokens: {stem} (name without
         * extension), {ext} (output extension without dot), {name} (input file name), {W}, {H}
         * (output size), {op}. */
        std::string naming = "{stem}_{W}x{H}.{ext}";
        /** @brief Output format by extension ("png", "jpg", "webp", "tif", "bmp"); "" keeps the
         * input's (GIF becomes PNG). The original's pixels are bit-exact in lossless outputs
         * (PNG, TIFF, BMP); JPEG/WebP re-encode the whole canvas. */
        std::string outputFormat;
        int jpegQuality = 95;  ///< 1..100

        BatchOp op = BatchOp::EXPAND;
        TargetSpec target = TargetSpec::exact(cv::Size(1920, 1080));  ///< EXPAND
        Placement placement;                                          ///< EXPAND
        PlannerParams planner;  ///< EXPAND (limits: the provider's expandLimits())
        double scale = 2.0;     ///< UPSCALE
        std::string prompt;     ///< optional prompt passed to the provider
        int imagesPerTask = 1;  ///< n result images asked per task (1..9); the first is written

        /** @brief The provider; null = the offline engine (cvgen::local::LocalProvider). */
        std::shared_ptr<Provider> provider;
        /** @brief EXPAND with a provider other than "local": conform each first-pass input to
         * the expand endpoint's limits (see ExpandToTarget::Params::preflight). */
        bool preflight = true;
        /** @brief Slots: a task asking for n images holds n slots (capped at concurrency). */
        int concurrency = 4;
        std::chrono::milliseconds callDeadline{0};  ///< CallOptions::deadline of each call

        /** @brief "" = <output>/.cvgen-journal.jsonl, or .cvgen-journal.shard-I-of-N.jsonl for a
         * shard (shards may share one output folder). A run without `resume` starts a fresh
         * journal (new run id, so new external task ids). */
        std::string journalPath;
        bool resume = false;       ///< skip finished items, resume interrupted ones
        bool retryFailed = false;  ///< with resume: also retry items that failed
        bool dryRun = false;       ///< read headers and plan only; write nothing
        Shard shard;
        /** @brief Stop when the first K = min(earlyStopAfter, items) items all fail the same way
         * (same code and provider code, reported by the provider) and items remain.
         * 0 disables. */
        int earlyStopAfter = 5;

        /** @brief "" = <output>/report.jsonl (report.shard-I-of-N.jsonl for a shard); "none"
         * writes no report. One JSON object per item ("type":"item": status, code,
         * provider_code, message, provider, external_task_id, task_ids, timings_ms, input and
         * output paths and sizes, attempts, tasks, result_images, warnings), then one
         * "type":"summary" line. */
        std::string reportPath;
        bool contactSheet = true;
        std::string contactSheetDir;  ///< "" = output; contact_sheet[.shard-I-of-N].html/.png

        /** @brief Set to true from any thread (e.g. a SIGINT handler) to stop starting items
         * and cancel waits; the batch ends with cancelled = true. */
        std::shared_ptr<std::atomic<bool>> cancel;
        /** @brief Called after every finished item (from worker threads, serialised, with no
         * internal lock held). */
        std::function<void(const BatchProgress&)> onProgress;
        /** @brief Called with every item's report line (serialised, no internal lock held). */
        std::function<void(const ItemReport&)> onItem;
    };

    virtual ~BatchRunner() = default;
    /** @brief Validates the parameters. @throws std::invalid_argument for values out of range
     * (concurrency outside 1..10000, empty input or output, imagesPerTask outside
     * 1..9, jpegQuality outside 1..100). */
    static cv::Ptr<BatchRunner> create(const Params& params);

    /** @brief Runs the batch. Item failures are in the summary and report, not the Result.
     * @return INVALID_ARGUMENT (output folder equal to the input folder, unknown output format),
     * NOT_FOUND (no input), FAILED_PRECONDITION (resuming a journal written for another
     * operation), or I/O errors creating the output folder, journal or report. */
    virtual Result<BatchSummary> run() = 0;
};

/** @brief The output file name for an input relative path under a naming scheme (see
 * Params::naming), e.g. ("a/b/cat.png", "{stem}_{W}x{H}.{ext}", "png", {1920,1080}, "expand")
 * → "a/b/cat_1920x1080.png". */
std::string outputRelPath(const std::string& inputRelPath, const std::string& naming,
                          const std::string& ext, cv::Size size, const std::string& op);

}  // namespace cvgen::stages

#endif  // CVGEN_STAGES_BATCH_HPP
