// Internal: the task state machine (submitted → processing → succeed | failed), the concurrency
// quota, result storage with expiry, and callback delivery.
#ifndef CVGEN_EMULATOR_SRC_TASKS_HPP
#define CVGEN_EMULATOR_SRC_TASKS_HPP

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/core.hpp>

#include "cvgen/core/status.hpp"

namespace cvgen::emulator::detail {

enum class TaskKind { GENERATION, EXPAND, OMNI, UPSCALE };
enum class TaskState { SUBMITTED, PROCESSING, SUCCEED, FAILED };
enum class TaskFate { NORMAL, FAIL, STUCK };

const char* toString(TaskState s) noexcept;

/** @brief A result file: the PNG, its watermarked copy (empty when none was asked), its size. */
struct ImageFile {
    std::vector<uint8_t> png;
    std::vector<uint8_t> pngWatermarked;
    cv::Size size;
};

/** @brief Produces a task's result files when it finishes (runs on the task clock thread);
 * `watermark`: also make the watermarked copies. */
using Renderer = std::function<Result<std::vector<ImageFile>>(bool watermark)>;

/** @brief The full renderer's files: each image as PNG and, with `watermark`, a copy with a
 * white band and "cvgen emulator" across the bottom. */
Result<std::vector<ImageFile>> encodeImages(const Result<std::vector<cv::Mat>>& images,
                                            bool watermark);

/** @brief The fast renderer's files (`--render fast`): `count` PNGs of `size` and `type` made by
 * fastPatternPng() (~1 ms of CPU per megapixel), or by OpenCV for a type it does not write. */
Result<std::vector<ImageFile>> fastImages(cv::Size size, int type, int count, bool watermark);

/** @brief What a create hands to the store. */
struct TaskSpec {
    TaskKind kind = TaskKind::GENERATION;
    std::string account;  ///< credential identity (never logged)
    std::string externalId;
    std::string callbackUrl;
    int slots = 1;
    bool watermark = false;
    bool watermarkGiven = false;           ///< echo watermark_info only when the request had it
    std::string resultType;                ///< omni: "single" | "series"; empty otherwise
    std::string resultBase;                ///< "http://host:port" used in result URLs
    bool nullResultBeforeSuccess = false;  ///< "task_result": null instead of {} until success
    Renderer render;
    TaskFate fate = TaskFate::NORMAL;
};

struct StoreParams {
    std::chrono::milliseconds latency{2000};
    std::chrono::milliseconds latencySd{0};
    std::chrono::seconds resultTtl{3600};
    int concurrencyLimit = 0;
    bool queue = false;  ///< over the limit: wait in `submitted` (FIFO per account), not 1303
    std::string webhookSecret;
    uint64_t seed = 1;
};

/** @brief When a task changes state, in milliseconds after its creation. */
struct TaskTimes {
    int64_t processingMs = 0;
    int64_t endMs = 0;
};

/** @brief Draws task times: exactly `mean` (processing at half) when sd is 0, else a lognormal
 * with that mean and standard deviation (processing uniform in (0, end)). Reproducible: the
 * sequence depends on the seed alone (own Box-Muller over mt19937_64, no std distribution). */
class LatencyModel {
public:
    LatencyModel(std::chrono::milliseconds mean, std::chrono::milliseconds sd, uint64_t seed);
    TaskTimes draw();

private:
    double uniform();  // in (0, 1)
    double mean_, sd_, mu_ = 0, sigma_ = 0;
    std::mt19937_64 rng_;
};

/** @brief Outcome of a result download lookup. */
enum class ResultLookup { FOUND, EXPIRED, MISSING };

class TaskStore {
public:
    explicit TaskStore(StoreParams p);
    ~TaskStore();
    TaskStore(const TaskStore&) = delete;
    TaskStore& operator=(const TaskStore&) = delete;

    void start();
    void stop();

    /** @brief A fresh id (22 characters of [A-Za-z0-9], from the seeded generator). */
    std::string newId();

