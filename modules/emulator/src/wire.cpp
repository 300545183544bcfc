#include "wire.hpp"

#include <cmath>

#include <rapidjson/document.h>

#include "cvgen/core/base64.hpp"
#include "cvgen/core/codec.hpp"
#include "cvgen/core/image_limits.hpp"
#include "cvgen/local/expand.hpp"
#include "cvgen/local/synthesize.hpp"
#include "cvgen/local/upscale.hpp"
#include "cvgen/remote/capabilities.hpp"
#include "strict.hpp"

namespace cvgen::emulator::detail {
namespace {

using Value = rapidjson::Value;

Status fieldError(const std::string& field, const std::string& what) {
    return invalidArgument(field + ": " + what).withProviderCode(1201).withHttpStatus(400);
}

/** Core validate() names the wire field already; attach the provider code. */
Status asFieldError(const Status& st) {
    if (st.ok()) return st;
    return Status(Code::INVALID_ARGUMENT, st.message()).withProviderCode(1201).withHttpStatus(400);
}

/** A member that is present and not null (relays send null for "absent"). */
const Value* member(const Value& obj, const char* name) {
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
}

Status getString(const Value& obj, const char* name, std::string* out) {
    const Value* v = member(obj, name);
    if (!v) return Status();
    if (!v->IsString()) return fieldError(name, "must be a string");
    *out = std::string(v->GetString(), v->GetStringLength());
    return Status();
}

Status getNumber(const Value& obj, const char* name, double* out, bool* present) {
    const Value* v = member(obj, name);
    *present = v != nullptr;
    if (!v) return Status();
    if (!v->IsNumber()) return fieldError(name, "must be a number");
    *out = v->GetDouble();
    return Status();
}

/** An integer; with `allowString` also a decimal string ("2"), as CometAPI sends `n`. */
Status getInt(const Value& obj, const char* name, int64_t* out, bool allowString) {
    const Value* v = member(obj, name);
    if (!v) return Status();
    if (v->IsInt64()) {
        *out = v->GetInt64();
        return Status();
    }
    if (v->IsDouble() && std::isfinite(v->GetDouble()) &&
        std::floor(v->GetDouble()) == v->GetDouble() && std::fabs(v->GetDouble()) < 1e15) {
        *out = static_cast<int64_t>(v->GetDouble());
        return Status();
    }
    if (allowString && v->IsString()) {
        const std::string s = v->GetString();
        bool digits = !s.empty() && s.size() <= 9;
        for (char c : s) digits = digits && c >= '0' && c <= '9';
        if (digits) {
            *out = std::stoll(s);
            return Status();
        }
        return fieldError(name, "must be an integer or a string of digits, got \"" + s + "\"");
    }
    return fieldError(
        name, allowString ? "must be an integer or a string of digits" : "must be an integer");
}

Status readTaskOptions(const Value& obj, Dialect d, TaskOptions* t, ParsedCreate* out,
                       bool nRequiredWhenStrict) {
    if (nRequiredWhenStrict && d == Dialect::AGGREGATOR_STRICT && !member(obj, "n"))
        return fieldError("n", "is required");
    int64_t n = 1;
    CVGEN_RETURN_IF_ERROR(getInt(obj, "n", &n, d != Dialect::KLING));
    if (n < 1 || n > 9) return fieldError("n", "must be in [1,9], got " + std::to_string(n));
    t->n = static_cast<int>(n);
    CVGEN_RETURN_IF_ERROR(getString(obj, "callback_url", &t->callbackUrl));
    CVGEN_RETURN_IF_ERROR(getString(obj, "external_task_id", &t->externalTaskId));
    if (const Value* w = member(obj, "watermark_info")) {
        if (!w->IsObject()) return fieldError("watermark_info", "must be an object");
        const Value* en = member(*w, "enabled");
        if (!en || !en->IsBool())
            return fieldError("watermark_info.enabled", "is required and must be a boolean");
        t->watermark = en->GetBool();
        out->watermarkGiven = true;
    }
    out->externalId = t->externalTaskId;
    out->callbackUrl = t->callbackUrl;
    out->watermark = t->watermark;
    out->slots = t->n;
    return Status();
}

/** Decodes an `image` field: raw base64 (no data: prefix) or one of the emulator's own URLs,
 * then checks the provider's rules on the bytes before decoding. */
Result<cv::Mat> loadImage(const std::string& field, const std::string& text,
                          const UrlFetcher& fetch, Endpoint endpoint) {
    std::vector<uint8_t> bytes;
    if (text.rfind("http://", 0) == 0 || text.rfind("https://", 0) == 0) {
        auto fetched = fetch(text);
        if (!fetched.ok()) return fieldError(field, fetched.status().message());
        bytes = std::move(fetched).value();
    } else {
        if (text.rfind("data:", 0) == 0)
            return fieldError(field, "base64 must be sent without a data: prefix");
        auto decoded = base64Decode(text);
        if (!decoded.ok())
            return fieldError(field, "not valid base64 (" + decoded.status().message() + ")");
        bytes = std::move(decoded).value();
    }
    auto report = check(bytes, remote::endpointRules(endpoint).input);
    if (!report.ok()) return fieldError(field, report.status().message());
    if (!report->ok()) return fieldError(field, report->violations.front().message);
    auto mat = decodeImage(bytes);
    if (!mat.ok()) return fieldError(field, "cannot be decoded: " + mat.status().message());
    return mat;
}

Result<std::vector<cv::Mat>> collect(Result<TaskOutput> out) {
    if (!out.ok()) return out.status();
    std::vector<cv::Mat> mats;
    for (auto& im : out->images) mats.push_back(im.image);
    return mats;
}

Renderer fastRenderer(cv::Size size, int type, int count) {
    return [size, type, count](bool wm) { return fastImages(size, type, count, wm); };
}

template <typename E>
Status getEnum(const Value& obj, const char* name, E* out,
               std::optional<E> (*parse)(const std::string&) noexcept, const char* allowed) {
    std::string s;
    CVGEN_RETURN_IF_ERROR(getString(obj, name, &s));
    if (s.empty()) return Status();  // "" means "default", as the seed examples send
    auto v = parse(s);
    if (!v)
        return fieldError(name, "must be one of " + std::string(allowed) + ", got \"" + s + "\"");
    *out = *v;
    return Status();
}

Result<ParsedCreate> parseExpand(const Value& obj, Dialect d, const UrlFetcher& fetch,
                                 const cv::Ptr<local::LocalProvider>& engine, RenderMode mode) {
    ParsedCreate out;
    ExpandRequest req;
    std::string image;
    CVGEN_RETURN_IF_ERROR(getString(obj, "image", &image));
    if (image.empty()) return fieldError("image", "is required");
    struct Side {
        const char* name;
        double* value;
    };
    const Side sides[] = {{"up_expansion_ratio", &req.ratios.up},
                          {"left_expansion_ratio", &req.ratios.left},
                          {"right_expansion_ratio", &req.ratios.right}};
    for (const Side& s : sides) {
        bool present = false;
        CVGEN_RETURN_IF_ERROR(getNumber(obj, s.name, s.value, &present));
        if (!present) return fieldError(s.name, "is required");
    }
    // The bottom side: Kling spells it down_, CometAPI bottom_; the aggregator dialect takes both.
    bool hasDown = false, hasBottom = false;
    double down = 0, bottom = 0;
    CVGEN_RETURN_IF_ERROR(getNumber(obj, "down_expansion_ratio", &down, &hasDown));
    if (d != Dialect::KLING)
        CVGEN_RETURN_IF_ERROR(getNumber(obj, "bottom_expansion_ratio", &bottom, &hasBottom));
    const char* downName =
        hasDown || d == Dialect::KLING ? "down_expansion_ratio" : "bottom_expansion_ratio";
    if (!hasDown && !hasBottom)
        return fieldError(downName, d == Dialect::KLING
                                        ? "is required"
                                        : "is required (or bottom_expansion_ratio)");
    if (hasDown && hasBottom && down != bottom)
        return fieldError("bottom_expansion_ratio", "conflicts with down_expansion_ratio");
    req.ratios.down = hasDown ? down : bottom;
    const Side all[] = {{"up_expansion_ratio", &req.ratios.up},
                        {downName, &req.ratios.down},
                        {"left_expansion_ratio", &req.ratios.left},
                        {"right_expansion_ratio", &req.ratios.right}};
    for (const Side& s : all) {
        if (!std::isfinite(*s.value) || *s.value < 0 || *s.value > 2)
            return fieldError(s.name, "must be in [0,2], got " + std::to_string(*s.value));
    }
    if (req.ratios.areaFactor() > 3.0 + 1e-9)
        return fieldError("expansion ratios", "(1+left+right)*(1+up+down) must be <= 3, got " +
                                                  std::to_string(req.ratios.areaFactor()));
    CVGEN_RETURN_IF_ERROR(getString(obj, "prompt", &req.prompt));
    CVGEN_RETURN_IF_ERROR(readTaskOptions(obj, d, &req.task, &out, true));
    auto mat = loadImage("image", image, fetch, Endpoint::EXPAND);
    if (!mat.ok()) return mat.status();
    req.image = ImageSource::fromMat(std::move(mat).value());
    CVGEN_RETURN_IF_ERROR(asFieldError(validate(req)));
    if (mode == RenderMode::FAST) {
        const cv::Mat& img = req.image.mat;
        const local::Margins m = local::marginsFromRatios(img.size(), req.ratios);
        const int64_t w = int64_t(img.cols) + m.left + m.right;
        const int64_t h = int64_t(img.rows) + m.top + m.bottom;
        // The offline engine's canvas cap, so both modes fail the same tasks.
        if (w > 65535 || h > 65535 || w * h > (int64_t(1) << 29)) {
            const std::string msg = "image: the expanded canvas " + std::to_string(w) + "x" +
                                    std::to_string(h) + " is too large for the offline engine";
            out.render = [msg](bool) -> Result<std::vector<ImageFile>> {
                return invalidArgument(msg);
            };
        } else {
            out.render = fastRenderer(cv::Size(int(w), int(h)), img.type(), req.task.n);
        }
        return out;
    }
    out.render = [engine, req](bool wm) { return encodeImages(collect(engine->expand(req)), wm); };
    return out;
}

Result<ParsedCreate> parseGeneration(const Value& obj, Dialect d, const UrlFetcher& fetch,
                                     const cv::Ptr<local::LocalProvider>& engine, RenderMode mode) {
    ParsedCreate out;
    GenerateRequest req;
    std::string model;
    CVGEN_RETURN_IF_ERROR(getString(obj, "model_name", &model));
    if (model.empty() && d == Dialect::AGGREGATOR_STRICT)
        return fieldError("model_name", "is required");
    if (!model.empty() && !remote::findModel(Endpoint::GENERATE, model))
        return fieldError("model_name", "unknown model '" + model + "'");
    if (!model.empty()) req.model = model;
    CVGEN_RETURN_IF_ERROR(getString(obj, "prompt", &req.prompt));
    if (req.prompt.empty()) return fieldError("prompt", "is required");
    CVGEN_RETURN_IF_ERROR(getString(obj, "negative_prompt", &req.negativePrompt));
    std::string image;
    CVGEN_RETURN_IF_ERROR(getString(obj, "image", &image));
    CVGEN_RETURN_IF_ERROR(getEnum(obj, "image_reference", &req.imageReference, &parseImageReference,
                                  "subject, face"));
    for (auto [key, field] :
         {std::pair<const char*, std::optional<double>*>{"image_fidelity", &req.imageFidelity},
          {"human_fidelity", &req.humanFidelity}}) {
        bool present = false;
        double v = 0;
        CVGEN_RETURN_IF_ERROR(getNumber(obj, key, &v, &present));
        if (present) *field = v;
    }
    CVGEN_RETURN_IF_ERROR(getEnum(obj, "resolution", &req.resolution, &parseResolution, "1k, 2k"));
    if (req.resolution == Resolution::R4K)
        return fieldError("resolution", "must be one of 1k, 2k, got \"4k\"");
    CVGEN_RETURN_IF_ERROR(getEnum(obj, "aspect_ratio", &req.aspectRatio, &parseAspectRatio,
                                  "16:9, 9:16, 1:1, 4:3, 3:4, 3:2, 2:3, 21:9"));
    if (req.aspectRatio == AspectRatio::AUTO)
        return fieldError("aspect_ratio", "auto is only accepted by omni-image");
    CVGEN_RETURN_IF_ERROR(readTaskOptions(obj, d, &req.task, &out, true));
    if (!image.empty()) {
        auto mat = loadImage("image", image, fetch, Endpoint::GENERATE);
        if (!mat.ok()) return mat.status();
        req.image = ImageSource::fromMat(std::move(mat).value());
    }
    CVGEN_RETURN_IF_ERROR(asFieldError(validate(req)));
    if (mode == RenderMode::FAST) {
        out.render = fastRenderer(local::generationSize(req.aspectRatio, req.resolution), CV_8UC3,
                                  req.task.n);
        return out;
    }
    out.render = [engine, req](bool wm) {
        return encodeImages(collect(engine->generate(req)), wm);
    };
    return out;
}

Result<ParsedCreate> parseOmni(const Value& obj, Dialect d, const UrlFetcher& fetch,
                               const cv::Ptr<local::LocalProvider>& engine, RenderMode mode) {
    ParsedCreate out;
    OmniRequest req;
    std::string model;
    CVGEN_RETURN_IF_ERROR(getString(obj, "model_name", &model));
    if (model.empty() && d == Dialect::AGGREGATOR_STRICT)
        return fieldError("model_name", "is required");
    if (!model.empty() && !remote::findModel(Endpoint::OMNI, model))
        return fieldError("model_name", "unknown model '" + model + "'");
    if (!model.empty()) req.model = model;
    CVGEN_RETURN_IF_ERROR(getString(obj, "prompt", &req.prompt));
    if (req.prompt.empty()) return fieldError("prompt", "is required");
    CVGEN_RETURN_IF_ERROR(
        getEnum(obj, "resolution", &req.resolution, &parseResolution, "1k, 2k, 4k"));
    CVGEN_RETURN_IF_ERROR(
        getEnum(obj, "result_type", &req.resultType, &parseOmniResultType, "single, series"));
    AspectRatio aspect = AspectRatio::AUTO;  // the omni-image default (OMNI L46)
    CVGEN_RETURN_IF_ERROR(getEnum(obj, "aspect_ratio", &aspect, &parseAspectRatio,
                                  "16:9, 9:16, 1:1, 4:3, 3:4, 3:2, 2:3, 21:9, auto"));
    req.aspectRatio = aspect;
    int64_t series = req.seriesAmount;
    const Value* amount = member(obj, "series_amount");
    if (amount && amount->IsString() && amount->GetString() == std::string("auto")) {
        req.seriesAuto = true;  // the model decides (UPD 04/27/2026)
    } else {
        CVGEN_RETURN_IF_ERROR(getInt(obj, "series_amount", &series, d != Dialect::KLING));
        if (req.resultType == OmniResultType::SERIES && (series < 2 || series > 9))
            return fieldError("series_amount",
                              "must be in [2,9] or \"auto\", got " + std::to_string(series));
    }
    req.seriesAmount = static_cast<int>(series);
    CVGEN_RETURN_IF_ERROR(readTaskOptions(obj, d, &req.task, &out, false));
    if (const Value* list = member(obj, "element_list")) {
        if (!list->IsArray()) return fieldError("element_list", "must be an array");
        for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
            const std::string f = "element_list[" + std::to_string(i) + "].element_id";
            const Value& e = (*list)[i];
            const Value* id = e.IsObject() ? member(e, "element_id") : nullptr;
            if (id && id->IsUint64())
                req.elementIds.push_back(std::to_string(id->GetUint64()));
            else if (id && id->IsString() && id->GetStringLength() > 0)
                req.elementIds.push_back(id->GetString());
            else
                return fieldError(f, "is required (an integer or a string)");
        }
    }
    if (const Value* list = member(obj, "image_list")) {
        if (!list->IsArray()) return fieldError("image_list", "must be an array");
        for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
            const std::string f = "image_list[" + std::to_string(i) + "].image";
            const Value& e = (*list)[i];
            const Value* im = e.IsObject() ? member(e, "image") : nullptr;
            if (!im || !im->IsString() || im->GetStringLength() == 0)
                return fieldError(f, "is required");
            if (req.images.size() + req.elementIds.size() >= 10)
                return fieldError("image_list", "images + elements must be at most 10");
            auto mat = loadImage(f, im->GetString(), fetch, Endpoint::OMNI);
            if (!mat.ok()) return mat.status();
            req.images.push_back(ImageSource::fromMat(std::move(mat).value()));
        }
    }
    CVGEN_RETURN_IF_ERROR(asFieldError(validate(req)));
    out.resultType = toString(req.resultType);
    // "auto" renders the documented default amount, as the offline engine does.
    const int seriesCount = req.seriesAuto ? OmniRequest().seriesAmount : req.seriesAmount;
    if (req.resultType == OmniResultType::SERIES) out.slots = seriesCount;
    if (mode == RenderMode::FAST) {
        // As the offline engine: AUTO takes the first input image's aspect (1:1 without one).
        const cv::Size size =
            req.aspectRatio == AspectRatio::AUTO
                ? local::generationSize(req.images.empty() ? 1.0
                                                           : double(req.images[0].mat.cols) /
                                                                 double(req.images[0].mat.rows),
                                        req.resolution)
                : local::generationSize(*req.aspectRatio, req.resolution);
        out.render = fastRenderer(
            size, CV_8UC3, req.resultType == OmniResultType::SERIES ? seriesCount : req.task.n);
        return out;
    }
    out.render = [engine, req](bool wm) { return encodeImages(collect(engine->omni(req)), wm); };
    return out;
}

}  // namespace

