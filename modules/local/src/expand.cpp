#include "cvgen/local/expand.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "cvgen/local/patch_fill.hpp"

namespace cvgen::local {
namespace {

// The fill is a per-pixel blend of a few fields sampled from a Gaussian pyramid of the ORIGINAL
// (never of the full canvas): level j is the source downscaled 2^j times, and a canvas pixel is
// mapped into it with the same scale on both sides of the border, so replicate / reflect padding
// of any level is just a clamp / reflect of the tap indices. Blur that grows with the distance d
// from the original is a continuous level t(d), blended between floor(t) and floor(t)+1. All the
// heavy lifting happens at reduced resolution; the full-resolution pass is one parallel loop.

constexpr int kMaxSide = 65535;
constexpr int64_t kMaxArea = int64_t(1) << 29;

// Growth of the blur level with distance: t = log2(1 + k·d) (+ offset).
constexpr float kEdgeGrowth = 0.5f;    // EDGE: replicated streaks stay crisp near the border
constexpr float kMirrorGrowth = 0.5f;  // SOFT/BLUR: the mirror blurs as it fades
constexpr float kFieldGrowth = 1.0f;   // SOFT/BLUR: the colour field under the mirror
constexpr float kFieldOffset = 1.0f;

inline int clampIndex(int i, int n) {
    return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

// BORDER_REFLECT (fedcba|abcdef|fedcba), periodic so margins larger than the image work.
inline int reflectIndex(int i, int n) {
    const int period = 2 * n;
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - 1 - i;
}

// Two taps and a weight for each canvas column (or row) in one level, for both paddings.
struct Taps {
    std::vector<int> c0, c1, r0, r1;  // clamped and reflected tap indices
    std::vector<float> f;             // weight of tap 1
};

// Canvas coordinates X (pixel centres, possibly fractional) → level coordinate, with the
// original's [off, off+n) mapped exactly onto the level's [0, levelN).
Taps makeTaps(const std::vector<double>& coords, double off, double n, int levelN) {
    Taps t;
    const size_t N = coords.size();
    t.c0.resize(N);
    t.c1.resize(N);
    t.r0.resize(N);
    t.r1.resize(N);
    t.f.resize(N);
    const double s = double(levelN) / n;
    for (size_t i = 0; i < N; ++i) {
        const double u = (coords[i] - off + 0.5) * s - 0.5;
        const double fl = std::floor(u);
        const int i0 = int(fl);
        t.c0[i] = clampIndex(i0, levelN);
        t.c1[i] = clampIndex(i0 + 1, levelN);
        t.r0[i] = reflectIndex(i0, levelN);
        t.r1[i] = reflectIndex(i0 + 1, levelN);
        t.f[i] = float(u - fl);
    }
    return t;
}

inline float smoothstep(float e0, float e1, float x) {
    if (x <= e0) return 0.f;
    if (x >= e1) return 1.f;
    const float t = (x - e0) / (e1 - e0);
    return t * t * (3.f - 2.f * t);
}

// The sampling positions along one axis (all columns or all rows of a grid).
struct Axis {
    std::vector<Taps> levels;  // per pyramid level
    Taps backdrop;             // into Plan::backdrop (BLUR)
    Taps coarse;               // into the coarse canvas (full grid only)
    std::vector<float> dist;   // distance outside the original along this axis (0 inside)
};

Axis makeAxis(const std::vector<double>& coords, int off, int n, int canvasN,
              const std::vector<cv::Mat>& levels, bool cols, int backdropN, int coarseN,
              int coarseFactor) {
    Axis a;
    for (const cv::Mat& lv : levels)
        a.levels.push_back(makeTaps(coords, off, n, cols ? lv.cols : lv.rows));
    if (backdropN > 0) a.backdrop = makeTaps(coords, 0, canvasN, backdropN);
    if (coarseN > 0) a.coarse = makeTaps(coords, 0, double(coarseN) * coarseFactor, coarseN);
    a.dist.resize(coords.size());
    for (size_t i = 0; i < coords.size(); ++i)
        a.dist[i] = float(std::max({0.0, off - coords[i], coords[i] - (off + n - 1)}));
    return a;
}

struct Plan {
    Margins m;
    int W = 0, H = 0, w = 0, h = 0;
    ExpandMode mode = ExpandMode::BLUR;
    std::vector<cv::Mat> levels;  // levels[0] = src
    cv::Mat backdrop;             // BLUR only, small canvas-aligned image
    float mirrorFade = 8.f;       // d at which the mirror has faded out
    float backdropFull = 24.f;    // d at which the backdrop is fully in (BLUR)
    float maxLevel = 0.f;
    // Beyond `nearBand` px from the original every field is blurred by several px, so it is
    // evaluated on a canvas `coarseFactor` times smaller and upsampled bilinearly.
    int coarseFactor = 0;  // 0 = evaluate everything at full resolution
    float nearBand = 0.f;
};

template <typename T, int CN>
struct Sampler {
    const Plan& p;
    const Axis& ax;  // columns of the grid being evaluated
    const Axis& ay;  // rows

    static inline void bilinear(const cv::Mat& img, int x0, int x1, float fx, int y0, int y1,
                                float fy, float* out) {
        const T* a = img.ptr<T>(y0);
        const T* b = img.ptr<T>(y1);
        for (int c = 0; c < CN; ++c) {
            const float a0 = float(a[x0 * CN + c]), a1 = float(a[x1 * CN + c]);
            const float b0 = float(b[x0 * CN + c]), b1 = float(b[x1 * CN + c]);
            const float top = a0 + fx * (a1 - a0);
            const float bot = b0 + fx * (b1 - b0);
            out[c] = top + fy * (bot - top);
        }
    }

    static inline void sample(const cv::Mat& img, const Taps& tx, size_t X, const Taps& ty,
                              size_t Y, float* out) {
        bilinear(img, tx.c0[X], tx.c1[X], tx.f[X], ty.c0[Y], ty.c1[Y], ty.f[Y], out);
    }

    // Bilinear sample of level j, clamped (replicate) or reflected taps.
    inline void level(int j, bool reflect, size_t X, size_t Y, float* out) const {
        const Taps& tx = ax.levels[size_t(j)];
        const Taps& ty = ay.levels[size_t(j)];
        if (reflect)
            bilinear(p.levels[size_t(j)], tx.r0[X], tx.r1[X], tx.f[X], ty.r0[Y], ty.r1[Y], ty.f[Y],
                     out);
        else
            sample(p.levels[size_t(j)], tx, X, ty, Y, out);
    }

    // Continuous level t in [0, maxLevel].
    inline void blurred(float t, bool reflect, size_t X, size_t Y, float* out) const {
        t = std::min(std::max(t, 0.f), p.maxLevel);
        const int j = int(t);
        const float f = t - float(j);
        level(j, reflect, X, Y, out);
        if (f > 1e-4f && j + 1 < int(p.levels.size())) {
            float hi[CN];
            level(j + 1, reflect, X, Y, hi);
            for (int c = 0; c < CN; ++c) out[c] += f * (hi[c] - out[c]);
        }
    }

    // Mirror of the edge fading into a smooth colour field (SOFT, and BLUR near the border).
    inline void soft(float d, size_t X, size_t Y, float* out) const {
        blurred(std::log2(1.f + kFieldGrowth * d) + kFieldOffset, false, X, Y, out);
        if (d < p.mirrorFade) {
            float mir[CN];
            blurred(std::log2(1.f + kMirrorGrowth * d), true, X, Y, mir);
            const float r = 1.f - d / p.mirrorFade;
            const float wm = r * r;
            for (int c = 0; c < CN; ++c) out[c] += wm * (mir[c] - out[c]);
        }
    }

    // The fill at distance d from the original.
    inline void fill(float d, size_t X, size_t Y, float* v) const {
        switch (p.mode) {
            case ExpandMode::EDGE:
                blurred(std::log2(1.f + kEdgeGrowth * d), false, X, Y, v);
                break;
            case ExpandMode::SOFT:
                soft(d, X, Y, v);
                break;
            case ExpandMode::BLUR:
            case ExpandMode::PATCH:  // PATCH / AUTO never get here (patchFill)
            case ExpandMode::AUTO: {
                const float wb = smoothstep(0.25f * p.mirrorFade, p.backdropFull, d);
                if (wb >= 1.f) {
                    sample(p.backdrop, ax.backdrop, X, ay.backdrop, Y, v);
                } else {
                    soft(d, X, Y, v);
                    if (wb > 0.f) {
                        float b[CN];
                        sample(p.backdrop, ax.backdrop, X, ay.backdrop, Y, b);
                        for (int c = 0; c < CN; ++c) v[c] += wb * (b[c] - v[c]);
                    }
                }
                break;
            }
        }
    }

    // Rows of `dst` (a grid of ax × ay points). Points inside the original are copied from it when
    // `copyOriginal` (the full grid), else left as they are (never sampled from the coarse grid).
    // `coarse` (optional) serves points at distance ≥ p.nearBand.
    void fillRows(const cv::Range& rows, cv::Mat& dst, bool copyOriginal,
                  const cv::Mat& coarse) const {
        const cv::Mat& src = p.levels[0];
        const size_t rowBytes = size_t(p.w) * CN * sizeof(T);
        const int cols = dst.cols;
        for (int Y = rows.start; Y < rows.end; ++Y) {
            T* out = dst.ptr<T>(Y);
            const float dy = ay.dist[size_t(Y)];
            for (int X = 0; X < cols; ++X) {
                const float dx = ax.dist[size_t(X)];
                if (dx == 0.f && dy == 0.f) {
                    if (copyOriginal) {
                        // The original, bit-exact.
                        std::memcpy(out + size_t(X) * CN, src.ptr<T>(Y - p.m.top), rowBytes);
                        X += p.w - 1;
                    }
                    continue;
                }
                const float d = std::sqrt(dx * dx + dy * dy);
                float v[CN] = {};
                if (!coarse.empty() && d >= p.nearBand)
                    sample(coarse, ax.coarse, size_t(X), ay.coarse, size_t(Y), v);
                else
                    fill(d, size_t(X), size_t(Y), v);
                for (int c = 0; c < CN; ++c)
                    out[size_t(X) * CN + size_t(c)] = cv::saturate_cast<T>(v[c]);
            }
        }
    }
};

// The photo scaled (about its own centre, clamped to cover) over the whole canvas, heavily blurred,
// computed on a canvas-aligned image whose long side is at most ~192 px.
void buildBackdrop(Plan& p) {
    const double f = std::min(1.0, 192.0 / double(std::max(p.W, p.H)));
    const int Wb = std::max(1, int(std::lround(p.W * f)));
    const int Hb = std::max(1, int(std::lround(p.H * f)));
    const double s = std::max(double(p.W) / p.w, double(p.H) / p.h);  // cover, ≥ 1
    const double Sw = p.w * s, Sh = p.h * s;
    const double ox = std::min(0.0, std::max(double(p.W) - Sw, p.m.left + p.w / 2.0 - Sw / 2.0));
    const double oy = std::min(0.0, std::max(double(p.H) - Sh, p.m.top + p.h / 2.0 - Sh / 2.0));
    // Pick the finest pyramid level that is not much larger than what the small canvas shows.
    const double shown = p.w * s * (double(Wb) / p.W);  // source width in small-canvas px
    size_t j = 0;
    while (j + 1 < p.levels.size() && p.levels[j + 1].cols >= shown) ++j;
    const cv::Mat& lv = p.levels[j];
    const double kx = double(lv.cols) / p.w, ky = double(lv.rows) / p.h;
    // small (xb) → canvas X = (xb + .5)·W/Wb − .5 → source x = (X + .5 − ox)/s − .5 → level.
    const double ax = double(p.W) / Wb / s * kx;
    const double bx = ((0.5 * p.W / Wb - ox) / s) * kx - 0.5;
    const double ay = double(p.H) / Hb / s * ky;
    const double by = ((0.5 * p.H / Hb - oy) / s) * ky - 0.5;
    cv::Matx23d M(ax, 0, bx, 0, ay, by);
    cv::Mat small;
    cv::warpAffine(lv, small, M, cv::Size(Wb, Hb), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                   cv::BORDER_REFLECT);
    const double sigma = std::max(1.0, 0.035 * std::max(Wb, Hb));
    cv::GaussianBlur(small, p.backdrop, cv::Size(), sigma, sigma, cv::BORDER_REFLECT);
}

std::vector<double> fullCoords(int n) {
    std::vector<double> c(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) c[size_t(i)] = i;
    return c;
}

// Centres of the coarse grid's pixels in full-resolution coordinates.
std::vector<double> coarseCoords(int n, int factor) {
    std::vector<double> c(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) c[size_t(i)] = (i + 0.5) * factor - 0.5;
    return c;
}

template <typename T, int CN>
void run(const Plan& p, cv::Mat& dst) {
    const int Wb = p.backdrop.cols, Hb = p.backdrop.rows;
    cv::Mat coarse;
    int Wc = 0, Hc = 0;
    if (p.coarseFactor > 0) {
        const int f = p.coarseFactor;
        Wc = (p.W + f - 1) / f;
        Hc = (p.H + f - 1) / f;
        const Axis cx = makeAxis(coarseCoords(Wc, f), p.m.left, p.w, p.W, p.levels, true, Wb, 0, f);
        const Axis cy = makeAxis(coarseCoords(Hc, f), p.m.top, p.h, p.H, p.levels, false, Hb, 0, f);
        coarse = cv::Mat::zeros(Hc, Wc, dst.type());
        const Sampler<T, CN> s{p, cx, cy};
        cv::parallel_for_(cv::Range(0, Hc),
                          [&](const cv::Range& r) { s.fillRows(r, coarse, false, cv::Mat()); });
    }
    const Axis ax =
        makeAxis(fullCoords(p.W), p.m.left, p.w, p.W, p.levels, true, Wb, Wc, p.coarseFactor);
    const Axis ay =
        makeAxis(fullCoords(p.H), p.m.top, p.h, p.H, p.levels, false, Hb, Hc, p.coarseFactor);
    const Sampler<T, CN> s{p, ax, ay};
    cv::parallel_for_(cv::Range(0, p.H),
                      [&](const cv::Range& r) { s.fillRows(r, dst, true, coarse); });
}

}  // namespace

const char* toString(ExpandMode m) noexcept {
    switch (m) {
        case ExpandMode::BLUR:
            return "blur";
        case ExpandMode::SOFT:
            return "soft";
        case ExpandMode::EDGE:
            return "edge";
        case ExpandMode::PATCH:
            return "patch";
        case ExpandMode::AUTO:
            return "auto";
    }
    return "?";
}

std::optional<ExpandMode> parseExpandMode(const std::string& s) noexcept {
    if (s == "blur") return ExpandMode::BLUR;
    if (s == "soft") return ExpandMode::SOFT;
    if (s == "edge") return ExpandMode::EDGE;
    if (s == "patch") return ExpandMode::PATCH;
    if (s == "auto") return ExpandMode::AUTO;
    return std::nullopt;
}

Margins marginsFromRatios(cv::Size size, const ExpansionRatios& r) {
    CV_Check(size.width, size.width > 0 && size.height > 0, "empty source size");
    for (double v : {r.up, r.down, r.left, r.right})
        CV_Check(v, std::isfinite(v) && v >= 0 && v <= 1e4, "expansion ratio out of range");
    Margins m;
    m.left = int(std::lround(size.width * r.left));
    m.right = int(std::lround(size.width * r.right));
    m.top = int(std::lround(size.height * r.up));
    m.bottom = int(std::lround(size.height * r.down));
    return m;
}

cv::Mat expandCanvas(cv::InputArray _src, const Margins& m, ExpandMode mode, uint64_t seed) {
    if (mode == ExpandMode::PATCH || mode == ExpandMode::AUTO) {
        PatchFillParams pp;
        pp.seed = seed;
        return patchFill(_src, m, pp, mode == ExpandMode::AUTO).image;
    }
    const cv::Mat src = _src.getMat();
    CV_Assert(!src.empty());
    CV_Check(src.type(), src.depth() == CV_8U || src.depth() == CV_16U, "8U or 16U expected");
    CV_Check(src.channels(), src.channels() == 1 || src.channels() == 3 || src.channels() == 4,
             "1, 3 or 4 channels expected");
    CV_Check(m.top, m.top >= 0 && m.bottom >= 0 && m.left >= 0 && m.right >= 0,
             "margins must be non-negative");
    const int64_t W = int64_t(src.cols) + m.left + m.right;
    const int64_t H = int64_t(src.rows) + m.top + m.bottom;
    CV_Check(double(W), W <= kMaxSide && H <= kMaxSide && W * H <= kMaxArea, "canvas too large");
    if (m.top == 0 && m.bottom == 0 && m.left == 0 && m.right == 0) return src.clone();

    Plan p;
    p.m = m;
    p.W = int(W);
    p.H = int(H);
    p.w = src.cols;
    p.h = src.rows;
    p.mode = mode;
    p.levels.push_back(src);
    while (p.levels.size() < 14) {
        const cv::Mat& last = p.levels.back();
        if (last.cols <= 2 && last.rows <= 2) break;
        cv::Mat next;
        cv::pyrDown(last, next, cv::Size((last.cols + 1) / 2, (last.rows + 1) / 2),
                    cv::BORDER_REFLECT);
        p.levels.push_back(next);
    }
    p.maxLevel = float(p.levels.size() - 1);
    // The mirror fades out within ~6% of the short side (4..128 px): enough to carry the texture
    // across the border, too short to show a mirrored ghost of the subject.
    const float shortSide = float(std::min(p.w, p.h));
    p.mirrorFade = std::min(128.f, std::max(4.f, std::round(0.06f * shortSide)));
    p.backdropFull = std::max(3.f * p.mirrorFade, 0.3f * shortSide);
    if (mode == ExpandMode::BLUR) buildBackdrop(p);
    // From 12 px out, every field is at pyramid level ≥ 2.5 (blurred by ≥ ~5 px), so a 4× coarser
    // grid upsampled bilinearly is indistinguishable; small canvases are evaluated in full.
    if (int64_t(p.W) * p.H >= 65536) {
        p.coarseFactor = 4;
        p.nearBand = 12.f;
    }

    cv::Mat dst(p.H, p.W, src.type());
    const int key = src.depth() * 8 + src.channels();
    switch (key) {
        case CV_8U * 8 + 1:
            run<uchar, 1>(p, dst);
            break;
        case CV_8U * 8 + 3:
            run<uchar, 3>(p, dst);
            break;
        case CV_8U * 8 + 4:
            run<uchar, 4>(p, dst);
            break;
        case CV_16U * 8 + 1:
            run<ushort, 1>(p, dst);
            break;
        case CV_16U * 8 + 3:
            run<ushort, 3>(p, dst);
            break;
        default:
            run<ushort, 4>(p, dst);
            break;
    }
    return dst;
}

double seamScore(cv::InputArray _canvas, const Margins& m, int band) {
    const cv::Mat canvas = _canvas.getMat();
    CV_Assert(!canvas.empty());
    CV_Check(band, band >= 2, "band must be >= 2");
    CV_Check(m.top, m.top >= 0 && m.bottom >= 0 && m.left >= 0 && m.right >= 0,
             "margins must be non-negative");
    const int w = canvas.cols - m.left - m.right, h = canvas.rows - m.top - m.bottom;
    CV_Check(w, w > 0 && h > 0, "margins larger than the canvas");
    cv::Mat f;
    canvas.convertTo(f, CV_32F);
    const int cn = f.channels();
    auto px = [&](int x, int y, int c) { return f.ptr<float>(y)[x * cn + c]; };
    // |I(a) - I(b)| averaged over channels.
    auto diff = [&](int xa, int ya, int xb, int yb) {
        double s = 0;
        for (int c = 0; c < cn; ++c) s += std::abs(double(px(xa, ya, c)) - px(xb, yb, c));
        return s / cn;
    };
    double across = 0, bandSum = 0;
    int64_t nAcross = 0, nBand = 0;
    // One side: the border lies between positions b-1 (outside) and b (inside) along the normal;
    // `step` = +1 when inside is at larger coordinates. `along` runs over the original's extent.
    auto side = [&](bool vertical, int b, int step, int outSize, int inSize, int alongStart,
                    int alongLen) {
        if (outSize <= 0) return;
        const int bo = std::min(band, outSize), bi = std::min(band, inSize);
        for (int a = alongStart; a < alongStart + alongLen; ++a) {
            auto at = [&](int n) { return vertical ? cv::Point(a, n) : cv::Point(n, a); };
            const cv::Point in0 = at(b), out0 = at(b - step);
            across += diff(in0.x, in0.y, out0.x, out0.y);
            ++nAcross;
            for (int k = 0; k + 1 < bi; ++k) {
                const cv::Point p0 = at(b + k * step), p1 = at(b + (k + 1) * step);
                bandSum += diff(p0.x, p0.y, p1.x, p1.y);
                ++nBand;
            }
            for (int k = 1; k < bo; ++k) {
                const cv::Point p0 = at(b - k * step), p1 = at(b - (k + 1) * step);
                bandSum += diff(p0.x, p0.y, p1.x, p1.y);
                ++nBand;
            }
        }
    };
    side(false, m.left, 1, m.left, w, m.top, h);            // left border, along rows
    side(false, m.left + w - 1, -1, m.right, w, m.top, h);  // right
    side(true, m.top, 1, m.top, h, m.left, w);              // top, along columns
    side(true, m.top + h - 1, -1, m.bottom, h, m.left, w);  // bottom
    if (nAcross == 0) return std::numeric_limits<double>::quiet_NaN();
    constexpr double eps = 1e-3;
    const double a = across / double(nAcross);
    const double g = nBand ? bandSum / double(nBand) : 0.0;
    return (a + eps) / (g + eps);
}

}  // namespace cvgen::local
