// Type matching of provider results and thumbnails (src only). Composition itself is
// cvgen::compose / cvgen::composePass (core).
#ifndef CVGEN_STAGES_SRC_COMPOSE_UTIL_HPP
#define CVGEN_STAGES_SRC_COMPOSE_UTIL_HPP

#include <opencv2/core.hpp>

namespace cvgen::stages::detail {

/** Converts `img` to `type`'s depth (8U ↔ 16U by 257) and channel count (1/3/4). */
cv::Mat matchType(const cv::Mat& img, int type);

}  // namespace cvgen::stages::detail

#endif  // CVGEN_STAGES_SRC_COMPOSE_UTIL_HPP
