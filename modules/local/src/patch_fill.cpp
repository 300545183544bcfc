#include "cvgen/local/patch_fill.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "patch_match.hpp"

namespace cvgen::local {
namespace {

using namespace patch;

// Outline. The work canvas is the canvas cropped to the reach of the fill (farEnd); beyond it the
// output is the BLUR backdrop. A pyramid of that canvas is solved coarse to fine:
//  - solve levels (coarsest .. ks, ks the finest level of at most solveMegapixels): EM iterations
//    of PatchMatch (propagation + random search) and voting, on 8-bit Lab+alpha, the unknown area
//    initialised from the backdrop;
//  - refine levels (ks-1 .. kf, kf = 1): the match field upscaled, two search passes and votes;
//  - level 0: one vote straight from the original's own pixels (any depth, any channel count)
//    through the level-kf field upscaled on the fly, plus a seam colour correction, blended into
//    the backdrop by the confidence.
// Every pass splits the rows into fixed bands of kBandRows, each with its own random stream and
// reading only its own rows of the match field, so the result does not depend on the threads.
constexpr int kVoteR = 1;  // full-resolution vote: the 3x3 nearest centres (sharper, faster)
constexpr float kBlendLow = 0.15f, kBlendHigh = 0.55f;  // confidence → weight of the patches

// The final pass at full resolution, on the work canvas.
template <typename T, int CN>
struct Final {
    const cv::Mat& src;       // the photo
    const cv::Mat& backdrop;  // BLUR fill of the work canvas
    const Level& L;           // the level whose field is used (kf)
    int F;                    // 1 << kf
    cv::Rect o0;              // the photo in the work canvas
    cv::Size size0;           // the work canvas
    std::vector<int> qcx, parx, qcy, pary;

    void tables() {
        auto make = [&](int n, int o, int ok, int lim, std::vector<int>& qc,
                        std::vector<int>& par) {
            qc.resize(size_t(n));
            par.resize(size_t(n));
            // Centres clamped into the level's centre range: a pixel at the canvas edge takes
            // the nearest centre's field (par then exceeds F; the displacement is what counts).
            for (int i = 0; i < n; ++i) {
                const int r = i - o;
                const int c =
                    std::min(std::max(ok + floorDiv(r, F), kR), std::max(kR, lim - 1 - kR));
                qc[size_t(i)] = c;
                par[size_t(i)] = r - F * (c - ok);
            }
        };
        make(size0.width, o0.x, L.orig.x, L.size.width, qcx, parx);
        make(size0.height, o0.y, L.orig.y, L.size.height, qcy, pary);
    }

