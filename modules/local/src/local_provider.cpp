#include "cvgen/local/local_provider.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <string>
#include <utility>

#include "cvgen/core/codec.hpp"
#include "cvgen/core/worker_pool.hpp"
#include "cvgen/local/synthesize.hpp"
#include "cvgen/local/upscale.hpp"

namespace cvgen::local {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kExpandNote =
    "offline engine: the new area is a classical backdrop (blurred/mirrored/replicated edge of the "
    "photo), not generated content; the prompt is ignored";
constexpr const char* kPatchNote =
    "offline engine: the new area is patches of the photo copied outward (PatchMatch), fading into "
    "a blurred backdrop far from it, not generated content; the prompt is ignored";
constexpr const char* kUpscaleNote =
    "offline engine: Lanczos resampling, no generative detail; the prompt is ignored";
constexpr const char* kSyntheticNote =
    "offline engine: no generative model ran; this is a deterministic synthetic placeholder "
    "(gradient and pattern seeded by the prompt) of the requested size";

// Decoded pixels of a source. Bytes that do not decode are the caller's input problem.
Result<cv::Mat> decodeSource(const char* field, const ImageSource& src) {
    if (!src.url.empty())
        return invalidArgument(std::string(field) + ": the offline engine cannot fetch URLs");
    cv::Mat m;
    if (!src.mat.empty()) {
        m = src.mat;
    } else {
        if (src.encoded.empty()) return invalidArgument(std::string(field) + ": is required");
        // Untrusted bytes: core's safe decoder (pixel budget before decoding, EXIF orientation).
        Result<cv::Mat> decoded = decodeImage(src.encoded);
        if (!decoded.ok())
            return decoded.status().withContext(std::string(field) + ": cannot decode");
        m = std::move(decoded).value();
    }
    if ((m.depth() != CV_8U && m.depth() != CV_16U) ||
        (m.channels() != 1 && m.channels() != 3 && m.channels() != 4) || m.dims != 2)
        return invalidArgument(std::string(field) +
                               ": expected an 8- or 16-bit image with 1, 3 or 4 channels");
    return m;
}

Status checkCancel(const CallOptions& opt) {
    if (opt.cancel && opt.cancel->load()) return cancelled("cancelled before the task ran");
    return Status();
}

// Seed of result i: different per index, reproducible for the same base seed.
uint64_t variantSeed(uint64_t base, int i) {
    uint64_t z = base + 0x9E3779B97F4A7C15ull * uint64_t(i + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

template <typename Call>
void onCpu(Call call, Completion done) {
    runProviderCall(WorkerPool::cpu(), std::move(call), std::move(done));
}

class LocalProviderImpl final : public LocalProvider {
public:
    explicit LocalProviderImpl(const Params& p) : params_(p) {}

    std::string name() const override { return "local"; }
    Params params() const override { return params_; }

    ExpandLimits expandLimits() const override {
        if (params_.enforceExpandLimits) return ExpandLimits();
        ExpandLimits l;
        l.maxSideRatio = kMaxLocalExpandRatio;
        l.maxArea = 1e9;  // above (1 + 2·kMaxLocalExpandRatio)²: never the binding limit
        return l;
    }

    // The engine is CPU work: its asynchronous calls run on the bounded CPU pool (not the
    // blocking pool the default uses), so a batch of any size uses about one thread per core.
    void expandAsync(const ExpandRequest& req, const CallOptions& opt, Completion done) override {
        onCpu([this, req, opt] { return expand(req, opt); }, std::move(done));
    }
    void generateAsync(const GenerateRequest& req, const CallOptions& opt,
                       Completion done) override {
        onCpu([this, req, opt] { return generate(req, opt); }, std::move(done));
    }
    void omniAsync(const OmniRequest& req, const CallOptions& opt, Completion done) override {
        onCpu([this, req, opt] { return omni(req, opt); }, std::move(done));
    }
    void upscaleAsync(const UpscaleRequest& req, const CallOptions& opt, Completion done) override {
        onCpu([this, req, opt] { return upscale(req, opt); }, std::move(done));
    }

    Result<TaskOutput> expand(const ExpandRequest& req, const CallOptions& opt) override {
        const auto t0 = Clock::now();
        if (params_.enforceExpandLimits) {
            CVGEN_RETURN_IF_ERROR(validate(req));
        } else {
            ExpandRequest rest = req;  // everything but the remote geometric limits
            rest.ratios = ExpansionRatios();
            CVGEN_RETURN_IF_ERROR(validate(rest));
            const std::pair<const char*, double> sides[] = {{"up", req.ratios.up},
                                                            {"down", req.ratios.down},
                                                            {"left", req.ratios.left},
                                                            {"right", req.ratios.right}};
            for (const auto& [field, v] : sides)
                if (!std::isfinite(v) || v < 0 || v > kMaxLocalExpandRatio)
                    return invalidArgument(std::string("expansion ratios: ") + field +
                                           " must be in [0,10000], got " + std::to_string(v));
        }
        CVGEN_RETURN_IF_ERROR(checkCancel(opt));
        Result<cv::Mat> src = decodeSource("image", req.image);
        if (!src.ok()) return src.status();
        const cv::Mat& img = src.value();
        const Margins m = marginsFromRatios(img.size(), req.ratios);
        const int64_t W = int64_t(img.cols) + m.left + m.right;
        const int64_t H = int64_t(img.rows) + m.top + m.bottom;
        if (W > 65535 || H > 65535 || W * H > (int64_t(1) << 29))
            return invalidArgument("image: the expanded canvas " + std::to_string(W) + "x" +
                                   std::to_string(H) + " is too large for the offline engine");
        const cv::Mat canvas = expandCanvas(img, m, params_.mode, params_.seed);
        const bool patch = params_.mode == ExpandMode::PATCH || params_.mode == ExpandMode::AUTO;
        TaskOutput out = start(req.task.externalTaskId, false, patch ? kPatchNote : kExpandNote);
        for (int i = 0; i < req.task.n; ++i) add(out, i == 0 ? canvas : canvas.clone(), i);
        return finish(std::move(out), t0);
    }

    Result<TaskOutput> generate(const GenerateRequest& req, const CallOptions& opt) override {
        const auto t0 = Clock::now();
        CVGEN_RETURN_IF_ERROR(validate(req));
        CVGEN_RETURN_IF_ERROR(checkCancel(opt));
        if (!req.image.empty()) {
            // The reference is not used, but an unusable one is still the caller's error.
            Result<cv::Mat> ref = decodeSource("image", req.image);
            if (!ref.ok()) return ref.status();
        }
        const cv::Size size = generationSize(req.aspectRatio, req.resolution);
        return synthesize(req.prompt, size, req.task.n, req.task.externalTaskId, opt, t0);
    }

    Result<TaskOutput> omni(const OmniRequest& req, const CallOptions& opt) override {
        const auto t0 = Clock::now();
        CVGEN_RETURN_IF_ERROR(validate(req));
        CVGEN_RETURN_IF_ERROR(checkCancel(opt));
        double ratio = 1.0;
        for (size_t i = 0; i < req.images.size(); ++i) {
            Result<cv::Mat> img =
                decodeSource(("images[" + std::to_string(i) + "]").c_str(), req.images[i]);
            if (!img.ok()) return img.status();
            if (i == 0) ratio = double(img->cols) / double(img->rows);
        }
        // Unset or AUTO: the first image's shape (1:1 without one).
        const AspectRatio aspect = req.aspectRatio.value_or(AspectRatio::AUTO);
        const cv::Size size = aspect == AspectRatio::AUTO ? generationSize(ratio, req.resolution)
                                                          : generationSize(aspect, req.resolution);
        // series_amount "auto": the model decides; offline, the documented default amount, 4.
        const int series = req.seriesAuto ? OmniRequest().seriesAmount : req.seriesAmount;
        const int count = req.resultType == OmniResultType::SERIES ? series : req.task.n;
        return synthesize(req.prompt, size, count, req.task.externalTaskId, opt, t0);
    }

    Result<TaskOutput> upscale(const UpscaleRequest& req, const CallOptions& opt) override {
        const auto t0 = Clock::now();
        CVGEN_RETURN_IF_ERROR(validate(req));
        CVGEN_RETURN_IF_ERROR(checkCancel(opt));
        if (!std::isfinite(req.scale) || req.scale <= 0 || req.scale > 16)
            return invalidArgument("scale: the offline engine needs a scale in (0,16], got " +
                                   std::to_string(req.scale));
        Result<cv::Mat> src = decodeSource("image", req.image);
        if (!src.ok()) return src.status();
        const cv::Mat& img = src.value();
        const double w = std::round(img.cols * req.scale), h = std::round(img.rows * req.scale);
        if (w > 65535 || h > 65535 || w * h > double(int64_t(1) << 29))
            return invalidArgument(
                "scale: the upscaled image would be too large for the offline "
                "engine");
        const cv::Mat up = upscaleImage(img, req.scale, params_.sharpenUpscale);
        TaskOutput out = start(req.externalTaskId, false, kUpscaleNote);
        for (int i = 0; i < req.numImages; ++i) add(out, i == 0 ? up : up.clone(), i);
        return finish(std::move(out), t0);
    }

private:
    Result<TaskOutput> synthesize(const std::string& prompt, cv::Size size, int count,
                                  const std::string& externalId, const CallOptions& opt,
                                  Clock::time_point t0) {
        TaskOutput out = start(externalId, true, kSyntheticNote);
        for (int i = 0; i < count; ++i) {
            CVGEN_RETURN_IF_ERROR(checkCancel(opt));
            add(out, synthesizeImage(prompt, size, variantSeed(params_.seed, i)), i);
        }
        return finish(std::move(out), t0);
    }

    TaskOutput start(const std::string& externalId, bool synthetic, const char* note) {
        TaskOutput out;
        out.provider = "local";
        out.taskId = "local-" + std::to_string(counter_.fetch_add(1) + 1);
        out.externalTaskId = externalId;
        out.taskStatus = "succeed";
        out.synthetic = synthetic;
        out.note = note;
        return out;
    }

    static void add(TaskOutput& out, cv::Mat img, int index) {
        ResultImage r;
        r.image = std::move(img);
        r.index = index;
        out.images.push_back(std::move(r));
    }

    static Result<TaskOutput> finish(TaskOutput out, Clock::time_point t0) {
        const auto total = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
        out.timings.submit = total;  // the work happens synchronously at submission
        out.timings.total = total;
        return out;
    }

    const Params params_;
    std::atomic<uint64_t> counter_{0};
};

}  // namespace

cv::Ptr<LocalProvider> LocalProvider::create(const Params& params) {
    return cv::makePtr<LocalProviderImpl>(params);
}

}  // namespace cvgen::local
