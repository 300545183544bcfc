#include "cvgen/stages/batch.hpp"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "compose_util.hpp"
#include "cvgen/core/codec.hpp"
#include "cvgen/stages/contact_sheet.hpp"
#include "cvgen/stages/journal.hpp"
#include "cvgen/stages/ops.hpp"
#include "cvgen/stages/pipeline.hpp"
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

// ---------------------------------------------------------------------------------------------
// Retry classification and the shared back-off.

bool isRateLimit(const Status& st) {
    if (st.code() != Code::RESOURCE_EXHAUSTED) return false;
    return st.retryable() || st.retryAfter().has_value() || st.providerCode() == 1302 ||
           st.providerCode() == 1303 || st.httpStatus() == 429;
}

bool isRetryable(const Status& st) {
    if (st.code() == Code::CANCELLED) return false;
    return isRateLimit(st) || st.code() == Code::UNAVAILABLE ||
           st.code() == Code::DEADLINE_EXCEEDED || st.retryable();
}

/** One clock all workers consult before calling the provider: a rate-limit answer closes it for
 * the wait the provider asked for (or an exponential default), for everyone. */
class BackoffGate {
public:
    void closeFor(std::chrono::milliseconds d) {
        std::lock_guard<std::mutex> lock(mu_);
        const auto until = Clock::now() + d;
        if (until > openAt_) openAt_ = until;
    }
    /** Waits until the gate is open; false when cancelled meanwhile. */
    bool waitOpen(const std::shared_ptr<std::atomic<bool>>& cancel) const {
        for (;;) {
            if (cancel && cancel->load()) return false;
            Clock::time_point openAt;
            {
                std::lock_guard<std::mutex> lock(mu_);
                openAt = openAt_;
            }
            const auto now = Clock::now();
            if (now >= openAt) return true;
            std::this_thread::sleep_for(
                std::min<Clock::duration>(openAt - now, std::chrono::milliseconds(50)));
        }
    }

private:
    mutable std::mutex mu_;
    Clock::time_point openAt_{};
};

std::chrono::milliseconds backoffDelay(const Status& st, int attempt,
                                       std::chrono::milliseconds base,
                                       std::chrono::milliseconds cap) {
    if (st.retryAfter()) return *st.retryAfter();  // the provider's word wins, even over cap
    auto d = base;
    for (int i = 1; i < attempt && d < cap; ++i) d *= 2;
    return std::min(d, cap);
}

/** Weighted semaphore: a task asking for n images holds n slots. */
class SlotPool {
public:
    explicit SlotPool(int capacity) : free_(capacity) {}
    void acquire(int n) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return free_ >= n; });
        free_ -= n;
    }
    void release(int n) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            free_ += n;
        }
        cv_.notify_all();
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    int free_;
};

/** Holds n slots for a scope. */
class SlotGuard {
public:
    SlotGuard(SlotPool& pool, int n) : pool_(pool), n_(n) { pool_.acquire(n_); }
    ~SlotGuard() { pool_.release(n_); }
    SlotGuard(const SlotGuard&) = delete;
    SlotGuard& operator=(const SlotGuard&) = delete;

private:
    SlotPool& pool_;
    int n_;
};

/** What the provider said during one item (filled by GatedProvider). */
struct ItemContext {
    std::mutex mu;
    bool providerError = false;  ///< the provider answered with an error (not a local failure)
    Status lastProviderError;
    std::vector<std::string> taskIds;
    int calls = 0;
};

/** Decorates the batch's provider for one item: waits at the shared gate before each call,
 * closes it on rate limits, merges the batch's deadline and cancel flag, and records what the
 * provider answered so early stop can tell provider errors from local ones. */
class GatedProvider final : public Provider {
public:
    /** `onTask(externalTaskId, taskId)` is called after every task the provider finished. */
    GatedProvider(std::shared_ptr<Provider> inner, BackoffGate& gate,
                  std::shared_ptr<ItemContext> ctx, const BatchRunner::Params& p, int attempt,
                  std::function<void(const std::string&, const std::string&)> onTask)
        : inner_(std::move(inner)),
          gate_(gate),
          ctx_(std::move(ctx)),
          p_(p),
          attempt_(attempt),
          onTask_(std::move(onTask)) {}

