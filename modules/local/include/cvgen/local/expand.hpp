#ifndef CVGEN_LOCAL_EXPAND_HPP
#define CVGEN_LOCAL_EXPAND_HPP

#include <cstdint>
#include <optional>
#include <string>

#include <opencv2/core.hpp>

#include "cvgen/core/provider.hpp"

/** @file
 * @brief The offline engine's canvas expansion: classical fills that make no claim to invent
 * content, joined to the original without a visible seam.
 *
 * Everything of the offline engine lives in namespace cvgen::local (so its Margins and modes never
 * clash with the planner's types in cvgen).
 */
namespace cvgen::local {

/** @brief How the new canvas area is filled.
 *
 * - BLUR: the photo scaled to cover the canvas and heavily blurred, as a backdrop; near the border
 *   it blends toward a fading mirror of the edge and the edge colours, so there is no seam.
 * - SOFT: a mirror of the edge that fades out within a short band (progressively blurred, so no
 *   mirrored ghost of the subject) into a smooth colour field grown from the edge colours.
 * - EDGE: the border pixels replicated outward, blurred progressively with the distance.
 * - PATCH: patches of the photo near its border, matched and voted coarse to fine (PatchMatch),
 *   so texture continues; blended into the BLUR backdrop far from the photo and where the matches
 *   are poor (see patchFill() in patch_fill.hpp, which also returns the confidence).
 * - AUTO: PATCH when its mean confidence over the new area is high enough, else BLUR.
 */
enum class ExpandMode { BLUR, SOFT, EDGE, PATCH, AUTO };

/** @brief "blur", "soft", "edge", "patch" or "auto". */
const char* toString(ExpandMode m) noexcept;
/** @brief Parses "blur" / "soft" / "edge" / "patch" / "auto"; std::nullopt otherwise. */
std::optional<ExpandMode> parseExpandMode(const std::string& s) noexcept;

/** @brief Pixels added on each side of the original. Aggregate order: {top, bottom, left, right}.
 */
struct Margins {
    int top = 0;
    int bottom = 0;
    int left = 0;
    int right = 0;
};

/** @brief Kling-style ratios → pixel margins for a source of `size`:
 * left = round(W·left), right = round(W·right), top = round(H·up), bottom = round(H·down), each
 * rounded half away from zero (std::lround), W/H the source width/height.
 * @throws cv::Exception when a ratio is negative or not finite, or the size is empty.
 */
Margins marginsFromRatios(cv::Size size, const ExpansionRatios& ratios);

/** @brief Grows the canvas of `src` by `margins` and fills the new area with a classical backdrop.
 *
 * @param src 8UC1/8UC3/8UC4 or 16UC1/16UC3/16UC4, not empty. Alpha is filled like any channel.
 * @param margins non-negative pixel margins.
 * @param mode the fill (see ExpandMode).
 * @param seed seed of the PATCH / AUTO random search (ignored by the other modes).
 * @return a new Mat of src's type, exactly (w+left+right)×(h+top+bottom), with src copied
 *   bit-exact at (left, top). Deterministic: the same input (and seed) gives the same output,
 *   whatever the number of threads. Multi-threaded through cv::parallel_for_. Zero margins return
 *   a copy of src.
 * @throws cv::Exception on an empty or unsupported src, a negative margin, or a canvas larger than
 *   65535 px on a side or 2^29 px in area.
 */
cv::Mat expandCanvas(cv::InputArray src, const Margins& margins, ExpandMode mode = ExpandMode::BLUR,
                     uint64_t seed = 0);

/** @brief How visible the border between the original and the fill is.
 *
 * Over every side with a margin > 0 (along the original's extent on that side): the mean absolute
 * difference between the two pixels that straddle the border, divided by the mean absolute
 * difference between neighbouring pixels (in the same direction, across the border's normal) inside
 * the `band`-px strips just inside and just outside the border. Channels are averaged. A small
 * epsilon (1e-3) is added to both, so a flat image scores 1.0. About 1.0 means no visible seam;
 * a hard step scores well above 2.
 *
 * @param canvas the expanded image (any depth, 1-4 channels).
 * @param margins where the original sits in `canvas`.
 * @param band width of the strips, ≥ 2 (clipped to the available pixels).
 * @return the score, or NaN when no side has a margin.
 */
double seamScore(cv::InputArray canvas, const Margins& margins, int band = 8);

}  // namespace cvgen::local

#endif  // CVGEN_LOCAL_EXPAND_HPP
