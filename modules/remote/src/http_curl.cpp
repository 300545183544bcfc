// libcurl transport: maps every CURLcode exactly once, here.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <future>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "curl_transport.hpp"
#include "cvgen/core/worker_pool.hpp"
#include "cvgen/remote/http.hpp"

namespace cvgen {
namespace remote {

namespace {

struct EasyDeleter {
    void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;

struct SlistDeleter {
    void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

struct MimeDeleter {
    void operator()(curl_mime* m) const noexcept { curl_mime_free(m); }
};
using MimePtr = std::unique_ptr<curl_mime, MimeDeleter>;

struct Transfer {
    EasyPtr easy;
    SlistPtr headerList;
    MimePtr mime;
    std::string postBody;  // curl reads POSTFIELDS from here (not copied)
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    size_t cap = 0;
    bool overCap = false;
    std::shared_ptr<std::atomic<bool>> cancel;
    char errbuf[CURL_ERROR_SIZE] = {0};
    std::chrono::steady_clock::time_point t0;
    HttpDone done;
    uint64_t id = 0;
};

size_t onWrite(char* data, size_t size, size_t nmemb, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t n = size * nmemb;
    if (t->body.size() + n > t->cap) {
        t->overCap = true;
        return 0;  // aborts with CURLE_WRITE_ERROR
    }
    t->body.append(data, n);
    return n;
}

size_t onHeader(char* data, size_t size, size_t nmemb, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t n = size * nmemb;
    std::string line(data, n);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    if (line.rfind("HTTP/", 0) == 0) {
        t->headers.clear();  // a new response (redirect or 100-continue)
        return n;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) return n;
    std::string value = line.substr(colon + 1);
    const auto b = value.find_first_not_of(" \t");
    value = b == std::string::npos ? std::string() : value.substr(b);
    t->headers.emplace_back(toLowerAscii(line.substr(0, colon)), value);
    return n;
}

int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(user);
    return (t->cancel && t->cancel->load()) ? 1 : 0;
}

void runAtOnce(const HttpDone& done, Status st) {
    HttpResponse r;
    r.status = std::move(st);
    done(std::move(r));
}

class CurlTransport final : public HttpTransport,
                            public std::enable_shared_from_this<CurlTransport> {
public:
    CurlTransport(std::shared_ptr<EventLoop> loop, const CurlTransportParams& p, bool ownsLoop)
        : p_(p), loop_(std::move(loop)), ownsLoop_(ownsLoop) {
        // Cancel flags are checked on every loop iteration, so a cancelled transfer ends within
        // one tick even when no byte moves.
        tickerId_ = loop_->addTicker([this] { checkCancels(); });
    }
    ~CurlTransport() override {
        loop_->removeTicker(tickerId_);
        // A loop of our own ends here, so no transfer calls back into a destroyed transport.
        if (ownsLoop_) loop_->stop();
    }

    HttpResponse send(const HttpRequest& req) override {
        if (loop_->onLoopThread()) {
            HttpResponse r;
            r.status = internalError("blocking send() called on the event loop thread");
            return r;
        }
        auto promise = std::make_shared<std::promise<HttpResponse>>();
        std::future<HttpResponse> f = promise->get_future();
        sendAsync(req, [promise](HttpResponse r) { promise->set_value(std::move(r)); });
        return f.get();
    }

    void sendAsync(HttpRequest req, HttpDone done) override {
        auto t = std::make_shared<Transfer>();
        t->easy = acquire();
        t->done = std::move(done);
        if (!t->easy) return runAtOnce(t->done, internalError("curl_easy_init failed"));
        t->t0 = std::chrono::steady_clock::now();
        t->cap = req.maxResponseBytes ? req.maxResponseBytes : p_.maxResponseBytes;
        t->cancel = req.cancel;
        if (t->cancel && t->cancel->load())
            return runAtOnce(t->done, cancelled("request cancelled before it was sent"));
        configure(*t, req);
        // The transfer owns itself until the loop reports its end.
        CURL* easy = t->easy.get();
        // finish() takes mu_ first, so it sees the id and the watch entry.
        std::lock_guard<std::mutex> lock(mu_);
        t->id = loop_->addTransfer(easy, [this, t](int rc) { finish(*t, rc); });
        if (t->cancel) watched_.emplace(t->id, t->cancel);
    }

private:
    void configure(Transfer& t, const HttpRequest& req) {
        CURL* c = t.easy.get();
        curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t.errbuf);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_USERAGENT, p_.userAgent.c_str());
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, long(p_.connectTimeout.count()));
        const auto total = req.timeout.count() > 0 ? req.timeout : p_.totalTimeout;
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, long(std::max<int64_t>(1, total.count())));
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, p_.lowSpeedBytes);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, long(p_.lowSpeedTime.count()));
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, p_.verifyTls ? 1L : 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, p_.verifyTls ? 2L : 0L);
        curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);  // prefer multiplexing over a new connection
        if (!p_.caFile.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, p_.caFile.c_str());
        if (p_.proxy == "none")
            curl_easy_setopt(c, CURLOPT_PROXY, "");
        else if (!p_.proxy.empty())
            curl_easy_setopt(c, CURLOPT_PROXY, p_.proxy.c_str());
        if (req.followRedirects) {
            curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
            curl_easy_setopt(c, CURLOPT_MAXREDIRS, long(p_.maxRedirects));
            curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        }
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(t.cap));
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, onWrite);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, onHeader);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, onProgress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // gzip/deflate if offered

        curl_slist* raw = nullptr;
        for (const auto& [k, v] : req.headers) raw = curl_slist_append(raw, (k + ": " + v).c_str());
        raw = curl_slist_append(raw, "Expect:");  // no 100-continue round trip
        t.headerList.reset(raw);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, t.headerList.get());

        if (req.method == HttpMethod::POST) {
            if (!req.parts.empty()) {
                t.mime.reset(curl_mime_init(c));
                for (const auto& part : req.parts) {
                    curl_mimepart* mp = curl_mime_addpart(t.mime.get());
                    curl_mime_name(mp, part.name.c_str());
                    curl_mime_data(mp, part.data.data(), part.data.size());
                    if (!part.contentType.empty()) curl_mime_type(mp, part.contentType.c_str());
                    if (!part.filename.empty()) curl_mime_filename(mp, part.filename.c_str());
                }
                curl_easy_setopt(c, CURLOPT_MIMEPOST, t.mime.get());
            } else {
                t.postBody = req.body;
                curl_easy_setopt(c, CURLOPT_POST, 1L);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(t.postBody.size()));
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, t.postBody.data());
            }
        } else {
            curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        }
    }

    // Loop thread: the transfer ended (or was aborted).
    void finish(Transfer& t, int rcInt) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            watched_.erase(t.id);
        }
        const CURLcode rc = CURLcode(rcInt);
        HttpResponse out;
        out.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - t.t0);
        CURL* c = t.easy.get();
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        long requestSize = 0;  // bytes of request headers actually sent
        curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &requestSize);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
        curl_easy_setopt(c, CURLOPT_MIMEPOST, nullptr);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
        out.httpStatus = int(code);
        out.headers = std::move(t.headers);
        out.body = std::move(t.body);
        if (rc != CURLE_OK)
            out.status =
                mapCurl(rc, t.errbuf, t.overCap, t.cap, requestSize > 0, &out.mayHaveReachedServer);
        release(std::move(t.easy));
        t.headerList.reset();
        t.mime.reset();
        HttpDone done = std::move(t.done);
        done(std::move(out));
    }

    void checkCancels() {
        std::vector<uint64_t> hit;
        {
            std::lock_guard<std::mutex> lock(mu_);
            for (const auto& [id, flag] : watched_)
                if (flag->load()) hit.push_back(id);
        }
        for (uint64_t id : hit) loop_->abort(id);
    }

