// Internal: JPEG decoding through TurboJPEG straight to OpenCV's BGR order. Debian's OpenCV 4.6
// decodes to RGB and swaps every pixel in a scalar loop (about a third of a decode); libjpeg-turbo
// writes BGR itself. Same library, same default IDCT and upsampling, so the pixels are the same.
#ifndef CVGEN_CORE_SRC_JPEG_DECODE_HPP
#define CVGEN_CORE_SRC_JPEG_DECODE_HPP

#include <cstddef>
#include <cstdint>

#include <opencv2/core.hpp>

namespace cvgen::detail {

/** Decodes a clean baseline/progressive JPEG whose header says `width`×`height` into 8-bit BGR
 * (or gray for a grayscale JPEG). Returns an empty Mat when anything is unusual — CMYK/YCCK, a
 * size that differs from the header, any warning or error (a truncated or corrupt file) — and
 * the caller decodes with OpenCV instead, so its behaviour on such files is kept. */
cv::Mat decodeJpegFast(const uint8_t* data, size_t size, int width, int height);

}  // namespace cvgen::detail

#endif  // CVGEN_CORE_SRC_JPEG_DECODE_HPP
