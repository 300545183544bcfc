#ifndef CVGEN_STAGES_FRAME_HPP
#define CVGEN_STAGES_FRAME_HPP

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace cvgen::stages {

/** @brief What happened to a frame on its way through a pipeline. */
struct FrameMeta {
    std::string sourcePath;                 ///< where the image came from ("" for in-memory frames)
    std::vector<std::string> transforms;    ///< one human-readable line per change, in order
    std::string plan;                       ///< the last canvas plan, as JSON ("" when none)
    std::vector<std::string> taskIds;       ///< provider task ids, in creation order
    std::string provider;                   ///< name of the provider that produced the pixels
    bool synthetic = false;                 ///< a provider said no generative model was involved
    std::map<std::string, double> timings;  ///< stage name → wall-clock milliseconds
    std::vector<std::string> warnings;      ///< things a person should know (never secrets)

    /** @brief Base idempotency key for the tasks this frame creates ("" = let the provider pick).
     * A stage creating k tasks uses "<key>-<stage>-<k>", so a rerun reuses the same keys. */
    std::string externalTaskId;
    /** @brief When true, stages first try Provider::resume() with their deterministic key and
     * create a task only when the provider has none (NOT_FOUND) or cannot resume (UNIMPLEMENTED).
     * Set by the batch runner for items that may have been submitted before a crash. */
    bool resumeTasks = false;
    /** @brief The encoded file the image was decoded from, when it came from a file (the batch
     * sets it). A first expand pass whose input is that whole image unchanged sends these bytes
     * byte-identical when they already meet the provider's rules, instead of a re-encode. */
    std::shared_ptr<const std::vector<uint8_t>> sourceBytes;
};

/** @brief The unit that flows through a pipeline: an image plus its metadata. */
struct Frame {
    cv::Mat image;  ///< 8U or 16U, 1, 3 or 4 channels (BGR order)
    FrameMeta meta;

    Frame() = default;
    explicit Frame(cv::Mat img, std::string sourcePath = std::string()) : image(std::move(img)) {
        meta.sourcePath = std::move(sourcePath);
    }
};

}  // namespace cvgen::stages

#endif  // CVGEN_STAGES_FRAME_HPP
