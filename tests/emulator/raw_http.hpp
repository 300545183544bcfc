// Many keep-alive HTTP/1.1 connections from one thread: non-blocking sockets and poll(), so a
// test can hold a thousand connections open at once without a thousand client threads.
#ifndef CVGEN_TESTS_EMULATOR_RAW_HTTP_HPP
#define CVGEN_TESTS_EMULATOR_RAW_HTTP_HPP

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

namespace emutest {

/** One client connection to 127.0.0.1:port, used one request at a time. */
struct RawConn {
    int fd = -1;
    std::string out;  ///< bytes still to send
    std::string in;   ///< bytes received for the current answer
    int status = 0;   ///< of the last complete answer
    std::string body, headers;
    bool failed = false;
    bool head = false;  ///< the request was HEAD: the answer has no body

    bool open(int port) {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) return false;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        return rc == 0 || errno == EINPROGRESS;
    }
    void close() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
    void request(const std::string& method, const std::string& target,
                 const std::vector<std::string>& headers, const std::string& reqBody = "") {
        out = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
        for (const auto& h : headers) out += h + "\r\n";
        if (!reqBody.empty() || method == "POST")
            out += "Content-Length: " + std::to_string(reqBody.size()) + "\r\n";
        out += "\r\n" + reqBody;
        in.clear();
        status = 0;
        head = method == "HEAD";
    }
    bool waiting() const { return fd >= 0 && !failed && status == 0; }
    /** Sends what it can; returns false on a socket error. */
    bool flush() {
        while (!out.empty()) {
            const ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
            if (n < 0) return errno == EAGAIN || errno == EINPROGRESS || errno == ENOTCONN;
            out.erase(0, static_cast<size_t>(n));
        }
        return true;
    }
    /** Reads what is there; sets status/headers/body once the answer is complete. */
    bool readSome() {
        char buf[16384];
        for (;;) {
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n > 0) {
                in.append(buf, static_cast<size_t>(n));
                continue;
            }
            if (n == 0) return parse() || (failed = true, false);  // peer closed
            if (errno == EAGAIN) break;
            failed = true;
            return false;
        }
        parse();
        return true;
    }
    bool parse() {
        const size_t end = in.find("\r\n\r\n");
        if (end == std::string::npos) return false;
        headers = in.substr(0, end);
        size_t len = 0;
        for (size_t p = 0; (p = headers.find("\r\n", p)) != std::string::npos;) {
            p += 2;
            if (strncasecmp(headers.c_str() + p, "Content-Length:", 15) == 0)
                len = std::strtoul(headers.c_str() + p + 15, nullptr, 10);
        }
        if (head) len = 0;
        if (in.size() < end + 4 + len) return false;
        body = in.substr(end + 4, len);
        status = std::atoi(headers.c_str() + headers.find(' ') + 1);
        in.erase(0, end + 4 + len);
        return true;
    }
};

/** Drives every waiting connection until all have an answer or `timeout` passes; returns how
 * many are still waiting. */
inline size_t pumpAll(std::vector<RawConn>& conns, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::vector<pollfd> fds;
    std::vector<RawConn*> who;
    for (;;) {
        fds.clear();
        who.clear();
        for (auto& c : conns) {
            if (!c.waiting()) continue;
            fds.push_back(pollfd{c.fd, short(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
            who.push_back(&c);
        }
        if (fds.empty()) return 0;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (left.count() <= 0) return fds.size();
        if (::poll(fds.data(), fds.size(), static_cast<int>(std::min<int64_t>(left.count(), 100))) <
            0)
            continue;
        for (size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].revents & POLLOUT) who[i]->failed = !who[i]->flush();
            if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) who[i]->readSome();
        }
    }
}

/** Raises the soft descriptor limit to at least `n`; false when the hard limit is lower. */
inline bool ensureDescriptors(rlim_t n) {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return false;
    if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur >= n) return true;
    if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < n) return false;
    lim.rlim_cur = n;
    return setrlimit(RLIMIT_NOFILE, &lim) == 0;
}

}  // namespace emutest

#endif  // CVGEN_TESTS_EMULATOR_RAW_HTTP_HPP
