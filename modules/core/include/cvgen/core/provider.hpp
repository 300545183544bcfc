#ifndef CVGEN_CORE_PROVIDER_HPP
#define CVGEN_CORE_PROVIDER_HPP

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/status.hpp"

namespace cvgen {

/** @brief Output aspect ratios the providers accept (width:height). AUTO is omni-image only. */
enum class AspectRatio { R16_9, R9_16, R1_1, R4_3, R3_4, R3_2, R2_3, R21_9, AUTO };

/** @brief Output resolution class. R4K is omni-image only. */
enum class Resolution { R1K, R2K, R4K };

/** @brief How a generation request uses its reference image. */
enum class ImageReference { NONE, SUBJECT, FACE };

/** @brief Omni-image: one or n independent images, or a coherent series. */
enum class OmniResultType { SINGLE, SERIES };

/** @brief Ideogram's MagicPrompt switch. */
enum class MagicPrompt { AUTO, ON, OFF };

/** @brief The four operations every provider offers. */
enum class Operation { EXPAND, GENERATE, OMNI, UPSCALE };

/** @brief Wire spelling ("16:9", "auto", "1k", "subject", "series", "AUTO"…). */
const char* toString(AspectRatio a) noexcept;
const char* toString(Resolution r) noexcept;
const char* toString(ImageReference r) noexcept;
const char* toString(OmniResultType t) noexcept;
const char* toString(MagicPrompt m) noexcept;
const char* toString(Operation o) noexcept;  ///< "expand", "generate", "omni", "upscale"
/** @brief Parse the wire spelling; std::nullopt when it is not one of the enum's values. */
std::optional<AspectRatio> parseAspectRatio(const std::string& s) noexcept;
std::optional<Resolution> parseResolution(const std::string& s) noexcept;
std::optional<ImageReference> parseImageReference(const std::string& s) noexcept;
std::optional<OmniResultType> parseOmniResultType(const std::string& s) noexcept;
std::optional<MagicPrompt> parseMagicPrompt(const std::string& s) noexcept;
std::optional<Operation> parseOperation(const std::string& s) noexcept;
/** @brief Width/height of an aspect ratio (AUTO → 1.0). */
double aspectValue(AspectRatio a) noexcept;

/** @brief An input image, given exactly one way: a decoded Mat, encoded bytes, or a URL.
 *
 * Mats may be 8UC1/8UC3/8UC4 or 16U with the same channel counts (BGR order, as OpenCV reads).
 * Encoded bytes are sent byte-for-byte when they already satisfy the provider's rules.
 */
struct ImageSource {
    cv::Mat mat;
    std::vector<uint8_t> encoded;
    std::string url;

    static ImageSource fromMat(cv::Mat m) {
        ImageSource s;
        s.mat = std::move(m);
        return s;
    }
    static ImageSource fromBytes(std::vector<uint8_t> b) {
        ImageSource s;
        s.encoded = std::move(b);
        return s;
    }
    static ImageSource fromUrl(std::string u) {
        ImageSource s;
        s.url = std::move(u);
        return s;
    }