    enum class CreateError { NONE, DUPLICATE, CONCURRENCY };
    /** @brief Creates a task; on success returns its task object JSON. */
    CreateError create(TaskSpec spec, std::string* taskJson);

    /** @brief The task object JSON of a task of `kind` owned by `account`, by task id or
     * external id. */
    std::optional<std::string> find(TaskKind kind, const std::string& account,
                                    const std::string& idOrExternal) const;
    /** @brief Task object JSONs of `kind` owned by `account`, newest first, one page. */
    std::vector<std::string> list(TaskKind kind, const std::string& account, int pageNum,
                                  int pageSize) const;

    /** @brief Stores images served under `id` right away (synchronous upscale); returns URLs. */
    std::vector<std::string> storeImmediate(const std::string& id, const std::string& base,
                                            const std::vector<std::vector<uint8_t>>& pngs);

    /** @brief Looks a result file ("<index>.png" or "<index>_wm.png") of a task up. */
    ResultLookup result(const std::string& taskId, const std::string& file,
                        std::vector<uint8_t>* bytes);

    /** @brief Counts a create that produced no task (synchronous upscale). */
    void countCreate(const std::string& externalId);

    /** @brief Writes the store's part of the stats as JSON members (no braces). */
    std::string statsMembers() const;

private:
    struct Task {
        std::string id;
        TaskSpec spec;
        TaskState state = TaskState::SUBMITTED;
        std::string statusMsg;
        int64_t createdMs = 0;
        int64_t startedMs = 0;  // when it took its slots (createdMs unless it was queued)
        int64_t updatedMs = 0;
        std::vector<std::string> urls, wmUrls;
        bool holdsSlots = true;
        uint64_t seq = 0;
        TaskTimes times;
    };
    struct Results {
        std::vector<ImageFile> images;
        std::chrono::steady_clock::time_point expires;
        bool expired = false;
    };
    struct Event {
        std::string taskId;
        int step;  // 0 submitted callback, 1 processing, 2 final
    };
    struct Delivery {
        std::string url;
        std::string body;
    };

    std::string taskJsonLocked(const Task& t) const;
    int slotsInUseLocked(const std::string& account) const;
    void scheduleLocked(Task& t, int64_t startMs);
    void promoteLocked(const std::string& account, int64_t notBeforeMs);
    void sweepExpiredLocked();
    void clockLoop();
    void deliveryLoop();
    void finish(const std::string& taskId);
    void enqueueCallbackLocked(const Task& t);
    void deliver(const Delivery& d);

    StoreParams p_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    bool started_ = false;
    std::mt19937_64 rng_;
    LatencyModel latency_;  // guarded by mu_
    std::map<std::string, std::unique_ptr<Task>> tasks_;
    std::map<std::string, Results> results_;
    std::map<std::string, std::deque<std::string>> queued_;  // account -> waiting task ids
    std::multimap<std::chrono::steady_clock::time_point, Event> events_;
    uint64_t seq_ = 0;
    int64_t creates_ = 0;
    int64_t finished_ = 0, finishedMs_ = 0;  // ended tasks and Σ of their run times
    std::map<std::string, int64_t> createsByExternal_;
    std::thread clock_;

    std::mutex dmu_;
    std::condition_variable dcv_;
    std::deque<Delivery> deliveries_;
    bool dstopping_ = false;  // guarded by dmu_ (lock order: mu_ before dmu_)
    std::thread delivery_;
    int64_t callbacksSent_ = 0, callbacksFailed_ = 0, callbacksSkipped_ = 0;
};

/** @brief Unix time now in milliseconds. */
int64_t nowMs();

/** @brief True when `url` is http(s) to 127.0.0.1, localhost or [::1]; fills its parts. */
bool parseLoopbackUrl(const std::string& url, std::string* scheme, std::string* host, int* port,
                      std::string* path);

/** @brief Blocks SIGPIPE in the calling thread (threads it creates inherit the mask): a peer
 * that went away must fail a write with EPIPE, not kill the process. */
void blockSigpipe();

}  // namespace cvgen::emulator::detail

#endif  // CVGEN_EMULATOR_SRC_TASKS_HPP
