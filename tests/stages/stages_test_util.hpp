// Shared helpers of the stages tests: temporary folders, generated images, a scriptable provider.
#ifndef CVGEN_TESTS_STAGES_TEST_UTIL_HPP
#define CVGEN_TESTS_STAGES_TEST_UTIL_HPP

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cvgen/core/provider.hpp"

namespace cvgen::stages::testing {

namespace fs = std::filesystem;

/** A fresh folder under the system temp dir, removed at the end of the test. */
class TempDir {
public:
    TempDir() {
        static std::atomic<int> k{0};
        path_ = fs::temp_directory_path() /
                ("cvgen-stages-" + std::to_string(::getpid()) + "-" + std::to_string(k++));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }
    std::string str(const std::string& sub = "") const {
        return sub.empty() ? path_.string() : (path_ / sub).string();
    }

private:
    fs::path path_;
};

/** Deterministic noise image (every pixel different enough to catch any change). */
inline cv::Mat noiseImage(cv::Size size, int type, uint32_t seed) {
    cv::Mat m(size, type);
    cv::RNG rng(seed);
    if (CV_MAT_DEPTH(type) == CV_16U)
        rng.fill(m, cv::RNG::UNIFORM, 0, 65536);
    else
        rng.fill(m, cv::RNG::UNIFORM, 0, 256);
    return m;
}

inline void writePng(const fs::path& p, const cv::Mat& m) {
    fs::create_directories(p.parent_path());
    if (!cv::imwrite(p.string(), m)) throw std::runtime_error("cannot write " + p.string());
}

/** Counts files whose name contains ".tmp-" (writeFileAtomic's temporary names). */
inline int countTempFiles(const fs::path& dir) {
    int n = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.path().filename().string().find(".tmp-") != std::string::npos) ++n;
    return n;
}

/** A provider whose expand/upscale answers come from a callable; records every call. The
 * default behaviour is a plain border fill of the requested canvas (mid grey). */
class ScriptedProvider : public Provider {
public:
    struct Call {
        std::string kind;  ///< "expand", "upscale", "resume"
        std::string externalTaskId;
        std::chrono::steady_clock::time_point at;
    };
    using ExpandFn = std::function<Result<TaskOutput>(const ExpandRequest&, int callIndex)>;

    std::string providerName = "scripted";
    ExpandFn onExpand;
    std::function<Result<TaskOutput>(Operation, const std::string&)> onResume;

    std::string name() const override { return providerName; }

    Result<TaskOutput> expand(const ExpandRequest& r, const CallOptions&) override {
        const int k = record("expand", r.task.externalTaskId);
        if (onExpand) return onExpand(r, k);
        return fill(r, k);
    }
    Result<TaskOutput> generate(const GenerateRequest&, const CallOptions&) override {
        return Status(Code::UNIMPLEMENTED, "not scripted");
    }
    Result<TaskOutput> omni(const OmniRequest&, const CallOptions&) override {
        return Status(Code::UNIMPLEMENTED, "not scripted");
    }
    Result<TaskOutput> upscale(const UpscaleRequest& r, const CallOptions&) override {
        const int k = record("upscale", r.externalTaskId);
        TaskOutput out;
        cv::Mat up;
        cv::resize(r.image.mat, up, cv::Size(), r.scale, r.scale, cv::INTER_NEAREST);
        out.images.push_back({up, 0, "", ""});
        out.provider = providerName;
        out.taskId = "t" + std::to_string(k);
        return out;
    }
    Result<TaskOutput> resume(Operation op, const std::string& id, const CallOptions&) override {
        record("resume", id);
        if (onResume) return onResume(op, id);
        return Status(Code::NOT_FOUND, "no such task");
    }

    /** The default answer: the request's canvas, grey, with the input pasted. */
    static Result<TaskOutput> fill(const ExpandRequest& r, int k) {
        const cv::Mat& src = r.image.mat;
        const int l = int(std::lround(r.ratios.left * src.cols));
        const int rt = int(std::lround(r.ratios.right * src.cols));
        const int t = int(std::lround(r.ratios.up * src.rows));
        const int b = int(std::lround(r.ratios.down * src.rows));
        cv::Mat canvas(src.rows + t + b, src.cols + l + rt, src.type(), cv::Scalar::all(128));
        src.copyTo(canvas(cv::Rect(l, t, src.cols, src.rows)));
        TaskOutput out;
        out.images.push_back({canvas, 0, "", ""});
        out.provider = "scripted";
        out.taskId = "t" + std::to_string(k);
        out.externalTaskId = r.task.externalTaskId;
        return out;
    }

    std::vector<Call> calls() const {
        std::lock_guard<std::mutex> lock(mu_);
        return calls_;
    }
    int count(const std::string& kind) const {
        std::lock_guard<std::mutex> lock(mu_);
        int n = 0;
        for (const auto& c : calls_) n += c.kind == kind;
        return n;
    }

private:
    int record(const std::string& kind, const std::string& id) {
        std::lock_guard<std::mutex> lock(mu_);
        calls_.push_back({kind, id, std::chrono::steady_clock::now()});
        return int(calls_.size()) - 1;
    }
    mutable std::mutex mu_;
    std::vector<Call> calls_;
};

}  // namespace cvgen::stages::testing

#endif  // CVGEN_TESTS_STAGES_TEST_UTIL_HPP