private:
    static Status mapCurl(CURLcode rc, const char* errbuf, bool overCap, size_t cap, bool sent,
                          bool* maySent) {
        const std::string detail = std::string(curl_easy_strerror(rc)) +
                                   (errbuf[0] ? std::string(" (") + errbuf + ")" : "");
        *maySent = false;
        switch (rc) {
            case CURLE_UNSUPPORTED_PROTOCOL:
                return failedPrecondition("scheme not allowed (only http/https): " + detail);
            case CURLE_URL_MALFORMAT:
                return invalidArgument("malformed URL: " + detail);
            case CURLE_COULDNT_RESOLVE_PROXY:
            case CURLE_COULDNT_RESOLVE_HOST:
            case CURLE_COULDNT_CONNECT:
                return unavailable("not sent: " + detail).withRetryable(true);
            case CURLE_PEER_FAILED_VERIFICATION:
            case CURLE_SSL_CACERT_BADFILE:
            case CURLE_SSL_CERTPROBLEM:
                return failedPrecondition("TLS verification failed: " + detail);
            case CURLE_SSL_CONNECT_ERROR:
                return unavailable("not sent: TLS handshake failed: " + detail).withRetryable(true);
            case CURLE_ABORTED_BY_CALLBACK:
                *maySent = sent;
                return cancelled("request cancelled");
            case CURLE_FILESIZE_EXCEEDED:
                *maySent = sent;
                return Status(Code::OUT_OF_RANGE,
                              "response larger than the cap of " + std::to_string(cap) + " bytes");
            case CURLE_WRITE_ERROR:
                *maySent = sent;
                if (overCap)
                    return Status(Code::OUT_OF_RANGE, "response larger than the cap of " +
                                                          std::to_string(cap) + " bytes");
                return internalError(detail);
            case CURLE_PARTIAL_FILE:
                *maySent = true;
                return dataLoss("response body truncated: " + detail).withRetryable(true);
            case CURLE_TOO_MANY_REDIRECTS:
                *maySent = sent;
                return unavailable(detail);
            case CURLE_OPERATION_TIMEDOUT:
                *maySent = sent;
                return unavailable(std::string(sent ? "timed out after sending: "
                                                    : "not sent: timed out: ") +
                                   detail)
                    .withRetryable(true);
            default:
                // Reset, empty reply, receive errors: the request may well have been processed.
                *maySent = sent;
                return unavailable((sent ? "" : "not sent: ") + detail).withRetryable(true);
        }
    }

    EasyPtr acquire() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (!idle_.empty()) {
                EasyPtr h = std::move(idle_.back());
                idle_.pop_back();
                curl_easy_reset(h.get());  // keeps the connection and DNS caches
                return h;
            }
        }
        return EasyPtr(curl_easy_init());
    }

    void release(EasyPtr h) {
        std::lock_guard<std::mutex> lock(mu_);
        if (idle_.size() < 64) idle_.push_back(std::move(h));
    }

    CurlTransportParams p_;
    std::shared_ptr<EventLoop> loop_;
    bool ownsLoop_;
    uint64_t tickerId_ = 0;
    std::mutex mu_;
    std::vector<EasyPtr> idle_;  // easy handles for reuse (connections live in the multi cache)
    std::unordered_map<uint64_t, std::shared_ptr<std::atomic<bool>>> watched_;
};

}  // namespace

