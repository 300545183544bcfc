// Shared helpers of the emulator tests: plain HTTP through libcurl (independent of any cvgen
// client), JSON through RapidJSON, test images, Kling JWTs signed with OpenSSL.
#ifndef CVGEN_TESTS_EMULATOR_EMU_TEST_UTIL_HPP
#define CVGEN_TESTS_EMULATOR_EMU_TEST_UTIL_HPP

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "cvgen/core/base64.hpp"
#include "cvgen/emulator.hpp"

namespace emutest {

struct Response {
    CURLcode curl = CURLE_OK;
    long status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  ///< lower-case names

    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? "" : it->second;
    }
};

struct Part {
    std::string name, data, filename, type;
};

struct Request {
    std::string method = "GET";
    std::string url;
    std::vector<std::string> headers;
    std::string body;
    std::vector<Part> parts;  ///< multipart/form-data when not empty
    long timeoutMs = 10000;
    std::string caFile;  ///< HTTPS: trust this PEM
};

inline size_t onBody(char* p, size_t s, size_t n, void* ud) {
    static_cast<std::string*>(ud)->append(p, s * n);
    return s * n;
}

inline size_t onHeader(char* p, size_t s, size_t n, void* ud) {
    std::string line(p, s * n);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ')) value.erase(value.begin());
        while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
        (*static_cast<std::map<std::string, std::string>*>(ud))[name] = value;
    }
    return s * n;
}

inline Response send(const Request& rq) {
    Response r;
    CURL* c = curl_easy_init();
    curl_slist* hs = nullptr;
    for (const auto& h : rq.headers) hs = curl_slist_append(hs, h.c_str());
    curl_mime* mime = nullptr;
    curl_easy_setopt(c, CURLOPT_URL, rq.url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, rq.timeoutMs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, onBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, onHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
    if (!rq.caFile.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, rq.caFile.c_str());
    if (!rq.parts.empty()) {
        mime = curl_mime_init(c);
        for (const auto& p : rq.parts) {
            curl_mimepart* part = curl_mime_addpart(mime);
            curl_mime_name(part, p.name.c_str());
            curl_mime_data(part, p.data.data(), p.data.size());
            if (!p.filename.empty()) curl_mime_filename(part, p.filename.c_str());
            if (!p.type.empty()) curl_mime_type(part, p.type.c_str());
        }
        curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    } else if (rq.method == "POST") {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq.body.c_str());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(rq.body.size()));
    } else if (rq.method != "GET") {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq.method.c_str());  // DELETE, PUT…
    }
    if (hs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    r.curl = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    if (mime) curl_mime_free(mime);
    curl_slist_free_all(hs);
    curl_easy_cleanup(c);
    return r;
}

inline Response get(const std::string& url, const std::vector<std::string>& headers = {}) {
    Request rq;
    rq.url = url;
    rq.headers = headers;
    return send(rq);
}

inline Response postJson(const std::string& url, const std::string& body,
                         std::vector<std::string> headers = {}) {
    Request rq;
    rq.method = "POST";
    rq.url = url;
    headers.push_back("Content-Type: application/json");
    rq.headers = headers;
    rq.body = body;
    return send(rq);
}

inline rapidjson::Document parse(const std::string& body) {
    rapidjson::Document d;
    d.Parse(body.c_str(), body.size());
    return d;
}

