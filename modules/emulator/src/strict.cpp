#include "strict.hpp"

#include <cmath>
#include <optional>
#include <string>

namespace cvgen::emulator::detail {
namespace {

using Value = rapidjson::Value;

/** A member that is present, not null and, for a string, not "". */
const Value* given(const Value& obj, const char* name) {
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
    if (it->value.IsString() && it->value.GetStringLength() == 0) return nullptr;
    return &it->value;
}

std::optional<std::string> text(const Value& obj, const char* name) {
    const Value* v = given(obj, name);
    if (!v || !v->IsString()) return std::nullopt;
    return std::string(v->GetString(), v->GetStringLength());
}

/** An integer, or a string of digits as CometAPI sends `n`. */
std::optional<int> integer(const Value& obj, const char* name) {
    const Value* v = given(obj, name);
    if (!v) return std::nullopt;
    if (v->IsInt()) return v->GetInt();
    if (v->IsDouble() && std::floor(v->GetDouble()) == v->GetDouble() &&
        std::fabs(v->GetDouble()) < 1e9)
        return static_cast<int>(v->GetDouble());
    if (!v->IsString() || v->GetStringLength() > 9) return std::nullopt;
    int n = 0;
    for (const char* c = v->GetString(); *c; ++c) {
        if (*c < '0' || *c > '9') return std::nullopt;
        n = n * 10 + (*c - '0');
    }
    return n;
}

template <typename E>
std::optional<E> enumerated(const Value& obj, const char* name,
                            std::optional<E> (*parse)(const std::string&) noexcept) {
    const auto s = text(obj, name);
    return s ? parse(*s) : std::nullopt;
}

int arraySize(const Value& obj, const char* name) {
    const Value* v = given(obj, name);
    return v && v->IsArray() ? static_cast<int>(v->Size()) : 0;
}

}  // namespace

Endpoint toEndpoint(TaskKind kind) noexcept {
    switch (kind) {
        case TaskKind::EXPAND:
            return Endpoint::EXPAND;
        case TaskKind::GENERATION:
            return Endpoint::GENERATE;
        case TaskKind::OMNI:
            return Endpoint::OMNI;
        case TaskKind::UPSCALE:
            break;
    }
    return Endpoint::UPSCALE;
}

remote::RequestFeatures requestFeatures(TaskKind kind, const Value& body) {
    remote::RequestFeatures f;
    f.endpoint = toEndpoint(kind);
    if (!body.IsObject()) return f;
    f.model = text(body, "model_name").value_or("");
    switch (kind) {
        case TaskKind::UPSCALE:
            f.images = 1;  // image_file is a part of its own; the parse requires it
            f.n = integer(body, "num_images");
            return f;
        case TaskKind::EXPAND:
            f.images = given(body, "image") ? 1 : 0;
            f.n = integer(body, "n");
            return f;
        case TaskKind::GENERATION:
            f.images = given(body, "image") ? 1 : 0;
            f.elements = arraySize(body, "element_list");
            f.negativePrompt = given(body, "negative_prompt") != nullptr;
            f.imageReference = enumerated(body, "image_reference", &parseImageReference);
            f.imageFidelity = given(body, "image_fidelity") != nullptr;
            f.humanFidelity = given(body, "human_fidelity") != nullptr;
            break;
        case TaskKind::OMNI: {
            f.images = arraySize(body, "image_list");
            f.elements = arraySize(body, "element_list");
            f.resultType = enumerated(body, "result_type", &parseOmniResultType);
            f.seriesAmountAuto = text(body, "series_amount") == "auto";
            if (!f.seriesAmountAuto) f.seriesAmount = integer(body, "series_amount");
            break;
        }
    }
    f.resolution = enumerated(body, "resolution", &parseResolution);
    f.aspectRatio = enumerated(body, "aspect_ratio", &parseAspectRatio);
    if (kind == TaskKind::OMNI && !given(body, "aspect_ratio")) f.aspectRatio = AspectRatio::AUTO;
    f.n = integer(body, "n");
    return f;
}

Status checkCapabilities(TaskKind kind, const Value& body) {
    const auto violation =
        remote::checkFeatures(requestFeatures(kind, body), remote::RuleScope::UPSTREAM);
    if (!violation) return Status();
    return invalidArgument(violation->message).withProviderCode(1201).withHttpStatus(400);
}

}  // namespace cvgen::emulator::detail