    /** @brief Number of ways the image is given (valid requests have exactly one). */
    int kinds() const noexcept {
        return int(!mat.empty()) + int(!encoded.empty()) + int(!url.empty());
    }
    bool empty() const noexcept { return kinds() == 0; }
};

/** @brief Kling's four expansion ratios: multiples of the original height (up/down) or width
 * (left/right). Each in [0,2]; (1+left+right)·(1+up+down) ≤ 3. */
struct ExpansionRatios {
    double up = 0, down = 0, left = 0, right = 0;
    /** @brief (1+left+right)·(1+up+down). */
    double areaFactor() const noexcept { return (1 + left + right) * (1 + up + down); }
};

/** @brief Common to every task-creating request. */
struct TaskOptions {
    int n = 1;                   ///< number of result images, [1,9]
    std::string externalTaskId;  ///< idempotency key; generated when empty
    std::string callbackUrl;     ///< the provider POSTs the task object here on each change
    bool watermark = false;      ///< also produce watermarked copies
};

/** @brief Outpaint: grow the canvas around `image` by the four ratios. */
struct ExpandRequest {
    ImageSource image;
    ExpansionRatios ratios;
    std::string prompt;  ///< optional, ≤ 2500 characters
    TaskOptions task;
};

/** @brief Text (and optionally reference image) to image. */
struct GenerateRequest {
    /** @brief The provider's model name; empty = the provider's default. What each model
     * accepts is the provider's (cvgen::remote::findModel for Kling). */
    std::string model;
    std::string prompt;          ///< required, ≤ 2500 characters
    std::string negativePrompt;  ///< ≤ 2500 characters; not allowed with a reference image
    ImageSource image;           ///< optional reference
    ImageReference imageReference = ImageReference::NONE;
    std::optional<double> imageFidelity;      ///< [0,1]; unset = not sent (the provider's default)
    std::optional<double> humanFidelity;      ///< [0,1], only with SUBJECT; unset = not sent
    Resolution resolution = Resolution::R1K;  ///< 1k or 2k
    AspectRatio aspectRatio = AspectRatio::R16_9;  ///< not AUTO
    TaskOptions task;
};

/** @brief Omni-image: prompt plus up to 10 reference images/elements. */
struct OmniRequest {
    std::string model;   ///< the provider's model name; empty = the provider's default
    std::string prompt;  ///< required, ≤ 2500; refers to inputs as <<<image_1>>>
    std::vector<ImageSource> images;
    std::vector<std::string> elementIds;
    Resolution resolution = Resolution::R1K;
    OmniResultType resultType = OmniResultType::SINGLE;
    int seriesAmount = 4;  ///< [2,9], only for SERIES and unless seriesAuto
    /** @brief series_amount "auto" (SERIES only): the model decides how many images the series
     * has; seriesAmount is then not used. A flag of its own, so no count ever means "auto". */
    bool seriesAuto = false;
    /** @brief Unset = the model's default for this request: AUTO (the first image's shape)
     * where the model accepts it, an explicit ratio otherwise. */
    std::optional<AspectRatio> aspectRatio;
    TaskOptions task;
};

/** @brief Upscale an image (Ideogram upscale, or the offline engine's Lanczos). */
struct UpscaleRequest {
    ImageSource image;
    double scale = 2.0;  ///< honoured exactly by the offline engine; Ideogram picks its own
    std::string prompt;
    int resemblance = 50;  ///< [1,100]
    int detail = 50;       ///< [1,100]
    MagicPrompt magicPrompt = MagicPrompt::AUTO;
    int numImages = 1;            ///< [1,8]
    std::optional<int64_t> seed;  ///< [0, 2147483647]
    std::string externalTaskId;   ///< used by task-envelope upscale routes
};

/** @brief Checks a request against the documented ranges, enums and lengths.
 * @return INVALID_ARGUMENT naming the first bad field (e.g. "n: must be in [1,9], got 12"), or OK.
 */
Status validate(const ExpandRequest& r);
Status validate(const GenerateRequest& r);
Status validate(const OmniRequest& r);
Status validate(const UpscaleRequest& r);

/** @brief One result image. */
struct ResultImage {
    cv::Mat image;  ///< decoded 8-bit BGR (or BGRA when the result had alpha)
    int index = 0;
    std::string url;           ///< where the provider served it (empty for the offline engine)
    std::string watermarkUrl;  ///< when watermarking was asked for
};

/** @brief Wall-clock time spent in each phase of one task. */
struct TaskTimings {
    std::chrono::milliseconds submit{0};
    std::chrono::milliseconds wait{0};
    std::chrono::milliseconds download{0};
    std::chrono::milliseconds total{0};
};

/** @brief Everything a finished task produced. */
struct TaskOutput {
    std::vector<ResultImage> images;
    std::string provider;  ///< profile name: "local", "kling", "anyapi", …
    /** @brief The model that served a generate/omni request (the provider's default when the
     * request named none); empty where no model applies (expand, upscale, the offline engine)
     * or is not known (a resumed task). */
    std::string model;
    std::string taskId;
    std::string externalTaskId;
    std::string requestId;
    std::string taskStatus;    ///< the provider's final status ("succeed")
    double unitsDeducted = 0;  ///< final_unit_deduction when the provider reports it
    bool synthetic = false;    ///< true when no generative model was involved (offline engine)
    std::string note;          ///< e.g. why the result is synthetic
    TaskTimings timings;
};

/** @brief Per-call controls. */
struct CallOptions {
    /** @brief Give up waiting after this long (0 = the provider's default). A remote task that
     * outlives the deadline is not lost: DEADLINE_EXCEEDED carries its ids for a later resume. */
    std::chrono::milliseconds deadline{0};
    /** @brief Set to true from any thread to stop waiting (returns CANCELLED). */
    std::shared_ptr<std::atomic<bool>> cancel;
    /** @brief Called at most once, on a library thread with no internal lock held, when the
     * provider reports the task finished, before its result is downloaded and decoded: from then
     * on the task no longer counts against the account's concurrent tasks, so a caller that
     * rations provider slots (the batch runner) can start the next task while this result is
     * still being fetched. Providers without remote tasks never call it. */
    std::function<void()> onRemoteDone;
};

/** @brief Receives the outcome of an asynchronous provider call, once. Called on a library thread
 * with no internal lock held; it should return quickly (post heavy work elsewhere). */
using Completion = std::function<void(Result<TaskOutput>)>;

class WorkerPool;

/** @brief Runs `call` on `pool` and hands its result to `done`; an exception thrown by it (a bug,
 * or an engine limit surfacing as cv::Exception) becomes INTERNAL ("unexpected exception: …")
 * for that call instead of ending the process. For Provider implementations' *Async methods. */
void runProviderCall(WorkerPool& pool, std::function<Result<TaskOutput>()> call, Completion done);

/** @brief Geometric limits of ONE expand call of a provider: each side's expansion ratio at most
 * `maxSideRatio`, and the area factor (1+left+right)·(1+up+down) at most `maxArea`.
 *
 * The defaults are Kling's documented limits (2 and 3), which every remote provider shares.
 * Planners (cvgen::PlannerParams::maxSideRatio / maxArea) take these to decide how many passes
 * a target needs; a provider without such limits (the offline engine) reports large values so a
 * target is reached in one pass. */
struct ExpandLimits {
    double maxSideRatio = 2.0;  ///< per-side ratio limit of one call (> 0)
    double maxArea = 3.0;       ///< area-factor limit of one call (> 1)
};

/** @brief One interface over the offline engine and every remote provider, so a pipeline
 * switches provider by changing one parameter.
 *
 * Remote outcomes come back as values; a request that fails validate() is INVALID_ARGUMENT
 * before any work. Implementations are safe to call from many threads at once.
 * @note Remote implementations touch the network.
 */
class Provider {
public:
    virtual ~Provider() = default;
    /** @brief The profile name ("local", "kling", "anyapi", "cometapi", "ideogram", …). */
    virtual std::string name() const = 0;
    virtual Result<TaskOutput> expand(const ExpandRequest& req, const CallOptions& opt = {}) = 0;
    virtual Result<TaskOutput> generate(const GenerateRequest& req,
                                        const CallOptions& opt = {}) = 0;
    virtual Result<TaskOutput> omni(const OmniRequest& req, const CallOptions& opt = {}) = 0;
    virtual Result<TaskOutput> upscale(const UpscaleRequest& req, const CallOptions& opt = {}) = 0;