    std::string name() const override { return inner_->name(); }
    ExpandLimits expandLimits() const override { return inner_->expandLimits(); }
    Result<TaskOutput> expand(const ExpandRequest& r, const CallOptions& o) override {
        return call(o, false, r.task.externalTaskId,
                    [&](const CallOptions& c) { return inner_->expand(r, c); });
    }
    Result<TaskOutput> generate(const GenerateRequest& r, const CallOptions& o) override {
        return call(o, false, r.task.externalTaskId,
                    [&](const CallOptions& c) { return inner_->generate(r, c); });
    }
    Result<TaskOutput> omni(const OmniRequest& r, const CallOptions& o) override {
        return call(o, false, r.task.externalTaskId,
                    [&](const CallOptions& c) { return inner_->omni(r, c); });
    }
    Result<TaskOutput> upscale(const UpscaleRequest& r, const CallOptions& o) override {
        return call(o, false, r.externalTaskId,
                    [&](const CallOptions& c) { return inner_->upscale(r, c); });
    }
    Result<TaskOutput> resume(Operation op, const std::string& id, const CallOptions& o) override {
        return call(o, true, id, [&](const CallOptions& c) { return inner_->resume(op, id, c); });
    }

private:
    template <typename Fn>
    Result<TaskOutput> call(const CallOptions& o, bool isResume, const std::string& key, Fn&& fn) {
        if (!gate_.waitOpen(p_.cancel)) return cancelled("batch cancelled");
        CallOptions c = o;
        if (c.deadline.count() == 0) c.deadline = p_.callDeadline;
        if (!c.cancel) c.cancel = p_.cancel;
        Result<TaskOutput> r = fn(c);
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
        if (isRateLimit(st))
            gate_.closeFor(backoffDelay(st, attempt_, p_.backoffBase, p_.backoffMax));
        return r;
    }

    std::shared_ptr<Provider> inner_;
    BackoffGate& gate_;
    std::shared_ptr<ItemContext> ctx_;
    const BatchRunner::Params& p_;
    int attempt_;
    std::function<void(const std::string&, const std::string&)> onTask_;
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

    std::string opParams() const;
    std::string outputExt(const std::string& relPath) const;
    cv::Ptr<Pipeline> pipelineFor(std::shared_ptr<Provider> provider) const;
    Outcome processItem(const Work& w);
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
    BackoffGate gate_;
    std::unique_ptr<SlotPool> slots_;
    int slotsPerTask_ = 1;

