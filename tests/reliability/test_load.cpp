// Load: the emulator under 200 concurrent clients on 127.0.0.1 keeps answering correctly. The
// duration is CVGEN_LOAD_SECONDS (default 5 s in ctest; RELIABILITY.md has a 30 s run).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "cvgen/emulator.hpp"
#include "reliability/rel_util.hpp"

namespace cvgen::reliability {
namespace {

TEST(Reliability_Load, emulatorAnswers200ConcurrentClientsCorrectly) {
    const char* env = std::getenv("CVGEN_LOAD_SECONDS");
    const double seconds = env ? std::max(1.0, std::atof(env)) : 5.0;
    const int kClients = 200;
    emulator::Params ep;
    ep.apiKeys = {"load-key"};
    ep.latency = std::chrono::milliseconds(50);
    auto server = emulator::Server::create(ep);
    ASSERT_TRUE(server->start().ok());
    const std::string base = server->baseUrl();

    std::atomic<int64_t> ok{0}, wrong{0};
    std::mutex mu;
    std::vector<double> latencies;
    std::string firstWrong;
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(seconds * 1000));
    auto client = [&](int id) {
        CURL* c = curl_easy_init();
        curl_slist* h = curl_slist_append(nullptr, "Authorization: Bearer load-key");
        std::vector<double> mine;
        int i = 0;
        while (std::chrono::steady_clock::now() < until) {
            // Alternate: a task that does not exist (404, code 1203) and the task list (200).
            const bool missing = (id + i++) % 2 == 0;
            const std::string url =
                base + (missing ? "/kling/v1/images/editing/expand/nope-" + std::to_string(id)
                                : "/kling/v1/images/editing/expand?pageNum=1&pageSize=5");
            std::string body;
            curl_easy_setopt(c, CURLOPT_URL, url.c_str());
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &appendBody);
            curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
            curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
            curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
            const auto t0 = std::chrono::steady_clock::now();
            const CURLcode rc = curl_easy_perform(c);
            mine.push_back(
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                    .count());
            long status = 0;
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
            const bool good =
                rc == CURLE_OK &&
                (missing ? status == 404 && body.find("\"code\":1203") != std::string::npos
                         : status == 200 && body.find("\"code\":0") != std::string::npos);
            if (good) {
                ++ok;
            } else {
                ++wrong;
                std::lock_guard<std::mutex> lock(mu);
                if (firstWrong.empty())
                    firstWrong = std::string(curl_easy_strerror(rc)) + " " +
                                 std::to_string(status) + " " + body.substr(0, 200);
            }
        }
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        std::lock_guard<std::mutex> lock(mu);
        latencies.insert(latencies.end(), mine.begin(), mine.end());
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < kClients; ++i) threads.emplace_back(client, i);
    for (auto& t : threads) t.join();
    server->stop();

    EXPECT_EQ(wrong.load(), 0) << firstWrong;
    EXPECT_GT(ok.load(), int64_t(kClients));
    std::sort(latencies.begin(), latencies.end());
    const double p50 = latencies[latencies.size() / 2];
    const double p99 = latencies[latencies.size() * 99 / 100];
    RecordProperty("requests", std::to_string(ok.load()));
    RecordProperty("requests_per_second", std::to_string(double(ok.load()) / seconds));
    RecordProperty("p50_ms", std::to_string(p50));
    RecordProperty("p99_ms", std::to_string(p99));
    std::printf(
        "load: %d clients, %.0f s: %lld ok, %lld wrong, %.0f req/s, p50 %.1f ms, p99 %.1f "
        "ms\n",
        kClients, seconds, (long long)ok.load(), (long long)wrong.load(),
        double(ok.load()) / seconds, p50, p99);
}

}  // namespace
}  // namespace cvgen::reliability
