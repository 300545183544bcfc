#include "cvgen/stages/batch.hpp"

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
#include "cvgen/core/worker_pool.hpp"
#include "cvgen/stages/contact_sheet.hpp"
#include "cvgen/stages/journal.hpp"
#include "cvgen/stages/ops.hpp"
#include "json_util.hpp"

namespace cvgen::stages {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const char* toString(BatchOp op) noexcept {
    switch (op) {
        case BatchOp::EXPAND:
            return "expand";
        case BatchOp::UPSCALE:
            return "upscale";
    }
    return "?";
}

const char* toString(ItemStatus s) noexcept {
    switch (s) {
        case ItemStatus::OK:
            return "ok";
        case ItemStatus::FAILED:
            return "failed";
        case ItemStatus::SKIPPED:
            return "skipped";
        case ItemStatus::PLANNED:
            return "planned";
        case ItemStatus::NOT_RUN:
            return "not_run";
    }
    return "?";
}

int BatchSummary::exitCode() const noexcept {
    if (stoppedEarly || cancelled) return 3;
    if (failed > 0) return 1;
    return 0;
}

std::string outputRelPath(const std::string& inputRelPath, const std::string& naming,
                          const std::string& ext, cv::Size size, const std::string& op) {
    const fs::path rel(inputRelPath);
    const std::string stem = rel.stem().string();
    std::string name;
    for (size_t i = 0; i < naming.size();) {
        if (naming[i] == '{') {
            const size_t close = naming.find('}', i);
            if (close != std::string::npos) {
                const std::string tok = naming.substr(i + 1, close - i - 1);
                bool known = true;
                if (tok == "stem")
                    name += stem;
                else if (tok == "ext")
                    name += ext;
                else if (tok == "name")
                    name += rel.filename().string();
                else if (tok == "W")
                    name += std::to_string(size.width);
                else if (tok == "H")
                    name += std::to_string(size.height);
                else if (tok == "op")
                    name += op;
                else
                    known = false;
                if (known) {
                    i = close + 1;
                    continue;
                }
            }
        }
        name += naming[i++];
    }
    const fs::path dir = rel.parent_path();
    return dir.empty() ? name : (dir / name).generic_string();
}

namespace {

/** Provider slots: a call asking for n runs when n are free, in order; nobody waits blocked.
 * Only provider calls hold slots, so reading, decoding, composing and writing never keep a
 * provider slot idle. */
class SlotGate {
public:
    explicit SlotGate(int capacity) : free_(capacity) {}
    /** Runs `start` now or once `n` slots are free (on the thread that frees them). */
    void acquire(int n, std::function<void()> start) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (!waiting_.empty() || free_ < n) {
                waiting_.emplace_back(n, std::move(start));
                return;
            }
            free_ -= n;
        }
        start();
    }
    void release(int n) {
        std::vector<std::function<void()>> ready;
        {
            std::lock_guard<std::mutex> lock(mu_);
            free_ += n;
            while (!waiting_.empty() && waiting_.front().first <= free_) {
                free_ -= waiting_.front().first;
                ready.push_back(std::move(waiting_.front().second));
                waiting_.pop_front();
            }
        }
        for (auto& f : ready) f();
    }

private:
    std::mutex mu_;
    int free_;
    std::deque<std::pair<int, std::function<void()>>> waiting_;
};

/** What the provider said during one item (filled by ObservedProvider). */
struct ItemContext {
    std::mutex mu;
    bool providerError = false;  ///< the provider answered with an error (not a local failure)
    Status lastProviderError;
    std::vector<std::string> taskIds;
    int calls = 0;
    double slotMs = 0;  ///< time this item's provider calls held slots
};

/** Decorates the batch's provider for one item: merges the batch's deadline and cancel flag into
 * every call, records what the provider answered (so early stop can tell provider errors from
 * local ones) and reports each finished task for the journal. It decides nothing: retries are
 * the provider's (the remote engine's), never the batch's. */