EventLoop::Params loopParamsFor(const CurlTransportParams& params) {
    EventLoop::Params lp;
    lp.maxHostConnections = params.maxHostConnections;
    lp.maxCachedConnections = std::max<long>(64, 2 * params.maxHostConnections);
    return lp;
}

namespace {
cv::Ptr<HttpTransport> makeCurl(std::shared_ptr<EventLoop> loop, const CurlTransportParams& params,
                                bool owns) {
    CV_Assert(params.connectTimeout.count() > 0 && params.totalTimeout.count() > 0);
    CV_Assert(params.maxRedirects >= 0 && params.maxResponseBytes > 0);
    CV_Assert(params.maxHostConnections >= 0 && loop);
    return cv::Ptr<HttpTransport>(std::make_shared<CurlTransport>(std::move(loop), params, owns));
}
}  // namespace

cv::Ptr<HttpTransport> createCurlTransportOn(std::shared_ptr<EventLoop> loop,
                                             const CurlTransportParams& params) {
    return makeCurl(std::move(loop), params, false);
}

cv::Ptr<HttpTransport> createCurlTransport(const CurlTransportParams& params) {
    return makeCurl(std::make_shared<EventLoop>(loopParamsFor(params)), params, true);
}

}  // namespace remote
}  // namespace cvgen
