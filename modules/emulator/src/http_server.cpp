#include "http_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace cvgen::emulator::detail {

using Clock = std::chrono::steady_clock;

struct HttpServer::Conn {
    int fd = -1;
    std::string in;  // received and not consumed yet (pipelined requests)
    std::string remoteAddr, localAddr;
    int remotePort = -1, localPort = -1;
    Clock::time_point lastActive;
    bool busy = false;  // a pool thread owns it (not armed in epoll)
};

namespace {

constexpr size_t kMaxHead = 64 * 1024;            // request line + headers
constexpr size_t kMaxTarget = 8192;               // as httplib's CPPHTTPLIB_REQUEST_URI_MAX_LENGTH
constexpr uint64_t kListenTag = 1, kWakeTag = 2;  // epoll data of the two non-connection fds

const char* reasonPhrase(int status) {
    switch (status) {
        case 100:
            return "Continue";
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 204:
            return "No Content";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 402:
            return "Payment Required";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 410:
            return "Gone";
        case 413:
            return "Payload Too Large";
        case 414:
            return "URI Too Long";
        case 422:
            return "Unprocessable Entity";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "Status";
    }
}

bool iequals(const std::string& a, const char* b) {
    return strcasecmp(a.c_str(), b) == 0;
}

bool icontains(const std::string& haystack, const char* needle) {
    std::string h = haystack;
    for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return h.find(needle) != std::string::npos;
}

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string decodeUrl(const std::string& s, bool plusIsSpace) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 && hexValue(s[i + 2]) >= 0) {
            out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
            i += 2;
        } else if (plusIsSpace && s[i] == '+') {
            out += ' ';
        } else {
            out += s[i];
        }
    }
    return out;
}

void parseQuery(const std::string& q, httplib::Params* params) {
    size_t start = 0;
    while (start <= q.size()) {
        size_t end = q.find('&', start);
        if (end == std::string::npos) end = q.size();
        const std::string pair = q.substr(start, end - start);
        if (!pair.empty()) {
            const size_t eq = pair.find('=');
            params->emplace(decodeUrl(pair.substr(0, eq), true),
                            eq == std::string::npos ? "" : decodeUrl(pair.substr(eq + 1), true));
        }
        start = end + 1;
    }
}

/** The value of `name="…"` (or `name=token`) in a header value like Content-Disposition. */
std::string headerParam(const std::string& value, const std::string& name) {
    size_t at = 0;
    while ((at = value.find(name + "=", at)) != std::string::npos) {
        // Only at a parameter boundary ("; name=" or the start), not inside another name.
        const bool boundary = at == 0 || value[at - 1] == ';' || value[at - 1] == ' ';
        at += name.size() + 1;
        if (!boundary) continue;
        if (at < value.size() && value[at] == '"') {
            const size_t close = value.find('"', at + 1);
            return value.substr(at + 1,
                                close == std::string::npos ? std::string::npos : close - at - 1);
        }
        const size_t end = value.find(';', at);
        std::string v = value.substr(at, end == std::string::npos ? std::string::npos : end - at);
        while (!v.empty() && v.back() == ' ') v.pop_back();
        return v;
    }
    return "";
}

/** multipart/form-data into req.files; a malformed body leaves what was parsed (the handler
 * then reports the missing part). */
void parseMultipart(httplib::Request& req) {
    const std::string boundary = headerParam(req.get_header_value("Content-Type"), "boundary");
    if (boundary.empty()) return;
    const std::string& b = req.body;
    const std::string delim = "--" + boundary;
    size_t pos = b.find(delim);
    while (pos != std::string::npos) {
        pos += delim.size();
        if (b.compare(pos, 2, "--") == 0) return;  // the closing delimiter
        if (b.compare(pos, 2, "\r\n") != 0) return;
        pos += 2;
        const size_t headEnd = b.find("\r\n\r\n", pos);
        if (headEnd == std::string::npos) return;
        httplib::MultipartFormData part;
        size_t line = pos;
        while (line < headEnd) {
            size_t eol = b.find("\r\n", line);
            if (eol == std::string::npos || eol > headEnd) eol = headEnd;
            const std::string h = b.substr(line, eol - line);
            const size_t colon = h.find(':');
            if (colon != std::string::npos) {
                std::string name = h.substr(0, colon), value = h.substr(colon + 1);
                while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
                    value.erase(value.begin());
                if (iequals(name, "Content-Disposition")) {
                    part.name = headerParam(value, "name");
                    part.filename = headerParam(value, "filename");
                } else if (iequals(name, "Content-Type")) {
                    part.content_type = value;
                }
            }
            line = eol + 2;
        }
        const size_t dataStart = headEnd + 4;
        const size_t next = b.find("\r\n" + delim, dataStart);
        if (next == std::string::npos) return;
        part.content = b.substr(dataStart, next - dataStart);
        req.files.emplace(part.name, std::move(part));
        pos = next + 2;
    }
}