    // Weighted vote of the original's pixels for pixel (x, y); returns the weight sum.
    float voteAt(int x, int y, float* acc) const {
        for (int c = 0; c < CN; ++c) acc[c] = 0.f;
        float ws = 0.f;
        for (int dy = -kVoteR; dy <= kVoteR; ++dy) {
            const int qy = y - dy;
            if (qy < 0 || qy >= size0.height) continue;
            const int cy = qcy[size_t(qy)], py = pary[size_t(qy)];
            const cv::Vec2i* f = L.nnf.ptr<cv::Vec2i>(cy);
            const float* w = L.weight.ptr<float>(cy);
            for (int dx = -kVoteR; dx <= kVoteR; ++dx) {
                const int qx = x - dx;
                if (qx < 0 || qx >= size0.width) continue;
                const int cx = qcx[size_t(qx)];
                const float wt = w[cx];
                if (wt <= 0.f) continue;
                const int u = std::min(
                    std::max(F * (f[cx][0] - L.orig.x) + parx[size_t(qx)] + dx, 0), src.cols - 1);
                const int v =
                    std::min(std::max(F * (f[cx][1] - L.orig.y) + py + dy, 0), src.rows - 1);
                const T* s = src.ptr<T>(v) + u * CN;
                for (int c = 0; c < CN; ++c) acc[c] += wt * float(s[c]);
                ws += wt;
            }
        }
        return ws;
    }
};

struct FinalInputs {
    const cv::Mat& src;
    const Level& L;  // the finest level with a field (kf)
    int kf;
    Geometry grid;  // the solve level (ks): geometry of the seam-correction grid
    int ks;
    cv::Rect o0;  // the photo in the work canvas
    Margins wm;   // margins of the work canvas
    float S;      // the photo's short side
    const PatchFillParams& p;
};

// Full-resolution vote, seam colour correction and blend toward the backdrop, over `work` (the
// work canvas inside `out`); `conf` (the work canvas's confidence) holds the match confidence and
// receives the final one.
template <typename T, int CN>
void finalPass(const FinalInputs& in, cv::Mat out, cv::Mat conf) {
    Final<T, CN> f{in.src, out, in.L, 1 << in.kf, in.o0, out.size(), {}, {}, {}, {}};
    f.tables();
    const cv::Rect& o0 = in.o0;
    // Seam colour correction: on a strip just inside every border with a margin, the residual
    // between the photo and what the fill's patches predict there, spread on the coarse grid of
    // the solve level and faded with the distance from the photo.
    const int Fs = 1 << in.ks;
    const float D = std::max(4.f, 0.06f * in.S);
    cv::Mat E = cv::Mat::zeros(in.grid.canvas, CV_32FC(CN)),
            M = cv::Mat::zeros(in.grid.canvas, CV_32F);
    auto addResidual = [&](int x, int y) {
        float acc[CN];
        const float ws = f.voteAt(x, y, acc);
        if (ws <= 0.f) return;
        const int gx = std::min(std::max(in.grid.orig.x + floorDiv(x - o0.x, Fs), 0), E.cols - 1);
        const int gy = std::min(std::max(in.grid.orig.y + floorDiv(y - o0.y, Fs), 0), E.rows - 1);
        const T* s = in.src.ptr<T>(y - o0.y) + (x - o0.x) * CN;
        float* e = E.ptr<float>(gy) + gx * CN;
        for (int c = 0; c < CN; ++c) e[c] += float(s[c]) - acc[c] / ws;
        M.at<float>(gy, gx) += 1.f;
    };
    const int strip = kR + 1;
    for (int y = o0.y; y < o0.y + o0.height; ++y) {
        const bool rowStrip = (in.wm.top > 0 && y - o0.y < strip) ||
                              (in.wm.bottom > 0 && o0.y + o0.height - 1 - y < strip);
        for (int x = o0.x; x < o0.x + o0.width; ++x) {
            const bool colStrip = (in.wm.left > 0 && x - o0.x < strip) ||
                                  (in.wm.right > 0 && o0.x + o0.width - 1 - x < strip);
            if (rowStrip || colStrip) addResidual(x, y);
            if (!rowStrip && x == o0.x + strip - 1 && o0.width > 2 * strip)
                x = o0.x + o0.width - strip - 1;  // skip the interior of the row
        }
    }
    const double sigma = std::max(1.0, double(D) / Fs / 2.0);
    cv::GaussianBlur(E, E, cv::Size(), sigma, sigma, cv::BORDER_CONSTANT);
    cv::GaussianBlur(M, M, cv::Size(), sigma, sigma, cv::BORDER_CONSTANT);
    for (int y = 0; y < E.rows; ++y) {
        float* e = E.ptr<float>(y);
        const float* mm = M.ptr<float>(y);
        for (int x = 0; x < E.cols; ++x)
            for (int c = 0; c < CN; ++c)
                e[x * CN + c] = mm[x] > 1e-6f ? e[x * CN + c] / mm[x] : 0.f;
    }
    auto correction = [&](int x, int y, float* v) {
        const float gx = in.grid.orig.x + (x - o0.x + 0.5f) / Fs - 0.5f;
        const float gy = in.grid.orig.y + (y - o0.y + 0.5f) / Fs - 0.5f;
        const int x0 = std::min(std::max(int(std::floor(gx)), 0), E.cols - 1);
        const int y0 = std::min(std::max(int(std::floor(gy)), 0), E.rows - 1);
        const int x1 = std::min(x0 + 1, E.cols - 1), y1 = std::min(y0 + 1, E.rows - 1);
        const float fx = std::min(std::max(gx - x0, 0.f), 1.f);
        const float fy = std::min(std::max(gy - y0, 0.f), 1.f);
        const float* a = E.ptr<float>(y0);
        const float* b = E.ptr<float>(y1);
        for (int c = 0; c < CN; ++c) {
            const float t = a[x0 * CN + c] + fx * (a[x1 * CN + c] - a[x0 * CN + c]);
            const float u = b[x0 * CN + c] + fx * (b[x1 * CN + c] - b[x0 * CN + c]);
            v[c] = t + fy * (u - t);
        }
    };
    // The correction may not push a value out of the photo's own range (per channel).
    float lo[CN], hi[CN];
    {
        std::vector<cv::Mat> planes;
        cv::split(in.src, planes);
        for (int c = 0; c < CN; ++c) {
            double a, b;
            cv::minMaxLoc(planes[size_t(c)], &a, &b);
            lo[c] = float(a);
            hi[c] = float(b);
        }
    }
    const float farStart = float(in.p.farStart) * in.S, farEnd = float(in.p.farEnd) * in.S;
    const float feather = std::min(24.f, std::max(3.f, 0.012f * in.S));
    forBands(out.rows, [&](int, int y0, int y1) {
        for (int y = y0; y < y1; ++y) {
            T* o = out.ptr<T>(y);
            float* cf = conf.ptr<float>(y);
            for (int x = 0; x < out.cols; ++x) {
                if (o0.contains(cv::Point(x, y))) {
                    cf[x] = 1.f;
                    continue;
                }
                const float d = outside(x, y, o0);
                const float match = std::min(std::max(cf[x], 0.f), 1.f);
                const float near = 1.f - smoothstep(farStart, farEnd, d);
                float acc[CN], corr[CN];
                const float ws = match * near > 0.f ? f.voteAt(x, y, acc) : 0.f;
                cf[x] = ws > 0.f ? match * near : 0.f;
                // Blend weight: the patches wherever the match is fair, fading with the distance
                // over the whole [farStart, farEnd] (no visible edge), and a short feather into
                // the backdrop's mirror of the edge right at the border.
                const float c = ws > 0.f ? smoothstep(kBlendLow, kBlendHigh, match) * near *
                                               smoothstep(0.f, feather, d)
                                         : 0.f;
                if (c <= 0.f) continue;  // the backdrop, already there
                correction(x, y, corr);
                const float fade = std::exp(-d / D);
                for (int ch = 0; ch < CN; ++ch) {
                    const float v =
                        std::min(std::max(acc[ch] / ws + fade * corr[ch], lo[ch]), hi[ch]);
                    const float b = float(o[x * CN + ch]);
                    o[x * CN + ch] = cv::saturate_cast<T>(b + c * (v - b));
                }
            }
        }
    });
}

}  // namespace

PatchFillResult patchFill(cv::InputArray _src, const Margins& m, const PatchFillParams& p,
                          bool autoSelect) {
    CV_Check(p.solveMegapixels, p.solveMegapixels > 0.001 && p.solveMegapixels <= 64,
             "solveMegapixels out of range");
    CV_Check(p.iterations, p.iterations >= 1 && p.iterations <= 100, "iterations out of range");
    CV_Check(p.sourceBand, p.sourceBand > 0 && p.sourceBand <= 1, "sourceBand out of range");
    CV_Check(p.farEnd, p.farStart >= 0 && p.farEnd > p.farStart, "farStart < farEnd expected");
    CV_Check(p.badError, p.goodError >= 0 && p.badError > p.goodError,
             "goodError < badError expected");
    const cv::Mat src = _src.getMat();
    PatchFillResult res;
    cv::Mat backdrop = expandCanvas(src, m, ExpandMode::BLUR);  // validates src and margins
    const cv::Rect origFull(m.left, m.top, src.cols, src.rows);
    res.confidence = cv::Mat::zeros(backdrop.size(), CV_32F);
    res.confidence(origFull).setTo(1.f);
    const double newArea = double(backdrop.total()) - double(src.total());
    if (newArea <= 0) {
        res.image = backdrop;
        return res;
    }
    // The work canvas: as far out as the fill reaches.
    const float S = float(std::min(src.cols, src.rows));
    const int reach = int(std::ceil(p.farEnd * S)) + 2 * kR + 2;
    const Margins wm{std::min(m.top, reach), std::min(m.bottom, reach), std::min(m.left, reach),
                     std::min(m.right, reach)};
    const cv::Rect work(m.left - wm.left, m.top - wm.top, src.cols + wm.left + wm.right,
                        src.rows + wm.top + wm.bottom);
    auto valid = [&](int k) {
        const Geometry g = geometryAt(k, src.size(), wm);
        return std::min(g.orig.width, g.orig.height) >= kMinSide && k < 24;
    };
    if (!valid(0)) {  // too small for patches: the backdrop, confidence 0
        res.image = backdrop;
        return res;
    }
    int ks = 0;
    while (double(geometryAt(ks, src.size(), wm).canvas.area()) > p.solveMegapixels * 1e6 &&
           valid(ks + 1))
        ++ks;
    int kc = ks;
    while (kc < ks + 3 && valid(kc + 1)) ++kc;
    const int kf = ks > 0 ? 1 : 0;

    std::vector<Level> levels(size_t(kc + 1));
    {
        cv::Mat cur = src;
        for (int k = 0; k <= kc; ++k) {
            const Geometry g = geometryAt(k, src.size(), wm);
            if (k > 0) {
                cv::Mat next;
                cv::resize(cur, next, g.orig.size(), 0, 0, cv::INTER_AREA);
                cur = next;
            }
            if (k < kf) continue;
            Level& L = levels[size_t(k)];
            L.size = g.canvas;
            L.orig = g.orig;
            L.lab.create(g.canvas, CV_8UC4);
            toLab4(cur).copyTo(L.lab(g.orig));
            L.top = wm.top > 0;
            L.bottom = wm.bottom > 0;
            L.left = wm.left > 0;
            L.right = wm.right > 0;
            L.bandX = std::max(2 * kR + 3, int(std::lround(p.sourceBand * g.orig.width)));
            L.bandY = std::max(2 * kR + 3, int(std::lround(p.sourceBand * g.orig.height)));
            L.goodErr = float(p.goodError);
            L.badErr = float(p.badError);
        }
    }
    for (int k = kc; k >= kf; --k) {
        Level& L = levels[size_t(k)];
        L.nnf = cv::Mat::zeros(L.size, CV_32SC2);
        L.dist = cv::Mat::zeros(L.size, CV_32S);
        L.weight = cv::Mat::zeros(L.size, CV_32F);
        // The estimate of the new area: the backdrop at the coarsest level, then the coarser
        // level's vote upscaled.
        cv::Mat around;
        if (k == kc) {
            cv::Mat small;
            cv::resize(backdrop(work), small, L.size, 0, 0, cv::INTER_AREA);
            around = toLab4(small);
        } else {
            cv::resize(levels[size_t(k + 1)].lab, around, L.size, 0, 0, cv::INTER_LINEAR);
        }
        const cv::Mat photo = L.lab(L.orig).clone();
        around.copyTo(L.lab);
        photo.copyTo(L.lab(L.orig));
        if (k == kc)
            randomField(L, p.seed, k);
        else
            upscaleField(levels[size_t(k + 1)], L, p.seed, k);
        computeDistances(L);
        if (k >= ks) {
            const int iters = p.iterations;
            const int radius = std::max(L.orig.width, L.orig.height);
            for (int it = 0; it < iters; ++it) {
                if (it > 0) computeDistances(L);
                searchPass(L, p.seed, k, it, radius, 1);
                computeWeights(L);
                vote(L);
            }
        } else {
            // Refine: the upscaled field searched near itself, voted (the vote sharpens the
            // upscaled estimate), searched again against the sharper canvas.
            constexpr int passes = 2;
            for (int it = 0; it < passes; ++it) {
                if (it > 0) computeDistances(L);
                searchPass(L, p.seed, k, it, it == 0 ? 4 : 2, 0);
                computeWeights(L);
                if (it + 1 < passes || k > kf) vote(L);
            }
        }
        if (k < kc) levels[size_t(k + 1)] = Level();  // free the coarser level
    }
    const Level& Lf = levels[size_t(kf)];
    cv::Mat out = backdrop.clone();
    cv::Mat confWork = res.confidence(work);
    cv::resize(matchConfidence(Lf), confWork, work.size(), 0, 0, cv::INTER_LINEAR);
    const cv::Rect o0(wm.left, wm.top, src.cols, src.rows);
    const FinalInputs in{src, Lf, kf, geometryAt(ks, src.size(), wm), ks, o0, wm, S, p};
    const cv::Mat outWork = out(work);
    switch (src.depth() * 8 + src.channels()) {
        case CV_8U * 8 + 1:
            finalPass<uchar, 1>(in, outWork, confWork);
            break;
        case CV_8U * 8 + 3:
            finalPass<uchar, 3>(in, outWork, confWork);
            break;
        case CV_8U * 8 + 4:
            finalPass<uchar, 4>(in, outWork, confWork);
            break;
        case CV_16U * 8 + 1:
            finalPass<ushort, 1>(in, outWork, confWork);
            break;
        case CV_16U * 8 + 3:
            finalPass<ushort, 3>(in, outWork, confWork);
            break;
        default:
            finalPass<ushort, 4>(in, outWork, confWork);
            break;
    }
    res.meanConfidence = (cv::sum(res.confidence)[0] - double(src.total())) / newArea;
    res.usedPatch = !autoSelect || res.meanConfidence >= p.autoThreshold;
    res.image = res.usedPatch ? out : backdrop;
    return res;
}

}  // namespace cvgen::local
