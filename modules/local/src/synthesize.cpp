#include "cvgen/local/synthesize.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

namespace cvgen::local {
namespace {

int longSide(Resolution r) {
    switch (r) {
        case Resolution::R1K:
            return 1024;
        case Resolution::R2K:
            return 2048;
        case Resolution::R4K:
            return 4096;
    }
    throw std::invalid_argument("generationSize: unknown resolution");
}

uint64_t fnv1a(const std::string& s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

// splitmix64: a tiny, well-mixed deterministic generator (no global state).
struct Mix {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0,1)
};

cv::Vec3f hsvToBgr(double hue, double sat, double val) {
    // hue in [0,1)
    const double h6 = hue * 6.0;
    const int i = int(h6) % 6;
    const double f = h6 - std::floor(h6);
    const double p = val * (1 - sat), q = val * (1 - sat * f), t = val * (1 - sat * (1 - f));
    double r = 0, g = 0, b = 0;
    switch (i) {
        case 0:
            r = val, g = t, b = p;
            break;
        case 1:
            r = q, g = val, b = p;
            break;
        case 2:
            r = p, g = val, b = t;
            break;
        case 3:
            r = p, g = q, b = val;
            break;
        case 4:
            r = t, g = p, b = val;
            break;
        default:
            r = val, g = p, b = q;
            break;
    }
    return cv::Vec3f(float(b * 255), float(g * 255), float(r * 255));
}

}  // namespace

cv::Size generationSize(AspectRatio aspect, Resolution resolution) {
    int a = 0, b = 0;
    switch (aspect) {
        case AspectRatio::R16_9:
            a = 16, b = 9;
            break;
        case AspectRatio::R9_16:
            a = 9, b = 16;
            break;
        case AspectRatio::R1_1:
            a = 1, b = 1;
            break;
        case AspectRatio::R4_3:
            a = 4, b = 3;
            break;
        case AspectRatio::R3_4:
            a = 3, b = 4;
            break;
        case AspectRatio::R3_2:
            a = 3, b = 2;
            break;
        case AspectRatio::R2_3:
            a = 2, b = 3;
            break;
        case AspectRatio::R21_9:
            a = 7, b = 3;
            break;
        case AspectRatio::AUTO:
            throw std::invalid_argument(
                "generationSize: AUTO has no size of its own; pass the reference image's ratio");
    }
    const int L = longSide(resolution);
    const int u = int(std::lround(double(L) / std::max(a, b)));
    return cv::Size(a * u, b * u);
}

cv::Size generationSize(double ratio, Resolution resolution) {
    if (!std::isfinite(ratio) || ratio <= 0)
        throw std::invalid_argument("generationSize: ratio must be finite and > 0");
    const int L = longSide(resolution);
    if (ratio >= 1) return cv::Size(L, std::max(1, int(std::lround(L / ratio))));
    return cv::Size(std::max(1, int(std::lround(L * ratio))), L);
}

cv::Mat synthesizeImage(const std::string& prompt, cv::Size size, uint64_t seed) {
    CV_Check(size.width,
             size.width >= 1 && size.height >= 1 && size.width <= 16384 && size.height <= 16384,
             "size must be in [1,16384] on each side");
    Mix rng{fnv1a(prompt) ^ (seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull)};
    const cv::Vec3f c0 =
        hsvToBgr(rng.uniform(), 0.45 + 0.4 * rng.uniform(), 0.55 + 0.4 * rng.uniform());
    const cv::Vec3f c1 =
        hsvToBgr(rng.uniform(), 0.45 + 0.4 * rng.uniform(), 0.35 + 0.4 * rng.uniform());
    const double angle = rng.uniform() * 2 * CV_PI;
    const float gx = float(std::cos(angle)), gy = float(std::sin(angle));
    const int pattern = int(rng.next() % 3);           // rings, diagonal waves, interference
    const float freq = float(6 + 18 * rng.uniform());  // cycles across the short side
    const float phase = float(rng.uniform() * 2 * CV_PI);
    const float cx = float(size.width * (0.2 + 0.6 * rng.uniform()));
    const float cy = float(size.height * (0.2 + 0.6 * rng.uniform()));
    const float W = float(size.width), H = float(size.height);
    const float norm = std::abs(gx) * W + std::abs(gy) * H;  // gradient spans the image
    const float k = float(2 * CV_PI) * freq / std::min(W, H);
    const float g0 = std::min(0.f, gx * W) + std::min(0.f, gy * H);

    cv::Mat out(size, CV_8UC3);
    cv::parallel_for_(cv::Range(0, size.height), [&](const cv::Range& rows) {
        for (int y = rows.start; y < rows.end; ++y) {
            cv::Vec3b* row = out.ptr<cv::Vec3b>(y);
            for (int x = 0; x < size.width; ++x) {
                const float t = norm > 0 ? (gx * x + gy * y - g0) / norm : 0.f;
                float wave = 0;
                const float dx = float(x) - cx, dy = float(y) - cy;
                switch (pattern) {
                    case 0:
                        wave = std::sin(k * std::sqrt(dx * dx + dy * dy) + phase);
                        break;
                    case 1:
                        wave = std::sin(k * (gy * x - gx * y) + phase);
                        break;
                    default:
                        wave = 0.5f * (std::sin(k * x + phase) + std::sin(k * 0.7f * y - phase));
                        break;
                }
                const float shade = 0.82f + 0.18f * wave;
                const cv::Vec3f c = (c0 * (1.f - t) + c1 * t) * shade;
                row[x] = cv::Vec3b(cv::saturate_cast<uchar>(c[0]), cv::saturate_cast<uchar>(c[1]),
                                   cv::saturate_cast<uchar>(c[2]));
            }
        }
    });
    if (size.width >= 64 && size.height >= 64) {
        // A small, honest label: this image was not generated by a model.
        const double scale = std::max(0.35, std::min(W, H) / 900.0);
        const int thick = std::max(1, int(std::lround(scale * 1.5)));
        int base = 0;
        const std::string text = "synthetic";
        const cv::Size ts = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, thick, &base);
        const int pad = std::max(2, ts.height / 3);
        const cv::Rect box(pad, size.height - ts.height - base - 3 * pad, ts.width + 2 * pad,
                           ts.height + base + 2 * pad);
        cv::rectangle(out, box & cv::Rect(0, 0, size.width, size.height), cv::Scalar(20, 20, 20),
                      cv::FILLED);
        cv::putText(out, text, cv::Point(box.x + pad, box.y + pad + ts.height),
                    cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar(235, 235, 235), thick, cv::LINE_AA);
    }
    return out;
}

}  // namespace cvgen::local