    /** @brief Collects a task created earlier (by this or another process) by its task id or
     * external task id: waits for it and downloads its results.
     *
     * This is how a batch resumes after a crash without creating a task twice: NOT_FOUND means
     * no such task exists, so creating it is safe. Providers without remote tasks (the offline
     * engine) answer UNIMPLEMENTED.
     */
    virtual Result<TaskOutput> resume(Operation op, const std::string& taskOrExternalId,
                                      const CallOptions& opt = {}) {
        (void)op;
        (void)taskOrExternalId;
        (void)opt;
        return Status(Code::UNIMPLEMENTED, name() + " has no remote tasks to resume");
    }

    /** @brief The limits one expand() call accepts; plan passes within them.
     *
     * Default: Kling's documented limits (ExpandLimits{} = side ratio 2, area factor 3), right
     * for every remote provider. A provider that accepts more (the offline engine) overrides it,
     * so planners make fewer, larger passes for it.
     */
    virtual ExpandLimits expandLimits() const { return {}; }

    /** @brief The asynchronous calls: return at once; `done` receives the outcome exactly once
     * (also for INVALID_ARGUMENT and CANCELLED).
     *
     * The remote providers implement them natively (one event loop for every task in flight, no
     * thread per call; the synchronous calls above are a facade over these). The default runs
     * the synchronous call on WorkerPool::blocking(), so any Provider can be driven this way.
     */
    virtual void expandAsync(const ExpandRequest& req, const CallOptions& opt, Completion done);
    virtual void generateAsync(const GenerateRequest& req, const CallOptions& opt, Completion done);
    virtual void omniAsync(const OmniRequest& req, const CallOptions& opt, Completion done);
    virtual void upscaleAsync(const UpscaleRequest& req, const CallOptions& opt, Completion done);
    virtual void resumeAsync(Operation op, const std::string& taskOrExternalId,
                             const CallOptions& opt, Completion done);
};

}  // namespace cvgen

#endif  // CVGEN_CORE_PROVIDER_HPP
