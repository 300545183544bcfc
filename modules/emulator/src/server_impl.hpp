// Internal: the emulator server. Its lifecycle, request pipeline and fault injection are in
// server.cpp; auth and the API routes (creates, queries, lists, upscale) in handlers.cpp.
#ifndef CVGEN_EMULATOR_SRC_SERVER_IMPL_HPP
#define CVGEN_EMULATOR_SRC_SERVER_IMPL_HPP

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "capture.hpp"
#include "cvgen/emulator/server.hpp"
#include "cvgen/local/local_provider.hpp"
#include "fault_injector.hpp"
#include "growing_pool.hpp"
#include "http_server.hpp"
#include "routes.hpp"
#include "tasks.hpp"

namespace cvgen::emulator::detail {

class ServerImpl final : public Server {
public:
    explicit ServerImpl(const Params& p);
    ~ServerImpl() override { stop(); }

    Status start() override;
    int port() const override { return port_; }
    std::string baseUrl() const override;
    void stop() override;
    std::string statsJson() const override;

private:
    // ---- the request pipeline (server.cpp) -------------------------------------------------
    static std::vector<std::string> knownSecrets(const Params& p);
    void handle(const httplib::Request& req, httplib::Response& res);
    void listRequests(const httplib::Request& req, httplib::Response& res);
    void dispatch(const httplib::Request& req, const Route& route, httplib::Response& res);
    void applyBefore(const FaultSpec& f, const Route& route, const std::string& rid,
                     httplib::Response& res);
    void applyAfter(const FaultSpec& f, const httplib::Request& req, httplib::Response& res);
    bool download(const httplib::Request& req, const Route& route, const std::string& rid,
                  httplib::Response& res);

    // ---- auth (handlers.cpp) ---------------------------------------------------------------
    bool openMode() const { return p_.apiKeys.empty() && p_.accessKey.empty(); }
    bool keyAccepted(const std::string& key) const;
    bool authBearer(const httplib::Request& req, Family fam, const std::string& rid,
                    httplib::Response& res, std::string* account);
    bool authApiKey(const httplib::Request& req, const std::string& rid, httplib::Response& res,
                    std::string* account);

    // ---- API routes (handlers.cpp) ---------------------------------------------------------
    std::string resultBase(const httplib::Request& req) const;
    Result<std::vector<uint8_t>> fetchOwn(const httplib::Request& req, const std::string& url);
    void serveApi(const httplib::Request& req, const Route& route, const std::string& rid,
                  httplib::Response& res);
    void createTask(const httplib::Request& req, const Route& route, const std::string& rid,
                    TaskSpec spec, httplib::Response& res);
    void upscale(const httplib::Request& req, const Route& route, const std::string& rid,
                 const std::string& account, httplib::Response& res);

    Params p_;
    static constexpr size_t kCaptureCapacity = 1000;
    SecretMasker masker_;
    RequestLog requests_{kCaptureCapacity};
    std::unique_ptr<HttpServer> http_;      // plain HTTP
    std::unique_ptr<httplib::Server> svr_;  // HTTPS
    std::shared_ptr<ConnCounters> conns_ = std::make_shared<ConnCounters>();
    std::unique_ptr<TaskStore> store_;
    std::unique_ptr<FaultInjector> faults_;
    cv::Ptr<local::LocalProvider> engine_;
    std::thread listener_;
    std::mutex lifeMu_;
    bool started_ = false;
    int port_ = 0;
    bool tls_ = false;
    mutable std::mutex statsMu_;
    std::map<std::string, int64_t> byRoute_;
    std::mutex sleepMu_;
    std::condition_variable sleepCv_;
    bool stopping_ = false;
};

}  // namespace cvgen::emulator::detail

#endif  // CVGEN_EMULATOR_SRC_SERVER_IMPL_HPP
