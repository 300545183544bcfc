#include "event_loop.hpp"

#include <algorithm>

namespace cvgen {
namespace remote {

namespace {
void globalInitOnce() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}
}  // namespace

EventLoop::EventLoop(const Params& params) : p_(params) {
    globalInitOnce();
    multi_ = curl_multi_init();
    curl_multi_setopt(multi_, CURLMOPT_PIPELINING, long(CURLPIPE_MULTIPLEX));
    if (p_.maxHostConnections > 0)
        curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, p_.maxHostConnections);
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, p_.maxCachedConnections);
    thread_ = std::thread([this] {
        threadId_ = std::this_thread::get_id();
        run();
    });
}

EventLoop::~EventLoop() {
    stop();
    curl_multi_cleanup(multi_);
}

void EventLoop::stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    wake();
    if (!thread_.joinable()) return;
    if (onLoopThread())
        thread_.detach();  // the loop ends after this iteration
    else
        thread_.join();
}

void EventLoop::wake() {
    curl_multi_wakeup(multi_);
}

void EventLoop::post(std::function<void()> fn) {
    if (onLoopThread()) {
        fn();
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        posted_.push_back(std::move(fn));
    }
    wake();
}

EventLoop::TimerId EventLoop::at(Clock::time_point when, std::function<void()> fn) {
    TimerId id;
    bool first;
    {
        std::lock_guard<std::mutex> lock(mu_);
        id = nextId_++;
        timers_.emplace(std::make_pair(when, id), std::move(fn));
        timerAt_.emplace(id, when);
        first = timers_.begin()->first.second == id;
    }
    if (first && !onLoopThread()) wake();
    return id;
}

void EventLoop::cancelTimer(TimerId id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = timerAt_.find(id);
    if (it == timerAt_.end()) return;
    timers_.erase(std::make_pair(it->second, id));
    timerAt_.erase(it);
}

uint64_t EventLoop::addTransfer(CURL* easy, TransferDone done) {
    uint64_t id;
    {
        std::lock_guard<std::mutex> lock(mu_);
        id = nextId_++;
        toAdd_.push_back(Pending{id, easy, std::move(done)});
        ++activeCount_;
    }
    wake();
    return id;
}

void EventLoop::abort(uint64_t transferId) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        toAbort_.push_back(transferId);
    }
    wake();
}

uint64_t EventLoop::addTicker(std::function<void()> fn) {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t id = nextId_++;
    tickers_.emplace(id, std::move(fn));
    return id;
}

void EventLoop::removeTicker(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    tickers_.erase(id);
}

size_t EventLoop::activeTransfers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return activeCount_;
}

void EventLoop::run() {
    std::vector<std::function<void()>> jobs;
    std::vector<Pending> adds;
    std::vector<uint64_t> aborts;
    std::vector<std::pair<uint64_t, TransferDone>> finished;
    for (;;) {
        bool stopping;
        {
            std::lock_guard<std::mutex> lock(mu_);
            stopping = stop_;
            jobs.swap(posted_);
            adds.swap(toAdd_);
            aborts.swap(toAbort_);
            // Due timers, in time order.
            const auto now = Clock::now();
            while (!timers_.empty() && timers_.begin()->first.first <= now) {
                auto it = timers_.begin();
                timerAt_.erase(it->first.second);
                jobs.push_back(std::move(it->second));
                timers_.erase(it);
            }
            for (auto& [id, fn] : tickers_) jobs.push_back(fn);
        }
        for (auto& a : adds) {
            active_.emplace(a.id, Active{a.easy, std::move(a.done)});
            byEasy_.emplace(a.easy, a.id);
            curl_multi_add_handle(multi_, a.easy);
        }
        adds.clear();
        for (uint64_t id : aborts) {
            auto it = active_.find(id);
            if (it == active_.end()) continue;
            curl_multi_remove_handle(multi_, it->second.easy);
            byEasy_.erase(it->second.easy);
            finished.emplace_back(id, std::move(it->second.done));
            active_.erase(it);
        }
        aborts.clear();
        for (auto& f : finished) {
            {
                std::lock_guard<std::mutex> lock(mu_);
                --activeCount_;
            }
            f.second(CURLE_ABORTED_BY_CALLBACK);
        }
        finished.clear();
        if (stopping) break;
        for (auto& j : jobs) j();
        jobs.clear();

        int running = 0;
        curl_multi_perform(multi_, &running);
        int left = 0;
        while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
            if (m->msg != CURLMSG_DONE) continue;
            CURL* e = m->easy_handle;
            const int rc = int(m->data.result);
            auto b = byEasy_.find(e);
            curl_multi_remove_handle(multi_, e);
            if (b == byEasy_.end()) continue;
            auto it = active_.find(b->second);
            byEasy_.erase(b);
            if (it == active_.end()) continue;
            TransferDone done = std::move(it->second.done);
            active_.erase(it);
            {
                std::lock_guard<std::mutex> lock(mu_);
                --activeCount_;
            }
            done(rc);
        }

        // Sleep until the next timer, curl's own timeout or the tick, whichever is first.
        long curlTimeout = -1;
        curl_multi_timeout(multi_, &curlTimeout);
        auto wait = p_.tick;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (!posted_.empty() || !toAdd_.empty() || !toAbort_.empty() || stop_)
                wait = std::chrono::milliseconds(0);
            else if (!timers_.empty())
                wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                                          timers_.begin()->first.first - Clock::now() +
                                          std::chrono::microseconds(999)));
        }
        if (curlTimeout >= 0) wait = std::min(wait, std::chrono::milliseconds(curlTimeout));
        if (wait.count() > 0) curl_multi_poll(multi_, nullptr, 0, int(wait.count()), nullptr);
    }
    // Stopping: abort what is left so every owner hears about its transfer.
    for (auto& [id, a] : active_) {
        curl_multi_remove_handle(multi_, a.easy);
        a.done(CURLE_ABORTED_BY_CALLBACK);
    }
    active_.clear();
    byEasy_.clear();
    std::lock_guard<std::mutex> lock(mu_);
    activeCount_ = 0;
}

}  // namespace remote
}  // namespace cvgen
