// The capability table: one row per endpoint and per model, each checked against its row in
// CAPABILITIES.md (the project's sourced summary of the official pages; "GEN L82" = line 82 of
// the mirrored generation page, "[I]" = an inference that file spells out), and the one checker
// both the client and the emulator's strict mode run over it.
#include "cvgen/remote/capabilities.hpp"

#include <algorithm>

namespace cvgen {
namespace remote {

namespace {

using AR = AspectRatio;
using Res = Resolution;

const std::vector<AR> kRatios8 = {AR::R16_9, AR::R9_16, AR::R1_1, AR::R4_3,
                                  AR::R3_4,  AR::R3_2,  AR::R2_3, AR::R21_9};
const std::vector<AR> kRatios7 = {AR::R16_9, AR::R9_16, AR::R1_1, AR::R4_3,
                                  AR::R3_4,  AR::R3_2,  AR::R2_3};
const std::vector<AR> kRatios8Auto = {AR::R16_9, AR::R9_16, AR::R1_1,  AR::R4_3, AR::R3_4,
                                      AR::R3_2,  AR::R2_3,  AR::R21_9, AR::AUTO};

// ---------------- endpoints (CAPABILITIES §4, §6) ----------------

ImageLimits klingInput() {
    ImageLimits l;
    l.formats = {ImageFormat::JPEG, ImageFormat::PNG};  // ".jpg / .jpeg / .png"; no WebP
    l.maxBytes = 10'000'000;                            // "≤10MB", read strictly (10^7)
    l.minSide = 300;                                    // "min 300px"
    l.minAspect = 1.0 / 2.5;                            // "1:2.5 ~ 2.5:1"
    l.maxAspect = 2.5;
    return l;
}

ImageLimits ideogramInput() {
    ImageLimits l;
    l.formats = {ImageFormat::JPEG, ImageFormat::PNG, ImageFormat::WEBP};  // IG1, IGO L4589
    l.maxBytes = 10'000'000;  // IGO L4589 "max size 10MB" (IG1 says 25MB): the stricter one
    // No side or aspect rule is documented. 65535 px is the largest side a JPEG can have, so
    // these bounds refuse nothing a JPEG/PNG/WebP could hold (the pixel budget still applies).
    l.minSide = 1;
    l.minAspect = 1.0 / 65535;
    l.maxAspect = 65535;
    return l;
}

std::vector<EndpointRules> buildEndpoints() {
    std::vector<EndpointRules> t(4);
    t[0] = {Endpoint::EXPAND,
            "Kling",
            klingInput(),
            true,
            0,
            "CAPABILITIES §3-4: EXP L63-64 (formats, 10MB, >=300px, 1:2.5-2.5:1)"};
    t[1] = {Endpoint::GENERATE,
            "Kling",
            klingInput(),
            false,
            0,
            "CAPABILITIES §4: GEN L76-77 (formats, 10MB, min 300px, 1:2.5-2.5:1)"};
    t[2] = {Endpoint::OMNI,
            "Kling",
            klingInput(),
            false,
            0,
            "CAPABILITIES §4: OMNI L64-65 (formats, 10MB, >=300px, 1:2.5-2.5:1)"};
    t[3] = {Endpoint::UPSCALE,
            "Ideogram",
            ideogramInput(),
            true,
            2.0,
            "CAPABILITIES §6: IG1/IGO L4589 (JPEG/PNG/WebP, 10MB vs 25MB: 10MB; no side or "
            "aspect rule); 'up to 2x' (Ideogram help page)"};
    return t;
}

// ---------------- models (CAPABILITIES §1, §2, §5) ----------------

ModelCaps generateModel(const char* name, bool current, const char* source) {
    ModelCaps m;
    m.name = name;
    m.endpoint = Endpoint::GENERATE;
    m.current = current;
    m.negativePrompt = true;  // GEN L61-62: text-only
    m.resolutions = {Res::R1K, Res::R2K};
    m.resolutionsWithImage = m.resolutions;
    m.aspectRatios = kRatios8;
    m.defaultAspectWithImage = m.defaultAspectTextToImage = AR::R16_9;  // GEN L53
    m.source = source;
    return m;
}

ModelCaps omniModel(const char* name, const char* source) {
    ModelCaps m;
    m.name = name;
    m.endpoint = Endpoint::OMNI;
    m.maxImages = 10;  // OMNI L66: images + elements <= 10
    m.resolutions = {Res::R1K, Res::R2K};
    m.resolutionsWithImage = m.resolutions;
    m.aspectRatios = kRatios8Auto;  // OMNI L46; CAP L20-21
    m.autoAspectTextToImage = true;
    m.defaultAspectWithImage = m.defaultAspectTextToImage = AR::AUTO;  // OMNI L46
    m.elementList = true;                                              // CAP L46; OMNI L40
    m.source = source;
    return m;
}

std::vector<ModelCaps> buildModels() {
    std::vector<ModelCaps> t;
    // --- POST /v1/images/generations. Current enum: kling-v2-1, kling-v3 (GEN L42). ---
    {
        // §1 kling-v3 column: T2I and one `image`; no image_reference (CAP L43-44), no fidelity
        // (GEN L82/L85), 1k/2k and 8 ratios without auto (GEN L51/L53), n 1-9 (GEN L96),
        // element_list "Multi-image main image only" (CAP L46), default model (GEN L42).
        ModelCaps m = generateModel("kling-v3", true, "CAPABILITIES §1 kling-v3; GEN L42-96");
        m.elementList = true;
        t.push_back(m);
    }
    {
        // §1 kling-v2-1 column: subject/face references (CAP L43-44), the only model with
        // image_fidelity/human_fidelity (GEN L82, L85), no element_list (GEN L49).
        ModelCaps m = generateModel("kling-v2-1", true, "CAPABILITIES §1 kling-v2-1; GEN L42-96");
        m.imageReferences = {ImageReference::SUBJECT, ImageReference::FACE};
        m.fidelity = true;
        t.push_back(m);
    }
    // --- Legacy names (OLD enum; §5: dropped from the current enum, no announced removal). ---
    {
        // kling-v1: T2I, I2I "entire image", 7 ratios (no 21:9), 1K.
        ModelCaps m = generateModel("kling-v1", false, "CAPABILITIES §1 legacy table, kling-v1");
        m.resolutions = m.resolutionsWithImage = {Res::R1K};
        m.aspectRatios = kRatios7;
        t.push_back(m);
    }
    {
        // kling-v1-5: subject/face; "When using kling-v1-5 and the image parameter is not
        // empty, the current parameter is required"; 21:9 (UPD 03/12/2025); 1K.
        ModelCaps m =
            generateModel("kling-v1-5", false, "CAPABILITIES §1 legacy table + OLD quotes");
        m.imageReferences = {ImageReference::SUBJECT, ImageReference::FACE};
        m.imageReferenceRequired = true;
        m.resolutions = m.resolutionsWithImage = {Res::R1K};
        t.push_back(m);
    }
    {
        // kling-v2: multi-image to image / restyle (no image_reference); T2I 1K/2K, I2I 1K.
        ModelCaps m = generateModel("kling-v2", false, "CAPABILITIES §1 legacy table, kling-v2");
        m.resolutionsWithImage = {Res::R1K};
        t.push_back(m);
    }
    {
        // kling-v2-new: restyle only (no T2I); "the resolution of the generated image is the
        // same as that of the input image": no resolution (nor ratio) is set.
        ModelCaps m =
            generateModel("kling-v2-new", false, "CAPABILITIES §1 legacy table + OLD restyle");
        m.textToImage = false;
        m.resolutions.clear();
        m.resolutionsWithImage.clear();
        m.aspectRatios.clear();
        t.push_back(m);
    }
    // --- POST /v1/images/omni-image. Enum kling-image-o1 (default), kling-v3-omni (OMNI L36). ---
    {
        // §2 kling-image-o1: 1k/2k, auto, no series (CAP L41).
        t.push_back(omniModel("kling-image-o1", "CAPABILITIES §2 kling-image-o1; OMNI L36-85"));
    }
    {
        // §2 kling-v3-omni: 4k too (CAP L20-21, OMNI L42); T2I "Auto ratio is not supported"
        // (CAP L34) so a text-only request gets an explicit ratio, 16:9 as on the generation
        // endpoint (GEN L53) [I]; series with series_amount 2-9 or "auto" (OMNI L45, L83-85;
        // UPD 04/27/2026).
        ModelCaps m = omniModel("kling-v3-omni", "CAPABILITIES §2 kling-v3-omni; OMNI L36-85");
        m.resolutions = m.resolutionsWithImage = {Res::R1K, Res::R2K, Res::R4K};
        m.autoAspectTextToImage = false;
        m.defaultAspectTextToImage = AR::R16_9;
        m.series = true;
        m.seriesAmountAuto = true;
        t.push_back(m);
    }
    return t;
}

const std::vector<EndpointRules>& endpointTable() {
    static const std::vector<EndpointRules> t = buildEndpoints();
    return t;
}

const std::vector<ModelCaps>& modelTable() {
    static const std::vector<ModelCaps> t = buildModels();
    return t;
}

template <typename T>
bool contains(const std::vector<T>& v, T x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

Endpoint toEndpoint(Operation op) noexcept {
    switch (op) {
        case Operation::EXPAND:
            return Endpoint::EXPAND;
        case Operation::GENERATE:
            return Endpoint::GENERATE;
        case Operation::OMNI:
            return Endpoint::OMNI;
        case Operation::UPSCALE:
            return Endpoint::UPSCALE;
    }
    return Endpoint::EXPAND;
}

const EndpointRules& endpointRules(Endpoint e) {
    for (const EndpointRules& r : endpointTable())
        if (r.endpoint == e) return r;
    CV_Error(cv::Error::StsBadArg, "endpointRules: unknown endpoint");
}

EndpointRules endpointRules(const Profile& profile, Endpoint e) {
    EndpointRules r = endpointRules(e);
    auto it = profile.inputLimits.find(e);
    if (it != profile.inputLimits.end()) r.input = it->second;
    return r;
}

bool ModelCaps::allows(Resolution r, bool withImage) const {
    return contains(withImage ? resolutionsWithImage : resolutions, r);
}
bool ModelCaps::allows(AspectRatio a) const {
    return contains(aspectRatios, a);
}
bool ModelCaps::allows(ImageReference r) const {
    return contains(imageReferences, r);
}

const ModelCaps* findModel(Endpoint e, std::string_view name) {
    for (const ModelCaps& m : modelTable())
        if (m.endpoint == e && name == m.name) return &m;
    return nullptr;
}

std::vector<const ModelCaps*> models(Endpoint e) {
    std::vector<const ModelCaps*> out;
    for (bool current : {true, false})
        for (const ModelCaps& m : modelTable())
            if (m.endpoint == e && m.current == current) out.push_back(&m);
    return out;
}

const ModelCaps* defaultModel(Endpoint e) {
    // GEN L42 (kling-v3), OMNI L36 (kling-image-o1).
    if (e == Endpoint::GENERATE) return findModel(e, "kling-v3");
    if (e == Endpoint::OMNI) return findModel(e, "kling-image-o1");
    return nullptr;
}

}  // namespace remote
}  // namespace cvgen
