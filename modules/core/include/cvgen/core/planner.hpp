#ifndef CVGEN_CORE_PLANNER_HPP
#define CVGEN_CORE_PLANNER_HPP

/** @file
 * @brief Target-canvas planner: from "make this W×H, subject top-left" to the exact pixel margins,
 * the four expansion ratios and the list of expand passes that reach the target within the
 * providers' limits (each side ratio ≤ 2, area factor ≤ 3).
 *
 * Integer pixel margins are the truth; ratios are derived from them so that
 * round(ratio · side) gives the margin back exactly and the area check passes in double
 * arithmetic without any tolerance.
 *
 * Frames. The *target frame* is the caller's output: exactly `Plan::target`, with the (possibly
 * cropped and scaled) original at `Plan::sourceRect`. The *work frame* is what providers see: the
 * first pass's input is `Plan::workSource` (croppedSource(), as preflight prepared it), passes
 * grow it to `Plan::workCanvas`, and `Plan::targetInWork` is the region of that canvas that maps
 * (by a resize when the frames differ in scale) onto the target.
 */

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/provider.hpp"
#include "cvgen/core/status.hpp"

namespace cvgen {

/** @brief Where the source sits in the target canvas. */
enum class Gravity {
    CENTER,
    TOP_LEFT,
    TOP,
    TOP_RIGHT,
    LEFT,
    RIGHT,
    BOTTOM_LEFT,
    BOTTOM,
    BOTTOM_RIGHT
};

/** @brief Placement of the source: a gravity (CENTER = keep centred) or an explicit offset of the
 * source's top-left corner in target pixels. Centring rounds the left/top margin down. */
struct Placement {
    enum class Kind { GRAVITY, OFFSET };
    Kind kind = Kind::GRAVITY;
    Gravity gravity = Gravity::CENTER;
    cv::Point offset;  ///< only for OFFSET; may be negative only with SmallerTarget::CROP

    static Placement centred() { return Placement(); }
    static Placement at(Gravity g) {
        Placement p;
        p.gravity = g;
        return p;
    }
    static Placement atOffset(cv::Point topLeft) {
        Placement p;
        p.kind = Kind::OFFSET;
        p.offset = topLeft;
        return p;
    }
};

/** @brief The target canvas: an exact size, or an aspect ratio with a scale, a resolution preset
 * or a long side.
 *
 * ASPECT sizes: `scale` > 0 → the smallest canvas of that aspect containing the source, times
 * `scale`; `shortSide` > 0 → the short side is that many pixels (presets: 1080p = 1080,
 * 4k = 2160); `longSide` > 0 → the long side is that many pixels. Exactly one of the three is set.
 * The other side is rounded to the nearest pixel.
 */
struct TargetSpec {
    enum class Kind { EXACT, ASPECT };
    Kind kind = Kind::EXACT;
    cv::Size size;      ///< EXACT
    int aspectW = 0;    ///< ASPECT: width part of w:h
    int aspectH = 0;    ///< ASPECT: height part of w:h
    double scale = 0;   ///< ASPECT: multiple of the smallest containing canvas (≥ 1 usually)
    int shortSide = 0;  ///< ASPECT: short side in pixels (resolution preset)
    int longSide = 0;   ///< ASPECT: long side in pixels

    static TargetSpec exact(cv::Size s) {
        TargetSpec t;
        t.size = s;
        return t;
    }
    static TargetSpec aspect(int w, int h, double scale = 1.0) {
        TargetSpec t;
        t.kind = Kind::ASPECT;
        t.aspectW = w;
        t.aspectH = h;
        t.scale = scale;
        return t;
    }
    static TargetSpec aspectShortSide(int w, int h, int shortSide) {
        TargetSpec t = aspect(w, h, 0);
        t.shortSide = shortSide;
        return t;
    }
    static TargetSpec aspectLongSide(int w, int h, int longSide) {
        TargetSpec t = aspect(w, h, 0);
        t.longSide = longSide;
        return t;
    }
};

/** @brief What to do when the target is smaller than the source in a dimension. */
enum class SmallerTarget {
    FAIL,       ///< INVALID_ARGUMENT
    CROP,       ///< keep the part of the placed source that falls inside the canvas
    SCALE_DOWN  ///< shrink the source (aspect kept) until it fits, then place it
};

/** @brief How to reach a target that one expand call cannot reach. */
enum class Reach {
    MULTI_PASS,   ///< several passes, each within the limits (the original stays bit-exact)
    SCALE_TO_FIT  ///< one pass on the source at its own resolution; the result is upscaled to
                  ///< the target, so the original appears enlarged (Plan::sourceScale > 1);
                  ///< the placement applies to the enlarged original
};

/** @brief How preflight changed the first pass's input (croppedSource(), Plan::inputSize): it was
 * scaled to `contentSize` (empty = round(size · scale)) and then padded. The stages module fills
 * this from preflight's GeometricTransform. Identity by default. */
struct PreTransform {
    double scale = 1.0;
    cv::Size contentSize;  ///< exact scaled size when known (preparedSize minus padding)
    int padTop = 0, padBottom = 0, padLeft = 0, padRight = 0;

