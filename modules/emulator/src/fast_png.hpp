// Internal: result images for `--render fast` — correctly sized, correctly typed PNGs made without
// the offline engine, in about a millisecond of CPU per megapixel.
#ifndef CVGEN_EMULATOR_SRC_FAST_PNG_HPP
#define CVGEN_EMULATOR_SRC_FAST_PNG_HPP

#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

namespace cvgen::emulator::detail {

/** @brief True when fastPatternPng() can write `type`: 8U or 16U with 1, 3 or 4 channels (what
 * OpenCV decodes PNG and JPEG inputs to). */
bool fastPngSupports(int type);

/** @brief A PNG of `size` (each side in [1, 65535]) and `type` (see fastPngSupports(); channels
 * 1/3/4 become PNG gray/RGB/RGBA, 16U is 16-bit) showing horizontal bands of a
 * left-to-right gradient; with `watermark`, a white band across the bottom (max(12, rows/20)
 * rows, as the full renderer's watermark). Fast because every row of a band is the same: rows
 * after a band's first use PNG's "up" filter, so they are zero bytes, written as deflate matches
 * at distance 1 (13 bits per 258 bytes) with the fixed Huffman code, and their Adler-32 is
 * advanced in O(1) per row. No zlib: a few dozen lines of RFC 1950/1951.
 * @throws cv::Exception on an unsupported type or size. */
std::vector<uint8_t> fastPatternPng(cv::Size size, int type, bool watermark);

}  // namespace cvgen::emulator::detail

#endif  // CVGEN_EMULATOR_SRC_FAST_PNG_HPP