class ObservedProvider final : public Provider {
public:
    using OnTask = std::function<void(const std::string& key, const std::string& taskId)>;
    /** `stop`: the batch stopped early, a call waiting for its slot is not made. */
    ObservedProvider(std::shared_ptr<Provider> inner, std::shared_ptr<ItemContext> ctx,
                     const BatchRunner::Params& p, OnTask onTask, SlotGate& slots, int perTask,
                     const std::atomic<bool>& stop)
        : inner_(std::move(inner)),
          ctx_(std::move(ctx)),
          p_(p),
          onTask_(std::move(onTask)),
          slots_(slots),
          perTask_(perTask),
          stop_(stop) {}

    std::string name() const override { return inner_->name(); }
    ExpandLimits expandLimits() const override { return inner_->expandLimits(); }
    Result<TaskOutput> expand(const ExpandRequest& r, const CallOptions& o) override {
        return record(inner_->expand(r, merged(o)), false, r.task.externalTaskId);
    }
    Result<TaskOutput> generate(const GenerateRequest& r, const CallOptions& o) override {
        return record(inner_->generate(r, merged(o)), false, r.task.externalTaskId);
    }
    Result<TaskOutput> omni(const OmniRequest& r, const CallOptions& o) override {
        return record(inner_->omni(r, merged(o)), false, r.task.externalTaskId);
    }
    Result<TaskOutput> upscale(const UpscaleRequest& r, const CallOptions& o) override {
        return record(inner_->upscale(r, merged(o)), false, r.externalTaskId);
    }
    Result<TaskOutput> resume(Operation op, const std::string& id, const CallOptions& o) override {
        return record(inner_->resume(op, id, merged(o)), true, id);
    }
    void expandAsync(const ExpandRequest& r, const CallOptions& o, Completion d) override {
        slotted([this, r](CallOptions c, Completion k) { inner_->expandAsync(r, c, std::move(k)); },
                o, recorder(std::move(d), false, r.task.externalTaskId));
    }
    void generateAsync(const GenerateRequest& r, const CallOptions& o, Completion d) override {
        slotted(
            [this, r](CallOptions c, Completion k) { inner_->generateAsync(r, c, std::move(k)); },
            o, recorder(std::move(d), false, r.task.externalTaskId));
    }
    void omniAsync(const OmniRequest& r, const CallOptions& o, Completion d) override {
        slotted([this, r](CallOptions c, Completion k) { inner_->omniAsync(r, c, std::move(k)); },
                o, recorder(std::move(d), false, r.task.externalTaskId));
    }
    void upscaleAsync(const UpscaleRequest& r, const CallOptions& o, Completion d) override {
        slotted(
            [this, r](CallOptions c, Completion k) { inner_->upscaleAsync(r, c, std::move(k)); }, o,
            recorder(std::move(d), false, r.externalTaskId));
    }
    void resumeAsync(Operation op, const std::string& id, const CallOptions& o,
                     Completion d) override {
        slotted([this, op, id](CallOptions c,
                               Completion k) { inner_->resumeAsync(op, id, c, std::move(k)); },
                o, recorder(std::move(d), true, id));
    }

private:
    /** Runs the call once the item's slots are free. They are freed when the provider reports
     * the task finished (CallOptions::onRemoteDone, before the download) or when the call
     * completes, whichever comes first; the time they were held is added to the item's. */
    void slotted(std::function<void(CallOptions, Completion)> call, const CallOptions& o,
                 Completion done) {
        SlotGate& gate = slots_;
        const int n = perTask_;
        CallOptions opt = merged(o);
        gate.acquire(n, [this, call = std::move(call), opt = std::move(opt), done = std::move(done),
                         &gate, n]() mutable {
            if (stop_.load()) {
                gate.release(n);
                return done(cancelled("not started: the batch stopped early"));
            }
            struct Held {
                std::atomic<bool> freed{false};
                std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();
            };
            auto held = std::make_shared<Held>();
            auto free = [held, &gate, n, ctx = ctx_] {
                if (held->freed.exchange(true)) return;
                const double ms = std::chrono::duration<double, std::milli>(
                                      std::chrono::steady_clock::now() - held->since)
                                      .count();
                {
                    std::lock_guard<std::mutex> lock(ctx->mu);
                    ctx->slotMs += ms;
                }
                gate.release(n);
            };
            auto user = std::move(opt.onRemoteDone);
            opt.onRemoteDone = [free, user = std::move(user)] {
                free();
                if (user) user();
            };
            call(std::move(opt), [done = std::move(done), free](Result<TaskOutput> r) {
                free();
                done(std::move(r));
            });
        });
    }

