// The task engine's result phase: a finished task's images downloaded (retried, checked for
// truncation), decoded on the CPU pool with the pixel budget, and delivered. The provider slot is
// freed when the task is seen finished, before any of this.
#include <algorithm>
#include <cstdlib>

#include "cvgen/core/base64.hpp"
#include "cvgen/core/worker_pool.hpp"
#include "dialect.hpp"
#include "retry.hpp"
#include "task_engine.hpp"

namespace cvgen {
namespace remote {
namespace detail {

void TaskEngine::terminal(const JobPtr& j) {
    TaskObject t;
    {
        std::lock_guard<std::mutex> lock(j->state->mu);
        t = j->state->last;
    }
    j->waited = msSince(j->start);
    if (t.status == TaskStatus::FAILED)
        return end(
            j, failedPrecondition(std::string(toString(j->op)) + " task failed: " +
                                  (t.statusMessage.empty() ? "no reason given" : t.statusMessage) +
                                  " (" + ref(j) + ")")
                   .withRequestId(j->state->requestId));
    j->images = t.images;
    std::sort(j->images.begin(), j->images.end(),
              [](const TaskImage& a, const TaskImage& b) { return a.index < b.index; });
    if (j->images.empty())
        return end(j, dataLoss("task succeeded without result images (" + ref(j) + ")"));
    j->phase = Job::Phase::DOWNLOAD;
    // The provider's slot is free now: the next queued task may be created while this result
    // is fetched and decoded.
    j->state->releaseSlots();
    if (auto hook = std::move(j->opt.onRemoteDone)) {
        j->opt.onRemoteDone = nullptr;
        WorkerPool::cpu().postUrgent(std::move(hook));  // it starts the next task
    }
    j->bodies.assign(j->images.size(), std::string());
    j->downloadStart = Clock::now();
    for (size_t i = 0; i < j->images.size(); ++i) download(j, i, 1);
}

void TaskEngine::download(const JobPtr& j, size_t i, int attempt) {
    if (j->finished) return;
    const std::string& url = j->images[i].url;
    if (url.rfind("data:", 0) == 0) {
        auto bytes = base64Decode(url);
        if (!bytes.ok()) return end(j, dataLoss("result data URL: " + bytes.status().message()));
        j->bodies[i].assign(bytes->begin(), bytes->end());
        return downloaded(j);
    }
    HttpRequest req;
    req.url = url;
    req.followRedirects = true;
    req.maxResponseBytes = p_.maxDownloadBytes;
    plain_->sendAsync(timed(std::move(req), j),
                      [this, alive = alive_, j, i, attempt](HttpResponse r) {
                          loop_->post([this, alive, j, i, attempt, r = std::move(r)]() mutable {
                              if (alive->load()) onDownload(j, i, attempt, std::move(r));
                          });
                      });
}

void TaskEngine::onDownload(const JobPtr& j, size_t i, int attempt, HttpResponse r) {
    if (j->finished) return;
    if (r.status.code() == Code::CANCELLED) return;
    Status st;
    if (!r.status.ok()) {
        st = r.status;
    } else if (r.httpStatus == 200) {
        const std::string* cl = r.header("content-length");
        if (cl && std::strtoull(cl->c_str(), nullptr, 10) != r.body.size()) {
            st = dataLoss("download truncated: " + std::to_string(r.body.size()) + " of " + *cl +
                          " bytes")
                     .withRetryable(true);
        } else if (!detail::looksCompleteImage(r.body)) {
            st = dataLoss(r.body.empty() ? "empty image body" : "image truncated")
                     .withRetryable(true);
        } else {
            j->bodies[i] = std::move(r.body);
            return downloaded(j);
        }
    } else {
        st = statusFromResponse(r, "GET result image", false);
        if (r.httpStatus == 403 || r.httpStatus == 404 || r.httpStatus == 410)
            st = notFound("result image gone (expired URL?), HTTP " + std::to_string(r.httpStatus));
        if (st.ok()) st = unavailable("unexpected HTTP " + std::to_string(r.httpStatus));
    }
    if (detail::mayRetry(st, attempt, p_.downloadAttempts)) {
        log(LogLevel::WARN, "download failed (" + st.message() + "), retrying");
        return later(j, detail::backoff(p_.retry, attempt, st, jitter()),
                     [this, j, i, attempt] { download(j, i, attempt + 1); });
    }
    end(j, imageError(j, i, st.withContext("download")));
}

Status TaskEngine::imageError(const JobPtr& j, size_t i, const Status& st) {
    return Status(st.code(), st.message() + " (image " + std::to_string(j->images[i].index) + ", " +
                                 ref(j) + ")")
        .withRetryable(st.retryable())
        .withHttpStatus(st.httpStatus())
        .withTask(j->state->taskId, j->state->externalTaskId);
}

void TaskEngine::downloaded(const JobPtr& j) {
    if (++j->downloaded < j->images.size()) return;
    // All bytes are in: decode on the CPU pool, then deliver from there.
    j->phase = Job::Phase::DONE;
    j->finished = true;
    jobs_.erase(j);
    j->state->releaseSlots();
    loop_->cancelTimer(j->timer);
    TaskOutput out;
    {
        std::lock_guard<std::mutex> lock(j->state->mu);
        out.taskId = j->state->taskId;
        out.externalTaskId = j->state->externalTaskId;
        out.requestId = j->state->requestId;
        out.timings.submit = j->state->submitTime;
        out.taskStatus = j->state->last.statusText.empty() ? "succeed" : j->state->last.statusText;
        out.unitsDeducted = j->state->last.unitsDeducted;
    }
    out.provider = p_.profile.name;
    out.timings.wait = j->waited;
    out.timings.download = msSince(j->downloadStart);
    const int64_t maxPixels = p_.maxResultPixels;
    // The completion leaves the job here: whatever it holds (a caller's stage, its provider) is
    // then released on a worker, never on the loop thread (which must not destroy its engine).
    Completion done = std::move(j->done);
    j->done = nullptr;
    WorkerPool::cpu().post([j, done = std::move(done), out = std::move(out), maxPixels]() mutable {
        for (size_t i = 0; i < j->images.size(); ++i) {
            auto m = detail::decodeResultImage(j->bodies[i], maxPixels);
            if (!m.ok()) return done(imageError(j, i, m.status()));
            ResultImage ri;
            ri.image = std::move(m).value();
            ri.index = j->images[i].index;
            ri.url = j->images[i].url;
            ri.watermarkUrl = j->images[i].watermarkUrl;
            out.images.push_back(std::move(ri));
            j->bodies[i].clear();
            j->bodies[i].shrink_to_fit();
        }
        out.timings.total = out.timings.submit + msSince(j->start);
        done(std::move(out));
    });
}

}  // namespace detail
}  // namespace remote
}  // namespace cvgen
