#include "cvgen/stages/pipeline.hpp"

#include <chrono>
#include <stdexcept>
#include <utility>

namespace cvgen::stages {

namespace {

class FunctionStage final : public Stage {
public:
    FunctionStage(std::string name, std::function<Result<Frame>(Frame)> fn)
        : name_(std::move(name)), fn_(std::move(fn)) {}
    std::string name() const override { return name_; }
    Result<Frame> process(Frame frame) const override { return fn_(std::move(frame)); }

private:
    std::string name_;
    std::function<Result<Frame>(Frame)> fn_;
};

class PipelineImpl final : public Pipeline {
public:
    explicit PipelineImpl(const Params& p) : params_(p) {}

    Pipeline& add(cv::Ptr<Stage> stage) override {
        if (!stage) throw std::invalid_argument("Pipeline::add: null stage");
        stages_.push_back(std::move(stage));
        return *this;
    }

    std::vector<std::string> stageNames() const override {
        std::vector<std::string> names;
        for (const auto& s : stages_) names.push_back(s->name());
        return names;
    }

    Result<Frame> run(Frame frame) const override {
        if (params_.requireImage && frame.image.empty())
            return invalidArgument("pipeline: the frame has no image");
        for (const auto& stage : stages_) {
            const auto t0 = std::chrono::steady_clock::now();
            Result<Frame> out = stage->process(std::move(frame));
            if (!out.ok()) return out.status().withContext(stage->name());
            frame = std::move(out).value();
            const auto dt =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0);
            frame.meta.timings[stage->name()] += dt.count();
        }
        return frame;
    }

private:
    Params params_;
    std::vector<cv::Ptr<Stage>> stages_;
};

}  // namespace

cv::Ptr<Stage> makeStage(const std::string& name, std::function<Result<Frame>(Frame)> fn) {
    if (name.empty()) throw std::invalid_argument("makeStage: empty name");
    if (!fn) throw std::invalid_argument("makeStage: empty callable");
    return cv::makePtr<FunctionStage>(name, std::move(fn));
}

cv::Ptr<Pipeline> Pipeline::create(const Params& params) {
    return cv::makePtr<PipelineImpl>(params);
}

}  // namespace cvgen::stages