    CallOptions merged(const CallOptions& o) const {
        CallOptions c = o;
        if (c.deadline.count() == 0) c.deadline = p_.callDeadline;
        if (!c.cancel) c.cancel = p_.cancel;
        return c;
    }
    Completion recorder(Completion d, bool isResume, std::string key) {
        return [this, keep = ctx_, d = std::move(d), isResume, key = std::move(key)](
                   Result<TaskOutput> r) { d(record(std::move(r), isResume, key)); };
    }
    Result<TaskOutput> record(Result<TaskOutput> r, bool isResume, const std::string& key) {
        std::lock_guard<std::mutex> lock(ctx_->mu);
        ++ctx_->calls;
        if (r.ok()) {
            if (!r->taskId.empty()) ctx_->taskIds.push_back(r->taskId);
            if (onTask_) onTask_(r->externalTaskId.empty() ? key : r->externalTaskId, r->taskId);
            return r;
        }
        const Status st = r.status();
        // A resume that finds nothing (or a provider without remote tasks) is not an error.
        if (isResume && (st.code() == Code::NOT_FOUND || st.code() == Code::UNIMPLEMENTED))
            return r;
        if (st.code() != Code::CANCELLED) {
            ctx_->providerError = true;
            ctx_->lastProviderError = st;
        }
        return r;
    }

    std::shared_ptr<Provider> inner_;
    std::shared_ptr<ItemContext> ctx_;
    const BatchRunner::Params& p_;
    OnTask onTask_;
    SlotGate& slots_;
    int perTask_;
    const std::atomic<bool>& stop_;
};

// ---------------------------------------------------------------------------------------------
// Small helpers.

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string hex64(uint64_t v) {
    std::ostringstream o;
    o << std::hex << std::setw(16) << std::setfill('0') << v;
    return o.str();
}

std::string randomRunId() {
    std::random_device rd;
    const uint64_t v =
        (uint64_t(rd()) << 32) ^ uint64_t(rd()) ^ uint64_t(Clock::now().time_since_epoch().count());
    return hex64(v);
}

std::string describeTarget(const TargetSpec& t) {
    std::ostringstream o;
    if (t.kind == TargetSpec::Kind::EXACT) {
        o << t.size.width << "x" << t.size.height;
    } else {
        o << t.aspectW << ":" << t.aspectH << "@scale=" << t.scale << ",short=" << t.shortSide
          << ",long=" << t.longSide;
    }
    return o.str();
}

std::string describePlacement(const Placement& p) {
    if (p.kind == Placement::Kind::OFFSET)
        return std::to_string(p.offset.x) + "," + std::to_string(p.offset.y);
    return toString(p.gravity);
}

/** The image converted to what the output format can hold (reported as warnings). */
cv::Mat prepareForFormat(const cv::Mat& img, ImageFormat f, std::vector<std::string>& warnings) {
    cv::Mat out = img;
    const bool eightBitOnly =
        f == ImageFormat::JPEG || f == ImageFormat::WEBP || f == ImageFormat::BMP;
    if (eightBitOnly && out.depth() != CV_8U) {
        out = detail::matchType(out, CV_MAKETYPE(CV_8U, out.channels()));
        warnings.push_back(std::string("converted to 8 bits for ") + formatName(f));
    }
    if (f == ImageFormat::JPEG && out.channels() == 4) {
        out = detail::matchType(out, CV_8UC3);
        warnings.push_back("alpha dropped for JPEG");
    }
    return out;
}

fs::path canonicalish(const fs::path& p) {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(fs::absolute(p, ec), ec);
    return ec ? fs::absolute(p).lexically_normal() : c;
}

bool isInside(const fs::path& p, const fs::path& dir) {
    auto pi = p.begin();
    for (auto di = dir.begin(); di != dir.end(); ++di, ++pi) {
        if (di->empty()) continue;
        if (pi == p.end() || *pi != *di) return false;
    }
    return true;
}