    // Guarded by mu_.
    std::mutex mu_;
    FILE* report_ = nullptr;
    BatchSummary summary_;
    BatchProgress progress_;
    std::vector<ContactSheetEntry> sheet_;
    std::vector<Outcome> firstOutcomes_;  ///< the first K processed items, for early stop
    size_t earlyK_ = 0;
    size_t toProcess_ = 0;
    std::atomic<bool> stop_{false};
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

cv::Ptr<Pipeline> BatchRunnerImpl::pipelineFor(std::shared_ptr<Provider> provider) const {
    cv::Ptr<Pipeline> pl = Pipeline::create();
    CallOptions call;
    call.deadline = p_.callDeadline;
    call.cancel = p_.cancel;
    if (p_.op == BatchOp::EXPAND) {
        ExpandToTarget::Params ep;
        ep.target = p_.target;
        ep.placement = p_.placement;
        ep.planner = p_.planner;
        ep.preflight = p_.preflight && provider->name() != "local";
        ep.provider = std::move(provider);
        ep.prompt = p_.prompt;
        ep.call = call;
        pl->add(ExpandToTarget::create(ep));
    } else {
        UpscaleStage::Params up;
        up.scale = p_.scale;
        up.prompt = p_.prompt;
        up.provider = std::move(provider);
        up.call = call;
        pl->add(UpscaleStage::create(up));
    }
    return pl;
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

BatchRunnerImpl::Outcome BatchRunnerImpl::processItem(const Work& w) {
    Outcome o;
    ItemReport& r = o.report;
    r.input = w.item.path;
    r.relPath = w.item.relPath;
    r.provider = provider_->name();
    r.externalTaskId =
        "cvgen-" + hex64(stableHash(runId_ + "\n" + w.item.relPath + "\n" + opParams()));
    const auto t0 = Clock::now();
    auto ms = [](Clock::time_point a) {
        return std::chrono::duration<double, std::milli>(Clock::now() - a).count();
    };
    auto fail = [&](const Status& st, bool record) {
        r.status = ItemStatus::FAILED;
        r.code = st.code();
        r.providerCode = st.providerCode();
        r.message = st.message();
        if (record && journal_) {
            Status js = journal_->failed(w.item.relPath, st, r.taskIds);
            if (!js.ok()) r.warnings.push_back("journal: " + js.toString());
        }
        r.timings["total"] = ms(t0);
        return o;
    };

    // Read and decode (EXIF orientation applied: what a viewer shows is what gets expanded).
    Result<std::vector<uint8_t>> bytes = readFileBytes(w.item.path);
    if (!bytes.ok()) return fail(bytes.status(), true);
    Result<cv::Mat> decoded = decodeImage(*bytes);
    if (!decoded.ok()) return fail(decoded.status().withContext("decode"), true);
    const cv::Mat image = std::move(decoded).value();
    r.inputSize = image.size();
    r.timings["read"] = ms(t0);

    Result<Frame> result = invalidArgument("not run");
    std::shared_ptr<ItemContext> ctx;
    for (int attempt = 1;; ++attempt) {
        if (p_.cancel && p_.cancel->load()) {
            r.status = ItemStatus::NOT_RUN;
            r.code = Code::CANCELLED;
            r.message = "batch cancelled before this item finished; rerun with --resume";
            return o;
        }
        r.attempts = attempt;
        if (journal_) {
            Status js = journal_->intent(w.item.relPath, r.externalTaskId, attempt);
            if (!js.ok()) return fail(js.withContext("journal"), false);
        }
        ctx = std::make_shared<ItemContext>();
        // Each finished task goes to the journal at once (flushed), with its ids.
        auto onTask = [this, &w, &r](const std::string& key, const std::string& taskId) {
            if (!journal_) return;
            Status js = journal_->task(w.item.relPath, key, taskId);
            if (!js.ok()) r.warnings.push_back("journal: " + js.toString());
        };
        auto gated = std::make_shared<GatedProvider>(provider_, gate_, ctx, p_, attempt, onTask);
        Frame frame(image, w.item.path);
        frame.meta.externalTaskId = r.externalTaskId;
        // An intent without an outcome, or an earlier attempt, may have created tasks: collect
        // them instead of creating them again.
        frame.meta.resumeTasks = attempt > 1 || w.prev.state != ItemState::NONE;
        {
            SlotGuard held(*slots_, slotsPerTask_);  // released even when a stage throws
            result = pipelineFor(gated)->run(std::move(frame));
        }
        {
            std::lock_guard<std::mutex> lock(ctx->mu);
            r.taskIds.insert(r.taskIds.end(), ctx->taskIds.begin(), ctx->taskIds.end());
            r.tasks += int(ctx->taskIds.size());
        }
        if (result.ok()) break;
        const Status st = result.status();
        if (st.code() == Code::CANCELLED) {
            // No outcome line: a resume will collect whatever the provider still runs.
            r.status = ItemStatus::NOT_RUN;
            r.code = Code::CANCELLED;
            r.message = st.message();
            r.timings["total"] = ms(t0);
            return o;
        }
        if (!isRetryable(st) || attempt > p_.retries || stop_.load()) break;
        if (!isRateLimit(st)) {  // rate limits already closed the shared gate
            const auto d = backoffDelay(st, attempt, p_.backoffBase, p_.backoffMax);
            const auto until = Clock::now() + d;
            while (Clock::now() < until && !(p_.cancel && p_.cancel->load()))
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        r.warnings.push_back("attempt " + std::to_string(attempt) + ": " + st.toString());
    }
    {
        std::lock_guard<std::mutex> lock(ctx->mu);
        o.fromProvider =
            !result.ok() && ctx->providerError && ctx->lastProviderError.code() == result.code();
    }
    if (!result.ok()) return fail(result.status(), true);

    Frame frame = std::move(result).value();
    for (const auto& kv : frame.meta.timings) r.timings[kv.first] = kv.second;
    for (const auto& wmsg : frame.meta.warnings) r.warnings.push_back(wmsg);
    if (!frame.meta.provider.empty()) r.provider = frame.meta.provider;
    r.outputSize = frame.image.size();
    r.resultImages = r.tasks * p_.imagesPerTask;

    const auto tw = Clock::now();
    const std::string ext = outputExt(w.item.relPath);
    const fs::path outPath =
        outDir_ / outputRelPath(w.item.relPath, p_.naming, ext, r.outputSize, toString(p_.op));
    if (inputPaths_.count(canonicalish(outPath)))
        return fail(invalidArgument("output " + outPath.string() +
                                    " is an input file; refusing to overwrite it"),
                    true);
    std::error_code ec;
    fs::create_directories(outPath.parent_path(), ec);
    if (ec)
        return fail(
            unavailable("cannot create " + outPath.parent_path().string() + ": " + ec.message()),
            true);
    const ImageFormat fmt = formatFromExtension(outPath.string());
    cv::Mat toWrite = prepareForFormat(frame.image, fmt, r.warnings);
    Status ws = writeImageAtomic(outPath.string(), toWrite, p_.jpegQuality);
    if (!ws.ok()) return fail(ws.withContext("write"), true);
    r.output = outPath.string();
    r.timings["write"] = ms(tw);
    if (journal_) {
        Status js = journal_->done(w.item.relPath, r.output, r.taskIds);
        if (!js.ok()) r.warnings.push_back("journal: " + js.toString());
    }
    r.status = ItemStatus::OK;
    r.timings["total"] = ms(t0);
    return o;
}

void BatchRunnerImpl::finish(Outcome&& o) {
    std::lock_guard<std::mutex> lock(mu_);
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
    if (p_.onItem) p_.onItem(r);
    if (p_.onProgress) p_.onProgress(progress_);
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
            }
            if (p_.onItem) p_.onItem(o.report);
            continue;
        }
        if (w.prev.state == ItemState::FAILED) w.prev.state = ItemState::NONE;  // fresh retry
        work.push_back(std::move(w));
    }
    toProcess_ = work.size();
    earlyK_ = p_.earlyStopAfter > 0 ? std::min(size_t(p_.earlyStopAfter), toProcess_) : 0;

