// Internal: the emulator's plain-HTTP/1.1 server. One thread owns every connection that waits
// for its next request (epoll, EPOLLONESHOT): an idle keep-alive client costs a descriptor and a
// few hundred bytes, not a thread. A connection with a request to read is handed to a
// GrowingPool thread, which reads the request, runs the handler (which may block: a slow-answer
// fault, a synchronous upscale), writes the answer and hands the connection back.
//
// Requests and answers are httplib's structs, so the handler is the same for this server and for
// httplib's TLS server. What is parsed: request line, headers, a Content-Length or chunked body
// (Expect: 100-continue answered), the query string into params, multipart/form-data into files.
#ifndef CVGEN_EMULATOR_SRC_HTTP_SERVER_HPP
#define CVGEN_EMULATOR_SRC_HTTP_SERVER_HPP

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include <httplib.h>

#include "growing_pool.hpp"

namespace cvgen::emulator::detail {

class HttpServer {
public:
    using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
    struct Params {
        size_t maxConnections = 1024;  ///< open at once; more wait in the listen backlog
        size_t payloadMax = size_t(64) << 20;
        std::chrono::milliseconds keepAlive{5000};  ///< an idle connection is closed after this
        std::chrono::milliseconds ioTimeout{5000};  ///< to receive a request / send an answer
    };

    /** @param onException fills the answer when the handler throws. */
    HttpServer(const Params& p, Handler handler, Handler onException,
               std::shared_ptr<ConnCounters> counters);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    /** @brief Binds host:port (0 = ephemeral) and starts serving; returns the port, or -1. */
    int start(const std::string& host, int port);
    /** @brief Stops accepting, closes idle connections, lets running requests finish. */
    void stop();

private:
    struct Conn;
    enum class Read { OK, CLOSED, BAD };

    void loop();
    void acceptAll();
    void sweepIdle(bool all);
    void serve(Conn* c);
    Read readRequest(Conn* c, httplib::Request& req, int* badStatus);
    bool recvMore(Conn* c, std::chrono::steady_clock::time_point deadline);
    bool sendAll(Conn* c, const char* data, size_t size);
    bool writeAnswer(Conn* c, bool withBody, httplib::Response& res, bool keep);
    void closeConnLocked(Conn* c);
    void resumeAcceptLocked();
    void closeConn(Conn* c);

    Params p_;
    Handler handler_, onException_;
    std::shared_ptr<ConnCounters> counters_;
    int listenFd_ = -1, epollFd_ = -1, wakeFd_ = -1;
    std::thread loop_;
    std::unique_ptr<GrowingPool> pool_;
    std::mutex mu_;  // conns_, each Conn's busy/lastActive, acceptPaused_, stopping_
    std::unordered_map<int, std::unique_ptr<Conn>> conns_;
    bool acceptPaused_ = false;
    bool stopping_ = false;
    bool started_ = false;
};

}  // namespace cvgen::emulator::detail

#endif  // CVGEN_EMULATOR_SRC_HTTP_SERVER_HPP
