#include <gtest/gtest.h>

#include <fstream>

#include "cvgen/stages/journal.hpp"
#include "stages/stages_test_util.hpp"

namespace cvgen::stages {
namespace {

using testing::TempDir;

TEST(Stages_Journal, roundTripLastLineWins) {
    TempDir d;
    const std::string path = d.str("j.jsonl");
    {
        auto j = Journal::create(path, {"run1", "expand", "target=1920x1080"});
        ASSERT_TRUE(j.ok()) << j.status();
        ASSERT_TRUE((*j)->intent("a.png", "cvgen-1", 1).ok());
        ASSERT_TRUE((*j)->done("a.png", "/out/a.png", {"t1", "t2"}).ok());
        ASSERT_TRUE((*j)->intent("b.png", "cvgen-2", 1).ok());
        ASSERT_TRUE((*j)->failed("b.png", unauthenticated("bad \"key\"\n"), {}).ok());
        ASSERT_TRUE((*j)->intent("c.png", "cvgen-3", 1).ok());
        ASSERT_TRUE((*j)->task("c.png", "cvgen-3-p1", "T1").ok());
        ASSERT_TRUE((*j)->intent("c.png", "cvgen-3", 2).ok());
    }
    auto c = Journal::load(path);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->header.runId, "run1");
    EXPECT_EQ(c->header.op, "expand");
    EXPECT_EQ(c->header.opParams, "target=1920x1080");
    EXPECT_EQ(c->skippedLines, 0);
    ASSERT_EQ(c->items.size(), 3u);
    EXPECT_EQ(c->items["a.png"].state, ItemState::DONE);
    EXPECT_EQ(c->items["a.png"].output, "/out/a.png");
    EXPECT_EQ(c->items["a.png"].taskIds, (std::vector<std::string>{"t1", "t2"}));
    EXPECT_EQ(c->items["b.png"].state, ItemState::FAILED);
    EXPECT_EQ(c->items["b.png"].code, "UNAUTHENTICATED");
    EXPECT_EQ(c->items["b.png"].message, "bad \"key\"\n");
    EXPECT_EQ(c->items["c.png"].state, ItemState::INTENT);
    EXPECT_EQ(c->items["c.png"].externalTaskId, "cvgen-3");
    EXPECT_EQ(c->items["c.png"].attempts, 2);
    EXPECT_EQ(c->items["c.png"].taskIds, (std::vector<std::string>{"T1"}));
}

TEST(Stages_Journal, tornLastLineIsToleratedAndRepairedOnAppend) {
    TempDir d;
    const std::string path = d.str("j.jsonl");
    {
        auto j = Journal::create(path, {"r", "expand", "p"});
        ASSERT_TRUE((*j)->intent("a.png", "k", 1).ok());
        ASSERT_TRUE((*j)->done("a.png", "o", {}).ok());
        ASSERT_TRUE((*j)->intent("b.png", "k2", 1).ok());
    }
    // A crash in the middle of writing b's outcome.
    { std::ofstream(path, std::ios::app) << R"({"type":"done","item":"b.png","out)"; }
    auto c = Journal::load(path);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->skippedLines, 1);
    EXPECT_EQ(c->items["a.png"].state, ItemState::DONE);
    EXPECT_EQ(c->items["b.png"].state, ItemState::INTENT);  // torn outcome = no outcome

    auto j = Journal::openForAppend(path);
    ASSERT_TRUE(j.ok()) << j.status();
    ASSERT_TRUE((*j)->done("b.png", "o2", {"t"}).ok());
    c = Journal::load(path);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->skippedLines, 1);
    EXPECT_EQ(c->items["b.png"].state, ItemState::DONE);
    EXPECT_EQ(c->items["b.png"].output, "o2");
}

TEST(Stages_Journal, missingOrHeaderless) {
    TempDir d;
    EXPECT_EQ(Journal::load(d.str("none.jsonl")).code(), Code::NOT_FOUND);
    std::ofstream(d.str("bad.jsonl")) << "{\"type\":\"intent\",\"item\":\"a\"}\n";
    EXPECT_EQ(Journal::load(d.str("bad.jsonl")).code(), Code::DATA_LOSS);
    EXPECT_EQ(Journal::create(d.str("no/such/dir/j.jsonl"), {}).code(), Code::NOT_FOUND);
}

}  // namespace
}  // namespace cvgen::stages