    slotsPerTask_ = std::min(p_.imagesPerTask, p_.concurrency);
    slots_ = std::make_unique<SlotPool>(p_.concurrency);
    std::atomic<size_t> next{0};
    auto worker = [&] {
        for (;;) {
            const size_t i = next.fetch_add(1);
            if (i >= work.size()) return;
            if (stop_.load() || (p_.cancel && p_.cancel->load())) {
                Outcome o;
                o.report.input = work[i].item.path;
                o.report.relPath = work[i].item.relPath;
                o.report.status = ItemStatus::NOT_RUN;
                o.report.provider = provider_->name();
                o.report.message = stop_.load() ? "not started: the batch stopped early"
                                                : "not started: the batch was cancelled";
                finish(std::move(o));
                continue;
            }
            {
                std::lock_guard<std::mutex> lock(mu_);
                ++progress_.inFlight;
            }
            Outcome o = guarded(work[i].item, [&] { return processItem(work[i]); });
            {
                std::lock_guard<std::mutex> lock(mu_);
                --progress_.inFlight;
            }
            finish(std::move(o));
        }
    };
    const int threads =
        int(std::min<size_t>(size_t(p_.concurrency), std::max<size_t>(1, work.size())));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();

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
    if (p.concurrency < 1 || p.concurrency > 256)
        throw std::invalid_argument("BatchRunner: concurrency must be in [1,256]");
    if (p.retries < 0 || p.retries > 20)
        throw std::invalid_argument("BatchRunner: retries must be in [0,20]");
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
