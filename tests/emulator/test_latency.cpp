// Task time distributions: --latency MEAN with --latency-sd SD draws each task's time from a
// seeded lognormal; `processing` at a random point before the end; updated_at true to both.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "emu_test_util.hpp"
#include "raw_http.hpp"

using namespace emutest;
namespace emu = cvgen::emulator;

namespace {

/** Every task ends `failed` (the task_failed fault): nothing is rendered, so a task's final
 * updated_at is exactly its drawn end. */
cv::Ptr<emu::Server> startDrawing(uint64_t seed, std::chrono::milliseconds mean,
                                  std::chrono::milliseconds sd) {
    auto p = fastParams();
    p.seed = seed;
    p.latency = mean;
    p.latencySd = sd;
    emu::FaultSpec f;
    f.kind = emu::FaultKind::TASK_FAILED;
    f.rate = 1.0;
    p.faults = {f};
    return start(p);
}

/** Creates `n` generation tasks over one keep-alive connection, waits for their ends and
 * returns each task's time (final updated_at - created_at) in creation order. */
std::vector<int64_t> drawTimes(emu::Server& s, int n) {
    std::vector<RawConn> conn(1);
    EXPECT_TRUE(conn[0].open(s.port()));
    for (int i = 0; i < n; ++i) {
        conn[0].request("POST", "/kling/v1/images/generations",
                        {bearer(), "Content-Type: application/json"},
                        R"({"prompt":"p","aspect_ratio":"1:1"})");
        EXPECT_EQ(pumpAll(conn, std::chrono::seconds(10)), 0u);
        EXPECT_EQ(conn[0].status, 200) << conn[0].body;
    }
    conn[0].close();
    for (int i = 0; i < 3000 && stats(s)["tasks"]["failed"].GetInt64() < n; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::vector<int64_t> times;
    for (int page = 1; page <= (n + 499) / 500; ++page) {
        Response r =
            get(s.baseUrl() + "/kling/v1/images/generations?pageNum=" + std::to_string(page) +
                    "&pageSize=500",
                {bearer()});
        const auto d = parse(r.body);
        for (const auto& t : d["data"].GetArray()) {
            EXPECT_STREQ(t["task_status"].GetString(), "failed");
            times.push_back(t["updated_at"].GetInt64() - t["created_at"].GetInt64());
        }
    }
    std::reverse(times.begin(), times.end());  // the list is newest first
    return times;
}

}  // namespace

TEST(Emulator_Latency, drawsHaveTheAskedMeanAndSpreadAndAreReproducibleForASeed) {
    const int kTasks = 1000;
    auto s = startDrawing(7, std::chrono::milliseconds(100), std::chrono::milliseconds(50));
    const std::vector<int64_t> t = drawTimes(*s, kTasks);
    ASSERT_EQ(t.size(), size_t(kTasks));
    double mean = 0;
    for (int64_t v : t) mean += double(v);
    mean /= kTasks;
    double var = 0;
    for (int64_t v : t) var += (double(v) - mean) * (double(v) - mean);
    const double sd = std::sqrt(var / (kTasks - 1));
    // Standard errors over 1,000 draws: the mean's sd/sqrt(n) = 1.6 ms; the sample sd's
    // ~ sd/2 * sqrt((excess kurtosis + 2) / n) = 2.1 ms for this lognormal (excess kurtosis 5.0).
    // Bounds: 5 standard errors, plus 1 ms for the whole-millisecond times.
    EXPECT_NEAR(mean, 100.0, 9.0);
    EXPECT_NEAR(sd, 50.0, 11.5);
    EXPECT_GT(*std::min_element(t.begin(), t.end()), 0);
    // Right-skewed, as a lognormal: the median (theory: 89 ms) is below the mean.
    std::vector<int64_t> sorted = t;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_LT(double(sorted[kTasks / 2]), mean);
    std::printf("1000 draws, asked 100 +- 50 ms: mean %.1f ms, sd %.1f ms, median %lld ms\n", mean,
                sd, static_cast<long long>(sorted[kTasks / 2]));

    // The same seed gives the same draws in creation order; another seed, others.
    auto again = startDrawing(7, std::chrono::milliseconds(100), std::chrono::milliseconds(50));
    const std::vector<int64_t> t2 = drawTimes(*again, 100);
    EXPECT_EQ(t2, std::vector<int64_t>(t.begin(), t.begin() + 100));
    auto other = startDrawing(8, std::chrono::milliseconds(100), std::chrono::milliseconds(50));
    EXPECT_NE(drawTimes(*other, 100), t2);
}

TEST(Emulator_Latency, withoutASpreadEveryTaskTakesTheLatencyAndProcessesAtHalf) {
    auto s = startDrawing(1, std::chrono::milliseconds(60), std::chrono::milliseconds(0));
    const std::vector<int64_t> t = drawTimes(*s, 20);
    EXPECT_EQ(t, std::vector<int64_t>(20, 60));
}

TEST(Emulator_Latency, negativeSpreadIsRejected) {
    auto p = fastParams();
    p.latencySd = std::chrono::milliseconds(-1);
    EXPECT_THROW(emu::Server::create(p), std::invalid_argument);
}
