#include "cvgen/core/image_limits.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "cvgen/core/codec.hpp"

namespace cvgen {

const char* mimeType(ImageFormat f) noexcept {
    switch (f) {
        case ImageFormat::JPEG:
            return "image/jpeg";
        case ImageFormat::PNG:
            return "image/png";
        case ImageFormat::WEBP:
            return "image/webp";
        case ImageFormat::TIFF:
            return "image/tiff";
        case ImageFormat::BMP:
            return "image/bmp";
        case ImageFormat::GIF:
            return "image/gif";
        case ImageFormat::UNKNOWN:
            break;
    }
    return "application/octet-stream";
}

const char* formatName(ImageFormat f) noexcept {
    switch (f) {
        case ImageFormat::JPEG:
            return "JPEG";
        case ImageFormat::PNG:
            return "PNG";
        case ImageFormat::WEBP:
            return "WEBP";
        case ImageFormat::TIFF:
            return "TIFF";
        case ImageFormat::BMP:
            return "BMP";
        case ImageFormat::GIF:
            return "GIF";
        case ImageFormat::UNKNOWN:
            break;
    }
    return "UNKNOWN";
}

const char* fileExtension(ImageFormat f) noexcept {
    switch (f) {
        case ImageFormat::JPEG:
            return ".jpg";
        case ImageFormat::PNG:
            return ".png";
        case ImageFormat::WEBP:
            return ".webp";
        case ImageFormat::TIFF:
            return ".tiff";
        case ImageFormat::BMP:
            return ".bmp";
        case ImageFormat::GIF:
            return ".gif";
        case ImageFormat::UNKNOWN:
            break;
    }
    return "";
}

ImageFormat formatFromExtension(const std::string& path) noexcept {
    const size_t dot = path.find_last_of('.');
    const size_t slash = path.find_last_of('/');
    if (dot == std::string::npos || (slash != std::string::npos && dot < slash))
        return ImageFormat::UNKNOWN;
    std::string ext = path.substr(dot + 1);
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    if (ext == "jpg" || ext == "jpeg" || ext == "jpe") return ImageFormat::JPEG;
    if (ext == "png") return ImageFormat::PNG;
    if (ext == "webp") return ImageFormat::WEBP;
    if (ext == "tif" || ext == "tiff") return ImageFormat::TIFF;
    if (ext == "bmp") return ImageFormat::BMP;
    if (ext == "gif") return ImageFormat::GIF;
    return ImageFormat::UNKNOWN;
}

const char* toString(Endpoint e) noexcept {
    switch (e) {
        case Endpoint::EXPAND:
            return "expand";
        case Endpoint::GENERATE:
            return "generate";
        case Endpoint::OMNI:
            return "omni";
        case Endpoint::UPSCALE:
            return "upscale";
    }
    return "expand";
}

std::optional<Endpoint> parseEndpoint(const std::string& s) noexcept {
    for (Endpoint e : {Endpoint::EXPAND, Endpoint::GENERATE, Endpoint::OMNI, Endpoint::UPSCALE})
        if (s == toString(e)) return e;
    return std::nullopt;
}

bool ImageLimits::allows(ImageFormat f) const noexcept {
    return std::find(formats.begin(), formats.end(), f) != formats.end();
}

bool ImageLimits::aspectOk(int width, int height) const noexcept {
    const double w = width, h = height;
    constexpr double kTol = 1e-12;
    return w <= maxAspect * h * (1 + kTol) && w >= minAspect * h * (1 - kTol);
}

const char* toString(ViolationCode c) noexcept {
    switch (c) {
        case ViolationCode::TOO_SMALL:
            return "TOO_SMALL";
        case ViolationCode::ASPECT_TOO_WIDE:
            return "ASPECT_TOO_WIDE";
        case ViolationCode::ASPECT_TOO_TALL:
            return "ASPECT_TOO_TALL";
        case ViolationCode::TOO_MANY_BYTES:
            return "TOO_MANY_BYTES";
        case ViolationCode::FORMAT_NOT_ALLOWED:
            return "FORMAT_NOT_ALLOWED";
        case ViolationCode::TOO_MANY_PIXELS:
            return "TOO_MANY_PIXELS";
        case ViolationCode::UNREADABLE:
            return "UNREADABLE";
    }
    return "UNREADABLE";
}

bool CheckReport::has(ViolationCode c) const noexcept {
    for (const Violation& v : violations)
        if (v.code == c) return true;
    return false;
}

namespace {

std::string fmt(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

void checkGeometry(int w, int h, const ImageLimits& l, CheckReport& r) {
    const int side = std::min(w, h);
    if (side < l.minSide)
        r.violations.push_back({ViolationCode::TOO_SMALL, double(side), double(l.minSide),
                                std::string(w <= h ? "width " : "height ") + std::to_string(side) +
                                    " px is below the minimum side of " +
                                    std::to_string(l.minSide) + " px"});
    const double aspect = double(w) / double(h);
    if (!l.aspectOk(w, h)) {
        if (aspect > l.maxAspect)
            r.violations.push_back({ViolationCode::ASPECT_TOO_WIDE, aspect, l.maxAspect,
                                    "aspect " + std::to_string(w) + "x" + std::to_string(h) +
                                        " = " + fmt(aspect) + " is wider than the maximum " +
                                        fmt(l.maxAspect)});
        else
            r.violations.push_back({ViolationCode::ASPECT_TOO_TALL, aspect, l.minAspect,
                                    "aspect " + std::to_string(w) + "x" + std::to_string(h) +
                                        " = " + fmt(aspect) + " is taller than the minimum " +
                                        fmt(l.minAspect)});
    }
    const int64_t pixels = int64_t(w) * int64_t(h);
    if (pixels > l.maxPixels)
        r.violations.push_back({ViolationCode::TOO_MANY_PIXELS, double(pixels), double(l.maxPixels),
                                std::to_string(pixels) + " pixels exceed the budget of " +
                                    std::to_string(l.maxPixels)});
}

}  // namespace

CheckReport check(const cv::Mat& image, const ImageLimits& limits) {
    CV_Assert(!image.empty());
    CheckReport r;
    r.width = image.cols;
    r.height = image.rows;
    checkGeometry(image.cols, image.rows, limits, r);
    return r;
}

Result<CheckReport> check(const std::vector<uint8_t>& bytes, const ImageLimits& limits) {
    CheckReport r;
    r.bytes = bytes.size();
    r.format = sniffFormat(bytes);
    const auto header = readHeader(bytes);
    if (!header.ok()) {
        r.violations.push_back(
            {ViolationCode::UNREADABLE, 0, 0, "unreadable image: " + header.status().message()});
    } else {
        r.width = header->displayWidth();
        r.height = header->displayHeight();
    }
    if (r.format != ImageFormat::UNKNOWN && !limits.allows(r.format)) {
        std::string allowed;
        for (ImageFormat f : limits.formats)
            allowed += std::string(allowed.empty() ? "" : ", ") + formatName(f);
        r.violations.push_back(
            {ViolationCode::FORMAT_NOT_ALLOWED, 0, 0,
             std::string(formatName(r.format)) + " is not accepted (allowed: " + allowed + ")"});
    }
    if (r.bytes > limits.maxBytes)
        r.violations.push_back({ViolationCode::TOO_MANY_BYTES, double(r.bytes),
                                double(limits.maxBytes),
                                std::to_string(r.bytes) + " bytes exceed the limit of " +
                                    std::to_string(limits.maxBytes) + " bytes"});
    if (header.ok()) checkGeometry(r.width, r.height, limits, r);
    return r;
}

Result<CheckReport> checkFile(const std::string& path, const ImageLimits& limits) {
    auto bytes = readFileBytes(path);
    if (!bytes.ok()) return bytes.status();
    return check(*bytes, limits);
}

}  // namespace cvgen
