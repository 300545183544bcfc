#ifndef CVGEN_CORE_SRC_EXIF_HPP
#define CVGEN_CORE_SRC_EXIF_HPP

#include <cstddef>
#include <cstdint>

namespace cvgen::detail {

/** @brief The Orientation tag (0x0112) of the first IFD of a TIFF structure (the payload of a
 * JPEG APP1 "Exif\0\0" segment after those six bytes); 1 when absent or invalid. Bounds-checked. */
int exifOrientation(const uint8_t* tiff, size_t n) noexcept;

/** @brief Fields of a TIFF file's first IFD that the header reader needs (-1 when absent). */
struct TiffFields {
    int64_t width = -1;
    int64_t height = -1;
    int64_t bitsPerSample = -1;
    int64_t samplesPerPixel = -1;
    int64_t extraSamples = 0;
    int orientation = 1;
};

/** @brief Reads the first IFD; false when the structure is malformed. Bounds-checked. */
bool readTiffFirstIfd(const uint8_t* tiff, size_t n, TiffFields& out) noexcept;

}  // namespace cvgen::detail

#endif  // CVGEN_CORE_SRC_EXIF_HPP
