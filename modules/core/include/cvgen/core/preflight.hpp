#ifndef CVGEN_CORE_PREFLIGHT_HPP
#define CVGEN_CORE_PREFLIGHT_HPP

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/image_limits.hpp"
#include "cvgen/core/provider.hpp"
#include "cvgen/core/status.hpp"

namespace cvgen {

/** @brief How conform() fixes an image that breaks a limit. Every fix can be refused (FAIL),
 * which turns the violation into INVALID_ARGUMENT. */
struct ConformPolicy {
    /** @brief A side below minSide: scale the whole image up, or fail. */
    enum class Small { UPSCALE, FAIL };
    /** @brief Aspect outside the range: pad to the nearest allowed aspect, centre-crop to it, or
     * fail. */
    enum class Aspect { PAD, CROP, FAIL };
    /** @brief What fills the padding: a blurred mirror of the image, a plain mirror
     * (BORDER_REFLECT_101), or `padColor`. */
    enum class PadStyle { BLUR, REFLECT, CONSTANT };
    /** @brief Alpha: composite over `background` (then JPEG or PNG), or keep it (PNG output). */
    enum class Alpha { FLATTEN, KEEP_PNG };
    /** @brief Over the pixel or byte budget: scale down until it fits, or fail. */
    enum class Large { DOWNSCALE, FAIL };

    Small small = Small::UPSCALE;
    Aspect aspect = Aspect::PAD;
    PadStyle padStyle = PadStyle::BLUR;
    cv::Scalar padColor = cv::Scalar(0, 0, 0, 255);  ///< BGR(A) of CONSTANT padding
    Alpha alpha = Alpha::FLATTEN;
    cv::Scalar background = cv::Scalar(255, 255, 255);  ///< BGR that alpha is flattened onto
    Large large = Large::DOWNSCALE;
    /** @brief Output format when re-encoding: JPEG or PNG (PNG is forced when alpha is kept).
     * When it is not allowed by the limits, the other one is used. */
    ImageFormat preferred = ImageFormat::JPEG;
    int jpegQuality = 92;     ///< first JPEG quality tried, 1..100
    int minJpegQuality = 70;  ///< the byte-budget search goes no lower before downscaling
};

/** @brief The exact geometric mapping from the caller's image to the prepared one.
 *
 * Order of operations, exactly:
 *  1. crop: the rectangle `crop` of the source (source pixel frame; the whole image when no
 *     cropping) is kept;
 *  2. scale: that rectangle is resized to exactly `scaledSize` (so the horizontal factor is
 *     scaledSize.width / crop.width and the vertical one scaledSize.height / crop.height; they
 *     differ from `scale` only by integer rounding);
 *  3. pad: padLeft/padRight columns and padTop/padBottom rows are added around the scaled
 *     image, giving `preparedSize`.
 *
 * Coordinates are continuous pixel-edge coordinates: pixel (i, j) covers [i, i+1) × [j, j+1), so
 * the source's corners are (0,0) and (W,H). For encoded input the source frame is the image as
 * displayed, i.e. after its EXIF orientation.
 */
struct GeometricTransform {
    cv::Size sourceSize;    ///< the caller's image
    cv::Rect crop;          ///< kept part of the source (step 1)
    double scale = 1.0;     ///< nominal scale factor (step 2)
    cv::Size scaledSize;    ///< exact size of the crop after scaling (step 2)
    int padTop = 0;         ///< rows added above (step 3)
    int padBottom = 0;      ///< rows added below
    int padLeft = 0;        ///< columns added left
    int padRight = 0;       ///< columns added right
    cv::Size preparedSize;  ///< what is sent

    /** @brief The identity on a w×h image. */
    static GeometricTransform identity(cv::Size size);

    /** @brief Exact horizontal/vertical scale factors (scaledSize / crop size). */
    double scaleX() const noexcept { return double(scaledSize.width) / crop.width; }
    double scaleY() const noexcept { return double(scaledSize.height) / crop.height; }
    /** @brief Maps a source point into the prepared image. */
    cv::Point2d toPrepared(cv::Point2d src) const noexcept;
    /** @brief Maps a prepared-image point back into the source frame (may fall outside the
     * source for points in the padding or when the source was cropped). */
    cv::Point2d toSource(cv::Point2d prepared) const noexcept;
    /** @brief Where the (cropped) source content lies in the prepared image:
     * {padLeft, padTop, scaledSize}. */
    cv::Rect sourceRectInPrepared() const noexcept {
        return {padLeft, padTop, scaledSize.width, scaledSize.height};
    }
    /** @brief True when nothing was cropped, scaled or padded. */
    bool isIdentity() const noexcept;
};

/** @brief An image ready to send: its bytes, MIME type and how it relates to the caller's. */
struct PreparedImage {
    std::vector<uint8_t> bytes;  ///< exactly what goes on the wire (before base64)
    ImageFormat format = ImageFormat::UNKNOWN;
    std::string mime;  ///< mimeType(format)
    cv::Size size;     ///< pixel size of `bytes` as displayed
    GeometricTransform transform;
    bool passthrough = false;          ///< the caller's bytes, unchanged (no decode, no re-encode)
    std::vector<std::string> actions;  ///< what was changed, one human-readable line each
};

/** @brief Prepares a decoded image for a provider: fixes what breaks `limits` as `policy`
 * says, then encodes.
 *
 * @param image CV_8U or CV_16U, 1, 3 or 4 channels (BGR/BGRA); 16-bit is scaled to 8-bit, grey
 * becomes BGR, alpha is flattened or kept per policy. Throws cv::Exception for an empty image or
 * another type (caller bugs).
 * @return the prepared image whose bytes always pass check(bytes, limits); INVALID_ARGUMENT when
 * a needed fix is refused by the policy or the limits cannot all be met (e.g. the byte budget
 * at the minimum side), naming the rule.
 */
Result<PreparedImage> conform(const cv::Mat& image, const ImageLimits& limits,
                              const ConformPolicy& policy = {});

/** @brief Prepares encoded bytes: byte-for-byte pass-through when they already pass every limit
 * (only the header is read), otherwise a safe decode (EXIF orientation applied, `limits.maxPixels`
 * as the decode budget) followed by conform(Mat).
 *
 * Pass-through also requires EXIF orientation 1 (otherwise a provider that ignores EXIF would
 * see a rotated image) and, when the policy flattens alpha, no alpha in the header.
 * @return as conform(Mat); INVALID_ARGUMENT or DATA_LOSS for unreadable bytes (decodeImage()).
 */
Result<PreparedImage> conformBytes(const std::vector<uint8_t>& bytes, const ImageLimits& limits,
                                   const ConformPolicy& policy = {});

/** @brief conform() for whichever way the image is given. A URL cannot be checked or fixed
 * without fetching it, which this function never does: it returns INVALID_ARGUMENT for a URL
 * (the caller sends the URL itself), and for an empty or ambiguous source. */
Result<PreparedImage> conform(const ImageSource& source, const ImageLimits& limits,
                              const ConformPolicy& policy = {});

/** @brief Plans the geometry conform() would apply to a `source`-sized image (no pixels
 * involved), with the scale additionally capped at `maxScale` (conform lowers it to meet a byte
 * budget). @return INVALID_ARGUMENT when the policy refuses a needed fix. */
Result<GeometricTransform> planConform(cv::Size source, const ImageLimits& limits,
                                       const ConformPolicy& policy = {}, double maxScale = 1e9);

}  // namespace cvgen

#endif  // CVGEN_CORE_PREFLIGHT_HPP
