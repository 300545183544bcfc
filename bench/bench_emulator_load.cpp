// Load on the emulator: N keep-alive clients, each sending a status query (GET of one task by
// id), waiting for the answer, then thinking for a random time around --think-ms, for --seconds.
// One client thread drives every connection with epoll, so the client costs little next to the
// server it measures. Prints connections, answers, req/s, p50/p90/p99/max latency, CPU and the
// load average. Without --url it measures an in-process emulator (server CPU = process CPU minus
// the client thread's); with --url it loads a running `cvgen serve`.
//
//   bench_emulator_load [--connections=1000] [--seconds=10] [--think-ms=200]
//                       [--url=http://127.0.0.1:PORT] [--key=bench-key] [--seed=1]
//   bench_emulator_load --render-tasks=N [--render=fast|full]   (CPU per 1 MP result)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <queue>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "cvgen/emulator.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    int connections = 1000;
    double seconds = 10;
    double thinkMs = 200;
    std::string url;
    std::string key = "bench-key";
    uint64_t seed = 1;
    int renderTasks = 0;  // > 0: measure the render cost instead (see renderCost())
    std::string render = "fast";
};

struct Conn {
    int fd = -1;
    std::string out, in;
    Clock::time_point sentAt;
    bool busy = false;    // a request is in flight
    int64_t answers = 0;  // after the warm-up
};

double cpuSeconds(int who) {
    rusage u{};
    getrusage(who, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/** Creates one generation task (blocking, on its own connection) and returns its id ("" on
 * failure). */
std::string createTask(int port, const std::string& key) {
    const std::string body = R"({"prompt":"load","aspect_ratio":"1:1"})";
    const std::string req =
        "POST /kling/v1/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Authorization: Bearer " +
        key +
        "\r\nContent-Type: application/json\r\nConnection: close\r\n"
        "Content-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string in;
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) in.append(buf, static_cast<size_t>(n));
    }
    if (fd >= 0) ::close(fd);
    const std::string k = "\"task_id\":\"";
    const size_t at = in.find(k);
    if (at == std::string::npos) return "";
    return in.substr(at + k.size(), in.find('"', at + k.size()) - at - k.size());
}

/** Complete answer at the front of `in`: its status, and erases it; 0 when incomplete. */
int takeAnswer(std::string& in, bool* good) {
    const size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos) return 0;
    size_t len = 0;
    const char* h = in.c_str();
    for (size_t p = 0; (p = in.find("\r\n", p)) != std::string::npos && p < end;) {
        p += 2;
        if (strncasecmp(h + p, "Content-Length:", 15) == 0)
            len = std::strtoul(h + p + 15, nullptr, 10);
    }
    if (in.size() < end + 4 + len) return 0;
    const int status = std::atoi(h + in.find(' ') + 1);
    *good = status == 200 && in.compare(end + 4, 9, "{\"code\":0") == 0;
    in.erase(0, end + 4 + len);
    return status;
}

/** Render cost: N generation tasks of 1:1 at 1k (1024x1024, ~1 MP) on an in-process emulator
 * with no latency; the server's CPU (process minus this thread) per task, request handling
 * included. */
