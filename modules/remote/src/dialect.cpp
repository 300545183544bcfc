#include "dialect.hpp"

#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "cvgen/core/base64.hpp"
#include "cvgen/core/codec.hpp"
#include "cvgen/core/image_limits.hpp"
#include "cvgen/core/preflight.hpp"
#include "cvgen/remote/capabilities.hpp"
#include "json_util.hpp"

namespace cvgen {
namespace remote {
namespace detail {

namespace {
// ---------- request encoding ----------

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

/** The named model, or the endpoint's default for an empty name. checkCapabilities() has
 * already refused an unknown name, so one here is a caller bug. */
const ModelCaps& modelOrDefault(Endpoint e, const std::string& name) {
    const ModelCaps* m = name.empty() ? defaultModel(e) : findModel(e, name);
    CV_Assert(m != nullptr);
    return *m;
}

}  // namespace

// The one place images are prepared for upload: core's preflight conform() (pass-through of
// compliant bytes, otherwise decode → fix → encode within the endpoint's limits at this
// provider). Where the result maps back onto the input (expand, upscale) the geometry stays the
// caller's: an image breaking a side or aspect rule is refused (INVALID_ARGUMENT naming the rule)
// instead of padded; a too large one is scaled down, which keeps every ratio. Generation and
// omni references may be fixed freely.
Result<EncodedImage> encodeImage(const ImageSource& src, const char* field,
                                 const EndpointRules& rules) {
    ConformPolicy policy;
    if (rules.keepsGeometry) {
        policy.small = ConformPolicy::Small::FAIL;
        policy.aspect = ConformPolicy::Aspect::FAIL;
    }
    auto prepared = conform(src, rules.input, policy);
    if (!prepared.ok()) {
        const Status st = prepared.status();
        return Status(st.code(), std::string(field) + ": " + st.message() + " (" + rules.api + " " +
                                     toString(rules.endpoint) + " input rules)");
    }
    EncodedImage out;
    out.passedThrough = prepared->passthrough;
    out.bytes = std::move(prepared->bytes);
    out.mime = prepared->mime;
    return out;
}

namespace {

Result<std::string> imageField(const Profile& p, const ImageSource& src, const char* field,
                               Endpoint e) {
    if (!src.url.empty()) return src.url;
    auto enc = encodeImage(src, field, endpointRules(p, e));
    if (!enc.ok()) return enc.status();
    return base64Encode(enc->bytes);
}

void writeKey(Writer& w, const Profile& p, const char* canonical) {
    const std::string k = p.field(canonical);
    w.Key(k.c_str(), rapidjson::SizeType(k.size()));
}
void writeStr(Writer& w, const std::string& s) {
    w.String(s.c_str(), rapidjson::SizeType(s.size()));
}

void writeCommon(Writer& w, const Profile& p, const TaskOptions& t, const std::string& ext,
                 bool withN = true) {
    if (withN) {
        writeKey(w, p, "n");
        if (p.nAsString)
            writeStr(w, std::to_string(t.n));
        else
            w.Int(t.n);
    }
    if (t.watermark) {
        writeKey(w, p, "watermark_info");
        w.StartObject();
        w.Key("enabled");
        w.Bool(true);
        w.EndObject();
    }
    if (!t.callbackUrl.empty()) {
        writeKey(w, p, "callback_url");
        writeStr(w, t.callbackUrl);
    }
    writeKey(w, p, "external_task_id");
    writeStr(w, ext);
}

}  // namespace

Result<std::string> expandBody(const Profile& p, const ExpandRequest& r, const std::string& ext) {
    auto img = imageField(p, r.image, "image", Endpoint::EXPAND);
    if (!img.ok()) return img.status();
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    writeKey(w, p, "image");
    writeStr(w, *img);
    writeKey(w, p, "up_expansion_ratio");
    w.Double(r.ratios.up);
    writeKey(w, p, "down_expansion_ratio");
    w.Double(r.ratios.down);
    writeKey(w, p, "left_expansion_ratio");
    w.Double(r.ratios.left);
    writeKey(w, p, "right_expansion_ratio");
    w.Double(r.ratios.right);
    if (!r.prompt.empty()) {
        writeKey(w, p, "prompt");
        writeStr(w, r.prompt);
    }
    writeCommon(w, p, r.task, ext);
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
}

Result<std::string> generateBody(const Profile& p, const GenerateRequest& r,
                                 const std::string& ext) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    // Always name the model: an empty model_name still means V1 on the generation page
    // (CAPABILITIES §5), not the current default.
    const ModelCaps& model = modelOrDefault(Endpoint::GENERATE, r.model);
    writeKey(w, p, "model_name");
    writeStr(w, model.name);
    writeKey(w, p, "prompt");
    writeStr(w, r.prompt);
    if (!r.negativePrompt.empty()) {
        writeKey(w, p, "negative_prompt");
        writeStr(w, r.negativePrompt);
    }
    if (!r.image.empty()) {
        auto img = imageField(p, r.image, "image", Endpoint::GENERATE);
        if (!img.ok()) return img.status();
        writeKey(w, p, "image");
        writeStr(w, *img);
        if (r.imageReference != ImageReference::NONE) {
            writeKey(w, p, "image_reference");
            w.String(toString(r.imageReference));
        }
        if (r.imageFidelity) {
            writeKey(w, p, "image_fidelity");
            w.Double(*r.imageFidelity);
        }
        if (r.humanFidelity) {
            writeKey(w, p, "human_fidelity");
            w.Double(*r.humanFidelity);
        }
    }
    if (!model.resolutions.empty()) {  // kling-v2-new keeps the input's size and shape
        writeKey(w, p, "resolution");
        w.String(toString(r.resolution));
    }
    if (!model.aspectRatios.empty()) {
        writeKey(w, p, "aspect_ratio");
        w.String(toString(r.aspectRatio));
    }
    writeCommon(w, p, r.task, ext);
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
}

Result<std::string> omniBody(const Profile& p, const OmniRequest& r, const std::string& ext) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    const ModelCaps& model = modelOrDefault(Endpoint::OMNI, r.model);
    writeKey(w, p, "model_name");
    writeStr(w, model.name);
    writeKey(w, p, "prompt");
    writeStr(w, r.prompt);
    if (!r.images.empty()) {
        writeKey(w, p, "image_list");
        w.StartArray();
        for (size_t i = 0; i < r.images.size(); ++i) {
            const std::string field = "image_list[" + std::to_string(i) + "]";
            auto img = imageField(p, r.images[i], field.c_str(), Endpoint::OMNI);
            if (!img.ok()) return img.status();
            w.StartObject();
            w.Key("image");
            writeStr(w, *img);
            w.EndObject();
        }
        w.EndArray();
    }
    if (!r.elementIds.empty()) {
        writeKey(w, p, "element_list");
        w.StartArray();
        for (const auto& id : r.elementIds) {
            w.StartObject();
            w.Key("element_id");
            const bool digits =
                !id.empty() && id.size() < 19 &&
                std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
            if (digits)
                w.Int64(std::stoll(id));
            else
                writeStr(w, id);
            w.EndObject();
        }
        w.EndArray();
    }
    writeKey(w, p, "resolution");
    w.String(toString(r.resolution));
    writeKey(w, p, "result_type");
    w.String(toString(r.resultType));
    if (r.resultType == OmniResultType::SERIES) {
        writeKey(w, p, "series_amount");
        if (r.seriesAuto)
            w.String("auto");  // typed int, but its enum includes "auto" (OMNI L83-85)
        else
            w.Int(r.seriesAmount);
    }
    writeKey(w, p, "aspect_ratio");
    w.String(toString(r.aspectRatio.value_or(model.defaultAspect(!r.images.empty()))));
    writeCommon(w, p, r.task, ext, r.resultType == OmniResultType::SINGLE);
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
}

std::string upscaleRequestJson(const UpscaleRequest& r) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    if (!r.prompt.empty()) {
        w.Key("prompt");
        writeStr(w, r.prompt);
    }
    w.Key("resemblance");
    w.Int(r.resemblance);
    w.Key("detail");
    w.Int(r.detail);
    w.Key("magic_prompt_option");
    w.String(toString(r.magicPrompt));
    w.Key("num_images");
    w.Int(r.numImages);
    if (r.seed) {
        w.Key("seed");
        w.Int64(*r.seed);
    }
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
}

