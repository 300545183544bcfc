// libcurl transport: maps every CURLcode exactly once, here.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include "cvgen/remote/http.hpp"

namespace cvgen {
namespace remote {

std::string toLowerAscii(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

const std::string* HttpResponse::header(const std::string& name) const {
    const std::string want = toLowerAscii(name);
    for (const auto& [k, v] : headers)
        if (k == want) return &v;
    return nullptr;
}

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

void globalInitOnce() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    size_t cap = 0;
    bool overCap = false;
    std::atomic<bool>* cancel = nullptr;
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

class CurlTransport final : public HttpTransport {
public:
    explicit CurlTransport(const CurlTransportParams& p) : p_(p) { globalInitOnce(); }

    HttpResponse send(const HttpRequest& req) override {
        HttpResponse out;
        EasyPtr h = acquire();
        if (!h) {
            out.status = internalError("curl_easy_init failed");
            return out;
        }
        const auto t0 = std::chrono::steady_clock::now();
        Transfer t;
        t.cap = req.maxResponseBytes ? req.maxResponseBytes : p_.maxResponseBytes;
        t.cancel = req.cancel.get();
        char errbuf[CURL_ERROR_SIZE] = {0};

        CURL* c = h.get();
        curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
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
        SlistPtr headers(raw);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

        MimePtr mime;
        if (req.method == HttpMethod::POST) {
            if (!req.parts.empty()) {
                mime.reset(curl_mime_init(c));
                for (const auto& part : req.parts) {
                    curl_mimepart* mp = curl_mime_addpart(mime.get());
                    curl_mime_name(mp, part.name.c_str());
                    curl_mime_data(mp, part.data.data(), part.data.size());
                    if (!part.contentType.empty()) curl_mime_type(mp, part.contentType.c_str());
                    if (!part.filename.empty()) curl_mime_filename(mp, part.filename.c_str());
                }
                curl_easy_setopt(c, CURLOPT_MIMEPOST, mime.get());
            } else {
                curl_easy_setopt(c, CURLOPT_POST, 1L);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(req.body.size()));
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
            }
        } else {
            curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        }

        const CURLcode rc = curl_easy_perform(c);
        out.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - t0);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        long requestSize = 0;  // bytes of request headers actually sent
        curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &requestSize);
        // Headers and body must not outlive the handle's use: detach before returning it.
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
        curl_easy_setopt(c, CURLOPT_MIMEPOST, nullptr);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
        release(std::move(h));

        out.httpStatus = int(code);
        out.headers = std::move(t.headers);
        out.body = std::move(t.body);
        if (rc == CURLE_OK) return out;
        out.status =
            mapCurl(rc, errbuf, t.overCap, t.cap, requestSize > 0, &out.mayHaveReachedServer);
        return out;
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
        if (idle_.size() < p_.maxIdleHandles) idle_.push_back(std::move(h));
    }

    CurlTransportParams p_;
    std::mutex mu_;
    std::vector<EasyPtr> idle_;
};

}  // namespace

cv::Ptr<HttpTransport> createCurlTransport(const CurlTransportParams& params) {
    CV_Assert(params.connectTimeout.count() > 0 && params.totalTimeout.count() > 0);
    CV_Assert(params.maxRedirects >= 0 && params.maxResponseBytes > 0);
    return cv::makePtr<CurlTransport>(params);
}

}  // namespace remote
}  // namespace cvgen
