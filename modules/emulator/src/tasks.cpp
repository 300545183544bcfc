#include "tasks.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cmath>

#include <httplib.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <opencv2/imgproc.hpp>

#include "cvgen/core/codec.hpp"
#include "cvgen/emulator/server.hpp"
#include "fast_png.hpp"

namespace cvgen::emulator::detail {

using Clock = std::chrono::steady_clock;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

const char* toString(TaskState s) noexcept {
    switch (s) {
        case TaskState::SUBMITTED:
            return "submitted";
        case TaskState::PROCESSING:
            return "processing";
        case TaskState::SUCCEED:
            return "succeed";
        case TaskState::FAILED:
            return "failed";
    }
    return "?";
}

int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void blockSigpipe() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

bool parseLoopbackUrl(const std::string& url, std::string* scheme, std::string* host, int* port,
                      std::string* path) {
    const size_t sep = url.find("://");
    if (sep == std::string::npos) return false;
    *scheme = url.substr(0, sep);
    if (*scheme != "http" && *scheme != "https") return false;
    const size_t hostStart = sep + 3;
    const size_t slash = url.find('/', hostStart);
    const std::string hostPort =
        url.substr(hostStart, slash == std::string::npos ? std::string::npos : slash - hostStart);
    *path = slash == std::string::npos ? "/" : url.substr(slash);
    std::string h = hostPort;
    std::string portText;
    if (!h.empty() && h[0] == '[') {
        const size_t close = h.find(']');
        if (close == std::string::npos) return false;
        portText = close + 1 < h.size() && h[close + 1] == ':' ? h.substr(close + 2) : "";
        h = h.substr(0, close + 1);
    } else if (const size_t colon = h.rfind(':'); colon != std::string::npos) {
        portText = h.substr(colon + 1);
        h.resize(colon);
    }
    *port = *scheme == "https" ? 443 : 80;
    if (!portText.empty()) {
        if (portText.size() > 5 || !std::all_of(portText.begin(), portText.end(),
                                                [](char c) { return c >= '0' && c <= '9'; }))
            return false;
        *port = std::stoi(portText);
    }
    *host = h;
    return h == "127.0.0.1" || h == "localhost" || h == "[::1]";
}

LatencyModel::LatencyModel(std::chrono::milliseconds mean, std::chrono::milliseconds sd,
                           uint64_t seed)
    : mean_(double(mean.count())),
      sd_(double(sd.count())),
      rng_(seed ^ 0x6c6174656e637921ULL) {  // its own stream: ids and faults do not shift it
    if (sd_ > 0 && mean_ > 0) {
        // A lognormal with mean m and standard deviation s: sigma^2 = ln(1 + s^2/m^2),
        // mu = ln(m) - sigma^2/2.
        const double s2 = std::log1p((sd_ * sd_) / (mean_ * mean_));
        sigma_ = std::sqrt(s2);
        mu_ = std::log(mean_) - s2 / 2;
    }
}

double LatencyModel::uniform() {
    return (double(rng_() >> 11) + 0.5) * 0x1.0p-53;
}

TaskTimes LatencyModel::draw() {
    TaskTimes t;
    if (sigma_ == 0) {
        t.endMs = static_cast<int64_t>(mean_);
        t.processingMs = t.endMs / 2;
        return t;
    }
    const double u1 = uniform(), u2 = uniform(), u3 = uniform();
    const double z = std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);  // Box-Muller
    const double ms = std::min(std::exp(mu_ + sigma_ * z), 1e9);              // at most ~11 days
    t.endMs = std::llround(ms);
    t.processingMs =
        t.endMs >= 2 ? std::clamp<int64_t>(std::llround(u3 * double(t.endMs)), 1, t.endMs - 1) : 0;
    return t;
}

Result<std::vector<ImageFile>> encodeImages(const Result<std::vector<cv::Mat>>& images,
                                            bool watermark) {
    if (!images.ok()) return images.status();
    std::vector<ImageFile> files;
    for (const cv::Mat& m : *images) {
        ImageFile f;
        f.size = m.size();
        auto png = encodeImage(m, ImageFormat::PNG);
        if (!png.ok()) return png.status();
        f.png = std::move(png).value();
        if (watermark) {
            cv::Mat marked = m.clone();
            const int h = std::max(12, marked.rows / 20);
            cv::rectangle(marked, cv::Rect(0, marked.rows - h, marked.cols, h),
                          cv::Scalar::all(marked.depth() == CV_16U ? 65535 : 255), cv::FILLED);
            cv::putText(marked, "cvgen emulator", cv::Point(4, marked.rows - h / 4),
                        cv::FONT_HERSHEY_SIMPLEX, h / 30.0, cv::Scalar::all(0), 1);
            auto wm = encodeImage(marked, ImageFormat::PNG);
            if (wm.ok()) f.pngWatermarked = std::move(wm).value();
        }
        files.push_back(std::move(f));
    }
    return files;
}

