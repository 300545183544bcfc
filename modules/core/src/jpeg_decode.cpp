#include "jpeg_decode.hpp"

#include <turbojpeg.h>

#include <climits>

namespace cvgen::detail {

cv::Mat decodeJpegFast(const uint8_t* data, size_t size, int width, int height) {
    if (size == 0 || size > size_t(ULONG_MAX)) return {};
    tjhandle tj = tjInitDecompress();
    if (!tj) return {};
    struct Closer {
        tjhandle h;
        ~Closer() { tjDestroy(h); }
    } closer{tj};
    int w = 0, h = 0, subsamp = 0, colorspace = 0;
    if (tjDecompressHeader3(tj, data, static_cast<unsigned long>(size), &w, &h, &subsamp,
                            &colorspace) != 0)
        return {};
    if (w != width || h != height) return {};
    int pixelFormat = 0, type = 0;
    if (colorspace == TJCS_GRAY) {
        pixelFormat = TJPF_GRAY;
        type = CV_8UC1;
    } else if (colorspace == TJCS_YCbCr || colorspace == TJCS_RGB) {
        pixelFormat = TJPF_BGR;
        type = CV_8UC3;
    } else {
        return {};  // CMYK / YCCK: OpenCV's conversion
    }
    cv::Mat out(h, w, type);
    // TJFLAG_STOPONWARNING: a warning (premature end of data, extraneous bytes…) ends the fast
    // path; OpenCV then decides what such a file gives.
    if (tjDecompress2(tj, data, static_cast<unsigned long>(size), out.data, w, int(out.step[0]), h,
                      pixelFormat, TJFLAG_STOPONWARNING) != 0)
        return {};
    return out;
}

}  // namespace cvgen::detail
