#include "stage_util.hpp"

#include <future>

namespace cvgen::stages::detail {

void noteTask(FrameMeta& meta, const TaskOutput& out) {
    if (!out.taskId.empty()) meta.taskIds.push_back(out.taskId);
    meta.provider = out.provider;
    meta.synthetic = meta.synthetic || out.synthetic;
    if (!out.note.empty()) {
        bool seen = false;
        for (const auto& w : meta.warnings) seen = seen || w == out.note;
        if (!seen) meta.warnings.push_back(out.note);
    }
}

Result<cv::Mat> firstImage(const TaskOutput& out, const std::string& what) {
    if (out.images.empty() || out.images[0].image.empty())
        return internalError(what + ": the provider returned no image");
    return out.images[0].image;
}

void createOrResumeAsync(const std::shared_ptr<Provider>& provider, Operation op, bool resumeFirst,
                         const std::string& key, const CallOptions& call,
                         std::function<void(Completion)> create, Completion done) {
    if (!resumeFirst || key.empty()) return create(std::move(done));
    provider->resumeAsync(
        op, key, call, [create = std::move(create), done](Result<TaskOutput> r) mutable {
            if (r.ok() || (r.code() != Code::NOT_FOUND && r.code() != Code::UNIMPLEMENTED))
                return done(std::move(r));
            create(std::move(done));
        });
}

Result<Frame> waitFor(const std::function<void(FrameCompletion)>& start) {
    auto pr = std::make_shared<std::promise<Result<Frame>>>();
    auto f = pr->get_future();
    start([pr](Result<Frame> r) { pr->set_value(std::move(r)); });
    return f.get();
}

}  // namespace cvgen::stages::detail
