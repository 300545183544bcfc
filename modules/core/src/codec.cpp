#include "cvgen/core/codec.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "exif.hpp"
#include "jpeg_decode.hpp"

namespace cvgen {

namespace {

uint16_t be16(const uint8_t* p) {
    return uint16_t((p[0] << 8) | p[1]);
}
uint32_t be32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}
uint16_t le16(const uint8_t* p) {
    return uint16_t(p[0] | (p[1] << 8));
}
uint32_t le24(const uint8_t* p) {
    return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16);
}
uint32_t le32(const uint8_t* p) {
    return le24(p) | (uint32_t(p[3]) << 24);
}

Status truncated(const char* fmt, const std::string& what) {
    return dataLoss(std::string(fmt) + " data is truncated or corrupt: " + what);
}

Status checkDims(ImageHeader& h, const char* fmt) {
    if (h.width <= 0 || h.height <= 0)
        return truncated(fmt, "zero or negative dimensions in the header");
    return Status();
}

bool isSof(uint8_t m) {
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

Result<ImageHeader> readJpeg(const uint8_t* p, size_t n) {
    ImageHeader h;
    h.format = ImageFormat::JPEG;
    bool haveSof = false;
    bool haveExif = false;
    size_t pos = 2;
    size_t scanStart = 0;
    while (true) {
        if (pos >= n) return truncated("JPEG", "ends before the first scan");
        if (p[pos] != 0xFF)
            return truncated("JPEG", "expected a marker at byte " + std::to_string(pos));
        while (pos < n && p[pos] == 0xFF) ++pos;  // fill bytes
        if (pos >= n) return truncated("JPEG", "ends inside a marker");
        const uint8_t m = p[pos++];
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // standalone markers
        if (m == 0xD9) return truncated("JPEG", "end of image before any scan");
        if (pos + 2 > n) return truncated("JPEG", "ends inside a segment length");
        const size_t len = be16(p + pos);
        if (len < 2) return truncated("JPEG", "segment length below 2");
        if (pos + len > n) return truncated("JPEG", "segment runs past the end");
        const uint8_t* seg = p + pos + 2;
        const size_t segLen = len - 2;
        if (isSof(m)) {
            if (segLen < 6) return truncated("JPEG", "short frame header");
            h.bitDepth = seg[0];
            h.height = be16(seg + 1);
            h.width = be16(seg + 3);
            const int comps = seg[5];
            if (comps != 1 && comps != 3 && comps != 4)
                return truncated("JPEG", "unsupported component count " + std::to_string(comps));
            h.channels = comps == 1 ? 1 : 3;  // CMYK/YCCK decode to BGR
            haveSof = true;
        } else if (m == 0xE1 && !haveExif && segLen >= 6 && std::memcmp(seg, "Exif\0\0", 6) == 0) {
            haveExif = true;
            h.exifOrientation = detail::exifOrientation(seg + 6, segLen - 6);
        } else if (m == 0xDA) {
            scanStart = pos + len;
            break;
        }
        pos += len;
    }
    if (!haveSof) return truncated("JPEG", "no frame header before the first scan");
    CVGEN_RETURN_IF_ERROR(checkDims(h, "JPEG"));
    // Entropy-coded data never holds FF D9 (an FF is always followed by 00 or a restart marker),
    // so an EOI after the first scan is the end of this image; trailers after it are allowed.
    bool haveEoi = false;
    for (size_t i = n - 1; i > scanStart; --i) {
        if (p[i] == 0xD9 && p[i - 1] == 0xFF) {
            haveEoi = true;
            break;
        }
    }
    if (!haveEoi) return truncated("JPEG", "no end-of-image marker (FFD9)");
    return h;
}

Result<ImageHeader> readPng(const uint8_t* p, size_t n) {
    ImageHeader h;
    h.format = ImageFormat::PNG;
    if (n < 33 || be32(p + 8) != 13 || std::memcmp(p + 12, "IHDR", 4) != 0)
        return truncated("PNG", "missing IHDR");
    const uint32_t w = be32(p + 16), hh = be32(p + 20);
    if (w > uint32_t(INT_MAX) || hh > uint32_t(INT_MAX))
        return truncated("PNG", "dimensions above 2^31-1");
    h.width = int(w);
    h.height = int(hh);
    h.bitDepth = p[24];
    const int colorType = p[25];
    switch (colorType) {
        case 0:
            h.channels = 1;
            break;
        case 2:
            h.channels = 3;
            break;
        case 3:
            h.channels = 3;
            break;
        case 4:
            h.channels = 2;
            h.hasAlpha = true;
            break;
        case 6:
            h.channels = 4;
            h.hasAlpha = true;
            break;
        default:
            return truncated("PNG", "invalid colour type " + std::to_string(colorType));
    }
    CVGEN_RETURN_IF_ERROR(checkDims(h, "PNG"));
    // Walk the chunks up to the first IDAT, looking for tRNS (transparency on palette/grey/RGB).
    size_t pos = 8;
    while (true) {
        if (pos + 12 > n) return truncated("PNG", "ends before the image data");
        const size_t len = be32(p + pos);
        if (len > n || pos + 12 + len > n) return truncated("PNG", "chunk runs past the end");
        const uint8_t* type = p + pos + 4;
        if (std::memcmp(type, "tRNS", 4) == 0) h.hasAlpha = true;
        if (std::memcmp(type, "IDAT", 4) == 0) break;
        pos += 12 + len;
    }
    // The last chunk must be IEND (length 0); a few bytes of trailing junk are tolerated.
    bool haveIend = false;
    const size_t lowest = n > 1024 + 12 ? n - 1024 : 12;
    for (size_t i = n - 8; i >= lowest; --i) {
        if (std::memcmp(p + i, "IEND", 4) == 0 && be32(p + i - 4) == 0) {
            haveIend = true;
            break;
        }
    }
    if (!haveIend) return truncated("PNG", "no IEND chunk at the end");
    return h;
}

Result<ImageHeader> readWebp(const uint8_t* p, size_t n) {
    ImageHeader h;
    h.format = ImageFormat::WEBP;
    if (n < 30) return truncated("WebP", "shorter than its first chunk header");
    const uint64_t riff = uint64_t(le32(p + 4)) + 8;
    if (riff > n) return truncated("WebP", "RIFF size beyond the end of the data");
    const uint8_t* d = p + 20;
    if (std::memcmp(p + 12, "VP8 ", 4) == 0) {
        if (d[3] != 0x9D || d[4] != 0x01 || d[5] != 0x2A)
            return truncated("WebP", "bad VP8 start code");
        h.width = le16(d + 6) & 0x3FFF;
        h.height = le16(d + 8) & 0x3FFF;
        h.channels = 3;
    } else if (std::memcmp(p + 12, "VP8L", 4) == 0) {
        if (d[0] != 0x2F) return truncated("WebP", "bad VP8L signature");
        const uint32_t bits = le32(d + 1);
        h.width = int(bits & 0x3FFF) + 1;
        h.height = int((bits >> 14) & 0x3FFF) + 1;
        h.hasAlpha = ((bits >> 28) & 1) != 0;
        h.channels = h.hasAlpha ? 4 : 3;
    } else if (std::memcmp(p + 12, "VP8X", 4) == 0) {
        h.hasAlpha = (d[0] & 0x10) != 0;
        h.width = int(le24(d + 4)) + 1;
        h.height = int(le24(d + 7)) + 1;
        h.channels = h.hasAlpha ? 4 : 3;
    } else {
        return truncated("WebP", "unknown first chunk");
    }
    CVGEN_RETURN_IF_ERROR(checkDims(h, "WebP"));
    return h;
}

Result<ImageHeader> readBmp(const uint8_t* p, size_t n) {
    ImageHeader h;
    h.format = ImageFormat::BMP;
    if (n < 26) return truncated("BMP", "shorter than its headers");
    const uint32_t offset = le32(p + 10);
    const uint32_t dib = le32(p + 14);
    int bpp = 0;
    uint32_t compression = 0;
    if (dib == 12) {
        h.width = le16(p + 18);
        h.height = le16(p + 20);
        bpp = le16(p + 24);
    } else if (dib >= 40) {
        if (n < 34) return truncated("BMP", "shorter than its info header");
        const int32_t w = int32_t(le32(p + 18));
        const int32_t hh = int32_t(le32(p + 22));
        if (w <= 0 || hh == 0 || hh == INT32_MIN) return truncated("BMP", "invalid dimensions");
        h.width = w;
        h.height = hh < 0 ? -hh : hh;
        bpp = le16(p + 28);
        compression = le32(p + 30);
    } else {
        return truncated("BMP", "unknown info header size " + std::to_string(dib));
    }
    CVGEN_RETURN_IF_ERROR(checkDims(h, "BMP"));
    if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32)
        return truncated("BMP", "invalid bit count " + std::to_string(bpp));
    h.channels = bpp == 32 ? 4 : 3;
    h.bitDepth = 8;
    if (compression == 0 || compression == 3) {  // uncompressed: the pixel array size is known
        const uint64_t row = (uint64_t(h.width) * uint64_t(bpp) + 31) / 32 * 4;
        if (uint64_t(offset) + row * uint64_t(h.height) > n)
            return truncated("BMP", "pixel array runs past the end");
    }
    return h;
}