Result<std::vector<ImageFile>> fastImages(cv::Size size, int type, int count, bool watermark) {
    if (!fastPngSupports(type)) {
        std::vector<cv::Mat> flat(static_cast<size_t>(count),
                                  cv::Mat(size, type, cv::Scalar::all(128)));
        return encodeImages(flat, watermark);
    }
    // The n images of one task are identical (as the offline engine's expand and upscale): encode
    // once.
    ImageFile f;
    f.size = size;
    f.png = fastPatternPng(size, type, false);
    if (watermark) f.pngWatermarked = fastPatternPng(size, type, true);
    return std::vector<ImageFile>(static_cast<size_t>(count), f);
}

TaskStore::TaskStore(StoreParams p)
    : p_(std::move(p)), rng_(p_.seed), latency_(p_.latency, p_.latencySd, p_.seed) {}

TaskStore::~TaskStore() {
    stop();
}

void TaskStore::start() {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return;
    started_ = true;
    stopping_ = false;
    {
        std::lock_guard<std::mutex> dlock(dmu_);
        dstopping_ = false;
    }
    clock_ = std::thread([this] {
        blockSigpipe();
        clockLoop();
    });
    delivery_ = std::thread([this] {
        blockSigpipe();
        deliveryLoop();
    });
}

void TaskStore::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!started_) return;
        started_ = false;
        stopping_ = true;
    }
    cv_.notify_all();
    {
        std::lock_guard<std::mutex> lock(dmu_);
        dstopping_ = true;
    }
    dcv_.notify_all();
    if (clock_.joinable()) clock_.join();
    if (delivery_.joinable()) delivery_.join();
}

std::string TaskStore::newId() {
    static const char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::lock_guard<std::mutex> lock(mu_);
    std::string id(22, 'A');
    for (char& c : id) c = kAlphabet[rng_() % 62];
    return id;
}

int TaskStore::slotsInUseLocked(const std::string& account) const {
    int used = 0;
    for (const auto& [id, t] : tasks_)
        if (t->holdsSlots && t->spec.account == account) used += t->spec.slots;
    return used;
}

TaskStore::CreateError TaskStore::create(TaskSpec spec, std::string* taskJson) {
    const std::string id = newId();
    std::lock_guard<std::mutex> lock(mu_);
    if (!spec.externalId.empty()) {
        for (const auto& [tid, t] : tasks_)
            if (t->spec.account == spec.account && t->spec.externalId == spec.externalId)
                return CreateError::DUPLICATE;
    }
    bool wait = false;
    if (p_.concurrencyLimit > 0) {
        const auto q = queued_.find(spec.account);
        const bool othersWaiting = q != queued_.end() && !q->second.empty();
        const bool over = slotsInUseLocked(spec.account) + spec.slots > p_.concurrencyLimit;
        // A task that can never fit is refused even with the queue: it would wait forever.
        if (over && (!p_.queue || spec.slots > p_.concurrencyLimit))
            return CreateError::CONCURRENCY;
        wait = p_.queue && (over || othersWaiting);  // first come, first served
    }
    auto t = std::make_unique<Task>();
    t->id = id;
    t->createdMs = t->updatedMs = nowMs();
    t->seq = ++seq_;
    t->times = latency_.draw();
    t->spec = std::move(spec);
    ++creates_;
    if (!t->spec.externalId.empty()) ++createsByExternal_[t->spec.externalId];
    *taskJson = taskJsonLocked(*t);
    events_.emplace(Clock::now(), Event{id, 0});
    if (wait) {
        t->holdsSlots = false;
        queued_[t->spec.account].push_back(id);
    } else {
        scheduleLocked(*t, t->createdMs);
    }
    tasks_.emplace(id, std::move(t));
    cv_.notify_all();
    return CreateError::NONE;
}

void TaskStore::scheduleLocked(Task& t, int64_t startMs) {
    t.holdsSlots = true;
    t.startedMs = startMs;
    // Steady-clock events, offset as the wall-clock start is from now (0 unless promoted late).
    const auto start =
        Clock::now() + std::chrono::milliseconds(std::max<int64_t>(0, startMs - nowMs()));
    events_.emplace(start + std::chrono::milliseconds(t.times.processingMs), Event{t.id, 1});
    events_.emplace(start + std::chrono::milliseconds(t.times.endMs), Event{t.id, 2});
}

