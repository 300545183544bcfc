#ifndef CVGEN_CORE_IMAGE_LIMITS_HPP
#define CVGEN_CORE_IMAGE_LIMITS_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/status.hpp"

namespace cvgen {

/** @brief Encoded image container formats cvgen recognises by their magic bytes. */
enum class ImageFormat { UNKNOWN, JPEG, PNG, WEBP, TIFF, BMP, GIF };

/** @brief MIME type of a format ("image/jpeg", "image/png"…); "application/octet-stream" for
 * UNKNOWN. */
const char* mimeType(ImageFormat f) noexcept;

/** @brief Short upper-case name ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF", "UNKNOWN"). */
const char* formatName(ImageFormat f) noexcept;

/** @brief Usual file extension with the dot (".jpg", ".png"…; "" for UNKNOWN). */
const char* fileExtension(ImageFormat f) noexcept;

/** @brief The format a file name's extension names (case-insensitive: .jpg .jpeg .png .webp .tif
 * .tiff .bmp .gif); UNKNOWN otherwise. */
ImageFormat formatFromExtension(const std::string& path) noexcept;

/** @brief The remote operations whose input images the limits apply to. */
enum class Endpoint { EXPAND, GENERATE, OMNI, UPSCALE };

/** @brief "expand", "generate", "omni", "upscale". */
const char* toString(Endpoint e) noexcept;
/** @brief Parses the spelling of toString(Endpoint); std::nullopt otherwise. */
std::optional<Endpoint> parseEndpoint(const std::string& s) noexcept;

/** @brief What a provider accepts as an input image.
 *
 * The defaults are the strictest rules among the image APIs cvgen speaks (JPEG/PNG, sides
 * ≥ 300 px, aspect 1:2.5–2.5:1, ≤ 10^7 bytes), so an image that passes them is accepted
 * everywhere. The rules of a particular provider and endpoint are the provider layer's
 * (cvgen::remote::endpointRules). All bounds are inclusive: an image passes when `min(w,h) >=
 * minSide`, `minAspect <= w/h <= maxAspect`, `encoded size <= maxBytes`, its format is in `formats`
 * and `w*h <= maxPixels`. An exactly 2.5:1 (or 1:2.5) image therefore passes. The aspect bounds are
 * compared as `w <= maxAspect·h` and `w >= minAspect·h` with a relative tolerance of 1e-12, so
 * that 1/2.5 not being exact in binary does not reject a 300×750 image; no integer-sided image
 * is close enough to a bound for the tolerance to matter otherwise.
 */
struct ImageLimits {
    int minSide = 300;             ///< each side ≥ this many pixels
    double minAspect = 1.0 / 2.5;  ///< smallest allowed w/h (inclusive)
    double maxAspect = 2.5;        ///< largest allowed w/h (inclusive)
    size_t maxBytes = 10'000'000;  ///< encoded size; "10 MB" read strictly (10^7)
    std::vector<ImageFormat> formats = {ImageFormat::JPEG, ImageFormat::PNG};
    int64_t maxPixels = 100'000'000;  ///< decoded pixel budget (decompression-bomb guard)

    /** @brief True when `f` is in `formats`. */
    bool allows(ImageFormat f) const noexcept;
    /** @brief True when w/h is within [minAspect, maxAspect] (see the class note). */
    bool aspectOk(int width, int height) const noexcept;
};

/** @brief Which rule an image breaks. */
enum class ViolationCode {
    TOO_SMALL,           ///< a side below minSide
    ASPECT_TOO_WIDE,     ///< w/h above maxAspect
    ASPECT_TOO_TALL,     ///< w/h below minAspect
    TOO_MANY_BYTES,      ///< encoded size above maxBytes
    FORMAT_NOT_ALLOWED,  ///< container not in formats (a Mat has no format: never reported)
    TOO_MANY_PIXELS,     ///< w·h above maxPixels
    UNREADABLE,          ///< the bytes are not an image we can read (corrupt, truncated, unknown)
};

/** @brief "TOO_SMALL", "ASPECT_TOO_WIDE"… */
const char* toString(ViolationCode c) noexcept;

/** @brief One broken rule: what was measured, the limit, and a one-line human message. */
struct Violation {
    ViolationCode code;
    double measured = 0;  ///< px for sides, w/h for aspect, bytes, pixels; 0 for format/unreadable
    double limit = 0;
    std::string message;
};

/** @brief Every violation of one image (empty when it passes) and what was measured. */
struct CheckReport {
    std::vector<Violation> violations;
    ImageFormat format = ImageFormat::UNKNOWN;  ///< UNKNOWN for a Mat
    int width = 0;
    int height = 0;
    size_t bytes = 0;  ///< encoded size; 0 for a Mat

    bool ok() const noexcept { return violations.empty(); }
    /** @brief True when a violation with this code is present. */
    bool has(ViolationCode c) const noexcept;
};

/** @brief Checks a decoded image's geometry (sides, aspect, pixels); format and bytes are not
 * applicable to a Mat. @param image any non-empty Mat (throws cv::Exception when empty). */
CheckReport check(const cv::Mat& image, const ImageLimits& limits);

/** @brief Checks encoded bytes by reading only their header (no pixel decode).
 *
 * Rule violations (including a corrupt, truncated or unrecognised image: UNREADABLE) are in the
 * report; the Result is an error only for a caller-level failure, which for bytes cannot happen,
 * so it is always OK. EXIF orientation 5–8 swaps the reported width and height (what is seen).
 */
Result<CheckReport> check(const std::vector<uint8_t>& bytes, const ImageLimits& limits);

/** @brief Reads the file and checks it as bytes; I/O failures (missing file, permission,
 * a directory) are the Status, rule violations are in the report. */
Result<CheckReport> checkFile(const std::string& path, const ImageLimits& limits);

}  // namespace cvgen

#endif  // CVGEN_CORE_IMAGE_LIMITS_HPP
