#include "cvgen/core/compose.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

namespace cvgen {
namespace {

std::string sizeStr(cv::Size s) {
    return std::to_string(s.width) + "x" + std::to_string(s.height);
}

enum Side { TOP = 0, BOTTOM, LEFT, RIGHT };

/** Per-side colour transform (v' = gain·v + bias per channel) and seam offsets along the edge. */
struct SideData {
    bool has = false;
    std::array<float, 4> gain{1, 1, 1, 1};
    std::array<float, 4> bias{0, 0, 0, 0};
    cv::Mat offset;  // 1×N, CV_32FC(cn): smoothed (edge − rendition) along this side
};

void checkParams(const ComposeParams& p) {
    CV_CheckGE(p.featherPx, 0, "compose: featherPx must be >= 0");
    CV_CheckGE(p.inwardFeatherPx, 0, "compose: inwardFeatherPx must be >= 0");
    CV_CheckGE(p.colorBandPx, 1, "compose: colorBandPx must be >= 1");
    CV_CheckGE(p.colorFadePx, 1, "compose: colorFadePx must be >= 1");
}

void checkImage(const cv::Mat& m, const char* what) {
    CV_Assert(!m.empty() && "compose: empty image");
    const bool ok = (m.depth() == CV_8U || m.depth() == CV_16U) &&
                    (m.channels() == 1 || m.channels() == 3 || m.channels() == 4);
    if (!ok)
        CV_Error(cv::Error::StsBadArg, std::string(what) + ", got " + cv::typeToString(m.type()));
}

/** Colour statistics of a thin band each side of the border (original inside, generated
 * outside), for one side. */
void colourTransform(const cv::Mat& out, const cv::Mat& R, cv::Rect S, Side side, int band,
                     SideData& sd) {
    cv::Rect in, gen;
    const int bx = std::min(band, S.width), by = std::min(band, S.height);
    switch (side) {
        case TOP:
            in = {S.x, S.y, S.width, by};
            gen = {S.x, S.y - std::min(band, S.y), S.width, std::min(band, S.y)};
            break;
        case BOTTOM:
            in = {S.x, S.y + S.height - by, S.width, by};
            gen = {S.x, S.y + S.height, S.width, std::min(band, R.rows - S.y - S.height)};
            break;
        case LEFT:
            in = {S.x, S.y, bx, S.height};
            gen = {S.x - std::min(band, S.x), S.y, std::min(band, S.x), S.height};
            break;
        case RIGHT:
            in = {S.x + S.width - bx, S.y, bx, S.height};
            gen = {S.x + S.width, S.y, std::min(band, R.cols - S.x - S.width), S.height};
            break;
    }
    cv::Scalar mo, so, mg, sg;
    cv::meanStdDev(out(in), mo, so);
    cv::meanStdDev(R(gen), mg, sg);
    const double unit = out.depth() == CV_16U ? 257.0 : 1.0;
    const int colourChannels = std::min(out.channels(), 3);
    for (int c = 0; c < colourChannels; ++c) {
        double g = sg[c] > 0.5 * unit ? so[c] / sg[c] : 1.0;
        g = std::clamp(g, 0.5, 2.0);
        sd.gain[c] = static_cast<float>(g);
        sd.bias[c] = static_cast<float>(mo[c] - g * mg[c]);
    }
}

template <typename T>
struct SeamBlender {
    cv::Mat& out;
    const cv::Mat& R;
    cv::Rect S;
    const ComposeParams& prm;
    std::array<SideData, 4>& sides;
    int cn;

    float cm(Side s, int c, float v) const {
        return prm.colorMatch ? sides[s].gain[c] * v + sides[s].bias[c] : v;
    }

    /** k-px band inside the original: blend towards the (colour-matched) rendition. */
    void inwardRow(int y) const {
        const int k = prm.inwardFeatherPx;
        T* o = out.ptr<T>(y);
        const T* r = R.ptr<T>(y);
        for (int x = S.x; x < S.x + S.width; ++x) {
            int best = k + 1;
            Side side = TOP;
            auto consider = [&](Side s, int dist) {
                if (sides[s].has && dist < best) best = dist, side = s;
            };
            consider(TOP, y - S.y + 1);
            consider(BOTTOM, S.y + S.height - y);
            consider(LEFT, x - S.x + 1);
            consider(RIGHT, S.x + S.width - x);
            if (best > k) {
                // Interior of this row: jump to the right band.
                if (x >= S.x + k && x < S.x + S.width - k - 1) x = S.x + S.width - k - 1;
                continue;
            }
            const float beta = 0.5f * float(k + 1 - best) / float(k + 1);
            for (int c = 0; c < cn; ++c) {
                const float ov = o[x * cn + c];
                const float rv = cm(side, c, r[x * cn + c]);
                o[x * cn + c] = cv::saturate_cast<T>(ov + beta * (rv - ov));
            }
        }
    }