void TaskStore::promoteLocked(const std::string& account, int64_t notBeforeMs) {
    auto q = queued_.find(account);
    if (q == queued_.end()) return;
    while (!q->second.empty()) {
        Task& next = *tasks_.at(q->second.front());
        if (slotsInUseLocked(account) + next.spec.slots > p_.concurrencyLimit) break;
        q->second.pop_front();
        scheduleLocked(next, std::max(nowMs(), notBeforeMs));
    }
    if (q->second.empty()) queued_.erase(q);
    cv_.notify_all();
}

void TaskStore::countCreate(const std::string& externalId) {
    std::lock_guard<std::mutex> lock(mu_);
    ++creates_;
    if (!externalId.empty()) ++createsByExternal_[externalId];
}

std::string TaskStore::taskJsonLocked(const Task& t) const {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("task_id");
    w.String(t.id);
    w.Key("task_status");
    w.String(toString(t.state));
    w.Key("task_status_msg");
    w.String(t.statusMsg);
    w.Key("task_info");
    w.StartObject();
    w.Key("external_task_id");
    w.String(t.spec.externalId);
    w.EndObject();
    w.Key("created_at");
    w.Int64(t.createdMs);
    w.Key("updated_at");
    w.Int64(t.updatedMs);
    if (t.spec.watermarkGiven) {
        w.Key("watermark_info");
        w.StartObject();
        w.Key("enabled");
        w.Bool(t.spec.watermark);
        w.EndObject();
    }
    if (t.state == TaskState::SUCCEED) {
        // Kling documents final_unit_deduction as a string.
        w.Key("final_unit_deduction");
        w.String(std::to_string(t.spec.slots));
    }
    w.Key("task_result");
    if (t.state != TaskState::SUCCEED && t.spec.nullResultBeforeSuccess) {
        w.Null();
        w.EndObject();
        return sb.GetString();
    }
    w.StartObject();
    if (t.state == TaskState::SUCCEED) {
        const bool series = t.spec.resultType == "series";
        if (!t.spec.resultType.empty()) {
            w.Key("result_type");
            w.String(t.spec.resultType);
        }
        auto writeImages = [&](const char* key, bool filled) {
            w.Key(key);
            w.StartArray();
            for (size_t i = 0; filled && i < t.urls.size(); ++i) {
                w.StartObject();
                w.Key("index");
                w.Int(static_cast<int>(i));
                w.Key("url");
                w.String(t.urls[i]);
                if (t.spec.watermark) {
                    w.Key("watermark_url");
                    w.String(t.wmUrls[i]);
                }
                w.EndObject();
            }
            w.EndArray();
        };
        writeImages("images", !series);
        if (series) writeImages("series_images", true);
    }
    w.EndObject();
    w.EndObject();
    return sb.GetString();
}

std::optional<std::string> TaskStore::find(TaskKind kind, const std::string& account,
                                           const std::string& idOrExternal) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tasks_.find(idOrExternal);
    if (it != tasks_.end() && it->second->spec.kind == kind && it->second->spec.account == account)
        return taskJsonLocked(*it->second);
    for (const auto& [id, t] : tasks_)
        if (t->spec.kind == kind && t->spec.account == account && !t->spec.externalId.empty() &&
            t->spec.externalId == idOrExternal)
            return taskJsonLocked(*t);
    return std::nullopt;
}

std::vector<std::string> TaskStore::list(TaskKind kind, const std::string& account, int pageNum,
                                         int pageSize) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<const Task*> mine;
    for (const auto& [id, t] : tasks_)
        if (t->spec.kind == kind && t->spec.account == account) mine.push_back(t.get());
    std::sort(mine.begin(), mine.end(),
              [](const Task* a, const Task* b) { return a->seq > b->seq; });
    std::vector<std::string> out;
    const size_t first = static_cast<size_t>(pageNum - 1) * static_cast<size_t>(pageSize);
    for (size_t i = first; i < mine.size() && i < first + static_cast<size_t>(pageSize); ++i)
        out.push_back(taskJsonLocked(*mine[i]));
    return out;
}

