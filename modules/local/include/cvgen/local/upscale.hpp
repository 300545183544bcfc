#ifndef CVGEN_LOCAL_UPSCALE_HPP
#define CVGEN_LOCAL_UPSCALE_HPP

#include <opencv2/core.hpp>

namespace cvgen::local {

/** @brief The output size of upscaleImage(): max(1, round(w·scale)) × max(1, round(h·scale)).
 * @throws cv::Exception when scale is not finite or ≤ 0, or the size is empty.
 */
cv::Size upscaledSize(cv::Size size, double scale);

/** @brief Lanczos (8×8) resampling by any integer or fractional scale, optionally with a mild
 * unsharp mask (amount 0.5, sigma 1 px) that sharpens without halos on smooth areas.
 *
 * @param src 8U or 16U, 1/3/4 channels, not empty.
 * @param scale > 0 and finite; values < 1 shrink (area interpolation then).
 * @param sharpen apply the mild unsharp mask after resampling.
 * @return a new Mat of src's type and size upscaledSize(src.size(), scale).
 * @throws cv::Exception on an empty or unsupported src, a bad scale, or an output larger than
 *   65535 px on a side or 2^29 px in area.
 */
cv::Mat upscaleImage(cv::InputArray src, double scale, bool sharpen = false);

}  // namespace cvgen::local

#endif  // CVGEN_LOCAL_UPSCALE_HPP
