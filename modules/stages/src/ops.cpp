#include "cvgen/stages/ops.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <opencv2/imgproc.hpp>

#include "compose_util.hpp"
#include "cvgen/core/codec.hpp"
#include "cvgen/core/compose.hpp"
#include "cvgen/core/preflight.hpp"

#if defined(CVGEN_STAGES_HAVE_LOCAL)
#include "cvgen/local/local_provider.hpp"
#endif

namespace cvgen::stages {

namespace {

std::shared_ptr<Provider> orDefault(std::shared_ptr<Provider> p) {
    return p ? std::move(p) : defaultProvider();
}

std::string sizeText(cv::Size s) {
    return std::to_string(s.width) + "x" + std::to_string(s.height);
}

/** Runs one provider call, first trying to collect an earlier task with the same key when the
 * frame asks for it (resume after a crash). */
template <typename Create>
Result<TaskOutput> createOrResume(Provider& provider, Operation op, const FrameMeta& meta,
                                  const std::string& key, const CallOptions& call,
                                  Create&& create) {
    if (meta.resumeTasks && !key.empty()) {
        Result<TaskOutput> r = provider.resume(op, key, call);
        if (r.ok()) return r;
        if (r.code() != Code::NOT_FOUND && r.code() != Code::UNIMPLEMENTED) return r;
    }
    return create();
}

void noteTask(FrameMeta& meta, const TaskOutput& out) {
    if (!out.taskId.empty()) meta.taskIds.push_back(out.taskId);
    meta.provider = out.provider;
    meta.synthetic = meta.synthetic || out.synthetic;
    if (!out.note.empty()) {
        bool seen = false;
        for (const auto& w : meta.warnings) seen = seen || w == out.note;
        if (!seen) meta.warnings.push_back(out.note);
    }
}

Result<cv::Mat> firstImage(const TaskOutput& out, const std::string& what) {
    if (out.images.empty() || out.images[0].image.empty())
        return internalError(what + ": the provider returned no image");
    return out.images[0].image;
}

std::string keyFor(const FrameMeta& meta, const std::string& suffix) {
    return meta.externalTaskId.empty() ? std::string() : meta.externalTaskId + suffix;
}

class ExpandToTargetImpl final : public ExpandToTarget {
public:
    explicit ExpandToTargetImpl(Params p) : p_(std::move(p)) {
        p_.provider = orDefault(p_.provider);
        planner_ =
            p_.limitsFromProvider ? withProviderLimits(p_.planner, *p_.provider) : p_.planner;
    }
    std::string name() const override { return "expand-to-target"; }

    Result<Frame> process(Frame f) const override {
        if (f.image.empty()) return invalidArgument("the frame has no image");
        Result<Plan> planned = planCanvas(f.image.size(), p_.target, p_.placement, planner_);
        if (!planned.ok()) return planned.status();
        cv::Mat current;
        if (p_.preflight && !planned->passes.empty()) {
            // Conform the first pass's input, then plan again knowing how it was changed.
            ConformPolicy policy = p_.policy;
            policy.aspect = ConformPolicy::Aspect::PAD;
            Result<PreparedImage> prep =
                conform(croppedSource(f.image, *planned), p_.limits, policy);
            if (!prep.ok()) return prep.status().withContext("preflight");
            const GeometricTransform& gt = prep->transform;
            PlannerParams pp = planner_;
            pp.pre.scale = gt.scale;
            pp.pre.contentSize = gt.scaledSize;
            pp.pre.padTop = gt.padTop;
            pp.pre.padBottom = gt.padBottom;
            pp.pre.padLeft = gt.padLeft;
            pp.pre.padRight = gt.padRight;
            planned = planCanvas(f.image.size(), p_.target, p_.placement, pp);
            if (!planned.ok()) return planned.status();
            Result<cv::Mat> decoded = decodeImage(prep->bytes);
            if (!decoded.ok()) return decoded.status().withContext("preflight");
            current = detail::matchType(*decoded, f.image.type());
            for (const auto& a : prep->actions) f.meta.transforms.push_back("preflight: " + a);
        }
        const Plan& plan = *planned;
        f.meta.plan = toJson(plan);
        for (const auto& n : plan.notes) f.meta.warnings.push_back(n);

        if (current.empty()) current = croppedSource(f.image, plan);
        if (current.size() != plan.workSource) {
            cv::Mat scaled;
            cv::resize(current, scaled, plan.workSource, 0, 0, cv::INTER_AREA);
            current = scaled;
        }
        const int passes = int(plan.passes.size());
        FrameMeta& meta = f.meta;
        // One provider call per pass, resume-first by the pass's key; core's executePlan pastes
        // each pass's input back bit-exact (the seam feathered in the generated ring only), so
        // the next pass and the final composition build on exact pixels.
        const ExpandFn expandPass = [&](const cv::Mat& input, const ExpandPass& pass,
                                        int k) -> Result<cv::Mat> {
            ExpandRequest req;
            req.image = ImageSource::fromMat(input);
            req.ratios = pass.ratios;
            req.prompt = p_.prompt;
            req.task.externalTaskId = keyFor(meta, "-p" + std::to_string(k + 1));
            Result<TaskOutput> out =
                createOrResume(*p_.provider, Operation::EXPAND, meta, req.task.externalTaskId,
                               p_.call, [&] { return p_.provider->expand(req, p_.call); });
            if (!out.ok()) return out.status();
            noteTask(meta, *out);
            Result<cv::Mat> img = firstImage(*out, "expand");
            if (!img.ok()) return img.status();
            if (img->size() != pass.canvas)
                meta.warnings.push_back("expand pass " + std::to_string(k + 1) + "/" +
                                        std::to_string(passes) + ": the provider returned " +
                                        sizeText(img->size()) + ", mapped onto the planned " +
                                        sizeText(pass.canvas));
            return img;
        };
        Result<cv::Mat> composed = executePlan(f.image, current, plan, expandPass, p_.compose);
        if (!composed.ok()) return composed.status();
        cv::Mat out = std::move(composed).value();
        std::ostringstream t;
        t << "expand " << sizeText(f.image.size()) << " -> " << sizeText(out.size()) << " ("
          << passes << (passes == 1 ? " pass" : " passes") << ", original at " << plan.sourceRect.x
          << "," << plan.sourceRect.y << (plan.sourceScale != 1.0 ? ", rescaled" : "") << ")";
        f.meta.transforms.push_back(t.str());
        f.image = out;
        return f;
    }

private:
    Params p_;
    PlannerParams planner_;  ///< p_.planner with the limits it plans with
};

class PreflightStageImpl final : public PreflightStage {
public:
    explicit PreflightStageImpl(Params p) : p_(std::move(p)) {}
    std::string name() const override { return "preflight"; }