/** Binds a listening socket (non-blocking) to host:port; -1 on failure. */
int bindListen(const std::string& host, int port, int backlog) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* list = nullptr;
    const std::string service = std::to_string(port);
    if (getaddrinfo(host.c_str(), service.c_str(), &hints, &list) != 0) return -1;
    int fd = -1;
    for (addrinfo* ai = list; ai; ai = ai->ai_next) {
        fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                      ai->ai_protocol);
        if (fd < 0) continue;
        // SO_REUSEADDR only: SO_REUSEPORT would let a second server take a port in use.
        int yes = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, backlog) == 0) break;
        ::close(fd);
        fd = -1;
    }
    freeaddrinfo(list);
    return fd;
}

void describe(const sockaddr_storage& s, std::string* addr, int* port) {
    char buf[INET6_ADDRSTRLEN] = {0};
    if (s.ss_family == AF_INET) {
        const auto& a = reinterpret_cast<const sockaddr_in&>(s);
        inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf);
        *port = ntohs(a.sin_port);
    } else if (s.ss_family == AF_INET6) {
        const auto& a = reinterpret_cast<const sockaddr_in6&>(s);
        inet_ntop(AF_INET6, &a.sin6_addr, buf, sizeof buf);
        *port = ntohs(a.sin6_port);
    }
    *addr = buf;
}

}  // namespace

HttpServer::HttpServer(const Params& p, Handler handler, Handler onException,
                       std::shared_ptr<ConnCounters> counters)
    : p_(p),
      handler_(std::move(handler)),
      onException_(std::move(onException)),
      counters_(std::move(counters)) {}

HttpServer::~HttpServer() {
    stop();
}

int HttpServer::start(const std::string& host, int port) {
    if (started_) return -1;
    const int backlog = static_cast<int>(std::max<size_t>(SOMAXCONN, p_.maxConnections));
    listenFd_ = bindListen(host, port, backlog);
    if (listenFd_ < 0) return -1;
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len);
    std::string ignored;
    int bound = -1;
    describe(addr, &ignored, &bound);
    epollFd_ = epoll_create1(EPOLL_CLOEXEC);
    wakeFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenTag;
    epoll_ctl(epollFd_, EPOLL_CTL_ADD, listenFd_, &ev);
    ev.data.u64 = kWakeTag;
    epoll_ctl(epollFd_, EPOLL_CTL_ADD, wakeFd_, &ev);
    GrowingPool::Params pp;
    pp.maxThreads = p_.maxConnections;
    pool_ = std::make_unique<GrowingPool>(pp, counters_);
    stopping_ = false;
    started_ = true;
    loop_ = std::thread([this] { loop(); });
    return bound;
}

void HttpServer::stop() {
    if (!started_) return;
    started_ = false;
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
    }
    const uint64_t one = 1;
    if (::write(wakeFd_, &one, sizeof one) < 0) {
        // The loop also wakes every 250 ms and sees stopping_.
    }
    if (loop_.joinable()) loop_.join();
    pool_->shutdown();  // running requests finish; their connections close (stopping_)
    sweepIdle(true);
    ::close(listenFd_);
    ::close(epollFd_);
    ::close(wakeFd_);
    listenFd_ = epollFd_ = wakeFd_ = -1;
}