Result<ImageHeader> readTiff(const uint8_t* p, size_t n) {
    ImageHeader h;
    h.format = ImageFormat::TIFF;
    detail::TiffFields f;
    if (!detail::readTiffFirstIfd(p, n, f)) return truncated("TIFF", "unreadable first IFD");
    if (f.width <= 0 || f.height <= 0 || f.width > INT_MAX || f.height > INT_MAX)
        return truncated("TIFF", "missing or invalid dimensions");
    h.width = int(f.width);
    h.height = int(f.height);
    h.channels = f.samplesPerPixel > 0 ? int(std::min<int64_t>(f.samplesPerPixel, 4)) : 1;
    h.bitDepth = f.bitsPerSample > 0 ? int(f.bitsPerSample) : 1;
    h.hasAlpha = f.extraSamples > 0 || h.channels == 2 || h.channels == 4;
    return h;
}

Result<ImageHeader> readGif(const uint8_t* p, size_t n) {
    ImageHeader h;
    h.format = ImageFormat::GIF;
    if (n < 13) return truncated("GIF", "shorter than its screen descriptor");
    h.width = le16(p + 6);
    h.height = le16(p + 8);
    h.channels = 3;
    CVGEN_RETURN_IF_ERROR(checkDims(h, "GIF"));
    return h;
}