/** Removes temporary files (".<name>.tmp-<pid>-<k>", see writeFileAtomic) left by a process of
 * this host that no longer runs (a crash or SIGKILL mid-write). */
void removeStaleTemps(const fs::path& out) {
    static const std::regex tmpName(R"(^\..+\.tmp-(\d+)-\d+$)");
    std::error_code ec;
    fs::recursive_directory_iterator it(out, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        std::smatch m;
        if (!std::regex_match(name, m, tmpName) || !it->is_regular_file(ec)) continue;
        const long pid = std::strtol(m[1].str().c_str(), nullptr, 10);
        if (pid > 0 && ::kill(pid_t(pid), 0) != 0 && errno == ESRCH) {
            std::error_code e2;
            fs::remove(it->path(), e2);
        }
    }
}

std::string reportLine(const ItemReport& r) {
    rapidjson::StringBuffer buf;
    detail::JsonWriter w(buf);
    w.StartObject();
    detail::key(w, "type", "item");
    detail::key(w, "status", toString(r.status));
    detail::key(w, "input", r.input);
    detail::key(w, "rel_path", r.relPath);
    detail::key(w, "output", r.output);
    detail::key(w, "code", codeName(r.code));
    detail::keyInt(w, "provider_code", r.providerCode);
    detail::key(w, "message", r.message);
    detail::key(w, "provider", r.provider);
    detail::key(w, "external_task_id", r.externalTaskId);
    detail::keyStrings(w, "task_ids", r.taskIds);
    w.Key("timings_ms");
    w.StartObject();
    for (const auto& [k, v] : r.timings) detail::keyDouble(w, k.c_str(), std::round(v * 10) / 10);
    w.EndObject();
    detail::keyInt(w, "input_width", r.inputSize.width);
    detail::keyInt(w, "input_height", r.inputSize.height);
    detail::keyInt(w, "output_width", r.outputSize.width);
    detail::keyInt(w, "output_height", r.outputSize.height);
    detail::keyInt(w, "attempts", r.attempts);
    detail::keyInt(w, "tasks", r.tasks);
    detail::keyInt(w, "result_images", r.resultImages);
    detail::keyStrings(w, "warnings", r.warnings);
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
}

std::string summaryLine(const BatchSummary& s, const std::string& op) {
    rapidjson::StringBuffer buf;
    detail::JsonWriter w(buf);
    w.StartObject();
    detail::key(w, "type", "summary");
    detail::key(w, "op", op);
    detail::keyInt(w, "total", (long long)s.total);
    detail::keyInt(w, "ok", (long long)s.ok);
    detail::keyInt(w, "failed", (long long)s.failed);
    detail::keyInt(w, "skipped", (long long)s.skipped);
    detail::keyInt(w, "planned", (long long)s.planned);
    detail::keyInt(w, "not_run", (long long)s.notRun);
    detail::keyInt(w, "tasks", (long long)s.tasks);
    detail::keyInt(w, "result_images", (long long)s.resultImages);
    detail::keyBool(w, "stopped_early", s.stoppedEarly);
    detail::keyBool(w, "cancelled", s.cancelled);
    detail::key(w, "stop_reason", s.stopReason);
    detail::keyDouble(w, "seconds", std::round(s.seconds * 1000) / 1000);
    detail::keyInt(w, "exit_code", s.exitCode());
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
}

// ---------------------------------------------------------------------------------------------

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
    Clock::time_point start_;
};

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

double msSince(Clock::time_point a) {
    return std::chrono::duration<double, std::milli>(Clock::now() - a).count();
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
                                                       slotsPerTask_, stop_);
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
            // While the first earlyK_ outcomes are not all in, only as many items as there are
            // slots, so an early stop spends no more calls than before it could decide.
            const size_t busy = inFlight_ - (finishing ? 1 : 0);
            const size_t cap = earlyWindow_.load()
                                   ? std::max<size_t>(1, size_t(p_.concurrency / slotsPerTask_))
                                   : maxItems();
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
            earlyWindow_ = false;  // decided: slots free as soon as calls complete from now on
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

}  // namespace

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
    return cv::makePtr<BatchRunnerImpl>(p);
}

}  // namespace cvgen::stages