    Result<Frame> process(Frame f) const override {
        if (f.image.empty()) return invalidArgument("the frame has no image");
        Result<PreparedImage> prep = conform(f.image, p_.limits, p_.policy);
        if (!prep.ok()) return prep.status();
        if (prep->transform.isIdentity() && prep->actions.empty()) return f;
        Result<cv::Mat> decoded = decodeImage(prep->bytes);
        if (!decoded.ok()) return decoded.status();
        for (const auto& a : prep->actions) f.meta.transforms.push_back("preflight: " + a);
        f.image = std::move(decoded).value();
        return f;
    }

private:
    Params p_;
};

class UpscaleStageImpl final : public UpscaleStage {
public:
    explicit UpscaleStageImpl(Params p) : p_(std::move(p)) { p_.provider = orDefault(p_.provider); }
    std::string name() const override { return "upscale"; }

    Result<Frame> process(Frame f) const override {
        if (f.image.empty()) return invalidArgument("the frame has no image");
        UpscaleRequest req;
        req.image = ImageSource::fromMat(f.image);
        req.scale = p_.scale;
        req.prompt = p_.prompt;
        req.externalTaskId = keyFor(f.meta, "-u");
        Result<TaskOutput> out =
            createOrResume(*p_.provider, Operation::UPSCALE, f.meta, req.externalTaskId, p_.call,
                           [&] { return p_.provider->upscale(req, p_.call); });
        if (!out.ok()) return out.status();
        noteTask(f.meta, *out);
        Result<cv::Mat> img = firstImage(*out, "upscale");
        if (!img.ok()) return img.status();
        cv::Mat up = detail::matchType(*img, f.image.type());
        f.meta.transforms.push_back("upscale " + sizeText(f.image.size()) + " -> " +
                                    sizeText(up.size()));
        f.image = up;
        return f;
    }

private:
    Params p_;
};

class GenerateStageImpl final : public GenerateStage {
public:
    explicit GenerateStageImpl(Params p) : p_(std::move(p)) {
        p_.provider = orDefault(p_.provider);
    }
    std::string name() const override { return "generate"; }

    Result<Frame> process(Frame f) const override {
        GenerateRequest req = p_.request;
        if (p_.useFrameAsReference) {
            if (f.image.empty()) return invalidArgument("the frame has no reference image");
            req.image = ImageSource::fromMat(f.image);
        }
        req.task.externalTaskId = keyFor(f.meta, "-g");
        Result<TaskOutput> out =
            createOrResume(*p_.provider, Operation::GENERATE, f.meta, req.task.externalTaskId,
                           p_.call, [&] { return p_.provider->generate(req, p_.call); });
        if (!out.ok()) return out.status();
        noteTask(f.meta, *out);
        Result<cv::Mat> img = firstImage(*out, "generate");
        if (!img.ok()) return img.status();
        f.meta.transforms.push_back("generate " + sizeText(img->size()) + " (" + req.model + ")");
        f.image = *img;
        return f;
    }

private:
    Params p_;
};

class OmniStageImpl final : public OmniStage {
public:
    explicit OmniStageImpl(Params p) : p_(std::move(p)) { p_.provider = orDefault(p_.provider); }
    std::string name() const override { return "omni"; }

