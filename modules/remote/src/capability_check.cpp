// The one checker of a request's features against the capability table (capabilities.cpp):
// the client runs it before any network call, the emulator's strict mode on each create.
// Messages name the field, the model and the rule, and say which models do accept the feature.
#include <functional>

#include "cvgen/remote/capabilities.hpp"

namespace cvgen {
namespace remote {

namespace {

RuleViolation refuse(const std::string& field, const std::string& what) {
    return {field, field + ": " + what, false};
}

/** A rule the real service does not enforce (the field simply has no effect): the client still
 * refuses it as a likely mistake; the upstream scope lets it through. */
std::optional<RuleViolation> noEffect(RuleScope scope, const std::string& field,
                                      const std::string& what) {
    if (scope == RuleScope::UPSTREAM) return std::nullopt;
    RuleViolation v = refuse(field, what);
    v.ignoredUpstream = true;
    return v;
}

/** "(only kling-v2-1)" / "(only kling-v1-5, kling-v2-1)" over the endpoint's models that pass
 * `ok`, or "(no model of this endpoint)". */
std::string onlyModels(Endpoint e, const std::function<bool(const ModelCaps&)>& ok) {
    std::string names;
    for (const ModelCaps* m : models(e))
        if (ok(*m)) names += std::string(names.empty() ? "" : ", ") + m->name;
    return names.empty() ? "(no " + std::string(toString(e)) + " model)" : "(only " + names + ")";
}

std::string notBy(const ModelCaps& m, const std::string& what, Endpoint e,
                  const std::function<bool(const ModelCaps&)>& ok) {
    return what + "not supported by " + m.name + " " + onlyModels(e, ok);
}

template <typename T>
std::string listOf(const std::vector<T>& v) {
    std::string s;
    for (T x : v) s += std::string(s.empty() ? "" : ", ") + toString(x);
    return s;
}

std::optional<RuleViolation> checkModel(const RequestFeatures& f, const ModelCaps& m,
                                        RuleScope scope) {
    const Endpoint e = f.endpoint;
    const std::string with = std::string(" with ") + m.name;
    const bool withImage = f.images > 0;
    const char* imageField = e == Endpoint::OMNI ? "image_list" : "image";
    if (!withImage && !m.textToImage)
        return refuse(imageField,
                      std::string("required by ") + m.name + " (it has no text-to-image)");
    if (withImage && !m.referenceImage)
        return refuse(imageField, notBy(m, "a reference image is ", e,
                                        [](const ModelCaps& c) { return c.referenceImage; }));
    if (f.images > m.maxImages)
        return refuse(imageField, std::string("at most ") + std::to_string(m.maxImages) +
                                      " reference image(s) with " + m.name + ", got " +
                                      std::to_string(f.images));
    if (f.elements > 0 && !m.elementList)
        return refuse("element_list",
                      notBy(m, "", e, [](const ModelCaps& c) { return c.elementList; }));
    if (f.images + f.elements > m.maxReferences)
        return refuse(imageField, "reference images + elements must be at most " +
                                      std::to_string(m.maxReferences) + ", got " +
                                      std::to_string(f.images + f.elements));
    if (f.negativePrompt && !m.negativePrompt)
        return refuse("negative_prompt",
                      notBy(m, "", e, [](const ModelCaps& c) { return c.negativePrompt; }));
    if (f.negativePrompt && withImage)
        return refuse("negative_prompt", std::string("not supported with a reference image by ") +
                                             m.name + " (text-to-image only)");
    if (f.imageReference && *f.imageReference != ImageReference::NONE) {
        const ImageReference r = *f.imageReference;
        if (!m.allows(r))
            return refuse("image_reference",
                          notBy(m, std::string(toString(r)) + " ", e,
                                [r](const ModelCaps& c) { return c.allows(r); }));
        if (!withImage) return refuse("image_reference", "needs a reference image" + with);
    }
    const bool hasReference = f.imageReference && *f.imageReference != ImageReference::NONE;
    if (m.imageReferenceRequired && withImage && !hasReference)
        return refuse("image_reference", std::string("required by ") + m.name +
                                             " when an image is given (subject or face)");
    for (const auto& [present, field] :
         {std::pair<bool, const char*>{f.imageFidelity, "image_fidelity"},
          {f.humanFidelity, "human_fidelity"}}) {
        if (!present) continue;
        if (!m.fidelity)
            return refuse(field, notBy(m, "", e, [](const ModelCaps& c) { return c.fidelity; }));
        if (!withImage) return refuse(field, "needs a reference image" + with);
    }
    // GEN L83: "Only takes effect when image_reference is subject" - elsewhere it is ignored.
    if (f.humanFidelity && f.imageReference != ImageReference::SUBJECT)
        if (auto v = noEffect(scope, "human_fidelity",
                              std::string("only takes effect with image_reference subject (") +
                                  m.name + " ignores it otherwise)"))
            return v;
    if (f.resolution) {
        const Resolution r = *f.resolution;
        if (m.resolutions.empty())
            return refuse("resolution", std::string("not supported by ") + m.name +
                                            " (the output keeps the input image's size)");
        if (!m.allows(r, false))
            return refuse("resolution",
                          notBy(m, std::string(toString(r)) + " ", e,
                                [r](const ModelCaps& c) { return c.allows(r, false); }));
        if (withImage && !m.allows(r, true))
            return refuse("resolution", std::string(toString(r)) + " not supported by " + m.name +
                                            " with a reference image (" +
                                            listOf(m.resolutionsWithImage) + ")");
    }
    if (f.aspectRatio) {
        const AspectRatio a = *f.aspectRatio;
        if (m.aspectRatios.empty())
            return refuse("aspect_ratio", std::string("not supported by ") + m.name +
                                              " (the output keeps the input image's shape)");
        if (!m.allows(a))
            return refuse("aspect_ratio", notBy(m, std::string(toString(a)) + " ", e,
                                                [a](const ModelCaps& c) { return c.allows(a); }));
        if (a == AspectRatio::AUTO && !withImage && !m.autoAspectTextToImage)
            return refuse("aspect_ratio", std::string("auto needs a reference image with ") +
                                              m.name + " (text-to-image takes an explicit ratio)");
    }
    const bool series = f.resultType == OmniResultType::SERIES;
    if (f.n && (*f.n < 1 || *f.n > m.maxN))
        return refuse("n", "must be in [1," + std::to_string(m.maxN) + "]" + with + ", got " +
                               std::to_string(*f.n));
    if (series && !m.series)
        return refuse("result_type",
                      notBy(m, "series ", e, [](const ModelCaps& c) { return c.series; }));
    // OMNI L82: n is "invalid" with series; OMNI L85: series_amount only counts with series.
    if (series && f.n && *f.n != 1)
        if (auto v = noEffect(scope, "n",
                              std::string("has no effect with result_type series at ") + m.name +
                                  " (series_amount sets the count)"))
            return v;
    if ((f.seriesAmount || f.seriesAmountAuto) && !series)
        if (auto v = noEffect(scope, "series_amount",
                              std::string("has no effect without result_type series at ") + m.name))
            return v;
    if (series && f.seriesAmountAuto && !m.seriesAmountAuto)
        return refuse("series_amount",
                      notBy(m, "auto ", e, [](const ModelCaps& c) { return c.seriesAmountAuto; }));
    if (series && f.seriesAmount &&
        (*f.seriesAmount < m.minSeriesAmount || *f.seriesAmount > m.maxSeriesAmount))
        return refuse("series_amount", "must be in [" + std::to_string(m.minSeriesAmount) + "," +
                                           std::to_string(m.maxSeriesAmount) + "]" +
                                           (m.seriesAmountAuto ? " or auto" : "") + with +
                                           ", got " + std::to_string(*f.seriesAmount));
    return std::nullopt;
}

}  // namespace

std::optional<RuleViolation> checkFeatures(const RequestFeatures& f, RuleScope scope) {
    if (f.endpoint != Endpoint::GENERATE && f.endpoint != Endpoint::OMNI) {
        // Expand and upscale have no model (EXP L40-49; IGO): only n is judged here. The
        // field does not exist there; nothing says an extra one is refused.
        if (!f.model.empty())
            if (auto v = noEffect(scope, "model_name",
                                  std::string("the ") + toString(f.endpoint) +
                                      " endpoint takes no model (the service ignores the field)"))
                return v;
        const int maxN = f.endpoint == Endpoint::UPSCALE ? 8 : 9;  // IGO L4719; EXP L78
        if (f.n && (*f.n < 1 || *f.n > maxN))
            return refuse(
                f.endpoint == Endpoint::UPSCALE ? "num_images" : "n",
                "must be in [1," + std::to_string(maxN) + "], got " + std::to_string(*f.n));
        return std::nullopt;
    }
    const ModelCaps* m =
        f.model.empty() ? defaultModel(f.endpoint) : findModel(f.endpoint, f.model);
    if (!m) {
        std::string known;
        for (const ModelCaps* c : models(f.endpoint))
            known += std::string(known.empty() ? "" : ", ") + c->name;
        return refuse("model_name", "unknown " + std::string(toString(f.endpoint)) + " model '" +
                                        f.model + "' (" + known + ")");
    }
    return checkModel(f, *m, scope);
}

RequestFeatures features(const GenerateRequest& r) {
    RequestFeatures f;
    f.endpoint = Endpoint::GENERATE;
    f.model = r.model;
    f.images = r.image.empty() ? 0 : 1;
    f.negativePrompt = !r.negativePrompt.empty();
    if (r.imageReference != ImageReference::NONE) f.imageReference = r.imageReference;
    f.imageFidelity = r.imageFidelity.has_value();
    f.humanFidelity = r.humanFidelity.has_value();
    f.resolution = r.resolution;
    f.aspectRatio = r.aspectRatio;
    f.n = r.task.n;
    const ModelCaps* m =
        r.model.empty() ? defaultModel(Endpoint::GENERATE) : findModel(Endpoint::GENERATE, r.model);
    if (m && m->resolutions.empty() && r.resolution == GenerateRequest().resolution)
        f.resolution.reset();  // the default is not sent to a model without the field
    if (m && m->aspectRatios.empty() && r.aspectRatio == GenerateRequest().aspectRatio)
        f.aspectRatio.reset();
    return f;
}

RequestFeatures features(const OmniRequest& r) {
    RequestFeatures f;
    f.endpoint = Endpoint::OMNI;
    f.model = r.model;
    f.images = int(r.images.size());
    f.elements = int(r.elementIds.size());
    f.resolution = r.resolution;
    f.aspectRatio = r.aspectRatio;  // unset: the model's default for this request is sent
    f.resultType = r.resultType;
    if (r.resultType == OmniResultType::SERIES && r.seriesAuto)
        f.seriesAmountAuto = true;
    else if (r.resultType == OmniResultType::SERIES)
        f.seriesAmount = r.seriesAmount;
    else
        f.n = r.task.n;
    return f;
}

namespace {
/** Expand and upscale: one input image and a result count, no model. */
RequestFeatures oneImage(Endpoint e, const ImageSource& image, int n) {
    RequestFeatures f;
    f.endpoint = e;
    f.images = image.empty() ? 0 : 1;
    f.n = n;
    return f;
}
}  // namespace

RequestFeatures features(const ExpandRequest& r) {
    return oneImage(Endpoint::EXPAND, r.image, r.task.n);
}

RequestFeatures features(const UpscaleRequest& r) {
    return oneImage(Endpoint::UPSCALE, r.image, r.numImages);
}

namespace {
template <typename Req>
Status asStatus(const Req& r) {
    auto v = checkFeatures(features(r));
    return v ? invalidArgument(v->message) : Status();
}
}  // namespace

Status checkCapabilities(const GenerateRequest& r) {
    return asStatus(r);
}
Status checkCapabilities(const OmniRequest& r) {
    return asStatus(r);
}
Status checkCapabilities(const ExpandRequest& r) {
    return asStatus(r);
}
Status checkCapabilities(const UpscaleRequest& r) {
    return asStatus(r);
}

}  // namespace remote
}  // namespace cvgen