void HttpServer::loop() {
    std::vector<epoll_event> events(256);
    auto lastSweep = Clock::now();
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (stopping_) break;
        }
        const int n = epoll_wait(epollFd_, events.data(), static_cast<int>(events.size()), 250);
        for (int i = 0; i < n; ++i) {
            const uint64_t tag = events[i].data.u64;
            if (tag == kListenTag) {
                acceptAll();
            } else if (tag == kWakeTag) {
                uint64_t v;
                while (::read(wakeFd_, &v, sizeof v) > 0) {
                }
            } else {
                Conn* c = static_cast<Conn*>(events[i].data.ptr);
                {
                    std::lock_guard<std::mutex> lock(mu_);
                    c->busy = true;
                }
                pool_->enqueue([this, c] { serve(c); });
            }
        }
        const auto now = Clock::now();
        if (now - lastSweep >= std::chrono::milliseconds(250)) {
            lastSweep = now;
            sweepIdle(false);
        }
    }
    sweepIdle(true);
}

void HttpServer::acceptAll() {
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (conns_.size() >= p_.maxConnections) {
                // Full: leave further clients in the listen backlog until one closes.
                epoll_event ev{};
                ev.data.u64 = kListenTag;
                epoll_ctl(epollFd_, EPOLL_CTL_MOD, listenFd_, &ev);
                acceptPaused_ = true;
                return;
            }
        }
        sockaddr_storage peer{};
        socklen_t len = sizeof peer;
        const int fd = accept4(listenFd_, reinterpret_cast<sockaddr*>(&peer), &len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE) {
                // Out of descriptors: the listen socket stays readable, so stop polling it
                // (no busy loop); a closing connection or the next sweep resumes.
                std::lock_guard<std::mutex> lock(mu_);
                epoll_event ev{};
                ev.data.u64 = kListenTag;
                epoll_ctl(epollFd_, EPOLL_CTL_MOD, listenFd_, &ev);
                acceptPaused_ = true;
            }
            return;  // EAGAIN, or paused
        }
        int one = 1;
        // Without TCP_NODELAY, Nagle plus the client's delayed ACK can add ~40 ms to an answer.
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto c = std::make_unique<Conn>();
        c->fd = fd;
        describe(peer, &c->remoteAddr, &c->remotePort);
        sockaddr_storage local{};
        len = sizeof local;
        getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
        describe(local, &c->localAddr, &c->localPort);
        c->lastActive = Clock::now();
        Conn* raw = c.get();
        std::lock_guard<std::mutex> lock(mu_);
        conns_[fd] = std::move(c);
        ++counters_->accepted;
        raisePeak(counters_->peakOpen, ++counters_->open);
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLONESHOT;
        ev.data.ptr = raw;
        epoll_ctl(epollFd_, EPOLL_CTL_ADD, fd, &ev);
    }
}

void HttpServer::sweepIdle(bool all) {
    const auto now = Clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Conn*> idle;
    for (auto& [fd, c] : conns_)
        if (!c->busy && (all || now - c->lastActive >= p_.keepAlive)) idle.push_back(c.get());
    for (Conn* c : idle) closeConnLocked(c);
    resumeAcceptLocked();  // after running out of descriptors
}

void HttpServer::resumeAcceptLocked() {
    if (!acceptPaused_ || stopping_ || conns_.size() >= p_.maxConnections) return;
    acceptPaused_ = false;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenTag;
    epoll_ctl(epollFd_, EPOLL_CTL_MOD, listenFd_, &ev);
}

void HttpServer::closeConnLocked(Conn* c) {
    const int fd = c->fd;
    ::close(fd);  // also leaves the epoll set
    conns_.erase(fd);
    --counters_->open;
    resumeAcceptLocked();
}

void HttpServer::closeConn(Conn* c) {
    std::lock_guard<std::mutex> lock(mu_);
    closeConnLocked(c);
}

