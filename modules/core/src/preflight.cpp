#include "cvgen/core/preflight.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <opencv2/imgproc.hpp>

#include "cvgen/core/codec.hpp"

namespace cvgen {

GeometricTransform GeometricTransform::identity(cv::Size size) {
    GeometricTransform t;
    t.sourceSize = size;
    t.crop = cv::Rect(0, 0, size.width, size.height);
    t.scaledSize = size;
    t.preparedSize = size;
    return t;
}

cv::Point2d GeometricTransform::toPrepared(cv::Point2d src) const noexcept {
    return {(src.x - crop.x) * scaleX() + padLeft, (src.y - crop.y) * scaleY() + padTop};
}

cv::Point2d GeometricTransform::toSource(cv::Point2d p) const noexcept {
    return {(p.x - padLeft) / scaleX() + crop.x, (p.y - padTop) / scaleY() + crop.y};
}

bool GeometricTransform::isIdentity() const noexcept {
    return crop == cv::Rect(0, 0, sourceSize.width, sourceSize.height) &&
           scaledSize == crop.size() && padTop == 0 && padBottom == 0 && padLeft == 0 &&
           padRight == 0;
}

namespace {

std::string num(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

std::string sizeStr(cv::Size s) {
    return std::to_string(s.width) + "x" + std::to_string(s.height);
}

// Largest w' <= w with aspectOk(w', h) (w' >= 1), for a too-wide w×h.
int shrinkWidth(int w, int h, const ImageLimits& l) {
    int cw = std::min(w, std::max(1, int(std::floor(h * l.maxAspect))));
    while (cw > 1 && !l.aspectOk(cw, h)) --cw;
    while (cw < w && l.aspectOk(cw + 1, h)) ++cw;
    return cw;
}

// Largest h' <= h with aspectOk(w, h'), for a too-tall w×h.
int shrinkHeight(int w, int h, const ImageLimits& l) {
    int ch = std::min(h, std::max(1, int(std::floor(w / l.minAspect))));
    while (ch > 1 && !l.aspectOk(w, ch)) --ch;
    while (ch < h && l.aspectOk(w, ch + 1)) ++ch;
    return ch;
}

bool geometryOk(int w, int h, const ImageLimits& l) {
    return std::min(w, h) >= l.minSide && l.aspectOk(w, h) && int64_t(w) * h <= l.maxPixels;
}

}  // namespace

Result<GeometricTransform> planConform(cv::Size source, const ImageLimits& l,
                                       const ConformPolicy& policy, double maxScale) {
    CV_Assert(source.width > 0 && source.height > 0);
    CV_Assert(l.minAspect > 0 && l.minAspect <= 1 && l.maxAspect >= 1 && l.minSide >= 1 &&
              l.maxPixels >= 1);
    CV_Assert(maxScale > 0);
    const int W = source.width, H = source.height;
    GeometricTransform t;
    t.sourceSize = source;
    t.crop = cv::Rect(0, 0, W, H);

    // 1. Aspect: crop (now) or pad (after scaling).
    if (!l.aspectOk(W, H)) {
        const std::string what = "aspect " + sizeStr(source) + " = " + num(double(W) / H) +
                                 " is outside [" + num(l.minAspect) + ", " + num(l.maxAspect) + "]";
        if (policy.aspect == ConformPolicy::Aspect::FAIL)
            return invalidArgument(what + " and the policy forbids padding or cropping");
        if (policy.aspect == ConformPolicy::Aspect::CROP) {
            if (W > l.maxAspect * H) {
                const int cw = shrinkWidth(W, H, l);
                t.crop = cv::Rect((W - cw) / 2, 0, cw, H);
            } else {
                const int ch = shrinkHeight(W, H, l);
                t.crop = cv::Rect(0, (H - ch) / 2, W, ch);
            }
        }
    }
    const int cw = t.crop.width, ch = t.crop.height;

    // The padded frame at scale 1 (real numbers): what the side and pixel rules apply to.
    double pw = cw, ph = ch;
    if (policy.aspect == ConformPolicy::Aspect::PAD) {
        if (cw > l.maxAspect * ch) ph = cw / l.maxAspect;
        if (cw < l.minAspect * ch) pw = ch * l.minAspect;
    }

    // 2. Scale.
    const double sMin = l.minSide / std::min(pw, ph);
    const double sPixels = std::sqrt(double(l.maxPixels) / (pw * ph));
    double s = 1.0;
    if (s < sMin) {
        if (policy.small == ConformPolicy::Small::FAIL)
            return invalidArgument("smallest side " + std::to_string(std::min(W, H)) +
                                   " px is below " + std::to_string(l.minSide) +
                                   " px and the policy forbids upscaling");
        s = sMin;
    }
    if (s > sPixels && sPixels < 1.0 && policy.large == ConformPolicy::Large::FAIL)
        return invalidArgument(sizeStr(source) + " exceeds " + std::to_string(l.maxPixels) +
                               " pixels and the policy forbids downscaling");
    s = std::min({s, sPixels, maxScale});
    if (s < sMin * (1 - 1e-9))
        return invalidArgument("cannot keep the smallest side at " + std::to_string(l.minSide) +
                               " px within the pixel or byte budget (" + sizeStr(source) + ")");
    s = std::max(s, sMin);

    for (int attempt = 0; attempt < 64; ++attempt) {
        int sw = cw, sh = ch;
        if (s != 1.0) {
            sw = std::max(1, int(std::lround(cw * s)));
            sh = std::max(1, int(std::lround(ch * s)));
        }
        // Rounding may push an allowed aspect just outside: when not padding, shrink the longer
        // side by the pixel it takes (the per-axis factors stay exact: they are recorded).
        if (policy.aspect != ConformPolicy::Aspect::PAD && !l.aspectOk(sw, sh)) {
            if (sw > l.maxAspect * sh)
                sw = shrinkWidth(sw, sh, l);
            else
                sh = shrinkHeight(sw, sh, l);
        }
        // 3. Pad: to the allowed aspect and (absorbing rounding) to the minimum side.
        int wf = std::max(sw, l.minSide), hf = std::max(sh, l.minSide);
        if (wf > l.maxAspect * hf) {
            hf = std::max(hf, int(std::ceil(wf / l.maxAspect)) - 1);
            while (!l.aspectOk(wf, hf)) ++hf;
        } else if (wf < l.minAspect * hf) {
            wf = std::max(wf, int(std::ceil(hf * l.minAspect)) - 1);
            while (!l.aspectOk(wf, hf)) ++wf;
        }
        if (int64_t(wf) * hf > l.maxPixels) {
            s *= 0.999;
            if (s < sMin * (1 - 1e-9))
                return invalidArgument(
                    "cannot meet both the minimum side and the pixel budget "
                    "for " +
                    sizeStr(source));
            continue;
        }
        t.scale = s;
        t.scaledSize = cv::Size(sw, sh);
        t.padLeft = (wf - sw) / 2;
        t.padRight = wf - sw - t.padLeft;
        t.padTop = (hf - sh) / 2;
        t.padBottom = hf - sh - t.padTop;
        t.preparedSize = cv::Size(wf, hf);
        if (!geometryOk(wf, hf, l))
            return internalError("preflight planned " + sizeStr(t.preparedSize) +
                                 " which breaks the limits");
        return t;
    }
    return internalError("preflight could not plan a geometry for " + sizeStr(source));
}

namespace {

cv::Mat padImage(const cv::Mat& img, const GeometricTransform& t, const ConformPolicy& p) {
    const int top = t.padTop, bottom = t.padBottom, left = t.padLeft, right = t.padRight;
    if (top == 0 && bottom == 0 && left == 0 && right == 0) return img;
    cv::Mat out;
    switch (p.padStyle) {
        case ConformPolicy::PadStyle::CONSTANT:
            cv::copyMakeBorder(img, out, top, bottom, left, right, cv::BORDER_CONSTANT, p.padColor);
            return out;
        case ConformPolicy::PadStyle::REFLECT:
            cv::copyMakeBorder(img, out, top, bottom, left, right, cv::BORDER_REFLECT_101);
            return out;
        case ConformPolicy::PadStyle::BLUR:
            break;
    }
    // Blur: a mirrored border, heavily blurred at low resolution (cheap at any size), with the
    // scaled image copied back untouched into the middle.
    cv::Mat mirrored;
    cv::copyMakeBorder(img, mirrored, top, bottom, left, right, cv::BORDER_REFLECT_101);
    const int f = std::max(1, std::min(mirrored.cols, mirrored.rows) / 96);
    cv::Mat small;
    cv::resize(mirrored, small,
               cv::Size(std::max(1, mirrored.cols / f), std::max(1, mirrored.rows / f)), 0, 0,
               cv::INTER_AREA);
    const double sigma = std::max(2.0, 0.04 * std::min(small.cols, small.rows));
    cv::GaussianBlur(small, small, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT_101);
    cv::resize(small, out, mirrored.size(), 0, 0, cv::INTER_LINEAR);
    img.copyTo(out(t.sourceRectInPrepared()));
    return out;
}

cv::Mat render(const cv::Mat& img, const GeometricTransform& t, const ConformPolicy& p) {
    cv::Mat cropped = img(t.crop);
    cv::Mat scaled;
    if (t.scaledSize == cropped.size()) {
        scaled = cropped;
    } else {
        const bool down = double(t.scaledSize.area()) < double(cropped.size().area());
        cv::resize(cropped, scaled, t.scaledSize, 0, 0, down ? cv::INTER_AREA : cv::INTER_CUBIC);
    }
    return padImage(scaled, t, p);
}

void describe(const GeometricTransform& t, const ConformPolicy& p,
              std::vector<std::string>& actions) {
    if (t.crop != cv::Rect(0, 0, t.sourceSize.width, t.sourceSize.height))
        actions.push_back("centre-cropped to " + sizeStr(t.crop.size()) + " at (" +
                          std::to_string(t.crop.x) + "," + std::to_string(t.crop.y) +
                          ") to reach the allowed aspect");
    if (t.scaledSize != t.crop.size())
        actions.push_back(std::string(t.scale > 1 ? "upscaled" : "downscaled") + " by " +
                          num(t.scale) + " from " + sizeStr(t.crop.size()) + " to " +
                          sizeStr(t.scaledSize));
    if (t.padTop || t.padBottom || t.padLeft || t.padRight) {
        const char* style = p.padStyle == ConformPolicy::PadStyle::BLUR      ? "blurred"
                            : p.padStyle == ConformPolicy::PadStyle::REFLECT ? "reflected"
                                                                             : "constant";
        actions.push_back("padded (" + std::string(style) + ") top " + std::to_string(t.padTop) +
                          ", bottom " + std::to_string(t.padBottom) + ", left " +
                          std::to_string(t.padLeft) + ", right " + std::to_string(t.padRight) +
                          " to " + sizeStr(t.preparedSize));
    }
}

// Normalises any accepted Mat to 8-bit BGR (or BGRA when alpha is kept).
cv::Mat normalise(const cv::Mat& image, const ConformPolicy& p, bool& alphaKept,
                  std::vector<std::string>& actions) {
    CV_Assert(!image.empty());
    CV_CheckDepth(image.depth(), image.depth() == CV_8U || image.depth() == CV_16U,
                  "conform accepts 8- or 16-bit images");
    const int cn = image.channels();
    CV_Check(cn, cn >= 1 && cn <= 4, "conform accepts 1 to 4 channels");
    cv::Mat img = image;
    if (img.depth() == CV_16U) {
        img.convertTo(img, CV_8U, 1.0 / 257.0);
        actions.push_back("16-bit samples scaled to 8-bit");
    }
    if (cn == 1) {
        cv::cvtColor(img, img, cv::COLOR_GRAY2BGR);
        actions.push_back("grey expanded to BGR");
    } else if (cn == 2) {  // grey + alpha
        std::vector<cv::Mat> planes;
        cv::split(img, planes);
        cv::merge(std::vector<cv::Mat>{planes[0], planes[0], planes[0], planes[1]}, img);
        actions.push_back("grey+alpha expanded to BGRA");
    }
    alphaKept = false;
    if (img.channels() == 4) {
        cv::Mat alpha;
        cv::extractChannel(img, alpha, 3);
        double minA = 0;
        cv::minMaxLoc(alpha, &minA);
        if (p.alpha == ConformPolicy::Alpha::KEEP_PNG) {
            alphaKept = true;
        } else if (minA >= 255) {
            cv::cvtColor(img, img, cv::COLOR_BGRA2BGR);
            actions.push_back("opaque alpha channel dropped");
        } else {
            cv::Mat bgr, a3,
                bg(img.size(), CV_32FC3,
                   cv::Scalar(p.background[0], p.background[1], p.background[2]));
            cv::cvtColor(img, bgr, cv::COLOR_BGRA2BGR);
            bgr.convertTo(bgr, CV_32F);
            cv::Mat af;
            alpha.convertTo(af, CV_32F, 1.0 / 255.0);
            cv::cvtColor(af, a3, cv::COLOR_GRAY2BGR);
            cv::Mat out = bgr.mul(a3) + bg.mul(cv::Scalar::all(1.0) - a3);
            out.convertTo(img, CV_8U);
            actions.push_back("alpha flattened onto background (" + num(p.background[0]) + "," +
                              num(p.background[1]) + "," + num(p.background[2]) + ")");
        }
    }
    return img;
}

Result<ImageFormat> chooseFormat(const ImageLimits& l, const ConformPolicy& p, bool alphaKept) {
    if (alphaKept) {
        if (!l.allows(ImageFormat::PNG))
            return invalidArgument("alpha must be kept but PNG is not an allowed format");
        return ImageFormat::PNG;
    }
    const ImageFormat other =
        p.preferred == ImageFormat::PNG ? ImageFormat::JPEG : ImageFormat::PNG;
    if ((p.preferred == ImageFormat::JPEG || p.preferred == ImageFormat::PNG) &&
        l.allows(p.preferred))
        return p.preferred;
    if (l.allows(other)) return other;
    return invalidArgument("neither JPEG nor PNG is an allowed format");
}

}  // namespace

Result<PreparedImage> conform(const cv::Mat& image, const ImageLimits& limits,
                              const ConformPolicy& policy) {
    CV_CheckGE(policy.jpegQuality, 1, "jpegQuality is 1..100");
    CV_CheckLE(policy.jpegQuality, 100, "jpegQuality is 1..100");
    CV_CheckGE(policy.minJpegQuality, 1, "minJpegQuality is 1..jpegQuality");
    CV_CheckLE(policy.minJpegQuality, policy.jpegQuality, "minJpegQuality is 1..jpegQuality");
    PreparedImage out;
    bool alphaKept = false;
    const cv::Mat img = normalise(image, policy, alphaKept, out.actions);
    auto format = chooseFormat(limits, policy, alphaKept);
    if (!format.ok()) return format.status();
    ImageFormat fmt = *format;

    auto plan = planConform(img.size(), limits, policy);
    if (!plan.ok()) return plan.status();
    std::vector<uint8_t> bytes;
    std::vector<std::string> encodeActions;
    for (int round = 0;; ++round) {
        const cv::Mat prepared = render(img, *plan, policy);
        encodeActions.clear();
        size_t smallest = 0;
        if (fmt == ImageFormat::PNG) {
            auto enc = encodeImage(prepared, ImageFormat::PNG);
            if (!enc.ok()) return enc.status();
            bytes = std::move(*enc);
            smallest = bytes.size();
            if (bytes.size() > limits.maxBytes && !alphaKept && limits.allows(ImageFormat::JPEG)) {
                encodeActions.push_back("PNG of " + std::to_string(bytes.size()) +
                                        " bytes over budget: JPEG used instead");
                fmt = ImageFormat::JPEG;
            }
        }
        if (fmt == ImageFormat::JPEG) {
            auto enc = encodeImage(prepared, ImageFormat::JPEG, policy.jpegQuality);
            if (!enc.ok()) return enc.status();
            bytes = std::move(*enc);
            smallest = bytes.size();
            if (bytes.size() > limits.maxBytes) {
                // Highest quality in [minJpegQuality, jpegQuality) that fits: binary search.
                int lo = policy.minJpegQuality, hi = policy.jpegQuality - 1, best = -1;
                std::vector<uint8_t> bestBytes;
                while (lo <= hi) {
                    const int mid = (lo + hi) / 2;
                    auto e = encodeImage(prepared, ImageFormat::JPEG, mid);
                    if (!e.ok()) return e.status();
                    smallest = std::min(smallest, e->size());
                    if (e->size() <= limits.maxBytes) {
                        best = mid;
                        bestBytes = std::move(*e);
                        lo = mid + 1;
                    } else {
                        hi = mid - 1;
                    }
                }
                if (best > 0) {
                    bytes = std::move(bestBytes);
                    encodeActions.push_back("JPEG quality lowered to " + std::to_string(best) +
                                            " to fit " + std::to_string(limits.maxBytes) +
                                            " bytes");
                }
            }
        }
        if (bytes.size() <= limits.maxBytes) break;
        // Still over: scale down (area scales with the byte count, roughly) and try again.
        if (policy.large == ConformPolicy::Large::FAIL)
            return invalidArgument("the encoded image needs " + std::to_string(smallest) +
                                   " bytes, over the " + std::to_string(limits.maxBytes) +
                                   " allowed, and the policy forbids downscaling");
        if (round >= 12)
            return invalidArgument("could not fit the image within " +
                                   std::to_string(limits.maxBytes) + " bytes");
        const double factor =
            std::min(0.95, std::sqrt(double(limits.maxBytes) / double(smallest)) * 0.95);
        auto next = planConform(img.size(), limits, policy, plan->scale * factor);
        if (!next.ok())
            return invalidArgument("cannot fit within " + std::to_string(limits.maxBytes) +
                                   " bytes: " + next.status().message());
        plan = std::move(next);
    }
    describe(*plan, policy, out.actions);
    out.actions.insert(out.actions.end(), encodeActions.begin(), encodeActions.end());
    out.actions.push_back(std::string("encoded as ") + formatName(fmt) + " (" +
                          std::to_string(bytes.size()) + " bytes)");
    out.bytes = std::move(bytes);
    out.format = fmt;
    out.mime = mimeType(fmt);
    out.transform = *plan;
    out.size = plan->preparedSize;
    out.passthrough = false;
    return out;
}

Result<PreparedImage> conformBytes(const std::vector<uint8_t>& bytes, const ImageLimits& limits,
                                   const ConformPolicy& policy) {
    auto header = readHeader(bytes);
    if (!header.ok()) return header.status();
    auto report = check(bytes, limits);
    if (!report.ok()) return report.status();
    const bool flattenAlpha = header->hasAlpha && policy.alpha == ConformPolicy::Alpha::FLATTEN;
    if (report->ok() && header->exifOrientation == 1 && !flattenAlpha) {
        PreparedImage p;
        p.bytes = bytes;
        p.format = header->format;
        p.mime = mimeType(p.format);
        p.size = cv::Size(header->width, header->height);
        p.transform = GeometricTransform::identity(p.size);
        p.passthrough = true;
        return p;
    }
    std::vector<std::string> why;
    for (const Violation& v : report->violations) why.push_back(v.message);
    if (header->exifOrientation != 1)
        why.push_back("EXIF orientation " + std::to_string(header->exifOrientation) +
                      " must be applied to the pixels");
    if (flattenAlpha) why.push_back("alpha must be flattened");
    auto mat = decodeImage(bytes, {limits.maxPixels, true});
    if (!mat.ok()) return mat.status();
    auto prepared = conform(*mat, limits, policy);
    if (!prepared.ok()) return prepared.status();
    std::vector<std::string> head;
    std::string reason;
    for (const auto& w : why) reason += (reason.empty() ? "" : "; ") + w;
    head.push_back("decoded " + std::string(formatName(header->format)) + " because: " + reason);
    if (header->exifOrientation != 1)
        head.push_back("EXIF orientation " + std::to_string(header->exifOrientation) + " applied");
    prepared->actions.insert(prepared->actions.begin(), head.begin(), head.end());
    return prepared;
}

Result<PreparedImage> conform(const ImageSource& source, const ImageLimits& limits,
                              const ConformPolicy& policy) {
    if (source.kinds() != 1)
        return invalidArgument("image: give exactly one of a Mat, encoded bytes or a URL (got " +
                               std::to_string(source.kinds()) + ")");
    if (!source.url.empty())
        return invalidArgument(
            "image: a URL cannot be checked or fixed without fetching it; "
            "send the URL as is or pass the pixels or bytes");
    if (!source.mat.empty()) return conform(source.mat, limits, policy);
    return conformBytes(source.encoded, limits, policy);
}

}  // namespace cvgen