Status errnoStatus(int err, const std::string& what) {
    const std::string msg = what + ": " + std::strerror(err);
    switch (err) {
        case ENOENT:
        case ENOTDIR:
            return notFound(msg);
        case EACCES:
        case EPERM:
        case EROFS:
            return permissionDenied(msg);
        case EISDIR:
            return invalidArgument(msg);
        case ENOSPC:
        case EDQUOT:
            return resourceExhausted(msg);
        default:
            return unavailable(msg);
    }
}

}  // namespace

ImageFormat sniffFormat(const uint8_t* p, size_t n) noexcept {
    if (p == nullptr) return ImageFormat::UNKNOWN;
    if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return ImageFormat::JPEG;
    static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (n >= 8 && std::memcmp(p, kPng, 8) == 0) return ImageFormat::PNG;
    if (n >= 12 && std::memcmp(p, "RIFF", 4) == 0 && std::memcmp(p + 8, "WEBP", 4) == 0)
        return ImageFormat::WEBP;
    if (n >= 4 && (std::memcmp(p, "II*\0", 4) == 0 || std::memcmp(p, "MM\0*", 4) == 0))
        return ImageFormat::TIFF;
    if (n >= 6 && (std::memcmp(p, "GIF87a", 6) == 0 || std::memcmp(p, "GIF89a", 6) == 0))
        return ImageFormat::GIF;
    if (n >= 14 && p[0] == 'B' && p[1] == 'M') return ImageFormat::BMP;
    return ImageFormat::UNKNOWN;
}

Result<ImageHeader> readHeader(const uint8_t* data, size_t n) {
    if (data == nullptr || n == 0) return invalidArgument("image data is empty");
    switch (sniffFormat(data, n)) {
        case ImageFormat::JPEG:
            return readJpeg(data, n);
        case ImageFormat::PNG:
            return readPng(data, n);
        case ImageFormat::WEBP:
            return readWebp(data, n);
        case ImageFormat::TIFF:
            return readTiff(data, n);
        case ImageFormat::BMP:
            return readBmp(data, n);
        case ImageFormat::GIF:
            return readGif(data, n);
        case ImageFormat::UNKNOWN:
            break;
    }
    return invalidArgument(
        "not a recognised image format (expected JPEG, PNG, WebP, TIFF, BMP "
        "or GIF magic bytes), " +
        std::to_string(n) + " bytes");
}