namespace {

// A cheap end-of-stream check so a truncated PNG/JPEG is DATA_LOSS, not a half-grey image.
bool looksComplete(const std::string& b) {
    if (b.size() >= 8 && static_cast<unsigned char>(b[0]) == 0x89 && b.compare(1, 3, "PNG") == 0)
        return b.size() >= 12 && b.compare(b.size() - 8, 4, "IEND") == 0;
    if (b.size() >= 3 && static_cast<unsigned char>(b[0]) == 0xFF &&
        static_cast<unsigned char>(b[1]) == 0xD8) {
        size_t e = b.size();
        while (e > 2 && b[e - 1] == '\0') --e;  // some encoders pad
        return e >= 4 && static_cast<unsigned char>(b[e - 2]) == 0xFF &&
               static_cast<unsigned char>(b[e - 1]) == 0xD9;
    }
    return true;
}

}  // namespace

Result<TaskObject> parseEnvelopeTask(const HttpResponse& r, const std::string& route,
                                     std::string* requestId) {
    rapidjson::Document d;
    if (!detail::parseJson(r.body, d) || !d.IsObject())
        return internalError(route + ": malformed JSON");
    if (requestId) *requestId = detail::getString(d, "request_id");
    const auto* data = detail::member(d, "data");
    if (!data) return internalError(route + ": answer without data");
    if (data->IsArray()) {  // a list answer: take the first task
        if (data->Empty()) return notFound(route + ": no such task");
        auto t = [&]() -> Result<TaskObject> {
            rapidjson::StringBuffer sb;
            rapidjson::Writer<rapidjson::StringBuffer> w(sb);
            (*data)[0].Accept(w);
            return parseTaskObject(sb.GetString());
        }();
        return t;
    }
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    data->Accept(w);
    auto t = parseTaskObject(sb.GetString());
    if (!t.ok()) return t.status().withContext(route);
    return t;
}

