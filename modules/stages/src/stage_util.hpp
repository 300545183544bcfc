// Helpers shared by the provider stages (src only): task keys, resume-first calls, metadata.
#ifndef CVGEN_STAGES_SRC_STAGE_UTIL_HPP
#define CVGEN_STAGES_SRC_STAGE_UTIL_HPP

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "cvgen/core/provider.hpp"
#include "cvgen/core/worker_pool.hpp"
#include "cvgen/stages/frame.hpp"
#include "cvgen/stages/ops.hpp"

namespace cvgen::stages::detail {

inline std::shared_ptr<Provider> orDefault(std::shared_ptr<Provider> p) {
    return p ? std::move(p) : defaultProvider();
}

inline std::string sizeText(cv::Size s) {
    return std::to_string(s.width) + "x" + std::to_string(s.height);
}

inline std::string keyFor(const FrameMeta& meta, const std::string& suffix) {
    return meta.externalTaskId.empty() ? std::string() : meta.externalTaskId + suffix;
}

/** Records a finished task in the frame's metadata. */
void noteTask(FrameMeta& meta, const TaskOutput& out);

/** The first result image, or INTERNAL naming `what`. */
Result<cv::Mat> firstImage(const TaskOutput& out, const std::string& what);

/** Runs one provider call, first trying to collect an earlier task with the same key when the
 * frame asks for it (resume after a crash). Blocking. */
template <typename Create>
Result<TaskOutput> createOrResume(Provider& provider, Operation op, const FrameMeta& meta,
                                  const std::string& key, const CallOptions& call,
                                  Create&& create) {
    if (meta.resumeTasks && !key.empty()) {
        Result<TaskOutput> r = provider.resume(op, key, call);
        if (r.ok()) return r;
        if (r.code() != Code::NOT_FOUND && r.code() != Code::UNIMPLEMENTED) return r;
    }
    return create();
}

/** The same without blocking: `create(done)` starts the create when no earlier task exists. */
void createOrResumeAsync(const std::shared_ptr<Provider>& provider, Operation op, bool resumeFirst,
                         const std::string& key, const CallOptions& call,
                         std::function<void(Completion)> create, Completion done);

/** Where the CPU steps of an asynchronous stage run: the CPU pool, or inline on the thread that
 * delivered the previous step (the blocking facade, whose caller waits). */
struct CpuExec {
    bool inlineSteps = false;
    void operator()(std::function<void()> fn) const {
        if (inlineSteps)
            fn();
        else
            WorkerPool::cpu().post(std::move(fn));
    }
};

/** Blocking facade over an asynchronous stage call. */
Result<Frame> waitFor(const std::function<void(FrameCompletion)>& start);

/** A stage's process() and processAsync() over its `Impl::start(frame, done, inlineSteps)`: the
 * blocking call runs the CPU steps inline on the caller's thread and waits, the asynchronous one
 * posts them to the CPU pool. `Interface` is the public stage class (ExpandToTarget, …). */
template <class Interface, class Impl>
class AsyncStage : public Interface {
public:
    Result<Frame> process(Frame f) const final {
        return waitFor(
            [&](FrameCompletion done) { impl().start(std::move(f), std::move(done), true); });
    }
    void processAsync(Frame f, FrameCompletion done) const final {
        CV_Assert(done);
        impl().start(std::move(f), std::move(done), false);
    }

private:
    const Impl& impl() const { return static_cast<const Impl&>(*this); }
};

}  // namespace cvgen::stages::detail

#endif  // CVGEN_STAGES_SRC_STAGE_UTIL_HPP