    bool isIdentity() const noexcept {
        return scale == 1.0 && contentSize.empty() && padTop == 0 && padBottom == 0 &&
               padLeft == 0 && padRight == 0;
    }
};

/** @brief Planner options. */
struct PlannerParams {
    SmallerTarget smallerTarget = SmallerTarget::FAIL;
    Reach reach = Reach::MULTI_PASS;
    double maxSideRatio = 2.0;  ///< per-side limit of one pass (Kling: 2)
    double maxArea = 3.0;       ///< (1+l+r)(1+u+d) limit of one pass (Kling: 3)
    int maxPasses = 16;         ///< more needed → INVALID_ARGUMENT
    PreTransform pre;           ///< how preflight changes the first pass's input
};

/** @brief One expand call: `source` grows by the four margins into `canvas`. */
struct ExpandPass {
    cv::Size source;  ///< this pass's input (the previous pass's whole canvas)
    cv::Size canvas;  ///< the exact canvas this pass should produce
    int top = 0, bottom = 0, left = 0, right = 0;  ///< pixel margins (the truth)
    ExpansionRatios ratios;  ///< margins / source side; round(ratio·side) == margin
    bool sideBound = false;  ///< one more pixel on a growing side would break the side limit
    bool areaBound = false;  ///< one more row or column would break the area limit

    /** @brief Where this pass's input lands in its canvas. */
    cv::Rect sourceRect() const { return {left, top, source.width, source.height}; }
};

/** @brief The full plan, in the caller's (target) frame and in the providers' (work) frame. */
struct Plan {
    cv::Size source;           ///< the caller's source size
    cv::Size target;           ///< the output size, always exactly this
    cv::Rect sourceCrop;       ///< part of the source kept (all of it unless SmallerTarget::CROP)
    cv::Rect sourceRect;       ///< where the kept original lands in the target
    double sourceScale = 1.0;  ///< sourceRect size / sourceCrop size (≠ 1: SCALE_DOWN/SCALE_TO_FIT)
    int top = 0, bottom = 0, left = 0, right = 0;  ///< target-frame margins around sourceRect
    ExpansionRatios ratios;  ///< target-frame margins / sourceRect size (one ideal call)

    /** @brief Size of croppedSource(): the kept source, downscaled to sourceRect's size when the
     * plan shrinks it (SCALE_DOWN). Preflight's input; the work frame starts from it. */
    cv::Size inputSize;
    cv::Size workSource;    ///< input of the first pass (inputSize after preflight)
    cv::Rect workContent;   ///< the original content inside workSource (without preflight padding)
    cv::Size workCanvas;    ///< output of the last pass (workSource when there are no passes)
    cv::Rect targetInWork;  ///< region of workCanvas that maps onto the whole target
    std::vector<ExpandPass> passes;  ///< empty when the original already fills the target

    bool limitedBySide = false;      ///< fewer passes would break the side-ratio limit
    bool limitedByArea = false;      ///< fewer passes would break the area limit
    std::vector<std::string> notes;  ///< what was cropped or scaled, in words
};

/** @brief Plans how to grow a `source`-sized image onto the target canvas.
 * @return INVALID_ARGUMENT for a target smaller than the source under SmallerTarget::FAIL, an
 * offset outside the canvas, a bad TargetSpec, or a target needing more than maxPasses passes.
 * @throws cv::Exception for an empty source size or limits below their minimum (caller bugs).
 */
Result<Plan> planCanvas(cv::Size source, const TargetSpec& target,
                        const Placement& placement = Placement(),
                        const PlannerParams& params = PlannerParams());

/** @brief Resolves a TargetSpec against a source size (the canvas planCanvas would use).
 * @return INVALID_ARGUMENT for a malformed spec. */
Result<cv::Size> resolveTarget(cv::Size source, const TargetSpec& target);

/** @brief The top-left corner of a `source`-sized rect placed in a `target` canvas (may be
 * negative when the source is larger). */
cv::Point placeRect(cv::Size source, cv::Size target, const Placement& placement);

/** @brief Parses "1920x1080" (also "1920X1080", "1920*1080"); positive sides only. */
Result<cv::Size> parseSize(const std::string& text);

/** @brief Parses a placement: center|centre|centered|top-left|top|top-right|left|right|
 * bottom-left|bottom|bottom-right (also with '_' and compass names nw,n,ne,w,e,sw,s,se), or "X,Y".
 */
Result<Placement> parsePlacement(const std::string& text);

/** @brief Parses a target: "1920x1080" (exact), "16:9" (aspect, smallest containing canvas),
 * "16:9@1.5" or "16:9@1.5x" (scale), "16:9@1080p" / "16:9@4k" (short-side preset: 480p, 720p,
 * 1080p, 1440p, 2160p, 4k, 4320p, 8k) or "16:9@2048" (long side in pixels). */
Result<TargetSpec> parseTarget(const std::string& text);

/** @brief Lower-case name of a gravity ("top-left"). */
const char* toString(Gravity g) noexcept;
const char* toString(SmallerTarget p) noexcept;
const char* toString(Reach r) noexcept;

/** @brief One JSON object describing the plan (sizes, rects, margins, ratios, passes, limits). */
std::string toJson(const Plan& plan);

}  // namespace cvgen

#endif  // CVGEN_CORE_PLANNER_HPP