Result<TaskObject> parseCreateAnswer(const HttpResponse& r, const std::string& route,
                                     std::string* requestId) {
    rapidjson::Document d;
    if (!detail::parseJson(r.body, d) || !d.IsObject())
        return internalError(route + ": malformed JSON");
    const auto* data = detail::member(d, "data");
    if (data && data->IsArray() && !detail::member(d, "code")) {
        // Ideogram's synchronous body: {"created": …, "data": [{"url", "is_image_safe", …}]}.
        TaskObject t;
        t.status = TaskStatus::SUCCEED;
        t.statusText = "succeed";
        int i = 0;
        for (const auto& e : data->GetArray()) {
            TaskImage img;
            img.index = i++;
            img.url = detail::getString(e, "url");
            const auto* safe = detail::member(e, "is_image_safe");
            if (safe && safe->IsBool() && !safe->GetBool() && img.url.empty())
                t.statusMessage = "result flagged unsafe by the provider";
            if (!img.url.empty()) t.images.push_back(img);
        }
        if (t.images.empty()) {
            t.status = TaskStatus::FAILED;
            t.statusText = "failed";
            if (t.statusMessage.empty()) t.statusMessage = "no result images";
        }
        return t;
    }
    return parseEnvelopeTask(r, route, requestId);
}

bool looksCompleteImage(const std::string& bytes) {
    return !bytes.empty() && looksComplete(bytes);
}

Result<cv::Mat> decodeResultImage(const std::string& bytes, int64_t maxPixels) {
    if (bytes.empty()) return dataLoss("empty image body").withRetryable(true);
    if (!looksComplete(bytes)) return dataLoss("image truncated").withRetryable(true);
    DecodeOptions opts;
    opts.maxPixels = maxPixels;
    opts.applyExifOrientation = false;  // a result is the provider's canvas as sent
    Result<cv::Mat> decoded =
        cvgen::decodeImage(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), opts);
    if (!decoded.ok())
        return Status(Code::DATA_LOSS, "result image refused: " + decoded.status().message());
    cv::Mat m = std::move(decoded).value();
    if (m.depth() == CV_16U) m.convertTo(m, CV_8U, 1.0 / 257.0);
    if (m.depth() != CV_8U) m.convertTo(m, CV_8U);
    if (m.channels() == 1) cv::cvtColor(m, m, cv::COLOR_GRAY2BGR);
    return m;
}

}  // namespace detail
}  // namespace remote
}  // namespace cvgen
