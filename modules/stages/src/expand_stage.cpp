// ExpandToTarget and UpscaleStage as asynchronous state machines: CPU steps on the CPU pool,
// provider calls through Provider::*Async, no thread waiting per frame. process() is a blocking
// facade over processAsync().
#include <cmath>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <opencv2/imgproc.hpp>

#include "compose_util.hpp"
#include "cvgen/core/codec.hpp"
#include "cvgen/core/compose.hpp"
#include "cvgen/core/preflight.hpp"
#include "cvgen/stages/ops.hpp"
#include "stage_util.hpp"

namespace cvgen::stages {

namespace {

using detail::CpuExec;
using detail::sizeText;

/** One frame going through a plan: plan → (preflight) → pass 1..n → composition. */
struct ExpandJob {
    const ExpandToTarget::Params* p = nullptr;  // owned by the stage, which outlives the job
    std::shared_ptr<const void> keepStage;      // keeps the stage alive while the job runs
    PlannerParams planner;
    Frame f;
    Plan plan;
    cv::Mat current;
    std::shared_ptr<const std::vector<uint8_t>> wireBytes;  // pass 1 sends these unchanged
    size_t k = 0;
    CpuExec exec;
    FrameCompletion done;

    void fail(const Status& st) {
        auto d = std::move(done);
        d(st);
    }
};
using ExpandJobPtr = std::shared_ptr<ExpandJob>;

/** Conforms the first pass's input to the provider's rules and plans again with that
 * pre-transform; a compliant file is sent as its own bytes. */
Status preflightFirstPass(ExpandJob& j) {
    const ExpandToTarget::Params& p = *j.p;
    FrameMeta& meta = j.f.meta;
    const cv::Size src = j.f.image.size();
    const bool whole = j.plan.sourceCrop == cv::Rect(cv::Point(), src) && j.plan.inputSize == src;
    std::string why;
    if (!meta.sourceBytes)
        why = "the frame was not read from a file";
    else if (!whole)
        why = "the plan crops or scales the source";
    if (why.empty()) {
        Result<ImageHeader> hdr = readHeader(*meta.sourceBytes);
        if (!hdr.ok() || hdr->exifOrientation != 1)
            why = "the file has an EXIF orientation";
        else if (cv::Size(hdr->width, hdr->height) != src)
            why = "the frame's size is not the file's";
    }
    if (why.empty()) {
        Result<PreparedImage> fromFile =
            conform(ImageSource::fromBytes(*meta.sourceBytes), p.limits, p.policy);
        if (fromFile.ok() && fromFile->passthrough) {
            j.wireBytes = meta.sourceBytes;
            meta.transforms.push_back("wire: the file's own " +
                                      std::to_string(meta.sourceBytes->size()) +
                                      " bytes, passed through unchanged");
            return Status();
        }
        why = "the file does not meet the provider's rules as it is";
    }
    ConformPolicy policy = p.policy;
    policy.aspect = ConformPolicy::Aspect::PAD;
    Result<PreparedImage> prep = conform(croppedSource(j.f.image, j.plan), p.limits, policy);
    if (!prep.ok()) return prep.status().withContext("preflight");
    const GeometricTransform& gt = prep->transform;
    PlannerParams pp = j.planner;
    pp.pre.scale = gt.scale;
    pp.pre.contentSize = gt.scaledSize;
    pp.pre.padTop = gt.padTop;
    pp.pre.padBottom = gt.padBottom;
    pp.pre.padLeft = gt.padLeft;
    pp.pre.padRight = gt.padRight;
    Result<Plan> planned = planCanvas(src, p.target, p.placement, pp);
    if (!planned.ok()) return planned.status();
    j.plan = std::move(planned).value();
    Result<cv::Mat> decoded = decodeImage(prep->bytes);
    if (!decoded.ok()) return decoded.status().withContext("preflight");
    j.current = detail::matchType(*decoded, j.f.image.type());
    for (const auto& a : prep->actions) meta.transforms.push_back("preflight: " + a);
    meta.transforms.push_back("wire: re-encoded from pixels (" + why + ")");
    return Status();
}

void runPass(const ExpandJobPtr& j);
void finishExpand(const ExpandJobPtr& j);

/** Runs a step of the job where its CPU steps run; an exception (a library bug or an engine
 * limit surfacing as cv::Exception) fails this frame as INTERNAL instead of ending a worker. */
template <typename Fn>
void step(const ExpandJobPtr& j, Fn fn) {
    j->exec([j, fn = std::move(fn)]() mutable {
        try {
            fn();
        } catch (const std::exception& e) {
            if (j->done) j->fail(internalError(std::string("unexpected exception: ") + e.what()));
        }
    });
}

// CPU: plan, preflight, first input.
void startExpand(const ExpandJobPtr& j) {
    const ExpandToTarget::Params& p = *j->p;
    if (j->f.image.empty()) return j->fail(invalidArgument("the frame has no image"));
    Result<Plan> planned = planCanvas(j->f.image.size(), p.target, p.placement, j->planner);
    if (!planned.ok()) return j->fail(planned.status());
    j->plan = std::move(planned).value();
    if (p.preflight && !j->plan.passes.empty()) {
        Status st = preflightFirstPass(*j);
        if (!st.ok()) return j->fail(st);
    }
    j->f.meta.plan = toJson(j->plan);
    for (const auto& n : j->plan.notes) j->f.meta.warnings.push_back(n);
    if (j->current.empty()) j->current = croppedSource(j->f.image, j->plan);
    if (j->current.size() != j->plan.workSource) {
        cv::Mat scaled;
        cv::resize(j->current, scaled, j->plan.workSource, 0, 0, cv::INTER_AREA);
        j->current = scaled;
    }
    if (j->current.type() != j->f.image.type())
        j->current = detail::matchType(j->current, j->f.image.type());
    if (j->plan.passes.empty()) return finishExpand(j);
    runPass(j);
}

std::string passContext(const ExpandJob& j) {
    return "expand pass " + std::to_string(j.k + 1) + "/" + std::to_string(j.plan.passes.size());
}

// CPU: the provider's result of pass k onto its exact canvas.
void onPassResult(const ExpandJobPtr& j, Result<TaskOutput> out) {
    const ExpandPass& pass = j->plan.passes[j->k];
    if (!out.ok()) return j->fail(out.status().withContext(passContext(*j)));
    detail::noteTask(j->f.meta, *out);
    Result<cv::Mat> img = detail::firstImage(*out, "expand");
    if (!img.ok()) return j->fail(img.status().withContext(passContext(*j)));
    if (img->size() != pass.canvas)
        j->f.meta.warnings.push_back(passContext(*j) + ": the provider returned " +
                                     sizeText(img->size()) + ", mapped onto the planned " +
                                     sizeText(pass.canvas));
    auto next = composePass(j->current, *img, pass, j->p->compose);
    if (!next.ok()) return j->fail(next.status().withContext(passContext(*j)));
    j->current = std::move(next).value();
    j->wireBytes.reset();  // later passes send the composed canvas
    if (++j->k < j->plan.passes.size()) return runPass(j);
    finishExpand(j);
}

// Any thread: pass k to the provider, resume-first by its key.
void runPass(const ExpandJobPtr& j) {
    const ExpandToTarget::Params& p = *j->p;
    const ExpandPass& pass = j->plan.passes[j->k];
    ExpandRequest req;
    req.image =
        j->wireBytes ? ImageSource::fromBytes(*j->wireBytes) : ImageSource::fromMat(j->current);
    req.ratios = pass.ratios;
    req.prompt = p.prompt;
    req.task.externalTaskId = detail::keyFor(j->f.meta, "-p" + std::to_string(j->k + 1));
    auto provider = p.provider;
    detail::createOrResumeAsync(
        provider, Operation::EXPAND, j->f.meta.resumeTasks, req.task.externalTaskId, p.call,
        [provider, req, call = p.call](Completion done) {
            provider->expandAsync(req, call, std::move(done));
        },
        [j](Result<TaskOutput> r) {
            step(j, [j, r = std::move(r)]() mutable { onPassResult(j, std::move(r)); });
        });
}

// CPU: the last canvas onto the exact target.
void finishExpand(const ExpandJobPtr& j) {
    Result<cv::Mat> composed = compose(j->f.image, j->current, j->plan, j->p->compose);
    if (!composed.ok()) return j->fail(composed.status());
    const Plan& plan = j->plan;
    const int passes = int(plan.passes.size());
    cv::Mat out = std::move(composed).value();
    std::ostringstream t;
    t << "expand " << sizeText(j->f.image.size()) << " -> " << sizeText(out.size()) << " ("
      << passes << (passes == 1 ? " pass" : " passes") << ", original at " << plan.sourceRect.x
      << "," << plan.sourceRect.y << (plan.sourceScale != 1.0 ? ", rescaled" : "") << ")";
    j->f.meta.transforms.push_back(t.str());
    j->f.image = out;
    auto done = std::move(j->done);
    done(std::move(j->f));
}

class ExpandToTargetImpl final : public detail::AsyncStage<ExpandToTarget, ExpandToTargetImpl>,
                                 public std::enable_shared_from_this<ExpandToTargetImpl> {
public:
    explicit ExpandToTargetImpl(Params p) : p_(std::move(p)) {
        p_.provider = detail::orDefault(p_.provider);
        planner_ =
            p_.limitsFromProvider ? withProviderLimits(p_.planner, *p_.provider) : p_.planner;
    }
    std::string name() const override { return "expand-to-target"; }

    /** The stage's steps on `f`; see detail::AsyncStage. */
    void start(Frame f, FrameCompletion done, bool inlineSteps) const {
        auto j = std::make_shared<ExpandJob>();
        j->p = &p_;
        j->keepStage = shared_from_this();
        j->planner = planner_;
        j->f = std::move(f);
        j->exec.inlineSteps = inlineSteps;
        j->done = std::move(done);
        // Blocking: caller bugs found while planning throw to the caller, as before.
        if (inlineSteps) return startExpand(j);
        step(j, [j] { startExpand(j); });
    }

private:
    Params p_;
    PlannerParams planner_;  ///< p_.planner with the limits it plans with
};

class UpscaleStageImpl final : public detail::AsyncStage<UpscaleStage, UpscaleStageImpl>,
                               public std::enable_shared_from_this<UpscaleStageImpl> {
public:
    explicit UpscaleStageImpl(Params p) : p_(std::move(p)) {
        p_.provider = detail::orDefault(p_.provider);
    }
    std::string name() const override { return "upscale"; }

    /** The stage's steps on `f`; see detail::AsyncStage. */
    void start(Frame f, FrameCompletion done, bool inlineSteps) const {
        if (f.image.empty()) return done(invalidArgument("the frame has no image"));
        UpscaleRequest req;
        // The file's own bytes when the frame is that file unchanged (the provider's preflight
        // passes them through when they meet its rules).
        const bool fromFile = f.meta.sourceBytes && f.meta.transforms.empty();
        req.image =
            fromFile ? ImageSource::fromBytes(*f.meta.sourceBytes) : ImageSource::fromMat(f.image);
        req.scale = p_.scale;
        req.prompt = p_.prompt;
        req.externalTaskId = detail::keyFor(f.meta, "-u");
        auto self = shared_from_this();
        auto frame = std::make_shared<Frame>(std::move(f));
        const CpuExec exec{inlineSteps};
        auto provider = p_.provider;
        detail::createOrResumeAsync(
            provider, Operation::UPSCALE, frame->meta.resumeTasks, req.externalTaskId, p_.call,
            [provider, req, call = p_.call](Completion d) {
                provider->upscaleAsync(req, call, std::move(d));
            },
            [self, frame, exec, done = std::move(done)](Result<TaskOutput> out) mutable {
                exec([self, frame, done = std::move(done), out = std::move(out)]() mutable {
                    Result<Frame> r = internalError("not run");
                    try {
                        r = self->finish(std::move(*frame), out);
                    } catch (const std::exception& e) {
                        r = internalError(std::string("unexpected exception: ") + e.what());
                    }
                    done(std::move(r));
                });
            });
    }

private:
    Result<Frame> finish(Frame f, const Result<TaskOutput>& out) const {
        if (!out.ok()) return out.status();
        detail::noteTask(f.meta, *out);
        Result<cv::Mat> img = detail::firstImage(*out, "upscale");
        if (!img.ok()) return img.status();
        cv::Mat up = detail::matchType(*img, f.image.type());
        f.meta.transforms.push_back("upscale " + sizeText(f.image.size()) + " -> " +
                                    sizeText(up.size()));
        f.image = up;
        return f;
    }

    Params p_;
};

}  // namespace

cv::Ptr<ExpandToTarget> ExpandToTarget::create(const Params& params) {
    if (params.target.kind == TargetSpec::Kind::EXACT && params.target.size.empty())
        throw std::invalid_argument("ExpandToTarget: empty target size");
    return cv::Ptr<ExpandToTarget>(std::make_shared<ExpandToTargetImpl>(params));
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

cv::Ptr<UpscaleStage> UpscaleStage::create(const Params& params) {
    if (!std::isfinite(params.scale) || params.scale <= 1.0)
        throw std::invalid_argument("UpscaleStage: scale must be > 1");
    return cv::Ptr<UpscaleStage>(std::make_shared<UpscaleStageImpl>(params));
}

}  // namespace cvgen::stages
