// Client-side costs of the remote module: auth, redaction, parsing, one loopback poll.
#include <benchmark/benchmark.h>

#include <chrono>

#include "cvgen/emulator.hpp"
#include "cvgen/remote.hpp"

namespace {

using namespace cvgen;
using namespace std::chrono_literals;

void BM_KlingJwt(benchmark::State& state) {
    const auto now = std::chrono::system_clock::now();
    for (auto _ : state) benchmark::DoNotOptimize(remote::makeKlingJwt("ak-123", "sk-456", now));
}
BENCHMARK(BM_KlingJwt);

// A create body with a base64 image of state.range(0) bytes, redacted for the log.
void BM_RedactRequestLog(benchmark::State& state) {
    const std::string text =
        "-> POST https://api/v1/images/editing/expand\n   Authorization: "
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJhayJ9.c2ln\n   {\"image\":\"" +
        std::string(size_t(state.range(0)), 'Q') + "\",\"n\":1}";
    for (auto _ : state) benchmark::DoNotOptimize(remote::redact(text, {"secret-key-1"}));
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
}
BENCHMARK(BM_RedactRequestLog)->Arg(1 << 20)->Arg(10 << 20)->Unit(benchmark::kMillisecond);

void BM_ParseTaskObject(benchmark::State& state) {
    std::string imgs;
    for (int i = 0; i < 9; ++i)
        imgs += std::string(i ? "," : "") + "{\"index\":" + std::to_string(i) +
                ",\"url\":\"https://cdn.example/r/" + std::to_string(i) + ".png\"}";
    const std::string body =
        "{\"task_id\":\"t-1\",\"task_status\":\"succeed\",\"task_info\":{\"external_task_id\":"
        "\"e\"},\"created_at\":1,\"updated_at\":2,\"task_result\":{\"images\":[" +
        imgs + "]}}";
    for (auto _ : state) benchmark::DoNotOptimize(remote::parseTaskObject(body));
}
BENCHMARK(BM_ParseTaskObject);

// One poll (GET query + JSON + auth) over a reused loopback connection to the emulator.
void BM_LoopbackPoll(benchmark::State& state) {
    emulator::Params ep;
    ep.apiKeys = {"k"};
    ep.latency = 3600s;  // stays "processing"
    auto srv = emulator::Server::create(ep);
    if (!srv->start().ok()) {
        state.SkipWithError("emulator did not start");
        return;
    }
    remote::ClientParams p;
    p.profile = remote::builtinProfile("anyapi").value();
    p.profile.baseUrl = srv->baseUrl();
    p.credentials.apiKey = "k";
    p.transportParams.proxy = "none";
    {
        auto client = remote::TaskClient::create(p).value();
        GenerateRequest g;
        g.prompt = "bench";
        auto h = client->submit(g).value();
        for (auto _ : state) benchmark::DoNotOptimize(client->poll(h));
    }
}
BENCHMARK(BM_LoopbackPoll)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