/** A PNG of w×h: a smooth gradient (so every pixel is distinct enough to compare). */
inline cv::Mat testImage(int w, int h) {
    cv::Mat m(h, w, CV_8UC3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            m.at<cv::Vec3b>(y, x) =
                cv::Vec3b(static_cast<uchar>(x % 256), static_cast<uchar>(y % 256),
                          static_cast<uchar>((x + y) % 256));
    return m;
}

inline std::string encode(const cv::Mat& m, const std::string& ext = ".png") {
    std::vector<uchar> buf;
    cv::imencode(ext, m, buf);
    return std::string(buf.begin(), buf.end());
}

inline std::string pngBase64(int w, int h) {
    return cvgen::base64Encode(encode(testImage(w, h)));
}

inline cv::Mat decode(const std::string& bytes) {
    std::vector<uchar> buf(bytes.begin(), bytes.end());
    return cv::imdecode(buf, cv::IMREAD_UNCHANGED);
}

inline std::string b64url(const std::string& s) {
    std::string b = cvgen::base64Encode(s);
    while (!b.empty() && b.back() == '=') b.pop_back();
    for (char& c : b) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return b;
}

inline std::string hmac(const std::string& key, const std::string& data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
    return std::string(reinterpret_cast<char*>(out), len);
}

/** A Kling JWT: HS256, {"iss": ak, "exp": now+expIn, "nbf": now+nbfIn}. */
inline std::string jwt(const std::string& ak, const std::string& sk, long expIn = 1800,
                       long nbfIn = -5) {
    const long now = static_cast<long>(std::time(nullptr));
    const std::string head = b64url(R"({"alg":"HS256","typ":"JWT"})");
    const std::string payload =
        b64url("{\"iss\":\"" + ak + "\",\"exp\":" + std::to_string(now + expIn) +
               ",\"nbf\":" + std::to_string(now + nbfIn) + "}");
    const std::string input = head + "." + payload;
    return input + "." + b64url(hmac(sk, input));
}

/** Starts an emulator or fails the test. */
inline cv::Ptr<cvgen::emulator::Server> start(const cvgen::emulator::Params& p) {
    auto s = cvgen::emulator::Server::create(p);
    const cvgen::Status st = s->start();
    EXPECT_TRUE(st.ok()) << st;
    return s;
}

inline std::string bearer(const std::string& key = "test-key") {
    return "Authorization: Bearer " + key;
}

inline cvgen::emulator::Params fastParams() {
    cvgen::emulator::Params p;
    p.apiKeys = {"test-key"};
    p.latency = std::chrono::milliseconds(50);
    return p;
}

/** Polls a query URL until the task is in a final state (or `timeout`); returns the last body.
 * `seen` collects the distinct statuses in order. */
inline rapidjson::Document waitFinal(const std::string& url,
                                     std::vector<std::string>* seen = nullptr,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(20),
                                     const std::string& auth = bearer()) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    rapidjson::Document d;
    while (std::chrono::steady_clock::now() < end) {
        Response r = get(url, {auth});
        d = parse(r.body);
        if (r.status != 200 || d.HasParseError() || !d.HasMember("data")) return d;
        const std::string st = d["data"]["task_status"].GetString();
        if (seen && (seen->empty() || seen->back() != st)) seen->push_back(st);
        if (st == "succeed" || st == "failed") return d;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return d;
}

/** Parsed /_emulator/stats. */
inline rapidjson::Document stats(const cvgen::emulator::Server& s) {
    return parse(s.statsJson());
}

/** `cvgen serve ARGS…` as a child process, its stdout read up to the first line. */
struct CliServer {
    pid_t pid = -1;
    int out = -1;      ///< the read end of the child's stdout
    std::string line;  ///< its first line ("listening on http://127.0.0.1:PORT")
    std::string base;  ///< "http://127.0.0.1:PORT"; empty when that line did not come

    /** SIGTERM, then waits; returns waitpid's status (-1 when not running). */
    int stop() {
        if (pid <= 0) return -1;
        kill(pid, SIGTERM);
        int status = 0;
        waitpid(pid, &status, 0);
        close(out);
        pid = -1;
        return status;
    }
    ~CliServer() { stop(); }
};

/** Starts `cvgen serve --port 0 ARGS…` (CVGEN_CLI_PATH) and reads its listening line. */
inline void serveCli(const std::vector<std::string>& args, CliServer* s) {
    const std::string cli = CVGEN_CLI_PATH;
    std::vector<std::string> argv = {cli, "serve", "--port", "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    s->pid = fork();
    ASSERT_GE(s->pid, 0);
    if (s->pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execv(cli.c_str(), cargv.data());
        _exit(127);
    }
    close(out[1]);
    s->out = out[0];
    char c;
    while (read(s->out, &c, 1) == 1 && c != '\n') s->line += c;
    std::smatch m;
    if (std::regex_match(s->line, m, std::regex(R"(listening on (http://127\.0\.0\.1:\d+))")))
        s->base = m[1].str();
}

}  // namespace emutest

#endif  // CVGEN_TESTS_EMULATOR_EMU_TEST_UTIL_HPP
