#include "patch_match.hpp"

#include <vector>

#include <opencv2/core/hal/intrin.hpp>
#include <opencv2/imgproc.hpp>

namespace cvgen::local::patch {
namespace {

constexpr float kNearDecay = 0.2623643f;  // ln(1.3): vote weight per px from the photo
constexpr float kWeightError = 3.f;       // vote weight exp(-error / kWeightError)

// Sum of absolute differences of two 7x7 patches of a CV_8UC4 image (Lab + alpha or 0). Each row
// is two 16-byte loads (bytes 0-15 and 12-27), so the centre column counts twice: a fixed
// weighting that keeps the distance two SIMD instructions a row. Stops once over `bound`.
inline int sad(const cv::Mat& c, int tx, int ty, int sx, int sy, int bound) {
    const size_t step = c.step;
    const uchar* a = c.ptr(ty - kR) + (tx - kR) * 4;
    const uchar* b = c.ptr(sy - kR) + (sx - kR) * 4;
    int s = 0;
    for (int i = 0; i < 2 * kR + 1; ++i, a += step, b += step) {
#if CV_SIMD128
        s += int(cv::v_reduce_sad(cv::v_load(a), cv::v_load(b)) +
                 cv::v_reduce_sad(cv::v_load(a + 12), cv::v_load(b + 12)));
#else
        for (int k = 0; k < 16; ++k) s += std::abs(int(a[k]) - int(b[k]));
        for (int k = 12; k < 28; ++k) s += std::abs(int(a[k]) - int(b[k]));
#endif
        if (s > bound) return s;
    }
    return s;
}

}  // namespace

// Any supported image → 8-bit Lab in channels 0-2, alpha (or 0) in channel 3.
cv::Mat toLab4(const cv::Mat& img) {
    cv::Mat u8;
    if (img.depth() == CV_16U)
        img.convertTo(u8, CV_8U, 1.0 / 257.0);
    else
        u8 = img;
    cv::Mat bgr, alpha;
    if (u8.channels() == 1) {
        cv::cvtColor(u8, bgr, cv::COLOR_GRAY2BGR);
    } else if (u8.channels() == 4) {
        cv::cvtColor(u8, bgr, cv::COLOR_BGRA2BGR);
        cv::extractChannel(u8, alpha, 3);
    } else {
        bgr = u8;
    }
    if (alpha.empty()) alpha = cv::Mat::zeros(u8.size(), CV_8U);
    cv::Mat lab, out;
    cv::cvtColor(bgr, lab, cv::COLOR_BGR2Lab);
    const cv::Mat parts[] = {lab, alpha};
    cv::merge(parts, 2, out);
    return out;
}

// Distances of the current field (after initialisation or upscaling).
void computeDistances(Level& L) {
    forBands(L.size.height, [&](int, int y0, int y1) {
        for (int y = y0; y < y1; ++y) {
            const cv::Vec2i* f = L.nnf.ptr<cv::Vec2i>(y);
            int* d = L.dist.ptr<int>(y);
            for (int x = 0; x < L.size.width; ++x)
                if (L.inDomain(x, y)) d[x] = sad(L.lab, x, y, f[x][0], f[x][1], INT32_MAX);
        }
    });
}

// One PatchMatch pass: propagation from the previous pixel and row (within the band), then a
// random search around the best match with a halving radius, plus `global` random draws.
void searchPass(Level& L, uint64_t seed, int level, int pass, int maxRadius, int global) {
    const bool fwd = pass % 2 == 0;
    const int dir = fwd ? 1 : -1;
    forBands(L.size.height, [&](int band, int y0, int y1) {
        Rng rng{streamSeed(seed, level, pass, band)};
        for (int yi = 0; yi < y1 - y0; ++yi) {
            const int y = fwd ? y0 + yi : y1 - 1 - yi;
            cv::Vec2i* f = L.nnf.ptr<cv::Vec2i>(y);
            int* d = L.dist.ptr<int>(y);
            const int ny = y - dir;
            const bool rowOk = ny >= y0 && ny < y1;
            for (int xi = 0; xi < L.size.width; ++xi) {
                const int x = fwd ? xi : L.size.width - 1 - xi;
                if (!L.inDomain(x, y)) continue;
                cv::Vec2i best = f[x];
                int bd = d[x];
                // Propagated candidates off the photo are dropped, not clamped: clamping would
                // hand a run of targets the same source (a smear); random ones are clamped.
                auto tryCand = [&](int sx, int sy, bool clamp) {
                    const cv::Point c = L.clampSource(sx, sy);
                    if (!clamp && (c.x != sx || c.y != sy)) return;
                    if ((c.x == best[0] && c.y == best[1]) || !L.inBand(c.x, c.y)) return;
                    const int v = sad(L.lab, x, y, c.x, c.y, bd);
                    if (v < bd) {
                        bd = v;
                        best = cv::Vec2i(c.x, c.y);
                    }
                };
                const int nx = x - dir;
                if (L.inDomain(nx, y)) tryCand(f[nx][0] + dir, f[nx][1], false);
                if (rowOk && L.inDomain(x, ny)) {
                    const cv::Vec2i& g = L.nnf.ptr<cv::Vec2i>(ny)[x];
                    tryCand(g[0], g[1] + dir, false);
                }
                for (int r = maxRadius; r >= 1; r /= 2) {
                    const int ox = rng.uniform(-r, r);  // two statements: a fixed draw order
                    const int oy = rng.uniform(-r, r);
                    tryCand(best[0] + ox, best[1] + oy, true);
                }
                for (int g = 0; g < global; ++g) {
                    const cv::Point c = L.randomSource(rng);
                    tryCand(c.x, c.y, true);
                }
                f[x] = best;
                d[x] = bd;
            }
        }
    });
}

// Vote weight of each centre: good matches and centres near the photo count more.
void computeWeights(Level& L) {
    forBands(L.size.height, [&](int, int y0, int y1) {
        for (int y = y0; y < y1; ++y) {
            const int* d = L.dist.ptr<int>(y);
            float* w = L.weight.ptr<float>(y);
            for (int x = 0; x < L.size.width; ++x) {
                w[x] = 0.f;
                if (!L.inDomain(x, y)) continue;
                const float err = float(d[x]) / kSamples;
                // The distance term is capped: only its differences within one patch window
                // matter, and uncapped it would underflow far from the photo, leaving every
                // patch the same weight whatever its error.
                const float near = std::min(outside(x, y, L.orig), 24.f);
                w[x] = std::exp(-err / kWeightError - kNearDecay * near) + 1e-30f;
            }
        }
    });
}

// Every pixel of the new area becomes the weighted mean of the source pixels the patches covering
// it vote for. Writes only outside the photo; reads only inside it.
void vote(Level& L) {
    const int W = L.size.width, H = L.size.height;
    // Each band splats every patch that overlaps its rows into its own accumulators (rows of
    // 7 x 4 bytes: contiguous, SIMD), in a fixed order of centres: thread-independent.
    forBands(H, [&](int, int y0, int y1) {
        std::vector<float> acc(size_t(y1 - y0) * size_t(W) * 4, 0.f);
        std::vector<float> wsum(size_t(y1 - y0) * size_t(W), 0.f);
        for (int qy = std::max(0, y0 - kR); qy < std::min(H, y1 + kR); ++qy) {
            const cv::Vec2i* f = L.nnf.ptr<cv::Vec2i>(qy);
            const float* w = L.weight.ptr<float>(qy);
            for (int qx = kR; qx < W - kR; ++qx) {
                const float wt = w[qx];
                if (wt <= 0.f) continue;
                for (int dy = -kR; dy <= kR; ++dy) {
                    const int py = qy + dy;
                    if (py < y0 || py >= y1) continue;
                    const uchar* src = L.lab.ptr<uchar>(f[qx][1] + dy) + (f[qx][0] - kR) * 4;
                    float* a = acc.data() + (size_t(py - y0) * size_t(W) + size_t(qx - kR)) * 4;
                    float* ws = wsum.data() + size_t(py - y0) * size_t(W) + size_t(qx - kR);
#if CV_SIMD128
                    const cv::v_float32x4 vw = cv::v_setall_f32(wt);
                    for (int k = 0; k < 2 * kR + 1; ++k) {
                        const cv::v_float32x4 sv = cv::v_cvt_f32(
                            cv::v_reinterpret_as_s32(cv::v_load_expand_q(src + 4 * k)));
                        cv::v_store(a + 4 * k, cv::v_muladd(sv, vw, cv::v_load(a + 4 * k)));
                    }
#else
                    for (int k = 0; k < 4 * (2 * kR + 1); ++k) a[k] += wt * float(src[k]);
#endif
                    for (int k = 0; k < 2 * kR + 1; ++k) ws[k] += wt;
                }
            }
        }
        for (int y = y0; y < y1; ++y) {
            uchar* out = L.lab.ptr<uchar>(y);
            const float* a = acc.data() + size_t(y - y0) * size_t(W) * 4;
            const float* ws = wsum.data() + size_t(y - y0) * size_t(W);
            for (int x = 0; x < W; ++x) {
                if (ws[x] <= 0.f || L.orig.contains(cv::Point(x, y))) continue;
                for (int c = 0; c < 4; ++c)
                    out[x * 4 + c] = cv::saturate_cast<uchar>(a[x * 4 + c] / ws[x]);
            }
        }
    });
}

// Level k's field from level k+1's (coordinates relative to the photo doubled, plus parity).
void upscaleField(const Level& coarse, Level& L, uint64_t seed, int level) {
    forBands(L.size.height, [&](int band, int y0, int y1) {
        Rng rng{streamSeed(seed, level, 1000, band)};
        for (int y = y0; y < y1; ++y) {
            cv::Vec2i* f = L.nnf.ptr<cv::Vec2i>(y);
            const int ry = y - L.orig.y;
            const int cy =
                std::min(std::max(coarse.orig.y + floorDiv(ry, 2), 0), coarse.size.height - 1);
            for (int x = 0; x < L.size.width; ++x) {
                if (!L.inDomain(x, y)) continue;
                const int rx = x - L.orig.x;
                const int cx =
                    std::min(std::max(coarse.orig.x + floorDiv(rx, 2), 0), coarse.size.width - 1);
                cv::Point s(-1, -1);
                if (coarse.inDomain(cx, cy)) {
                    const cv::Vec2i g = coarse.nnf.ptr<cv::Vec2i>(cy)[cx];
                    const int sx =
                        L.orig.x + 2 * (g[0] - coarse.orig.x) + (rx - 2 * floorDiv(rx, 2));
                    const int sy =
                        L.orig.y + 2 * (g[1] - coarse.orig.y) + (ry - 2 * floorDiv(ry, 2));
                    s = L.clampSource(sx, sy);
                    if (std::abs(s.x - sx) > 1 || std::abs(s.y - sy) > 1) s = cv::Point(-1, -1);
                }
                if (s.x < 0 || !L.inBand(s.x, s.y)) s = L.randomSource(rng);
                f[x] = cv::Vec2i(s.x, s.y);
            }
        }
    });
}

void randomField(Level& L, uint64_t seed, int level) {
    forBands(L.size.height, [&](int band, int y0, int y1) {
        Rng rng{streamSeed(seed, level, 2000, band)};
        for (int y = y0; y < y1; ++y) {
            cv::Vec2i* f = L.nnf.ptr<cv::Vec2i>(y);
            for (int x = 0; x < L.size.width; ++x) {
                if (!L.inDomain(x, y)) continue;
                const cv::Point s = L.randomSource(rng);
                f[x] = cv::Vec2i(s.x, s.y);
            }
        }
    });
}

// Per-pixel match confidence at a level: the vote-weighted mean over the covering patches of
// 1 - smoothstep(goodErr, badErr, patch error).
cv::Mat matchConfidence(const Level& L) {
    cv::Mat wc(L.size, CV_32F), w = L.weight;
    for (int y = 0; y < L.size.height; ++y) {
        const int* d = L.dist.ptr<int>(y);
        const float* wr = w.ptr<float>(y);
        float* o = wc.ptr<float>(y);
        for (int x = 0; x < L.size.width; ++x)
            o[x] = wr[x] > 0.f
                       ? wr[x] * (1.f - smoothstep(L.goodErr, L.badErr, float(d[x]) / kSamples))
                       : 0.f;
    }
    cv::Mat num, den;
    const cv::Size k(2 * kR + 1, 2 * kR + 1);
    cv::boxFilter(wc, num, CV_32F, k, cv::Point(-1, -1), false, cv::BORDER_CONSTANT);
    cv::boxFilter(w, den, CV_32F, k, cv::Point(-1, -1), false, cv::BORDER_CONSTANT);
    cv::Mat conf = num / cv::max(den, 1e-12);
    return cv::min(cv::max(conf, 0.0), 1.0);
}

Geometry geometryAt(int k, cv::Size src, const Margins& m) {
    const double s = std::ldexp(1.0, -k);
    auto sc = [&](int v) { return int(std::lround(v * s)); };
    Geometry g;
    g.orig =
        cv::Rect(sc(m.left), sc(m.top), std::max(1, sc(src.width)), std::max(1, sc(src.height)));
    g.canvas =
        cv::Size(g.orig.x + g.orig.width + sc(m.right), g.orig.y + g.orig.height + sc(m.bottom));
    return g;
}

}  // namespace cvgen::local::patch
