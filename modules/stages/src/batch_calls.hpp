// Internal to the batch runner: how its items call the provider — provider slots (SlotGate),
// the early-stop window's admission (EarlyAdmission), and the decorator that merges the batch's
// deadline and cancel flag into every call and records what the provider said (ObservedProvider).
#ifndef CVGEN_STAGES_SRC_BATCH_CALLS_HPP
#define CVGEN_STAGES_SRC_BATCH_CALLS_HPP

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cvgen/core/provider.hpp"
#include "cvgen/stages/batch.hpp"

namespace cvgen::stages::detail {

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

/** The early-stop window: until the first outcomes decide whether the batch goes on, at most
 * `slots` + (items finished) items make provider calls — an early stop spends no more calls than
 * before it could decide — while the items behind them are read and decoded already, so the
 * next calls go out the moment the window allows. An admitted item makes all its calls. */
class EarlyAdmission {
public:
    void open(size_t slots) {
        std::lock_guard<std::mutex> lock(mu_);
        open_ = true;
        slots_ = slots;
    }
    /** Runs `go` now, or once this item may start calling the provider. */
    void enter(std::function<void()> go) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (!mayAdmitLocked()) {
                waiting_.push_back(std::move(go));
                return;
            }
            ++admitted_;
        }
        go();
    }
    /** An item finished (whatever its outcome). */
    void finished() {
        std::deque<std::function<void()>> ready;
        {
            std::lock_guard<std::mutex> lock(mu_);
            ++finished_;
            ready = takeLocked();
        }
        for (auto& f : ready) f();
    }
    /** The window is decided: everything waiting goes (a stopped batch's calls fail at once). */
    void close() {
        std::deque<std::function<void()>> all;
        {
            std::lock_guard<std::mutex> lock(mu_);
            open_ = false;
            all.swap(waiting_);
            admitted_ += all.size();
        }
        for (auto& f : all) f();
    }

private:
    bool mayAdmitLocked() const { return !open_ || admitted_ < slots_ + finished_; }
    std::deque<std::function<void()>> takeLocked() {
        std::deque<std::function<void()>> out;
        while (!waiting_.empty() && mayAdmitLocked()) {
            out.push_back(std::move(waiting_.front()));
            waiting_.pop_front();
            ++admitted_;
        }
        return out;
    }
    std::mutex mu_;
    bool open_ = false;
    size_t slots_ = 0, admitted_ = 0, finished_ = 0;
    std::deque<std::function<void()>> waiting_;
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
                     EarlyAdmission& admission, const std::atomic<bool>& stop)
        : inner_(std::move(inner)),
          ctx_(std::move(ctx)),
          p_(p),
          onTask_(std::move(onTask)),
          slots_(slots),
          perTask_(perTask),
          admission_(admission),
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
        auto acquire = [this, call = std::move(call), opt = merged(o),
                        done = std::move(done)]() mutable {
            withSlots(std::move(call), std::move(opt), std::move(done));
        };
        if (admitted_.exchange(true))
            acquire();  // this item already calls the provider: only slots to wait for
        else
            admission_.enter(std::move(acquire));
    }

    void withSlots(std::function<void(CallOptions, Completion)> call, CallOptions opt,
                   Completion done) {
        SlotGate& gate = slots_;
        const int n = perTask_;
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
    EarlyAdmission& admission_;
    std::atomic<bool> admitted_{false};  ///< this item may call the provider (early window)
    const std::atomic<bool>& stop_;
};

}  // namespace cvgen::stages::detail

#endif  // CVGEN_STAGES_SRC_BATCH_CALLS_HPP