std::vector<std::string> TaskStore::storeImmediate(const std::string& id, const std::string& base,
                                                   const std::vector<std::vector<uint8_t>>& pngs) {
    std::vector<std::string> urls;
    Results r;
    for (size_t i = 0; i < pngs.size(); ++i) {
        r.images.push_back(ImageFile{pngs[i], {}, {}});
        urls.push_back(base + "/_emulator/results/" + id + "/" + std::to_string(i) + ".png");
    }
    r.expires = Clock::now() + p_.resultTtl;
    std::lock_guard<std::mutex> lock(mu_);
    sweepExpiredLocked();
    results_[id] = std::move(r);
    return urls;
}

ResultLookup TaskStore::result(const std::string& taskId, const std::string& file,
                               std::vector<uint8_t>* bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    sweepExpiredLocked();
    auto it = results_.find(taskId);
    if (it == results_.end()) return ResultLookup::MISSING;
    if (it->second.expired) return ResultLookup::EXPIRED;
    // "<index>.png" or "<index>_wm.png"
    bool wm = false;
    std::string stem = file;
    if (stem.size() < 5 || stem.compare(stem.size() - 4, 4, ".png") != 0)
        return ResultLookup::MISSING;
    stem.resize(stem.size() - 4);
    if (stem.size() > 3 && stem.compare(stem.size() - 3, 3, "_wm") == 0) {
        wm = true;
        stem.resize(stem.size() - 3);
    }
    if (stem.empty() || stem.size() > 3 ||
        !std::all_of(stem.begin(), stem.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return ResultLookup::MISSING;
    const size_t index = std::stoul(stem);
    if (index >= it->second.images.size()) return ResultLookup::MISSING;
    const auto& img = it->second.images[index];
    if (wm && img.pngWatermarked.empty()) return ResultLookup::MISSING;
    *bytes = wm ? img.pngWatermarked : img.png;
    return ResultLookup::FOUND;
}

void TaskStore::sweepExpiredLocked() {
    // Free the bytes of every result past its TTL (a tombstone stays, to answer 410).
    const auto now = Clock::now();
    for (auto& [id, r] : results_) {
        if (!r.expired && now >= r.expires) {
            r.expired = true;
            r.images.clear();
            r.images.shrink_to_fit();
        }
    }
}

void TaskStore::clockLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
        if (events_.empty()) {
            cv_.wait(lock);
            continue;
        }
        auto it = events_.begin();
        if (it->first > Clock::now()) {
            cv_.wait_until(lock, it->first);
            continue;
        }
        const Event e = it->second;
        events_.erase(it);
        auto tit = tasks_.find(e.taskId);
        if (tit == tasks_.end()) continue;
        Task& t = *tit->second;
        if (e.step == 0) {
            enqueueCallbackLocked(t);
        } else if (e.step == 1) {
            if (t.state == TaskState::SUBMITTED) {
                t.state = TaskState::PROCESSING;
                t.updatedMs = t.startedMs + t.times.processingMs;
                enqueueCallbackLocked(t);
            }
        } else if (t.spec.fate != TaskFate::STUCK) {
            lock.unlock();
            finish(e.taskId);
            lock.lock();
        }
    }
}

void TaskStore::finish(const std::string& taskId) {
    Renderer render;
    TaskFate fate;
    bool watermark;
    std::string base;
    {
        std::lock_guard<std::mutex> lock(mu_);
        Task& t = *tasks_.at(taskId);
        render = std::move(t.spec.render);
        t.spec.render = nullptr;
        fate = t.spec.fate;
        watermark = t.spec.watermark;
        base = t.spec.resultBase;
    }
    std::string failure;
    Results results;
    bool rendered = false;
    if (fate == TaskFate::FAIL) {
        failure = "Task failed (emulated fault task_failed)";
    } else {
        rendered = true;
        Result<std::vector<ImageFile>> files =
            render ? render(watermark)
                   : Result<std::vector<ImageFile>>(internalError("no renderer"));
        if (!files.ok())
            failure = "Task failed: " + files.status().message();
        else
            results.images = std::move(files).value();
    }
    std::lock_guard<std::mutex> lock(mu_);
    Task& t = *tasks_.at(taskId);
    // The drawn end, or when rendering (which starts at the end) finished.
    t.updatedMs = t.startedMs + t.times.endMs;
    if (rendered) t.updatedMs = std::max(t.updatedMs, nowMs());
    t.holdsSlots = false;
    ++finished_;
    finishedMs_ += t.updatedMs - t.startedMs;
    if (failure.empty()) {
        for (size_t i = 0; i < results.images.size(); ++i) {
            const std::string prefix =
                base + "/_emulator/results/" + taskId + "/" + std::to_string(i);
            t.urls.push_back(prefix + ".png");
            t.wmUrls.push_back(results.images[i].pngWatermarked.empty() ? prefix + ".png"
                                                                        : prefix + "_wm.png");
        }
        results.expires = Clock::now() + p_.resultTtl;
        sweepExpiredLocked();
        results_[taskId] = std::move(results);
        t.state = TaskState::SUCCEED;
    } else {
        t.state = TaskState::FAILED;
        t.statusMsg = failure;
    }
    enqueueCallbackLocked(t);
    // Its slots are free: the account's queued tasks start, no earlier than this one's end.
    if (p_.queue) promoteLocked(t.spec.account, t.updatedMs);
}