int renderCost(const Options& o) {
    cvgen::emulator::Params p;
    p.apiKeys = {o.key};
    p.latency = std::chrono::milliseconds(0);
    p.render =
        o.render == "full" ? cvgen::emulator::RenderMode::FULL : cvgen::emulator::RenderMode::FAST;
    auto server = cvgen::emulator::Server::create(p);
    if (!server->start().ok()) return 1;
    const double client0 = cpuSeconds(RUSAGE_THREAD), proc0 = cpuSeconds(RUSAGE_SELF);
    const auto t0 = Clock::now();
    for (int i = 0; i < o.renderTasks; ++i) {
        if (createTask(server->port(), o.key).empty()) {
            std::fprintf(stderr, "create %d failed\n", i);
            return 1;
        }
    }
    const std::string want = "\"succeed\":" + std::to_string(o.renderTasks) + ",";
    while (server->statsJson().find(want) == std::string::npos) {
        if (Clock::now() - t0 > std::chrono::minutes(5)) return 1;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const double serverCpu =
        (cpuSeconds(RUSAGE_SELF) - proc0) - (cpuSeconds(RUSAGE_THREAD) - client0);
    server->stop();
    std::string load, load5, load15;
    std::ifstream("/proc/loadavg") >> load >> load5 >> load15;
    std::printf(
        "render %s: %d generation tasks of 1024x1024 (1.05 MP): server CPU %.2f ms per task "
        "(create + render + PNG encode); load average %s %s %s\n",
        o.render.c_str(), o.renderTasks, 1000 * serverCpu / o.renderTasks, load.c_str(),
        load5.c_str(), load15.c_str());
    return 0;
}

int run(const Options& o) {
    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);

    cv::Ptr<cvgen::emulator::Server> server;
    std::string base = o.url;
    int port = 0;
    if (base.empty()) {
        cvgen::emulator::Params p;
        p.apiKeys = {o.key};
        p.latency = std::chrono::milliseconds(100);
        p.maxConnections = std::max(1024, o.connections + 16);
        p.seed = o.seed;
        server = cvgen::emulator::Server::create(p);
        const cvgen::Status st = server->start();
        if (!st.ok()) {
            std::fprintf(stderr, "emulator: %s\n", st.toString().c_str());
            return 1;
        }
        base = server->baseUrl();
    }
    port = std::atoi(base.c_str() + base.rfind(':') + 1);
    const std::string id = createTask(port, o.key);
    if (id.empty()) {
        std::fprintf(stderr, "could not create a task at %s\n", base.c_str());
        return 1;
    }
    const std::string request = "GET /kling/v1/images/generations/" + id +
                                " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + o.key +
                                "\r\n\r\n";

    const int ep = epoll_create1(EPOLL_CLOEXEC);
    std::vector<Conn> conns(static_cast<size_t>(o.connections));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (size_t i = 0; i < conns.size(); ++i) {
        Conn& c = conns[i];
        c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (c.fd < 0 || (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
                         errno != EINPROGRESS)) {
            std::fprintf(stderr, "connect %zu: %s\n", i, std::strerror(errno));
            return 1;
        }
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
        ev.data.u64 = i;
        epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    }

    // Timers: when each connection sends its next query. The first ones spread over one think
    // time, so the run does not start with every client in step.
    using Timer = std::pair<Clock::time_point, size_t>;
    std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers;
    std::mt19937_64 rng(o.seed);
    std::uniform_real_distribution<double> jitter(0.5, 1.5), start(0.0, 1.0);
    const auto t0 = Clock::now();
    auto after = [](double ms) {
        return std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double, std::milli>(ms));
    };
    for (size_t i = 0; i < conns.size(); ++i) timers.emplace(t0 + after(o.thinkMs * start(rng)), i);
    const auto warm = t0 + std::chrono::seconds(1);
    const auto until = warm + after(o.seconds * 1000);
    std::vector<double> lat;
    lat.reserve(static_cast<size_t>(o.connections * o.seconds * 10) + 1024);
    int64_t answers = 0, wrong = 0, closed = 0;
    double clientWarm = 0, procWarm = 0;
    bool warmed = false;

    auto flush = [&](Conn& c) {
        while (!c.out.empty()) {
            const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
            if (n <= 0) return;
            c.out.erase(0, static_cast<size_t>(n));
        }
    };
    std::vector<epoll_event> events(1024);
    char buf[65536];
    for (;;) {
        const auto now = Clock::now();
        if (!warmed && now >= warm) {
            warmed = true;
            clientWarm = cpuSeconds(RUSAGE_THREAD);
            procWarm = cpuSeconds(RUSAGE_SELF);
            lat.clear();
            answers = wrong = 0;
            for (auto& c : conns) c.answers = 0;
        }
        if (now >= until) break;
        while (!timers.empty() && timers.top().first <= now) {
            Conn& c = conns[timers.top().second];
            timers.pop();
            c.out = request;
            c.busy = true;
            c.sentAt = Clock::now();
            flush(c);
        }
        int waitMs = 50;
        if (!timers.empty())
            waitMs = static_cast<int>(std::clamp<int64_t>(
                std::chrono::duration_cast<std::chrono::milliseconds>(timers.top().first - now)
                        .count() +
                    1,
                0, 50));
        const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), waitMs);
        for (int e = 0; e < n; ++e) {
            const size_t i = events[e].data.u64;
            Conn& c = conns[i];
            if (events[e].events & EPOLLOUT) flush(c);
            if (!(events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            for (;;) {
                const ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
                if (r > 0) {
                    c.in.append(buf, static_cast<size_t>(r));
                    continue;
                }
                if (r == 0 || errno != EAGAIN) {
                    ++closed;
                    epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
                    ::close(c.fd);
                    c.fd = -1;
                    c.busy = false;
                }
                break;
            }
            bool good = false;
            while (c.fd >= 0 && c.busy && takeAnswer(c.in, &good) != 0) {
                const auto done = Clock::now();
                lat.push_back(std::chrono::duration<double, std::milli>(done - c.sentAt).count());
                ++answers;
                ++c.answers;
                if (!good) ++wrong;
                c.busy = false;
                timers.emplace(done + after(o.thinkMs * jitter(rng)), i);
            }
        }
    }
    const auto end = Clock::now();
    const double measured = std::chrono::duration<double>(end - warm).count();
    int64_t unanswered = 0;
    double oldest = 0;
    for (const auto& c : conns) {
        if (c.fd < 0 || !c.busy) continue;
        ++unanswered;
        oldest = std::max(oldest, std::chrono::duration<double>(end - c.sentAt).count());
    }
    const double clientCpu = cpuSeconds(RUSAGE_THREAD) - clientWarm;
    const double procCpu = cpuSeconds(RUSAGE_SELF) - procWarm;
    for (auto& c : conns)
        if (c.fd >= 0) ::close(c.fd);
    ::close(ep);
    std::string stats;
    if (server) {
        stats = server->statsJson();
        const size_t at = stats.find("\"connections\":");
        stats = at == std::string::npos ? "" : stats.substr(at, stats.find('}', at) - at + 1);
        server->stop();
    }
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double q) {
        return lat.empty() ? 0.0
                           : lat[std::min(lat.size() - 1, static_cast<size_t>(q * lat.size()))];
    };
    // Fairness: a server that serves a few connections and stalls the rest shows it here, not
    // in the latency percentiles (a stalled client sends no more requests to measure).
    std::vector<int64_t> per;
    for (const auto& c : conns) per.push_back(c.answers);
    std::sort(per.begin(), per.end());
    std::string load, load5, load15;
    {
        std::ifstream la("/proc/loadavg");
        la >> load >> load5 >> load15;
    }
    std::printf(
        "emulator load: %d keep-alive connections, think %.0f ms, %.1f s measured (after 1 s "
        "warm-up): %lld answers, %lld wrong, %lld closed by the server, %.0f req/s, latency p50 "
        "%.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
        o.connections, o.thinkMs, measured, (long long)answers, (long long)wrong, (long long)closed,
        double(answers) / measured, pct(0.5), pct(0.9), pct(0.99), lat.empty() ? 0.0 : lat.back());
    std::printf(
        "answers per connection: min %lld, median %lld, max %lld; unanswered at the end: %lld "
        "(oldest waiting %.1f s)\n",
        (long long)per.front(), (long long)per[per.size() / 2], (long long)per.back(),
        (long long)unanswered, oldest);
    if (server)
        std::printf("cpu: server %.2f s (%.0f%% of a core), client %.2f s; %s\n",
                    procCpu - clientCpu, 100 * (procCpu - clientCpu) / measured, clientCpu,
                    stats.c_str());
    else
        std::printf("cpu: client %.2f s (server in another process: --url %s)\n", clientCpu,
                    o.url.c_str());
    std::printf("load average: %s %s %s (1, 5, 15 min)\n", load.c_str(), load5.c_str(),
                load15.c_str());
    return wrong == 0 && closed == 0 && oldest < 1.0 ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
    using cvgen::bench::flagValue;
    Options o;
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        if (const char* v = flagValue(a, "--connections=")) {
            o.connections = std::max(1, std::atoi(v));
        } else if (const char* v = flagValue(a, "--seconds=")) {
            o.seconds = std::max(0.5, std::atof(v));
        } else if (const char* v = flagValue(a, "--think-ms=")) {
            o.thinkMs = std::max(0.0, std::atof(v));
        } else if (const char* v = flagValue(a, "--url=")) {
            o.url = v;
        } else if (const char* v = flagValue(a, "--key=")) {
            o.key = v;
        } else if (const char* v = flagValue(a, "--render-tasks=")) {
            o.renderTasks = std::max(1, std::atoi(v));
        } else if (const char* v = flagValue(a, "--render=")) {
            o.render = v;
        } else if (const char* v = flagValue(a, "--seed=")) {
            o.seed = std::strtoull(v, nullptr, 10);
        } else {
            std::fprintf(stderr,
                         "usage: %s [--connections=N] [--seconds=S] [--think-ms=T] "
                         "[--url=http://127.0.0.1:PORT] [--key=K] [--seed=N]\n"
                         "       %s --render-tasks=N [--render=fast|full]\n",
                         argv[0], argv[0]);
            return 1;
        }
    }
    return o.renderTasks > 0 ? renderCost(o) : run(o);
}
