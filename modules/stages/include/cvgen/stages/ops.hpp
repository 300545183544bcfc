#ifndef CVGEN_STAGES_OPS_HPP
#define CVGEN_STAGES_OPS_HPP

#include <functional>
#include <memory>
#include <string>

#include <opencv2/core.hpp>

#include "cvgen/core/compose.hpp"
#include "cvgen/core/image_limits.hpp"
#include "cvgen/core/planner.hpp"
#include "cvgen/core/preflight.hpp"
#include "cvgen/core/provider.hpp"
#include "cvgen/core/status.hpp"
#include "cvgen/stages/pipeline.hpp"

namespace cvgen::stages {

/** @brief Receives the outcome of an asynchronous stage, exactly once, on a library thread. */
using FrameCompletion = std::function<void(Result<Frame>)>;

/** @brief The offline engine (cvgen::local::LocalProvider with default parameters): the provider
 * every stage uses when none is given. */
std::shared_ptr<Provider> defaultProvider();

/** @brief `planner` with its per-pass limits (maxSideRatio, maxArea) set to what `provider`
 * accepts in one expand call (Provider::expandLimits()); everything else unchanged. */
PlannerParams withProviderLimits(PlannerParams planner, const Provider& provider);

/** @brief Expand to a target canvas: planner → provider (one call per pass; each pass feeds the
 * previous canvas to the provider) → composition.
 *
 * Passes are planned within the provider's own limits (Provider::expandLimits(), see
 * Params::limitsFromProvider): a remote provider gets several passes of at most ratio 2 / area
 * 3 each when the target is far; the offline engine reaches any target in one pass.
 *
 * The output is exactly the target size; each pass's result is mapped onto its planned canvas
 * with the pass input pasted back bit-exact (cvgen::composePass), and the final canvas is
 * composed with cvgen::compose, so when the plan keeps the source at scale 1 the original's
 * pixels are untouched at Plan::sourceRect whatever the provider did to them. A provider result
 * of another size is mapped onto the planned canvas (with a warning); one of another aspect is
 * INVALID_ARGUMENT.
 *
 * Input: 8U or 16U, 1, 3 or 4 channels. Task keys: "<meta.externalTaskId>-p<k>" when the frame
 * has one. Metadata: the plan (JSON), a transform line, the task ids, `provider`.
 */
class ExpandToTarget : public Stage {
public:
    /** @brief Options of ExpandToTarget. */
    struct Params {
        TargetSpec target = TargetSpec::exact(cv::Size(1920, 1080));
        Placement placement;
        PlannerParams planner;
        /** @brief true: the planner's per-pass limits (PlannerParams::maxSideRatio / maxArea)
         * are the provider's Provider::expandLimits() (remote: side 2, area 3; the offline engine:
         * effectively unlimited, so one pass). false: `planner`'s limits as given. */
        bool limitsFromProvider = true;
        std::shared_ptr<Provider> provider;  ///< null = defaultProvider()
        std::string prompt;
        CallOptions call;
        ComposeParams compose;  ///< seam handling of every pass and of the final composition
        /** @brief Conform the first pass's input to `limits` (a remote provider's rules: sides
         * ≥ 300 px, aspect within 1:2.5–2.5:1…) and plan with that pre-transform, so the
         * provider accepts it and the composition still maps everything back exactly. Off for
         * the offline engine, which takes any size. Aspect fixes are always padding here (a
         * crop would drop original pixels before the plan). */
        bool preflight = false;
        /** @brief The expand endpoint's input rules; the default is the strictest common set
         * (Kling's), cvgen::remote::endpointRules(profile, Endpoint::EXPAND) gives a
         * provider's own. */
        ImageLimits limits;
        ConformPolicy policy;
    };
    /** @brief process() without blocking: planning, preflight and composition run on
     * cvgen::WorkerPool::cpu(), each pass through Provider::expandAsync(); `done` gets the frame.
     * process() is a blocking facade over this. */
    virtual void processAsync(Frame frame, FrameCompletion done) const = 0;
    /** @brief @throws std::invalid_argument for an EXACT target with an empty size. */
    static cv::Ptr<ExpandToTarget> create(const Params& params);
};

/** @brief Preflight: conforms the frame to a provider's input limits (cvgen::conform: upscale
 * small images, pad extreme aspects, flatten alpha, 16-bit → 8-bit, fit the byte budget) and
 * replaces the image with the decoded result. Each fix becomes a line of FrameMeta::transforms;
 * a compliant image passes unchanged. INVALID_ARGUMENT when the policy refuses a needed fix. */
class PreflightStage : public Stage {
public:
    struct Params {
        /** @brief Default: the strictest common rules; cvgen::remote::endpointRules() gives a
         * provider's own for an endpoint. */
        ImageLimits limits;
        ConformPolicy policy;
    };
    static cv::Ptr<PreflightStage> create(const Params& params);
};

/** @brief One-shot: expands `image` to exactly `target` at `placement` with `provider` (null =
 * offline engine). @return the canvas, or the planner's / provider's error. */
Result<cv::Mat> expandToTarget(const cv::Mat& image, cv::Size target,
                               const Placement& placement = Placement(),
                               std::shared_ptr<Provider> provider = nullptr);

/** @brief Upscale the frame by a factor with the provider (the offline engine honours it
 * exactly; a remote provider may pick its own). */
class UpscaleStage : public Stage {
public:
    struct Params {
        double scale = 2.0;  ///< > 1
        std::string prompt;
        std::shared_ptr<Provider> provider;  ///< null = defaultProvider()
        CallOptions call;
    };
    /** @brief process() without blocking (Provider::upscaleAsync; type matching on the CPU pool).
     */
    virtual void processAsync(Frame frame, FrameCompletion done) const = 0;
    /** @brief @throws std::invalid_argument for scale ≤ 1 or not finite. */
    static cv::Ptr<UpscaleStage> create(const Params& params);
};

/** @brief Text-to-image: replaces the frame's image with the first generated image. With
 * `useFrameAsReference` the frame's image is sent as the reference image. */
class GenerateStage : public Stage {
public:
    struct Params {
        GenerateRequest request;  ///< prompt, model, aspect, resolution… (image is filled in)
        bool useFrameAsReference = false;
        std::shared_ptr<Provider> provider;
        CallOptions call;
    };
    /** @brief @throws std::invalid_argument for an empty prompt. */
    static cv::Ptr<GenerateStage> create(const Params& params);
};

/** @brief Omni-image: the frame's image becomes <<<image_1>>> (before the request's own images);
 * the output is the first result image. */
class OmniStage : public Stage {
public:
    struct Params {
        OmniRequest request;
        bool frameAsFirstImage = true;
        std::shared_ptr<Provider> provider;
        CallOptions call;
    };
    /** @brief @throws std::invalid_argument for an empty prompt. */
    static cv::Ptr<OmniStage> create(const Params& params);
};

/** @brief Places the frame on a canvas without any provider: a background (resized to `size`) or
 * a solid colour, with the frame pasted bit-exact at `placement` (cropped where it overhangs). */
class ComposeStage : public Stage {
public:
    struct Params {
        cv::Size size;        ///< canvas size (required)
        Placement placement;  ///< where the frame goes
        cv::Mat background;   ///< optional; resized to `size`
        cv::Scalar color;     ///< fill when there is no background
    };
    /** @brief @throws std::invalid_argument for an empty size. */
    static cv::Ptr<ComposeStage> create(const Params& params);
};

}  // namespace cvgen::stages

#endif  // CVGEN_STAGES_OPS_HPP
