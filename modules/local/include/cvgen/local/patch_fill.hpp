#ifndef CVGEN_LOCAL_PATCH_FILL_HPP
#define CVGEN_LOCAL_PATCH_FILL_HPP

#include <cstdint>

#include <opencv2/core.hpp>

#include "cvgen/local/expand.hpp"

/** @file
 * @brief Patch-based fill of an expanded canvas: multi-scale PatchMatch (Barnes et al. 2009) with
 * patch voting (Wexler et al. 2007), copying texture from a band of the photo near its border.
 * It continues texture (wood, sky, walls, grass); it does not understand objects, so structured
 * scenes can show repeated chunks. Far from the photo, or where the best matches are poor, it
 * blends into the BLUR backdrop, and it says how sure it is with a per-pixel confidence.
 */
namespace cvgen::local {

/** @brief Options of patchFill(). The defaults are what ExpandMode::PATCH / AUTO use. */
struct PatchFillParams {
    /** Seed of the random search. The same seed gives the same output, whatever the number of
     * threads (work is split into fixed bands of rows, each with its own random stream). */
    uint64_t seed = 0;
    /** The full PatchMatch + voting solve runs on a pyramid level of at most this many pixels
     * (of the working canvas); finer levels only refine the upscaled match field and vote. */
    double solveMegapixels = 0.15;
    /** EM iterations (search + vote) at each solve level. */
    int iterations = 10;
    /** Source patches come from the band of the photo within this fraction of its width
     * (left/right margins) or height (top/bottom margins) of a border that has a margin. */
    double sourceBand = 0.2;
    /** The patch fill fades into the backdrop between these distances from the photo, as
     * fractions of the photo's short side; beyond `farEnd` the output is the backdrop. */
    double farStart = 0.25;
    double farEnd = 0.7;  ///< see farStart
    /** Mean patch error per channel sample (8-bit Lab) at which the match confidence starts to
     * drop, and at which it reaches 0. */
    double goodError = 2.0;
    double badError = 8.0;  ///< see goodError
    /** AUTO: use the patch fill only when the mean confidence over the new area is at least this
     * (three quarters of the new area confidently filled with patches); otherwise the BLUR
     * backdrop. */
    double autoThreshold = 0.75;
};

/** @brief What patchFill() made. */
struct PatchFillResult {
    cv::Mat image;              ///< the canvas, src's type, the original bit-exact at its place
    cv::Mat confidence;         ///< CV_32FC1, canvas size, in [0,1]; 1 on the original
    double meanConfidence = 0;  ///< mean of `confidence` over the new area (0 with no margin)
    bool usedPatch = false;     ///< false when the output is the BLUR backdrop (AUTO, tiny photo)
};

/** @brief Grows the canvas of `src` by `margins` and fills the new area with patches of the
 * photo (see the file comment), blended toward the BLUR backdrop by the confidence.
 *
 * @param src 8UC1/8UC3/8UC4 or 16UC1/16UC3/16UC4, not empty. Matching uses 8-bit Lab (plus
 *   alpha); the fill copies the original's own pixels (every channel, alpha included).
 * @param margins non-negative pixel margins.
 * @param params options; see PatchFillParams.
 * @param autoSelect true: the AUTO rule (the backdrop alone when meanConfidence is below
 *   params.autoThreshold).
 * @return the canvas and its confidence. A photo under 11 px on a side cannot give 7x7 patches:
 *   the output is then the backdrop with confidence 0 on the new area. Deterministic for a seed.
 * @throws cv::Exception on the inputs expandCanvas() rejects.
 */
PatchFillResult patchFill(cv::InputArray src, const Margins& margins,
                          const PatchFillParams& params = PatchFillParams(),
                          bool autoSelect = false);

}  // namespace cvgen::local

#endif  // CVGEN_LOCAL_PATCH_FILL_HPP