cv::Mat applyExifOrientation(const cv::Mat& image, int orientation) {
    CV_CheckGE(orientation, 1, "EXIF orientation is 1..8");
    CV_CheckLE(orientation, 8, "EXIF orientation is 1..8");
    cv::Mat out;
    switch (orientation) {
        case 1:
            return image;
        case 2:
            cv::flip(image, out, 1);
            break;  // mirror horizontally
        case 3:
            cv::flip(image, out, -1);
            break;  // rotate 180
        case 4:
            cv::flip(image, out, 0);
            break;  // mirror vertically
        case 5:
            cv::transpose(image, out);
            break;
        case 6:  // rotate 90 clockwise
            cv::transpose(image, out);
            cv::flip(out, out, 1);
            break;
        case 7:  // transverse
            cv::transpose(image, out);
            cv::flip(out, out, -1);
            break;
        case 8:  // rotate 90 counter-clockwise
            cv::transpose(image, out);
            cv::flip(out, out, 0);
            break;
    }
    return out;
}

Result<cv::Mat> decodeImage(const uint8_t* data, size_t n, const DecodeOptions& opts) {
    auto header = readHeader(data, n);
    if (!header.ok()) return header.status();
    const ImageHeader& h = *header;
    const int64_t pixels = int64_t(h.width) * int64_t(h.height);
    if (pixels > opts.maxPixels)
        return invalidArgument(std::string(formatName(h.format)) + " of " +
                               std::to_string(h.width) + "x" + std::to_string(h.height) + " = " +
                               std::to_string(pixels) + " pixels exceeds the decode budget of " +
                               std::to_string(opts.maxPixels) + " pixels");
    if (h.format == ImageFormat::GIF) return invalidArgument("GIF images cannot be decoded here");
    cv::Mat decoded;
    if (h.format == ImageFormat::JPEG) decoded = detail::decodeJpegFast(data, n, h.width, h.height);
    if (decoded.empty()) {
        try {
            const cv::Mat buf(1, int(std::min<size_t>(n, size_t(INT_MAX))), CV_8U,
                              const_cast<uint8_t*>(data));
            decoded = cv::imdecode(buf, cv::IMREAD_UNCHANGED);
        } catch (const cv::Exception& e) {
            return dataLoss(std::string(formatName(h.format)) + " decode failed: " + e.what());
        }
    }
    if (decoded.empty())
        return dataLoss(std::string(formatName(h.format)) + " data is corrupt (decoder failed)");
    if (decoded.cols != h.width || decoded.rows != h.height)
        return dataLoss(std::string(formatName(h.format)) +
                        " decoded size differs from its header");
    if (decoded.depth() != CV_8U && decoded.depth() != CV_16U)
        return invalidArgument(std::string(formatName(h.format)) +
                               ": only 8- and 16-bit samples are supported");
    if (decoded.channels() == 2) {  // not produced by OpenCV today; keep the contract anyway
        std::vector<cv::Mat> planes;
        cv::split(decoded, planes);
        cv::merge(std::vector<cv::Mat>{planes[0], planes[0], planes[0], planes[1]}, decoded);
    }
    if (opts.applyExifOrientation && h.exifOrientation != 1)
        decoded = applyExifOrientation(decoded, h.exifOrientation);
    return decoded;
}

Result<cv::Mat> decodeImage(const std::vector<uint8_t>& bytes, const DecodeOptions& opts) {
    return decodeImage(bytes.data(), bytes.size(), opts);
}

