#ifndef CVGEN_STAGES_PIPELINE_HPP
#define CVGEN_STAGES_PIPELINE_HPP

#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/status.hpp"
#include "cvgen/stages/frame.hpp"

namespace cvgen::stages {

/** @brief One step of a pipeline: consumes a frame, produces a frame or a typed error.
 *
 * Implementations must be safe to call from many threads at once (they share no per-frame
 * state) and return remote and I/O failures as values; they throw only for caller bugs.
 */
class Stage {
public:
    virtual ~Stage() = default;
    /** @brief Short name used in timings, transforms and error context ("expand-to-target"). */
    virtual std::string name() const = 0;
    /** @brief Processes one frame. */
    virtual Result<Frame> process(Frame frame) const = 0;
};

/** @brief Wraps a callable as a stage (user stages).
 * @param name non-empty; @param fn must be thread-safe when the pipeline runs concurrently.
 * @throws std::invalid_argument for an empty name or callable. */
cv::Ptr<Stage> makeStage(const std::string& name, std::function<Result<Frame>(Frame)> fn);

/** @brief Options of a Pipeline. */
struct PipelineParams {
    /** @brief Reject frames whose image is empty before the first stage (INVALID_ARGUMENT). */
    bool requireImage = true;
};

/** @brief An ordered list of stages run one after the other on a frame.
 *
 * run() is const and thread-safe: many frames may go through one pipeline concurrently, as long
 * as no stage is added meanwhile. Each stage's wall-clock time lands in FrameMeta::timings. An
 * error stops the frame and comes back with the stage's name as context.
 */
class Pipeline {
public:
    using Params = PipelineParams;

    virtual ~Pipeline() = default;
    /** @brief Creates an empty pipeline. */
    static cv::Ptr<Pipeline> create(const Params& params = Params());

    /** @brief Appends a stage. Not thread-safe against run(). @throws std::invalid_argument
     * for a null stage. @return *this, for chaining. */
    virtual Pipeline& add(cv::Ptr<Stage> stage) = 0;
    /** @brief The stages' names, in order. */
    virtual std::vector<std::string> stageNames() const = 0;
    /** @brief Runs every stage on `frame`. */
    virtual Result<Frame> run(Frame frame) const = 0;
};

}  // namespace cvgen::stages

#endif  // CVGEN_STAGES_PIPELINE_HPP
