#include "cvgen/core/provider.hpp"

#include "cvgen/core/worker_pool.hpp"

#include <array>
#include <cmath>
#include <sstream>
#include <utility>

namespace cvgen {
namespace {

template <typename E, size_t N>
std::optional<E> parseFrom(const std::array<std::pair<E, const char*>, N>& table,
                           const std::string& s) noexcept {
    for (const auto& [e, name] : table)
        if (s == name) return e;
    return std::nullopt;
}

template <typename E, size_t N>
const char* nameFrom(const std::array<std::pair<E, const char*>, N>& table, E e) noexcept {
    for (const auto& [v, name] : table)
        if (v == e) return name;
    return "?";
}

constexpr std::array<std::pair<AspectRatio, const char*>, 9> kAspect = {{
    {AspectRatio::R16_9, "16:9"},
    {AspectRatio::R9_16, "9:16"},
    {AspectRatio::R1_1, "1:1"},
    {AspectRatio::R4_3, "4:3"},
    {AspectRatio::R3_4, "3:4"},
    {AspectRatio::R3_2, "3:2"},
    {AspectRatio::R2_3, "2:3"},
    {AspectRatio::R21_9, "21:9"},
    {AspectRatio::AUTO, "auto"},
}};
constexpr std::array<std::pair<Resolution, const char*>, 3> kResolution = {{
    {Resolution::R1K, "1k"},
    {Resolution::R2K, "2k"},
    {Resolution::R4K, "4k"},
}};
constexpr std::array<std::pair<ImageReference, const char*>, 3> kReference = {{
    {ImageReference::NONE, ""},
    {ImageReference::SUBJECT, "subject"},
    {ImageReference::FACE, "face"},
}};
constexpr std::array<std::pair<OmniResultType, const char*>, 2> kResultType = {{
    {OmniResultType::SINGLE, "single"},
    {OmniResultType::SERIES, "series"},
}};
constexpr std::array<std::pair<MagicPrompt, const char*>, 3> kMagic = {{
    {MagicPrompt::AUTO, "AUTO"},
    {MagicPrompt::ON, "ON"},
    {MagicPrompt::OFF, "OFF"},
}};

constexpr std::array<std::pair<Operation, const char*>, 4> kOperation = {{
    {Operation::EXPAND, "expand"},
    {Operation::GENERATE, "generate"},
    {Operation::OMNI, "omni"},
    {Operation::UPSCALE, "upscale"},
}};

constexpr size_t kMaxPrompt = 2500;

Status badField(const std::string& field, const std::string& what) {
    return invalidArgument(field + ": " + what);
}

template <typename T>
std::string str(T v) {
    std::ostringstream os;
    os << v;
    return os.str();
}

Status checkRange(const char* field, double v, double lo, double hi) {
    if (!std::isfinite(v) || v < lo || v > hi)
        return badField(field, "must be in [" + str(lo) + "," + str(hi) + "], got " + str(v));
    return Status();
}

Status checkPrompt(const char* field, const std::string& s, bool required) {
    if (required && s.empty()) return badField(field, "is required");
    // The providers count characters, not bytes: count UTF-8 code points.
    size_t chars = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++chars;
    if (chars > kMaxPrompt)
        return badField(field, "at most " + str(kMaxPrompt) + " characters, got " + str(chars));
    return Status();
}

Status checkImage(const char* field, const ImageSource& img, bool required) {
    if (img.kinds() > 1) return badField(field, "give the image one way only (Mat, bytes or URL)");
    if (required && img.empty()) return badField(field, "is required");
    if (!img.url.empty() && img.url.rfind("http://", 0) != 0 && img.url.rfind("https://", 0) != 0)
        return badField(field, "URL must start with http:// or https://");
    return Status();
}

Status checkTask(const TaskOptions& t) {
    CVGEN_RETURN_IF_ERROR(checkRange("n", t.n, 1, 9));
    if (t.externalTaskId.size() > 256)
        return badField("external_task_id", "at most 256 characters");
    return Status();
}

}  // namespace

const char* toString(AspectRatio a) noexcept {
    return nameFrom(kAspect, a);
}
const char* toString(Resolution r) noexcept {
    return nameFrom(kResolution, r);
}
const char* toString(ImageReference r) noexcept {
    return nameFrom(kReference, r);
}
const char* toString(OmniResultType t) noexcept {
    return nameFrom(kResultType, t);
}
const char* toString(MagicPrompt m) noexcept {
    return nameFrom(kMagic, m);
}
const char* toString(Operation o) noexcept {
    return nameFrom(kOperation, o);
}
std::optional<Operation> parseOperation(const std::string& s) noexcept {
    return parseFrom(kOperation, s);
}
std::optional<AspectRatio> parseAspectRatio(const std::string& s) noexcept {
    return parseFrom(kAspect, s);
}
std::optional<Resolution> parseResolution(const std::string& s) noexcept {
    return parseFrom(kResolution, s);
}
std::optional<ImageReference> parseImageReference(const std::string& s) noexcept {
    return parseFrom(kReference, s);
}
std::optional<OmniResultType> parseOmniResultType(const std::string& s) noexcept {
    return parseFrom(kResultType, s);
}
std::optional<MagicPrompt> parseMagicPrompt(const std::string& s) noexcept {
    return parseFrom(kMagic, s);
}

double aspectValue(AspectRatio a) noexcept {
    switch (a) {
        case AspectRatio::R16_9:
            return 16.0 / 9.0;
        case AspectRatio::R9_16:
            return 9.0 / 16.0;
        case AspectRatio::R1_1:
            return 1.0;
        case AspectRatio::R4_3:
            return 4.0 / 3.0;
        case AspectRatio::R3_4:
            return 3.0 / 4.0;
        case AspectRatio::R3_2:
            return 3.0 / 2.0;
        case AspectRatio::R2_3:
            return 2.0 / 3.0;
        case AspectRatio::R21_9:
            return 21.0 / 9.0;
        case AspectRatio::AUTO:
            return 1.0;
    }
    return 1.0;
}

Status validate(const ExpandRequest& r) {
    CVGEN_RETURN_IF_ERROR(checkImage("image", r.image, true));
    CVGEN_RETURN_IF_ERROR(checkRange("up_expansion_ratio", r.ratios.up, 0, 2));
    CVGEN_RETURN_IF_ERROR(checkRange("down_expansion_ratio", r.ratios.down, 0, 2));
    CVGEN_RETURN_IF_ERROR(checkRange("left_expansion_ratio", r.ratios.left, 0, 2));
    CVGEN_RETURN_IF_ERROR(checkRange("right_expansion_ratio", r.ratios.right, 0, 2));
    // A tiny tolerance: ratios computed from pixel margins may land a rounding step above 3.
    if (r.ratios.areaFactor() > 3.0 + 1e-9)
        return badField("expansion ratios", "(1+left+right)*(1+up+down) must be <= 3, got " +
                                                str(r.ratios.areaFactor()));
    CVGEN_RETURN_IF_ERROR(checkPrompt("prompt", r.prompt, false));
    return checkTask(r.task);
}

// What a particular model accepts (names, references, fidelity, ratios, a negative prompt or an
// image_reference with or without an image) is the provider's knowledge
// (cvgen::remote::checkCapabilities, whose messages name the model); here only what holds for
// every model.
Status validate(const GenerateRequest& r) {
    CVGEN_RETURN_IF_ERROR(checkPrompt("prompt", r.prompt, true));
    CVGEN_RETURN_IF_ERROR(checkPrompt("negative_prompt", r.negativePrompt, false));
    CVGEN_RETURN_IF_ERROR(checkImage("image", r.image, false));
    if (r.imageFidelity)
        CVGEN_RETURN_IF_ERROR(checkRange("image_fidelity", *r.imageFidelity, 0, 1));
    if (r.humanFidelity)
        CVGEN_RETURN_IF_ERROR(checkRange("human_fidelity", *r.humanFidelity, 0, 1));
    if (r.resolution == Resolution::R4K)
        return badField("resolution", "must be 1k or 2k for generation");
    if (r.aspectRatio == AspectRatio::AUTO)
        return badField("aspect_ratio", "'auto' is only for omni-image");
    return checkTask(r.task);
}

Status validate(const OmniRequest& r) {
    CVGEN_RETURN_IF_ERROR(checkPrompt("prompt", r.prompt, true));
    for (size_t i = 0; i < r.images.size(); ++i) {
        const std::string field = "image_list[" + str(i) + "].image";
        CVGEN_RETURN_IF_ERROR(checkImage(field.c_str(), r.images[i], true));
    }
    for (size_t i = 0; i < r.elementIds.size(); ++i)
        if (r.elementIds[i].empty())
            return badField("element_list[" + str(i) + "].element_id", "is empty");
    if (r.images.size() + r.elementIds.size() > 10)
        return badField("image_list", "images + elements must be at most 10");
    if (r.resultType == OmniResultType::SERIES && !r.seriesAuto &&
        (r.seriesAmount < 2 || r.seriesAmount > 9))
        return badField("series_amount", "must be in [2,9] or auto, got " + str(r.seriesAmount));
    return checkTask(r.task);
}

Status validate(const UpscaleRequest& r) {
    CVGEN_RETURN_IF_ERROR(checkImage("image_file", r.image, true));
    if (!(std::isfinite(r.scale) && r.scale > 0 && r.scale <= 16))
        return badField("scale", "must be in (0,16], got " + str(r.scale));
    CVGEN_RETURN_IF_ERROR(checkRange("resemblance", r.resemblance, 1, 100));
    CVGEN_RETURN_IF_ERROR(checkRange("detail", r.detail, 1, 100));
    CVGEN_RETURN_IF_ERROR(checkRange("num_images", r.numImages, 1, 8));
    if (r.seed) CVGEN_RETURN_IF_ERROR(checkRange("seed", double(*r.seed), 0, 2147483647.0));
    return checkPrompt("prompt", r.prompt, false);
}

// The default asynchronous calls: the synchronous call on the blocking pool (a Provider that
// blocks then never holds a CPU worker). An exception from it (a bug, or an engine limit
// surfacing as cv::Exception) becomes INTERNAL for that call instead of ending the process.
void runProviderCall(WorkerPool& pool, std::function<Result<TaskOutput>()> call, Completion done) {
    pool.post([call = std::move(call), done = std::move(done)] {
        Result<TaskOutput> r = internalError("not run");
        try {
            r = call();
        } catch (const std::exception& e) {
            r = internalError(std::string("unexpected exception: ") + e.what());
        }
        done(std::move(r));
    });
}

namespace {
template <typename Call>
void runBlocking(Call call, Completion done) {
    runProviderCall(WorkerPool::blocking(), std::move(call), std::move(done));
}
}  // namespace

void Provider::expandAsync(const ExpandRequest& req, const CallOptions& opt, Completion done) {
    runBlocking([this, req, opt] { return expand(req, opt); }, std::move(done));
}
void Provider::generateAsync(const GenerateRequest& req, const CallOptions& opt, Completion done) {
    runBlocking([this, req, opt] { return generate(req, opt); }, std::move(done));
}
void Provider::omniAsync(const OmniRequest& req, const CallOptions& opt, Completion done) {
    runBlocking([this, req, opt] { return omni(req, opt); }, std::move(done));
}
void Provider::upscaleAsync(const UpscaleRequest& req, const CallOptions& opt, Completion done) {
    runBlocking([this, req, opt] { return upscale(req, opt); }, std::move(done));
}
void Provider::resumeAsync(Operation op, const std::string& id, const CallOptions& opt,
                           Completion done) {
    runBlocking([this, op, id, opt] { return resume(op, id, opt); }, std::move(done));
}

}  // namespace cvgen