    void ringPixel(int x, int y, int dx, int dy) const {
        const int d = std::max(dx, dy);
        Side side;
        int i;
        if (dy >= dx) {
            side = y < S.y ? TOP : BOTTOM;
            i = std::clamp(x - S.x, 0, S.width - 1);
        } else {
            side = x < S.x ? LEFT : RIGHT;
            i = std::clamp(y - S.y, 0, S.height - 1);
        }
        const T* r = R.ptr<T>(y) + x * cn;
        T* o = out.ptr<T>(y) + x * cn;
        const int F = prm.featherPx;
        const float wf = (F > 0 && d <= F) ? float(F + 1 - d) / float(F + 1) : 0.f;
        const float wc =
            prm.colorMatch ? std::max(0.f, 1.f - float(d - 1) / float(prm.colorFadePx)) : 0.f;
        const float* off = wf > 0 ? sides[side].offset.ptr<float>(0) + i * cn : nullptr;
        for (int c = 0; c < cn; ++c) {
            float v = r[c];
            if (wc > 0 && c < 3) v += wc * (cm(side, c, v) - v);
            if (off && c < 3) v += wf * off[c];  // alpha stays as generated
            o[c] = cv::saturate_cast<T>(v);
        }
    }

    void ringRow(int y, int reach) const {
        const int x0 = std::max(0, S.x - reach);
        const int x1 = std::min(out.cols, S.x + S.width + reach);
        const int dy = y < S.y ? S.y - y : (y >= S.y + S.height ? y - (S.y + S.height - 1) : 0);
        if (dy > reach) return;
        for (int x = x0; x < x1; ++x) {
            int dx = x < S.x ? S.x - x : (x >= S.x + S.width ? x - (S.x + S.width - 1) : 0);
            if (dy == 0 && dx == 0) {  // inside the original: skip to the right strip
                x = S.x + S.width - 1;
                continue;
            }
            ringPixel(x, y, dx, dy);
        }
    }
};

/** Seam offsets: (final edge − colour-matched rendition), smoothed along the edge. */
template <typename T>
void edgeOffsets(const cv::Mat& out, const cv::Mat& R, cv::Rect S, const ComposeParams& prm,
                 std::array<SideData, 4>& sides) {
    const int cn = out.channels();
    for (int s = 0; s < 4; ++s) {
        SideData& sd = sides[s];
        if (!sd.has) continue;
        const bool horizontal = s == TOP || s == BOTTOM;
        const int n = horizontal ? S.width : S.height;
        sd.offset.create(1, n, CV_32FC(cn));
        float* dst = sd.offset.ptr<float>(0);
        for (int i = 0; i < n; ++i) {
            int x, y;
            if (horizontal) {
                x = S.x + i;
                y = s == TOP ? S.y : S.y + S.height - 1;
            } else {
                y = S.y + i;
                x = s == LEFT ? S.x : S.x + S.width - 1;
            }
            const T* o = out.ptr<T>(y) + x * cn;
            const T* r = R.ptr<T>(y) + x * cn;
            for (int c = 0; c < cn; ++c) {
                float rv = r[c];
                if (prm.colorMatch && c < 3) rv = sd.gain[c] * rv + sd.bias[c];
                dst[i * cn + c] = float(o[c]) - rv;
            }
        }
        // Smooth along the edge: continuity of colour, not a copy of the original's texture.
        const int radius = std::max(1, prm.featherPx / 4);
        cv::blur(sd.offset, sd.offset, cv::Size(2 * radius + 1, 1), cv::Point(-1, -1),
                 cv::BORDER_REPLICATE);
    }
}

template <typename T>
void blendSeamT(cv::Mat& out, const cv::Mat& R, cv::Rect S, const ComposeParams& prm) {
    std::array<SideData, 4> sides;
    sides[TOP].has = S.y > 0;
    sides[BOTTOM].has = S.y + S.height < out.rows;
    sides[LEFT].has = S.x > 0;
    sides[RIGHT].has = S.x + S.width < out.cols;
    if (!(sides[0].has || sides[1].has || sides[2].has || sides[3].has)) return;
    if (prm.colorMatch)
        for (int s = 0; s < 4; ++s)
            if (sides[s].has) colourTransform(out, R, S, Side(s), prm.colorBandPx, sides[s]);

    SeamBlender<T> b{out, R, S, prm, sides, out.channels()};
    const int k = std::min(prm.inwardFeatherPx, std::max(S.width, S.height));
    if (k > 0) {
        cv::parallel_for_(cv::Range(S.y, S.y + S.height), [&](const cv::Range& rows) {
            for (int y = rows.start; y < rows.end; ++y) b.inwardRow(y);
        });
    }
    if (prm.featherPx > 0) edgeOffsets<T>(out, R, S, prm, sides);
    const int reach = std::max(prm.featherPx, prm.colorMatch ? prm.colorFadePx : 0);
    if (reach == 0) return;
    const int y0 = std::max(0, S.y - reach), y1 = std::min(out.rows, S.y + S.height + reach);
    cv::parallel_for_(cv::Range(y0, y1), [&](const cv::Range& rows) {
        for (int y = rows.start; y < rows.end; ++y) b.ringRow(y, reach);
    });
}

/** `out` = R outside S, `inner` inside S (bit-exact), then the seam blended in the ring. */
cv::Mat composeOnto(const cv::Mat& inner, const cv::Mat& R, cv::Rect S, const ComposeParams& prm) {
    cv::Mat out(R.size(), R.type());
    // Copy only what survives: the four strips around S from R, S from the original.
    const cv::Rect strips[] = {
        {0, 0, R.cols, S.y},
        {0, S.y + S.height, R.cols, R.rows - S.y - S.height},
        {0, S.y, S.x, S.height},
        {S.x + S.width, S.y, R.cols - S.x - S.width, S.height},
    };
    for (const cv::Rect& r : strips)
        if (!r.empty()) R(r).copyTo(out(r));
    inner.copyTo(out(S));
    if (out.depth() == CV_8U)
        blendSeamT<uchar>(out, R, S, prm);
    else
        blendSeamT<ushort>(out, R, S, prm);
    return out;
}

Result<cv::Mat> convertType(const cv::Mat& src, int type) {
    const int depth = CV_MAT_DEPTH(type), cn = CV_MAT_CN(type);
    cv::Mat m = src;
    if (m.depth() != depth) {
        double scale = 1.0;
        if (m.depth() == CV_32F || m.depth() == CV_64F)
            scale = depth == CV_16U ? 65535.0 : 255.0;  // float results are in [0,1]
        else if (m.depth() == CV_8U && depth == CV_16U)
            scale = 257.0;
        else if (m.depth() == CV_16U && depth == CV_8U)
            scale = 1.0 / 257.0;
        cv::Mat c;
        m.convertTo(c, depth, scale);
        m = c;
    }
    if (m.channels() != cn) {
        static const int codes[5][5] = {
            {-1, -1, -1, -1, -1},
            {-1, -1, -1, cv::COLOR_GRAY2BGR, cv::COLOR_GRAY2BGRA},
            {-1, -1, -1, -1, -1},
            {-1, cv::COLOR_BGR2GRAY, -1, -1, cv::COLOR_BGR2BGRA},
            {-1, cv::COLOR_BGRA2GRAY, -1, cv::COLOR_BGRA2BGR, -1},
        };
        const int code = codes[m.channels()][cn];
        if (code < 0) return internalError("no conversion to " + std::to_string(cn) + " channels");
        cv::Mat c;
        cv::cvtColor(m, c, code);
        m = c;
    }
    return m;
}

}  // namespace

cv::Mat croppedSource(const cv::Mat& original, const Plan& plan) {
    CV_Assert(!original.empty() && "croppedSource: empty original");
    CV_CheckEQ(original.cols, plan.source.width, "croppedSource: original is not the plan's size");
    CV_CheckEQ(original.rows, plan.source.height, "croppedSource: original is not the plan's size");
    cv::Mat kept = original(plan.sourceCrop);
    if (kept.size() == plan.inputSize || plan.inputSize.empty()) return kept;
    cv::Mat shrunk;
    cv::resize(kept, shrunk, plan.inputSize, 0, 0, cv::INTER_AREA);
    return shrunk;
}

Result<cv::Mat> mapProviderResult(const cv::Mat& result, cv::Size expected, int type) {
    CV_Assert(expected.width > 0 && expected.height > 0);
    if (result.empty() || result.dims != 2)
        return dataLoss("the provider returned an empty image where a " + sizeStr(expected) +
                        " canvas was expected");
    const int depth = result.depth();
    if (!(depth == CV_8U || depth == CV_16U || depth == CV_32F) ||
        !(result.channels() == 1 || result.channels() == 3 || result.channels() == 4))
        return invalidArgument("the provider result has an unsupported pixel type " +
                               cv::typeToString(result.type()));
    if (result.cols < 2 || result.rows < 2)
        return invalidArgument("the provider result " + sizeStr(result.size()) +
                               " is too small to be the " + sizeStr(expected) + " canvas");
    const double ra = double(result.cols) / result.rows;
    const double ea = double(expected.width) / expected.height;
    // Same aspect within 3%, or within rounding distance after scaling back to the expected size.
    const double k = double(expected.width + expected.height) / (result.cols + result.rows);
    const bool closeAspect = std::abs(std::log(ra / ea)) <= 0.03;
    const bool closePixels = std::abs(result.cols * k - expected.width) <= 8 &&
                             std::abs(result.rows * k - expected.height) <= 8;
    if (!closeAspect && !closePixels)
        return invalidArgument("the provider result " + sizeStr(result.size()) +
                               " does not have the shape of the planned " + sizeStr(expected) +
                               " canvas");
    auto typed = convertType(result, type);
    if (!typed.ok()) return typed.status();
    if (typed->size() == expected) return typed;
    cv::Mat resized;
    const bool shrink = typed->cols > expected.width || typed->rows > expected.height;
    cv::resize(*typed, resized, expected, 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
    return resized;
}

Result<cv::Mat> composePass(const cv::Mat& passInput, const cv::Mat& providerResult,
                            const ExpandPass& pass, const ComposeParams& params) {
    checkImage(passInput, "composePass: pass input must be 8U/16U with 1, 3 or 4 channels");
    checkParams(params);
    CV_CheckEQ(passInput.cols, pass.source.width, "composePass: input is not the pass's source");
    CV_CheckEQ(passInput.rows, pass.source.height, "composePass: input is not the pass's source");
    auto R = mapProviderResult(providerResult, pass.canvas, passInput.type());
    if (!R.ok()) return R.status();
    return composeOnto(passInput, *R, pass.sourceRect(), params);
}

Result<cv::Mat> compose(const cv::Mat& original, const cv::Mat& workCanvas, const Plan& plan,
                        const ComposeParams& params, cv::OutputArray generatedMask) {
    checkImage(original, "compose: original must be 8U/16U with 1, 3 or 4 channels");
    checkParams(params);
    CV_CheckEQ(original.cols, plan.source.width, "compose: original is not the plan's source");
    CV_CheckEQ(original.rows, plan.source.height, "compose: original is not the plan's source");
    const cv::Rect S = plan.sourceRect;
    CV_Assert(!S.empty() && (S & cv::Rect(cv::Point(), plan.target)) == S);

    // The original as placed: cropped, and resized when the plan scales it.
    cv::Mat inner = original(plan.sourceCrop);
    if (inner.size() != S.size()) {
        cv::Mat r;
        const bool shrink = S.width < inner.cols || S.height < inner.rows;
        cv::resize(inner, r, S.size(), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_CUBIC);
        inner = r;
    }
    if (generatedMask.needed()) {
        generatedMask.create(plan.target, CV_8UC1);
        cv::Mat m = generatedMask.getMat();
        m.setTo(255);
        m(S).setTo(0);
    }
    if (S == cv::Rect(cv::Point(), plan.target)) return inner.clone();

    auto work = mapProviderResult(workCanvas, plan.workCanvas, original.type());
    if (!work.ok()) return work.status().withContext("compose");
    cv::Mat R = (*work)(plan.targetInWork);
    if (R.size() != plan.target) {
        cv::Mat r;
        const bool shrink = plan.target.width < R.cols || plan.target.height < R.rows;
        cv::resize(R, r, plan.target, 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
        R = r;
    }
    return composeOnto(inner, R, S, params);
}

Result<cv::Mat> executePlan(const cv::Mat& original, const cv::Mat& prepared, const Plan& plan,
                            const ExpandFn& expand, const ComposeParams& params,
                            cv::OutputArray generatedMask) {
    checkImage(original, "executePlan: original must be 8U/16U with 1, 3 or 4 channels");
    CV_Assert(expand && "executePlan: no expand function");
    cv::Mat img = prepared;
    if (img.empty()) {
        CV_Assert(plan.workSource == plan.inputSize &&
                  "executePlan: a plan with a preflight pre-transform needs the prepared input");
        img = croppedSource(original, plan);
    }
    CV_CheckEQ(img.cols, plan.workSource.width, "executePlan: prepared is not Plan::workSource");
    CV_CheckEQ(img.rows, plan.workSource.height, "executePlan: prepared is not Plan::workSource");
    if (img.type() != original.type()) {
        auto typed = convertType(img, original.type());
        if (!typed.ok()) return typed.status();
        img = *typed;
    }
    for (size_t i = 0; i < plan.passes.size(); ++i) {
        const std::string ctx =
            "expand pass " + std::to_string(i + 1) + "/" + std::to_string(plan.passes.size());
        auto raw = expand(img, plan.passes[i], int(i));
        if (!raw.ok()) return raw.status().withContext(ctx);
        auto next = composePass(img, *raw, plan.passes[i], params);
        if (!next.ok()) return next.status().withContext(ctx);
        img = std::move(*next);
    }
    return compose(original, img, plan, params, generatedMask);
}

}  // namespace cvgen
