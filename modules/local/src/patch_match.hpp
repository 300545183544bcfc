#ifndef CVGEN_LOCAL_SRC_PATCH_MATCH_HPP
#define CVGEN_LOCAL_SRC_PATCH_MATCH_HPP

// Internal to cvgen::local: the PatchMatch machinery of patch_fill.cpp (one pyramid level of the
// work canvas, its match field, search, weights and vote). Not installed.

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <opencv2/core.hpp>

#include "cvgen/local/expand.hpp"

namespace cvgen::local::patch {

constexpr int kR = 3;  // patch radius: 7x7 patches
constexpr int kBandRows = 16;
constexpr int kMinSide = 2 * kR + 5;         // smallest photo side (at a level) worth matching
constexpr float kSamples = 7.f * 8.f * 3.f;  // SAD terms per patch (see sad()), Lab only

struct Rng {  // splitmix64: fast, and the same stream on every platform
    uint64_t s;
    uint32_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return uint32_t((z ^ (z >> 31)) >> 32);
    }
    int uniform(int lo, int hi) {  // [lo, hi]
        return lo + int(next() % uint32_t(hi - lo + 1));
    }
};

inline uint64_t streamSeed(uint64_t seed, int level, int pass, int band) {
    return seed * 0x100000001B3ull ^ (uint64_t(level) << 48) ^ (uint64_t(pass) << 32) ^
           uint64_t(band);
}

inline float smoothstep(float e0, float e1, float x) {
    if (x <= e0) return 0.f;
    if (x >= e1) return 1.f;
    const float t = (x - e0) / (e1 - e0);
    return t * t * (3.f - 2.f * t);
}

inline float outside(int x, int y, const cv::Rect& o) {
    const int dx = std::max({0, o.x - x, x - (o.x + o.width - 1)});
    const int dy = std::max({0, o.y - y, y - (o.y + o.height - 1)});
    return std::sqrt(float(dx * dx + dy * dy));
}

inline int floorDiv(int a, int f) {
    return a >= 0 ? a / f : -((-a + f - 1) / f);
}

struct Level {
    cv::Size size;   // canvas at this level
    cv::Rect orig;   // the photo in it
    cv::Mat lab;     // CV_8UC4 canvas: the photo, and the current estimate around it
    cv::Mat nnf;     // CV_32SC2: source patch centre of each target centre
    cv::Mat dist;    // CV_32S: its SAD
    cv::Mat weight;  // CV_32F: vote weight of each centre, 0 outside the domain
    int bandX = 0, bandY = 0;
    bool top = false, bottom = false, left = false, right = false;
    float goodErr = 6.f, badErr = 18.f;

    // Target centres: patch inside the canvas, and touching the new area or near the border.
    bool inDomain(int x, int y) const {
        if (x < kR || y < kR || x >= size.width - kR || y >= size.height - kR) return false;
        const int depth = std::min(
            {x - orig.x, orig.x + orig.width - 1 - x, y - orig.y, orig.y + orig.height - 1 - y});
        return depth <= kR + 1;
    }
    // Source centres: patch inside the photo, within the band of a border that has a margin.
    bool inBand(int sx, int sy) const {
        return (left && sx - orig.x < bandX) || (right && orig.x + orig.width - 1 - sx < bandX) ||
               (top && sy - orig.y < bandY) || (bottom && orig.y + orig.height - 1 - sy < bandY);
    }
    cv::Point clampSource(int sx, int sy) const {
        return {std::min(std::max(sx, orig.x + kR), orig.x + orig.width - 1 - kR),
                std::min(std::max(sy, orig.y + kR), orig.y + orig.height - 1 - kR)};
    }
    cv::Point randomSource(Rng& rng) const {
        const int x0 = orig.x + kR, x1 = orig.x + orig.width - 1 - kR;
        const int y0 = orig.y + kR, y1 = orig.y + orig.height - 1 - kR;
        const int n = int(top) + int(bottom) + int(left) + int(right);
        int side = rng.uniform(0, std::max(0, n - 1));
        for (int s = 0; s < 4; ++s) {
            const bool has = s == 0 ? top : s == 1 ? bottom : s == 2 ? left : right;
            if (!has || side-- > 0) continue;
            if (s == 0) return {rng.uniform(x0, x1), rng.uniform(y0, std::min(y1, y0 + bandY))};
            if (s == 1) return {rng.uniform(x0, x1), rng.uniform(std::max(y0, y1 - bandY), y1)};
            if (s == 2) return {rng.uniform(x0, std::min(x1, x0 + bandX)), rng.uniform(y0, y1)};
            return {rng.uniform(std::max(x0, x1 - bandX), x1), rng.uniform(y0, y1)};
        }
        return {rng.uniform(x0, x1), rng.uniform(y0, y1)};
    }
};

template <typename F>
void forBands(int rows, const F& body) {
    const int nb = (rows + kBandRows - 1) / kBandRows;
    cv::parallel_for_(
        cv::Range(0, nb),
        [&](const cv::Range& r) {
            for (int b = r.start; b < r.end; ++b)
                body(b, b * kBandRows, std::min(rows, (b + 1) * kBandRows));
        },
        nb);
}

struct Geometry {
    cv::Size canvas;
    cv::Rect orig;
};

/** Level k of the canvas pyramid: the photo and the canvas scaled by 2^-k. */
Geometry geometryAt(int k, cv::Size src, const Margins& m);
/** Any supported image → 8-bit Lab in channels 0-2, alpha (or 0) in channel 3. */
cv::Mat toLab4(const cv::Mat& img);
/** Distances of the current field (after initialisation, upscaling or a vote). */
void computeDistances(Level& L);
/** One PatchMatch pass (see patch_match.cpp). */
void searchPass(Level& L, uint64_t seed, int level, int pass, int maxRadius, int global);
/** Vote weight of each centre. */
void computeWeights(Level& L);
/** The new area of L.lab becomes the weighted vote of the patches covering it. */
void vote(Level& L);
/** Level k's field from level k+1's. */
void upscaleField(const Level& coarse, Level& L, uint64_t seed, int level);
/** A random field (the coarsest level). */
void randomField(Level& L, uint64_t seed, int level);
/** Per-pixel match confidence in [0,1] at a level. */
cv::Mat matchConfidence(const Level& L);

}  // namespace cvgen::local::patch

#endif  // CVGEN_LOCAL_SRC_PATCH_MATCH_HPP
