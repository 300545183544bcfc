#ifndef CVGEN_LOCAL_SYNTHESIZE_HPP
#define CVGEN_LOCAL_SYNTHESIZE_HPP

#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

#include "cvgen/core/provider.hpp"

namespace cvgen::local {

/** @brief The offline engine's output size for an aspect ratio and resolution class.
 *
 * The long side is L = 1024 (1k), 2048 (2k) or 4096 (4k); the ratio is reduced (21:9 → 7:3) and
 * a unit u = round(L / max(a, b)) gives exactly a·u × b·u, so the aspect is exact and the long side
 * is within a few pixels of L:
 *
 * | aspect | 1k        | 2k        | 4k        |
 * |--------|-----------|-----------|-----------|
 * | 16:9   | 1024×576  | 2048×1152 | 4096×2304 |
 * | 9:16   | 576×1024  | 1152×2048 | 2304×4096 |
 * | 1:1    | 1024×1024 | 2048×2048 | 4096×4096 |
 * | 4:3    | 1024×768  | 2048×1536 | 4096×3072 |
 * | 3:4    | 768×1024  | 1536×2048 | 3072×4096 |
 * | 3:2    | 1023×682  | 2049×1366 | 4095×2730 |
 * | 2:3    | 682×1023  | 1366×2049 | 2730×4095 |
 * | 21:9   | 1022×438  | 2051×879  | 4095×1755 |
 *
 * @throws std::invalid_argument for AspectRatio::AUTO (it has no size of its own; see the
 * overload).
 */
cv::Size generationSize(AspectRatio aspect, Resolution resolution);

/** @brief Size for an arbitrary width/height ratio (used for omni AUTO): the long side is L as
 * above and the short side round(L / ratio) (at least 1).
 * @throws std::invalid_argument when ratio is not finite or ≤ 0.
 */
cv::Size generationSize(double widthOverHeight, Resolution resolution);

/** @brief A deterministic, clearly synthetic 8UC3 image: a two-colour gradient and a wave pattern
 * whose colours, direction and frequency are seeded by a hash of `prompt` and by `seed`, with a
 * small "synthetic" label in the bottom-left corner (when the image is at least 64 px on each
 * side). No generative model is involved. Multi-threaded through cv::parallel_for_.
 *
 * @param prompt any text (hashed with 64-bit FNV-1a).
 * @param size output size, each side in [1, 16384].
 * @param seed varies the image for the same prompt.
 * @throws cv::Exception on a bad size.
 */
cv::Mat synthesizeImage(const std::string& prompt, cv::Size size, uint64_t seed = 0);

}  // namespace cvgen::local

#endif  // CVGEN_LOCAL_SYNTHESIZE_HPP
