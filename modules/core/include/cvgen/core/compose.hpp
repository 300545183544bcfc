#ifndef CVGEN_CORE_COMPOSE_HPP
#define CVGEN_CORE_COMPOSE_HPP

/** @file
 * @brief Composition: maps whatever an expand provider returned onto the exact planned canvas,
 * pastes the original back bit-exact and hides the seam inside the generated ring.
 *
 * Alignment: a provider result is assumed to cover the same field of view as the planned canvas
 * (providers round W·(1+l+r) their own way, or rescale the whole image), so it is resized as a
 * whole onto the planned canvas size (INTER_AREA when shrinking, INTER_LINEAR when enlarging).
 * A result whose aspect differs from the plan by more than 3% (and by more than 8 px on a side)
 * is rejected as INVALID_ARGUMENT rather than stretched.
 *
 * Seam: along each side of the original that has generated pixels next to it, the difference
 * between the original's edge and the provider's own rendition of that edge (smoothed along the
 * edge) is added to the generated ring, fading linearly to 0 at `featherPx`: the ring becomes
 * continuous with the original without touching it. Optional colour matching maps the mean/std of
 * a thin generated band onto the adjacent original band, per side and channel, fading out over
 * `colorFadePx`. Only `inwardFeatherPx` > 0 lets pixels inside the original change (a k-px band).
 */

#include <functional>

#include <opencv2/core.hpp>

#include "cvgen/core/planner.hpp"
#include "cvgen/core/status.hpp"

namespace cvgen {

/** @brief Seam handling. Defaults: 16 px outward feather, no colour matching, original untouched.
 */
struct ComposeParams {
    int featherPx = 16;  ///< generated ring width over which the seam correction fades; 0 = hard
    bool colorMatch = false;  ///< match the ring's colour statistics to the original's border
    int colorBandPx = 8;      ///< band width (each side of the border) used to measure the colours
    int colorFadePx = 96;     ///< distance over which the colour correction fades out
    int inwardFeatherPx = 0;  ///< k > 0: blend a k-px band inside the original's border too
};

/** @brief Final composition: the output of the last pass (in the plan's work frame) onto the
 * target, with the original pasted at Plan::sourceRect.
 *
 * @param original the caller's full source image (Plan::source size; 8U or 16U, 1/3/4 channels).
 * @param workCanvas the last pass's (composed or raw) provider output, any size near
 * Plan::workCanvas; any of 8U/16U/32F and 1/3/4 channels (converted to the original's type).
 * With no passes it is the prepared first-pass input, and may be empty when the original fills
 * the target.
 * @param plan from planCanvas().
 * @param params seam options.
 * @param generatedMask optional 8UC1 output of the target size: 255 where pixels are generated,
 * 0 over the original.
 * @return exactly Plan::target, same type as `original`; DATA_LOSS for an empty result,
 * INVALID_ARGUMENT for one whose shape or type cannot be the planned canvas.
 * @throws cv::Exception for an empty or wrongly sized original or bad params (caller bugs).
 */
Result<cv::Mat> compose(const cv::Mat& original, const cv::Mat& workCanvas, const Plan& plan,
                        const ComposeParams& params = ComposeParams(),
                        cv::OutputArray generatedMask = cv::noArray());

/** @brief One intermediate pass: maps `providerResult` onto `pass.canvas` and pastes `passInput`
 * (the pass's exact input, `pass.source` size) back bit-exact at `pass.sourceRect()`, seam
 * blended as in compose(). Feed the result to the next pass, and the last one to compose().
 */
Result<cv::Mat> composePass(const cv::Mat& passInput, const cv::Mat& providerResult,
                            const ExpandPass& pass, const ComposeParams& params = ComposeParams());

/** @brief What goes through preflight into the first pass (Plan::inputSize): the part of
 * `original` the plan keeps (Plan::sourceCrop, a view), downscaled (INTER_AREA, a new Mat) when
 * the plan shrinks it to fit a smaller target. */
cv::Mat croppedSource(const cv::Mat& original, const Plan& plan);

/** @brief Maps a provider result onto exactly `expected` and `type` (see the file notes on
 * alignment). DATA_LOSS when empty, INVALID_ARGUMENT when its shape or type cannot match. */
Result<cv::Mat> mapProviderResult(const cv::Mat& result, cv::Size expected, int type);

/** @brief One expand call as the caller implements it (a provider, plus preflight for the first
 * pass): given the pass's exact input and the pass, return the provider's raw result image.
 * `index` counts passes from 0. */
using ExpandFn =
    std::function<Result<cv::Mat>(const cv::Mat& input, const ExpandPass& pass, int index)>;

/** @brief Runs a whole plan: every pass through `expand` (its result composed onto the exact pass
 * canvas with composePass()), then compose() onto the target.
 *
 * @param original the caller's full source (Plan::source size).
 * @param prepared the first pass's input, Plan::workSource size (preflight's output); may be empty
 * when Plan's pre-transform is the identity; croppedSource(original) is used then.
 * @return exactly Plan::target, or the first error `expand` or composition returned (with the
 * pass number as context).
 * @note Touches the network when `expand` does.
 */
Result<cv::Mat> executePlan(const cv::Mat& original, const cv::Mat& prepared, const Plan& plan,
                            const ExpandFn& expand, const ComposeParams& params = ComposeParams(),
                            cv::OutputArray generatedMask = cv::noArray());

}  // namespace cvgen

#endif  // CVGEN_CORE_COMPOSE_HPP