    Result<Frame> process(Frame f) const override {
        OmniRequest req = p_.request;
        if (p_.frameAsFirstImage) {
            if (f.image.empty()) return invalidArgument("the frame has no image");
            req.images.insert(req.images.begin(), ImageSource::fromMat(f.image));
        }
        req.task.externalTaskId = keyFor(f.meta, "-o");
        Result<TaskOutput> out =
            createOrResume(*p_.provider, Operation::OMNI, f.meta, req.task.externalTaskId, p_.call,
                           [&] { return p_.provider->omni(req, p_.call); });
        if (!out.ok()) return out.status();
        noteTask(f.meta, *out);
        Result<cv::Mat> img = firstImage(*out, "omni");
        if (!img.ok()) return img.status();
        f.meta.transforms.push_back("omni " + sizeText(img->size()) + " (" + req.model + ")");
        f.image = *img;
        return f;
    }

private:
    Params p_;
};

class ComposeStageImpl final : public ComposeStage {
public:
    explicit ComposeStageImpl(Params p) : p_(std::move(p)) {}
    std::string name() const override { return "compose"; }

    Result<Frame> process(Frame f) const override {
        if (f.image.empty()) return invalidArgument("the frame has no image");
        cv::Mat canvas;
        if (!p_.background.empty()) {
            cv::resize(detail::matchType(p_.background, f.image.type()), canvas, p_.size, 0, 0,
                       cv::INTER_AREA);
        } else {
            canvas.create(p_.size, f.image.type());
            canvas.setTo(p_.color);
        }
        const cv::Point tl = placeRect(f.image.size(), p_.size, p_.placement);
        const cv::Rect dst = cv::Rect(tl, f.image.size()) & cv::Rect(cv::Point(), p_.size);
        if (!dst.empty()) f.image(dst - tl).copyTo(canvas(dst));
        f.meta.transforms.push_back("compose " + sizeText(f.image.size()) + " onto " +
                                    sizeText(p_.size) + " at " + std::to_string(tl.x) + "," +
                                    std::to_string(tl.y));
        f.image = canvas;
        return f;
    }

private:
    Params p_;
};

}  // namespace

PlannerParams withProviderLimits(PlannerParams planner, const Provider& provider) {
    const ExpandLimits l = provider.expandLimits();
    planner.maxSideRatio = l.maxSideRatio;
    planner.maxArea = l.maxArea;
    return planner;
}

std::shared_ptr<Provider> defaultProvider() {
#if defined(CVGEN_STAGES_HAVE_LOCAL)
    static const std::shared_ptr<Provider> local = local::LocalProvider::create();
    return local;
#else
    throw std::logic_error("cvgen was built without the offline engine: pass a provider");
#endif
}

cv::Ptr<ExpandToTarget> ExpandToTarget::create(const Params& params) {
    if (params.target.kind == TargetSpec::Kind::EXACT && params.target.size.empty())
        throw std::invalid_argument("ExpandToTarget: empty target size");
    return cv::makePtr<ExpandToTargetImpl>(params);
}

Result<cv::Mat> expandToTarget(const cv::Mat& image, cv::Size target, const Placement& placement,
                               std::shared_ptr<Provider> provider) {
    ExpandToTarget::Params p;
    p.target = TargetSpec::exact(target);
    p.placement = placement;
    p.provider = std::move(provider);
    Result<Frame> r = ExpandToTarget::create(p)->process(Frame(image));
    if (!r.ok()) return r.status();
    return std::move(r).value().image;
}

cv::Ptr<PreflightStage> PreflightStage::create(const Params& params) {
    return cv::makePtr<PreflightStageImpl>(params);
}

cv::Ptr<UpscaleStage> UpscaleStage::create(const Params& params) {
    if (!std::isfinite(params.scale) || params.scale <= 1.0)
        throw std::invalid_argument("UpscaleStage: scale must be > 1");
    return cv::makePtr<UpscaleStageImpl>(params);
}

cv::Ptr<GenerateStage> GenerateStage::create(const Params& params) {
    if (params.request.prompt.empty()) throw std::invalid_argument("GenerateStage: empty prompt");
    return cv::makePtr<GenerateStageImpl>(params);
}

cv::Ptr<OmniStage> OmniStage::create(const Params& params) {
    if (params.request.prompt.empty()) throw std::invalid_argument("OmniStage: empty prompt");
    return cv::makePtr<OmniStageImpl>(params);
}

cv::Ptr<ComposeStage> ComposeStage::create(const Params& params) {
    if (params.size.empty()) throw std::invalid_argument("ComposeStage: empty canvas size");
    return cv::makePtr<ComposeStageImpl>(params);
}

}  // namespace cvgen::stages
