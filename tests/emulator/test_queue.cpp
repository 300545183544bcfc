// --queue: tasks over the account's --concurrency wait in `submitted` until slots free, first come
// first served, instead of 429 / 1303.
#include <gtest/gtest.h>

#include "emu_test_util.hpp"

using namespace emutest;
namespace emu = cvgen::emulator;

namespace {

std::string create(emu::Server& s, int n = 1, const std::string& auth = bearer()) {
    Response r = postJson(s.baseUrl() + "/v1/images/generations",
                          "{\"prompt\":\"p\",\"n\":" + std::to_string(n) + "}", {auth});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? parse(r.body)["data"]["task_id"].GetString() : "";
}

rapidjson::Document query(emu::Server& s, const std::string& id) {
    return parse(get(s.baseUrl() + "/v1/images/generations/" + id, {bearer()}).body);
}

}  // namespace

TEST(Emulator_Queue, tasksOverTheLimitWaitInSubmittedInsteadOf1303) {
    // The first task never ends (task_stuck, once) and holds the account's only slot.
    emu::FaultSpec stuck;
    stuck.kind = emu::FaultKind::TASK_STUCK;
    stuck.count = 1;
    auto p = fastParams();
    p.apiKeys.push_back("other-key");
    p.concurrencyLimit = 1;
    p.queue = true;
    p.faults = {stuck};
    auto s = start(p);
    const std::string holder = create(*s);
    const std::string a = create(*s), b = create(*s);
    ASSERT_FALSE(a.empty());
    ASSERT_FALSE(b.empty());
    // Another account has its own slot.
    const std::string other = create(*s, 1, "Authorization: Bearer other-key");
    EXPECT_EQ(stats(*s)["queued"].GetInt(), 2);
    EXPECT_EQ(stats(*s)["slots_in_use"].GetInt(), 2);
    // Long past the latency, the queued ones are still submitted, untouched.
    auto fin = waitFinal(s->baseUrl() + "/v1/images/generations/" + other, nullptr,
                         std::chrono::seconds(20), "Authorization: Bearer other-key");
    EXPECT_STREQ(fin["data"]["task_status"].GetString(), "succeed");
    for (const std::string& id : {a, b}) {
        auto d = query(*s, id);
        EXPECT_STREQ(d["data"]["task_status"].GetString(), "submitted");
        EXPECT_EQ(d["data"]["updated_at"].GetInt64(), d["data"]["created_at"].GetInt64());
    }
    EXPECT_STREQ(query(*s, holder)["data"]["task_status"].GetString(), "processing");
    // More slots than the limit can never run: still refused.
    Response r =
        postJson(s->baseUrl() + "/v1/images/generations", R"({"prompt":"p","n":2})", {bearer()});
    EXPECT_EQ(r.status, 429);
    EXPECT_NE(r.body.find("\"code\":1303"), std::string::npos) << r.body;
}

TEST(Emulator_Queue, queuedTasksStartInOrderWhenSlotsFree) {
    // task_failed: nothing is rendered, so updated_at is exactly start + the latency.
    emu::FaultSpec fail;
    fail.kind = emu::FaultKind::TASK_FAILED;
    auto p = fastParams();
    p.latency = std::chrono::milliseconds(80);
    p.concurrencyLimit = 2;
    p.queue = true;
    p.faults = {fail};
    auto s = start(p);
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(create(*s));
    std::vector<int64_t> created, ended;
    for (const std::string& id : ids) {
        auto d = waitFinal(s->baseUrl() + "/v1/images/generations/" + id);
        ASSERT_STREQ(d["data"]["task_status"].GetString(), "failed");
        created.push_back(d["data"]["created_at"].GetInt64());
        ended.push_back(d["data"]["updated_at"].GetInt64());
    }
    // Two slots: task k starts no earlier than task k-2 ended, and takes the full latency.
    for (size_t k = 2; k < ids.size(); ++k) {
        SCOPED_TRACE(k);
        EXPECT_GE(ended[k], ended[k - 2] + 80);
    }
    for (size_t k = 0; k < ids.size(); ++k) EXPECT_GE(ended[k], created[k] + 80);
    EXPECT_EQ(stats(*s)["queued"].GetInt(), 0);
    EXPECT_EQ(stats(*s)["slots_in_use"].GetInt(), 0);
    EXPECT_EQ(stats(*s)["tasks"]["failed"].GetInt(), 5);
}
