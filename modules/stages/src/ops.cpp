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
#include "stage_util.hpp"

#if defined(CVGEN_STAGES_HAVE_LOCAL)
#include "cvgen/local/local_provider.hpp"
#endif

namespace cvgen::stages {

namespace {

using detail::createOrResume;
using detail::firstImage;
using detail::keyFor;
using detail::noteTask;
using detail::orDefault;
using detail::sizeText;

/** " (kling-v3)": the model that served the task as the provider reports it, else the one the
 * request named; "" when neither is known (the offline engine has no model). */
std::string modelNote(const TaskOutput& out, const std::string& named) {
    const std::string& m = out.model.empty() ? named : out.model;
    return m.empty() ? std::string() : " (" + m + ")";
}

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
        f.meta.transforms.push_back("generate " + sizeText(img->size()) +
                                    modelNote(*out, req.model));
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
        f.meta.transforms.push_back("omni " + sizeText(img->size()) + modelNote(*out, req.model));
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

cv::Ptr<PreflightStage> PreflightStage::create(const Params& params) {
    return cv::makePtr<PreflightStageImpl>(params);
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