void TaskStore::enqueueCallbackLocked(const Task& t) {
    if (t.spec.callbackUrl.empty()) return;
    Delivery d{t.spec.callbackUrl, taskJsonLocked(t)};
    std::lock_guard<std::mutex> lock(dmu_);
    deliveries_.push_back(std::move(d));
    dcv_.notify_all();
}

void TaskStore::deliveryLoop() {
    for (;;) {
        Delivery d;
        {
            std::unique_lock<std::mutex> lock(dmu_);
            dcv_.wait(lock, [&] { return dstopping_ || !deliveries_.empty(); });
            if (deliveries_.empty()) return;  // stopping and drained
            d = std::move(deliveries_.front());
            deliveries_.pop_front();
        }
        deliver(d);
    }
}

void TaskStore::deliver(const Delivery& d) {
    std::string scheme, host, path;
    int port = 0;
    if (!parseLoopbackUrl(d.url, &scheme, &host, &port, &path)) {
        std::lock_guard<std::mutex> lock(mu_);
        ++callbacksSkipped_;
        return;
    }
    httplib::Headers headers;
    if (!p_.webhookSecret.empty()) {
        const std::string msgId = "msg_" + newId();
        const int64_t ts = nowMs() / 1000;
        auto sig = webhookSignature(p_.webhookSecret, msgId, ts, d.body);
        if (sig.ok()) {
            headers.emplace("webhook-id", msgId);
            headers.emplace("webhook-timestamp", std::to_string(ts));
            headers.emplace("webhook-signature", *sig);
        }
    }
    httplib::Client client(scheme + "://" + host + ":" + std::to_string(port));
    client.set_connection_timeout(std::chrono::seconds(1));
    client.set_read_timeout(std::chrono::seconds(2));
    client.set_write_timeout(std::chrono::seconds(2));
    client.enable_server_certificate_verification(false);
    auto res = client.Post(path.c_str(), headers, d.body, "application/json");
    std::lock_guard<std::mutex> lock(mu_);
    if (res && res->status >= 200 && res->status < 300)
        ++callbacksSent_;
    else
        ++callbacksFailed_;
}

std::string TaskStore::statsMembers() const {
    std::lock_guard<std::mutex> lock(mu_);
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("creates");
    w.Int64(creates_);
    w.Key("creates_by_external_id");
    w.StartObject();
    for (const auto& [id, n] : createsByExternal_) {
        w.Key(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
        w.Int64(n);
    }
    w.EndObject();
    int64_t counts[4] = {0, 0, 0, 0};
    for (const auto& [id, t] : tasks_) ++counts[static_cast<int>(t->state)];
    w.Key("tasks");
    w.StartObject();
    for (int s = 0; s < 4; ++s) {
        w.Key(toString(static_cast<TaskState>(s)));
        w.Int64(counts[s]);
    }
    w.EndObject();
    w.Key("finished");  // tasks that ended, and the sum of their run times (slots held)
    w.Int64(finished_);
    w.Key("finished_ms");
    w.Int64(finishedMs_);
    int slots = 0;
    for (const auto& [id, t] : tasks_)
        if (t->holdsSlots) slots += t->spec.slots;
    w.Key("slots_in_use");
    w.Int(slots);
    size_t queued = 0;
    for (const auto& [account, ids] : queued_) queued += ids.size();
    w.Key("queued");
    w.Uint64(queued);
    w.Key("callbacks");
    w.StartObject();
    w.Key("sent");
    w.Int64(callbacksSent_);
    w.Key("failed");
    w.Int64(callbacksFailed_);
    w.Key("skipped");
    w.Int64(callbacksSkipped_);
    w.EndObject();
    w.EndObject();
    std::string s = sb.GetString();
    return s.substr(1, s.size() - 2);  // members only
}

}  // namespace cvgen::emulator::detail
