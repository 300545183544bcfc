// Type matching and the final composition of expand-to-target (src only). The one place that
// turns the last pass's work canvas into the exact target with the original pasted back.
#ifndef CVGEN_STAGES_SRC_COMPOSE_UTIL_HPP
#define CVGEN_STAGES_SRC_COMPOSE_UTIL_HPP

#include <opencv2/core.hpp>

#include "cvgen/core/planner.hpp"

namespace cvgen::stages::detail {

/** Converts `img` to `type`'s depth (8U ↔ 16U by 257) and channel count (1/3/4). */
cv::Mat matchType(const cv::Mat& img, int type);

/** The target canvas from the last pass's `workCanvas`: the plan's targetInWork region, resized
 * to the target when the frames differ in scale, with the original (cropped/rescaled as planned)
 * pasted at sourceRect — bit-exact when sourceScale is 1. */
cv::Mat composeTarget(const cv::Mat& original, const cv::Mat& workCanvas, const Plan& plan);

}  // namespace cvgen::stages::detail

#endif  // CVGEN_STAGES_SRC_COMPOSE_UTIL_HPP
