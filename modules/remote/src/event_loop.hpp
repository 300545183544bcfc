// The one owner of time and transfers in remote/: a thread running libcurl's multi interface
// (curl_multi_poll, woken by curl_multi_wakeup) with a timer queue. Everything that waits — poll
// times, back-offs, the rate-limit gate, deadlines, transfers — is something this loop is asked
// to wake for; nothing in remote/ sleeps.
#ifndef CVGEN_REMOTE_EVENT_LOOP_HPP
#define CVGEN_REMOTE_EVENT_LOOP_HPP

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <curl/curl.h>

namespace cvgen {
namespace remote {

class EventLoop {
public:
    using Clock = std::chrono::steady_clock;
    using TimerId = uint64_t;
    /** Called on the loop thread when a transfer ends, with its CURLcode (as int). */
    using TransferDone = std::function<void(int curlCode)>;

    struct Params {
        long maxHostConnections = 0;  ///< 0 = unlimited (transfers queue inside curl otherwise)
        long maxCachedConnections = 256;
        /** Upper bound of one poll wait: tickers (cancel checks) run at least this often. */
        std::chrono::milliseconds tick{50};
    };

    explicit EventLoop(const Params& params);
    ~EventLoop();  ///< stops the thread; pending transfers end as aborted, timers are dropped
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    /** Runs `fn` on the loop thread (inline when already there). */
    void post(std::function<void()> fn);
    /** Runs `fn` on the loop thread at `when` (or at once when it has passed). */
    TimerId at(Clock::time_point when, std::function<void()> fn);
    TimerId after(std::chrono::milliseconds d, std::function<void()> fn) {
        return at(Clock::now() + d, std::move(fn));
    }
    /** Drops a timer that has not fired. Any thread. */
    void cancelTimer(TimerId id);
    /** Adds a configured easy handle; `done` runs on the loop thread when it ends. The caller owns
     * the handle and must keep it alive until then. Returns a transfer id for abort(). */
    uint64_t addTransfer(CURL* easy, TransferDone done);
    /** Ends a transfer at once (done gets CURLE_ABORTED_BY_CALLBACK). Any thread. */
    void abort(uint64_t transferId);
    /** `fn` runs on the loop thread at every iteration (at least every Params::tick): cancel
     * checks. Returns an id for removeTicker. */
    uint64_t addTicker(std::function<void()> fn);
    void removeTicker(uint64_t id);

    /** Ends the loop thread (pending transfers end as aborted, their callbacks run first).
     * Idempotent; the destructor calls it. Posts after it never run. */
    void stop();

    bool onLoopThread() const { return std::this_thread::get_id() == threadId_.load(); }
    size_t activeTransfers() const;

private:
    void run();
    void wake();

    Params p_;
    CURLM* multi_ = nullptr;
    std::thread thread_;
    std::atomic<std::thread::id> threadId_{};

    mutable std::mutex mu_;
    bool stop_ = false;
    std::vector<std::function<void()>> posted_;
    uint64_t nextId_ = 1;
    std::map<std::pair<Clock::time_point, TimerId>, std::function<void()>> timers_;
    std::unordered_map<TimerId, Clock::time_point> timerAt_;
    struct Pending {
        uint64_t id;
        CURL* easy;
        TransferDone done;
    };
    std::vector<Pending> toAdd_;
    std::vector<uint64_t> toAbort_;
    std::unordered_map<uint64_t, std::function<void()>> tickers_;

    // Loop thread only.
    struct Active {
        CURL* easy;
        TransferDone done;
    };
    std::unordered_map<uint64_t, Active> active_;
    std::unordered_map<CURL*, uint64_t> byEasy_;
    size_t activeCount_ = 0;  // guarded by mu_ (for activeTransfers())
};

}  // namespace remote
}  // namespace cvgen

#endif  // CVGEN_REMOTE_EVENT_LOOP_HPP