bool HttpServer::recvMore(Conn* c, Clock::time_point deadline) {
    char buf[65536];
    for (;;) {
        const ssize_t n = ::recv(c->fd, buf, sizeof buf, 0);
        if (n > 0) {
            c->in.append(buf, static_cast<size_t>(n));
            return true;
        }
        if (n == 0) return false;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        pollfd pfd{c->fd, POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return false;
    }
}

bool HttpServer::sendAll(Conn* c, const char* data, size_t size) {
    const auto deadline = Clock::now() + p_.ioTimeout;
    while (size > 0) {
        const ssize_t n = ::send(c->fd, data, size, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            size -= static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        pollfd pfd{c->fd, POLLOUT, 0};
        if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return false;
    }
    return true;
}

HttpServer::Read HttpServer::readRequest(Conn* c, httplib::Request& req, int* badStatus) {
    const auto deadline = Clock::now() + p_.ioTimeout;
    auto bad = [&](int status) {
        *badStatus = status;
        return Read::BAD;
    };
    size_t headEnd;
    while ((headEnd = c->in.find("\r\n\r\n")) == std::string::npos) {
        if (c->in.size() > kMaxHead) return bad(431);
        if (!recvMore(c, deadline)) return Read::CLOSED;
    }
    if (headEnd > kMaxHead) return bad(431);
    // Request line.
    const size_t lineEnd = c->in.find("\r\n");
    const std::string line = c->in.substr(0, lineEnd);
    const size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 == std::string::npos || sp2 == sp1) return bad(400);
    req.method = line.substr(0, sp1);
    req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    req.version = line.substr(sp2 + 1);
    if (req.version != "HTTP/1.1" && req.version != "HTTP/1.0") return bad(400);
    if (req.target.size() > kMaxTarget) return bad(414);
    if (req.method.empty() || req.target.empty()) return bad(400);
    // Headers.
    for (size_t pos = lineEnd + 2; pos < headEnd;) {
        size_t eol = c->in.find("\r\n", pos);
        if (eol > headEnd) eol = headEnd;
        const std::string h = c->in.substr(pos, eol - pos);
        pos = eol + 2;
        const size_t colon = h.find(':');
        if (colon == std::string::npos || colon == 0 || h[0] == ' ' || h[0] == '\t')
            return bad(400);
        std::string value = h.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
            value.erase(value.begin());
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
        req.headers.emplace(h.substr(0, colon), value);
    }
    size_t consumed = headEnd + 4;
    // Body.
    const std::string te = req.get_header_value("Transfer-Encoding");
    const bool chunked = !te.empty() && icontains(te, "chunked");
    const bool hasLength = req.has_header("Content-Length");
    if (chunked && hasLength) return bad(400);
    auto continueIfAsked = [&] {
        if (icontains(req.get_header_value("Expect"), "100-continue")) {
            static const char k100[] = "HTTP/1.1 100 Continue\r\n\r\n";
            sendAll(c, k100, sizeof k100 - 1);
        }
    };
    if (chunked) {
        bool asked = false;
        for (;;) {
            size_t eol;
            while ((eol = c->in.find("\r\n", consumed)) == std::string::npos) {
                if (!asked) continueIfAsked();
                asked = true;
                if (!recvMore(c, deadline)) return Read::CLOSED;
            }
            const std::string sizeLine = c->in.substr(consumed, eol - consumed);
            size_t size = 0;
            size_t i = 0;
            for (; i < sizeLine.size() && hexValue(sizeLine[i]) >= 0; ++i) {
                size = size * 16 + static_cast<size_t>(hexValue(sizeLine[i]));
                if (size > p_.payloadMax) return bad(413);
            }
            if (i == 0) return bad(400);
            consumed = eol + 2;
            if (size == 0) {
                // Trailers, up to an empty line.
                for (;;) {
                    while ((eol = c->in.find("\r\n", consumed)) == std::string::npos)
                        if (!recvMore(c, deadline)) return Read::CLOSED;
                    const bool empty = eol == consumed;
                    consumed = eol + 2;
                    if (empty) break;
                }
                break;
            }
            if (req.body.size() + size > p_.payloadMax) return bad(413);
            while (c->in.size() < consumed + size + 2) {
                if (!asked) continueIfAsked();
                asked = true;
                if (!recvMore(c, deadline)) return Read::CLOSED;
            }
            req.body.append(c->in, consumed, size);
            consumed += size + 2;
        }
    } else if (hasLength) {
        const std::string v = req.get_header_value("Content-Length");
        if (v.empty() || v.size() > 18 ||
            !std::all_of(v.begin(), v.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
            return bad(400);
        const size_t length = std::stoull(v);
        if (length > p_.payloadMax) return bad(413);
        if (c->in.size() < consumed + length) {
            continueIfAsked();
            c->in.reserve(consumed + length);
            while (c->in.size() < consumed + length)
                if (!recvMore(c, deadline)) return Read::CLOSED;
        }
        req.body = c->in.substr(consumed, length);
        consumed += length;
    }
    c->in.erase(0, consumed);
    if (c->in.capacity() > (size_t(1) << 20)) c->in.shrink_to_fit();  // after a big body
    const size_t q = req.target.find('?');
    req.path = decodeUrl(req.target.substr(0, q), false);
    if (q != std::string::npos) parseQuery(req.target.substr(q + 1), &req.params);
    if (req.is_multipart_form_data()) parseMultipart(req);
    req.remote_addr = c->remoteAddr;
    req.remote_port = c->remotePort;
    req.local_addr = c->localAddr;
    req.local_port = c->localPort;
    return Read::OK;
}

bool HttpServer::writeAnswer(Conn* c, bool withBody, httplib::Response& res, bool keep) {
    if (res.status < 100) res.status = 500;
    const bool provider = static_cast<bool>(res.content_provider_);
    const size_t length = provider ? res.content_length_ : res.body.size();
    std::string head =
        "HTTP/1.1 " + std::to_string(res.status) + " " + reasonPhrase(res.status) + "\r\n";
    for (const auto& [name, value] : res.headers) {
        if (iequals(name, "Content-Length") || iequals(name, "Connection")) continue;
        head += name + ": " + value + "\r\n";
    }
    head += "Content-Length: " + std::to_string(length) + "\r\n";
    head += keep ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
    head += "\r\n";
    if (!provider) {
        if (withBody && res.body.size() <= 16384) {
            head += res.body;  // one write for a small answer
            return sendAll(c, head.data(), head.size());
        }
        return sendAll(c, head.data(), head.size()) &&
               (!withBody || sendAll(c, res.body.data(), res.body.size()));
    }
    if (!sendAll(c, head.data(), head.size())) return false;
    if (!withBody) return true;
    size_t written = 0;
    bool ok = true;
    httplib::DataSink sink;
    sink.write = [&](const char* d, size_t n) {
        ok = ok && sendAll(c, d, n);
        if (ok) written += n;
        return ok;
    };
    sink.is_writable = [&] { return ok; };
    sink.done = [] {};
    while (written < length) {
        const size_t before = written;
        // A provider that answers false (or writes nothing) aborts: the connection closes short
        // of Content-Length, which is what the truncated-download fault wants.
        if (!res.content_provider_(written, length - written, sink) || !ok || written == before)
            return false;
    }
    res.content_provider_success_ = true;
    return true;
}

void HttpServer::serve(Conn* c) {
    for (;;) {
        httplib::Request req;
        httplib::Response res;
        int badStatus = 400;
        const Read r = readRequest(c, req, &badStatus);
        if (r == Read::CLOSED) {
            closeConn(c);
            return;
        }
        if (r == Read::BAD) {
            res.status = badStatus;
            writeAnswer(c, true, res, false);
            closeConn(c);
            return;
        }
        const std::string connection = req.get_header_value("Connection");
        bool keep = req.version == "HTTP/1.1" ? !icontains(connection, "close")
                                              : icontains(connection, "keep-alive");
        {
            std::lock_guard<std::mutex> lock(mu_);
            keep = keep && !stopping_;
        }
        // HEAD is answered as GET without the body.
        const bool head = req.method == "HEAD";
        if (head) req.method = "GET";
        try {
            handler_(req, res);
        } catch (...) {
            res = httplib::Response();
            onException_(req, res);
        }
        if (!writeAnswer(c, !head, res, keep) || !keep) {
            closeConn(c);
            return;
        }
        if (!c->in.empty()) continue;  // a pipelined request is already here
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) {
            closeConnLocked(c);
            return;
        }
        c->busy = false;
        c->lastActive = Clock::now();
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLONESHOT;
        ev.data.ptr = c;
        epoll_ctl(epollFd_, EPOLL_CTL_MOD, c->fd, &ev);
        return;  // the loop owns it again
    }
}

}  // namespace cvgen::emulator::detail