Result<std::vector<uint8_t>> encodeImage(const cv::Mat& image, ImageFormat format,
                                         int jpegQuality) {
    CV_Assert(!image.empty());
    CV_CheckGE(jpegQuality, 1, "jpegQuality is 1..100");
    CV_CheckLE(jpegQuality, 100, "jpegQuality is 1..100");
    const int depth = image.depth();
    const int cn = image.channels();
    const std::string what = std::string(formatName(format)) + " cannot hold a " +
                             cv::typeToString(image.type()) + " image";
    std::vector<int> params;
    switch (format) {
        case ImageFormat::JPEG:
            if (depth != CV_8U || (cn != 1 && cn != 3)) return invalidArgument(what);
            params = {cv::IMWRITE_JPEG_QUALITY, jpegQuality};
            break;
        case ImageFormat::PNG:
            if ((depth != CV_8U && depth != CV_16U) || cn == 2 || cn > 4)
                return invalidArgument(what);
            break;
        case ImageFormat::WEBP:
            if (depth != CV_8U || cn == 2 || cn > 4) return invalidArgument(what);
            params = {cv::IMWRITE_WEBP_QUALITY, jpegQuality};
            break;
        case ImageFormat::TIFF:
            if ((depth != CV_8U && depth != CV_16U) || cn == 2 || cn > 4)
                return invalidArgument(what);
            break;
        case ImageFormat::BMP:
            if (depth != CV_8U || cn == 2 || cn > 4) return invalidArgument(what);
            break;
        case ImageFormat::GIF:
        case ImageFormat::UNKNOWN:
            return invalidArgument(std::string("cannot encode to ") + formatName(format));
    }
    std::vector<uint8_t> out;
    try {
        if (!cv::imencode(fileExtension(format), image, out, params))
            return internalError(std::string(formatName(format)) + " encoder failed");
    } catch (const cv::Exception& e) {
        return internalError(std::string(formatName(format)) + " encoder failed: " + e.what());
    }
    return out;
}

Result<std::vector<uint8_t>> readFileBytes(const std::string& path, size_t maxBytes) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errnoStatus(errno, "cannot open '" + path + "'");
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) return errnoStatus(errno, "cannot stat '" + path + "'");
    if (S_ISDIR(st.st_mode)) return invalidArgument("'" + path + "' is a directory");
    if (S_ISREG(st.st_mode) && uint64_t(st.st_size) > maxBytes)
        return invalidArgument("'" + path + "' has " + std::to_string(st.st_size) +
                               " bytes, more than the " + std::to_string(maxBytes) + " allowed");
    std::vector<uint8_t> out;
    if (S_ISREG(st.st_mode)) out.reserve(size_t(st.st_size));
    uint8_t buf[1 << 16];
    while (true) {
        const ssize_t r = ::read(fd, buf, sizeof buf);
        if (r < 0) {
            if (errno == EINTR) continue;
            return errnoStatus(errno, "cannot read '" + path + "'");
        }
        if (r == 0) break;
        if (out.size() + size_t(r) > maxBytes)
            return invalidArgument("'" + path + "' is larger than the " + std::to_string(maxBytes) +
                                   " bytes allowed");
        out.insert(out.end(), buf, buf + r);
    }
    return out;
}

Status writeFileAtomic(const std::string& path, const std::vector<uint8_t>& bytes) {
    namespace fs = std::filesystem;
    static std::atomic<unsigned> counter{0};
    const fs::path target(path);
    if (target.filename().empty()) return invalidArgument("'" + path + "' names no file");
    fs::path dir = target.parent_path();
    if (dir.empty()) dir = ".";
    const fs::path tmp = dir / ("." + target.filename().string() + ".tmp-" +
                                std::to_string(::getpid()) + "-" + std::to_string(counter++));
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) return errnoStatus(errno, "cannot create '" + tmp.string() + "'");
    auto fail = [&](const std::string& what) {
        const Status st = errnoStatus(errno, what + " '" + tmp.string() + "'");
        ::close(fd);
        ::unlink(tmp.c_str());
        return st;
    };
    size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            return fail("cannot write");
        }
        done += size_t(w);
    }
    if (::fsync(fd) != 0) return fail("cannot fsync");
    if (::close(fd) != 0) {
        const Status st = errnoStatus(errno, "cannot close '" + tmp.string() + "'");
        ::unlink(tmp.c_str());
        return st;
    }
    if (::rename(tmp.c_str(), target.c_str()) != 0) {
        const Status st = errnoStatus(errno, "cannot rename onto '" + path + "'");
        ::unlink(tmp.c_str());
        return st;
    }
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {  // best effort: makes the rename itself durable
        (void)::fsync(dfd);
        ::close(dfd);
    }
    return Status();
}

Status writeImageAtomic(const std::string& path, const cv::Mat& image, int jpegQuality) {
    const ImageFormat f = formatFromExtension(path);
    if (f == ImageFormat::UNKNOWN || f == ImageFormat::GIF)
        return invalidArgument("cannot tell an image format to write from the name '" + path +
                               "' (use .jpg, .png, .webp, .tif or .bmp)");
    auto bytes = encodeImage(image, f, jpegQuality);
    if (!bytes.ok()) return bytes.status();
    return writeFileAtomic(path, *bytes);
}

}  // namespace cvgen
