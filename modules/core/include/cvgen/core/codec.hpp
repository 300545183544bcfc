#ifndef CVGEN_CORE_CODEC_HPP
#define CVGEN_CORE_CODEC_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/image_limits.hpp"
#include "cvgen/core/status.hpp"

namespace cvgen {

/** @brief The container format named by the first bytes (magic numbers); UNKNOWN otherwise.
 * Never reads past `n`. */
ImageFormat sniffFormat(const uint8_t* data, size_t n) noexcept;
inline ImageFormat sniffFormat(const std::vector<uint8_t>& bytes) noexcept {
    return sniffFormat(bytes.data(), bytes.size());
}

/** @brief What an image's header says, read without decoding any pixel.
 *
 * `width` and `height` are the stored dimensions (before EXIF orientation); displayWidth() and
 * displayHeight() are what a viewer shows (swapped for orientations 5–8).
 */
struct ImageHeader {
    ImageFormat format = ImageFormat::UNKNOWN;
    int width = 0;
    int height = 0;
    int channels = 0;  ///< 1 grey, 2 grey+alpha, 3 colour, 4 colour+alpha (as stored)
    int bitDepth = 8;  ///< bits per channel sample (8 or 16 typically; 1/2/4 for palette/grey PNG)
    int exifOrientation = 1;  ///< EXIF orientation 1..8; 1 when absent or unreadable
    bool hasAlpha = false;    ///< an alpha channel or PNG tRNS transparency is declared

    int displayWidth() const noexcept { return exifOrientation >= 5 ? height : width; }
    int displayHeight() const noexcept { return exifOrientation >= 5 ? width : height; }
};

/** @brief Parses the header of a JPEG (SOFn + APP1 EXIF orientation), PNG (IHDR, tRNS), WebP
 * (VP8/VP8L/VP8X), BMP, TIFF (first IFD) or GIF (logical screen), without decoding pixels.
 *
 * Also checks that the data is complete where that is cheap: a JPEG must end with EOI (FFD9),
 * a PNG with its IEND chunk, a WebP must hold its whole RIFF size, an uncompressed BMP its pixel
 * array.
 * @return the header; INVALID_ARGUMENT for empty data or an unknown format, DATA_LOSS for a
 * truncated or corrupt header/body.
 */
Result<ImageHeader> readHeader(const uint8_t* data, size_t n);
inline Result<ImageHeader> readHeader(const std::vector<uint8_t>& bytes) {
    return readHeader(bytes.data(), bytes.size());
}

/** @brief Options of decodeImage(). */
struct DecodeOptions {
    int64_t maxPixels = 100'000'000;   ///< refuse (before decoding) images with more pixels
    bool applyExifOrientation = true;  ///< rotate/flip to what a viewer shows
};

/** @brief Safe decode of untrusted bytes.
 *
 * Sniffs the format, reads the header, refuses more than `maxPixels` pixels before any pixel is
 * decoded, then decodes with cv::imdecode(IMREAD_UNCHANGED) so alpha, 16-bit and grey survive:
 * the result is CV_8U or CV_16U with 1, 3 or 4 channels (BGR/BGRA order). EXIF orientation is
 * applied when asked.
 * @return INVALID_ARGUMENT (empty, unknown format, too many pixels, GIF: no decoder), DATA_LOSS
 * (truncated or corrupt). Never throws on bad data.
 */
Result<cv::Mat> decodeImage(const std::vector<uint8_t>& bytes, const DecodeOptions& opts = {});
Result<cv::Mat> decodeImage(const uint8_t* data, size_t n, const DecodeOptions& opts = {});

/** @brief Rotates/flips `image` by EXIF orientation 1..8 (1 = unchanged) into what a viewer
 * shows. @throws cv::Exception for an orientation outside 1..8. */
cv::Mat applyExifOrientation(const cv::Mat& image, int orientation);

/** @brief Encodes a Mat.
 *
 * @param image non-empty. JPEG: CV_8U, 1 or 3 channels. PNG: CV_8U/CV_16U, 1, 3 or 4 channels.
 * WEBP: CV_8U 1, 3 or 4. TIFF: CV_8U/CV_16U. BMP: CV_8U 1, 3 or 4. GIF cannot be written.
 * @param jpegQuality 1..100 (also used as WebP quality).
 * @return the bytes, or INVALID_ARGUMENT for a type/format combination that cannot be encoded
 * (no silent conversion: preflight's conform() does the conversions and reports them).
 * @throws cv::Exception when `image` is empty or jpegQuality is out of range (caller bugs).
 */
Result<std::vector<uint8_t>> encodeImage(const cv::Mat& image, ImageFormat format,
                                         int jpegQuality = 95);

/** @brief Reads a whole file.
 * @return NOT_FOUND (missing), PERMISSION_DENIED, INVALID_ARGUMENT (a directory, or larger
 * than `maxBytes`: nothing larger is read), UNAVAILABLE (other I/O errors). */
Result<std::vector<uint8_t>> readFileBytes(const std::string& path, size_t maxBytes = size_t(1)
                                                                                      << 30);

/** @brief Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync,
 * rename over `path`, fsync of the directory. Readers see the old file or the new one, never a
 * partial one. @return NOT_FOUND (no such directory), PERMISSION_DENIED, UNAVAILABLE. */
Status writeFileAtomic(const std::string& path, const std::vector<uint8_t>& bytes);

/** @brief Encodes `image` in the format named by the extension of `path` (.jpg/.jpeg/.png/.webp/
 * .tif/.tiff/.bmp) and writes it with writeFileAtomic().
 * @return INVALID_ARGUMENT for an unknown extension or an unencodable type, else as
 * writeFileAtomic(). */
Status writeImageAtomic(const std::string& path, const cv::Mat& image, int jpegQuality = 95);

}  // namespace cvgen

#endif  // CVGEN_CORE_CODEC_HPP