Result<ParsedCreate> parseCreate(TaskKind kind, Dialect dialect, const std::string& body,
                                 const UrlFetcher& fetch,
                                 const cv::Ptr<local::LocalProvider>& engine, RenderMode mode,
                                 bool strict) {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(body.c_str(), body.size());
    if (doc.HasParseError() || !doc.IsObject())
        return invalidArgument("invalid request: the body must be a JSON object")
            .withProviderCode(1200)
            .withHttpStatus(400);
    if (strict) CVGEN_RETURN_IF_ERROR(checkCapabilities(kind, doc));
    switch (kind) {
        case TaskKind::EXPAND:
            return parseExpand(doc, dialect, fetch, engine, mode);
        case TaskKind::GENERATION:
            return parseGeneration(doc, dialect, fetch, engine, mode);
        case TaskKind::OMNI:
            return parseOmni(doc, dialect, fetch, engine, mode);
        case TaskKind::UPSCALE:
            break;
    }
    return internalError("upscale is not a JSON create");
}

Result<ParsedUpscale> parseUpscale(const std::string* imageRequest, const std::string* imageFile,
                                   double factor, bool strict) {
    ParsedUpscale out;
    UpscaleRequest& req = out.request;
    req.scale = factor;
    rapidjson::Document doc;
    const std::string text = imageRequest ? *imageRequest : std::string("{}");
    doc.Parse<rapidjson::kParseIterativeFlag>(text.c_str(), text.size());
    if (doc.HasParseError() || !doc.IsObject())
        return fieldError("image_request", "must be a JSON object");
    if (strict) CVGEN_RETURN_IF_ERROR(checkCapabilities(TaskKind::UPSCALE, doc));
    CVGEN_RETURN_IF_ERROR(getString(doc, "prompt", &req.prompt));
    int64_t v = req.resemblance;
    CVGEN_RETURN_IF_ERROR(getInt(doc, "resemblance", &v, false));
    if (v < 1 || v > 100) return fieldError("resemblance", "must be in [1,100]");
    req.resemblance = static_cast<int>(v);
    v = req.detail;
    CVGEN_RETURN_IF_ERROR(getInt(doc, "detail", &v, false));
    if (v < 1 || v > 100) return fieldError("detail", "must be in [1,100]");
    req.detail = static_cast<int>(v);
    v = req.numImages;
    CVGEN_RETURN_IF_ERROR(getInt(doc, "num_images", &v, false));
    if (v < 1 || v > 8) return fieldError("num_images", "must be in [1,8]");
    req.numImages = static_cast<int>(v);
    if (member(doc, "seed")) {
        int64_t seed = 0;
        CVGEN_RETURN_IF_ERROR(getInt(doc, "seed", &seed, false));
        if (seed < 0 || seed > 2147483647) return fieldError("seed", "must be in [0,2147483647]");
        req.seed = seed;
        out.seed = seed;
    }
    CVGEN_RETURN_IF_ERROR(
        getEnum(doc, "magic_prompt_option", &req.magicPrompt, &parseMagicPrompt, "AUTO, ON, OFF"));
    if (!imageFile || imageFile->empty()) return fieldError("image_file", "is required");
    const std::vector<uint8_t> bytes(imageFile->begin(), imageFile->end());
    // Ideogram's rules (JPEG/PNG/WebP, 10^7 bytes, no side or aspect rule), from the provider
    // layer's table that the client checks against too.
    auto report = check(bytes, remote::endpointRules(Endpoint::UPSCALE).input);
    if (!report.ok()) return fieldError("image_file", report.status().message());
    if (!report->ok()) return fieldError("image_file", report->violations.front().message);
    auto mat = decodeImage(bytes);
    if (!mat.ok()) return fieldError("image_file", "cannot be decoded: " + mat.status().message());
    req.image = ImageSource::fromMat(std::move(mat).value());
    CVGEN_RETURN_IF_ERROR(asFieldError(validate(req)));
    return out;
}

Renderer upscaleRenderer(const cv::Ptr<local::LocalProvider>& engine, const UpscaleRequest& request,
                         RenderMode mode) {
    if (mode == RenderMode::FAST)
        return fastRenderer(local::upscaledSize(request.image.mat.size(), request.scale),
                            request.image.mat.type(), request.numImages);
    return
        [engine, request](bool wm) { return encodeImages(collect(engine->upscale(request)), wm); };
}

}  // namespace cvgen::emulator::detail
