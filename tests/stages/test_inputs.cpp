#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "cvgen/stages/inputs.hpp"
#include "stages/stages_test_util.hpp"

namespace cvgen::stages {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

void touch(const fs::path& p) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << "x";
}

std::vector<std::string> rels(const std::vector<InputItem>& items) {
    std::vector<std::string> r;
    for (const auto& i : items) r.push_back(i.relPath);
    return r;
}

TEST(Stages_Inputs, recursiveSortedFilteredByExtensionAndHidden) {
    TempDir d;
    for (const char* f : {"b.png", "a.JPG", "sub/c.jpeg", "sub/deep/d.webp", "notes.txt",
                          ".hidden.png", ".cache/e.png", "sub/f.tif"})
        touch(d.path() / f);
    InputQuery q;
    q.input = d.str();
    Result<std::vector<InputItem>> r = listInputs(q);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(rels(*r), (std::vector<std::string>{"a.JPG", "b.png", "sub/c.jpeg", "sub/deep/d.webp",
                                                  "sub/f.tif"}));
    EXPECT_EQ((*r)[2].path, (d.path() / "sub/c.jpeg").string());
}

TEST(Stages_Inputs, includeExcludeGlobs) {
    TempDir d;
    for (const char* f : {"a.png", "b.jpg", "portraits/p1.png", "portraits/p2.jpg", "x/y/z.png"})
        touch(d.path() / f);
    struct Case {
        std::vector<std::string> inc, exc, want;
    };
    const std::vector<Case> cases = {
        {{"*.png"}, {}, {"a.png", "portraits/p1.png", "x/y/z.png"}},
        {{"portraits/*"}, {}, {"portraits/p1.png", "portraits/p2.jpg"}},
        {{}, {"portraits/*"}, {"a.png", "b.jpg", "x/y/z.png"}},
        {{"*.png"}, {"x/*"}, {"a.png", "portraits/p1.png"}},
        {{"p?.*"}, {"*.jpg"}, {"portraits/p1.png"}},
        {{"nothing*"}, {}, {}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(::testing::PrintToString(c.inc) + " / " + ::testing::PrintToString(c.exc));
        InputQuery q;
        q.input = d.str();
        q.include = c.inc;
        q.exclude = c.exc;
        auto r = listInputs(q);
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(rels(*r), c.want);
    }
}

TEST(Stages_Inputs, skipDirAndListFile) {
    TempDir d;
    touch(d.path() / "in/a.png");
    touch(d.path() / "in/out/a_1920x1080.png");
    InputQuery q;
    q.input = d.str("in");
    q.skipDir = d.str("in/out");
    EXPECT_EQ(rels(*listInputs(q)), (std::vector<std::string>{"a.png"}));

    touch(d.path() / "other/b.jpg");
    std::ofstream(d.path() / "list.txt") << "# comment\nin/a.png\n\n"
                                         << d.str("other/b.jpg") << "\nin/notes.txt\n";
    touch(d.path() / "in/notes.txt");
    q = InputQuery();
    q.input = d.str("list.txt");
    EXPECT_EQ(rels(*listInputs(q)), (std::vector<std::string>{"in/a.png", "other/b.jpg"}));

    std::ofstream(d.path() / "bad.txt") << "missing.png\n";
    q.input = d.str("bad.txt");
    EXPECT_EQ(listInputs(q).code(), Code::INVALID_ARGUMENT);
    q.input = d.str("nope");
    EXPECT_EQ(listInputs(q).code(), Code::NOT_FOUND);
}

TEST(Stages_Inputs, shardsAreDisjointAndCoverEverything) {
    std::vector<std::string> paths;
    for (int i = 0; i < 1000; ++i)
        paths.push_back("dir" + std::to_string(i % 7) + "/img" + std::to_string(i) + ".png");
    for (int n : {1, 2, 3, 8}) {
        SCOPED_TRACE(n);
        std::vector<int> owners(paths.size(), 0);
        for (int i = 0; i < n; ++i) {
            Shard s{i, n};
            size_t mine = 0;
            for (size_t k = 0; k < paths.size(); ++k) {
                if (s.contains(paths[k])) {
                    ++owners[k];
                    ++mine;
                }
            }
            if (n > 1) {
                EXPECT_GT(mine, paths.size() / size_t(n) / 2);  // roughly balanced
            }
        }
        for (size_t k = 0; k < paths.size(); ++k) ASSERT_EQ(owners[k], 1) << paths[k];
    }
    // Stable across runs and machines: FNV-1a 64 of the bytes.
    EXPECT_EQ(stableHash(""), 14695981039346656037ull);
    EXPECT_EQ(stableHash("a"), 0xaf63dc4c8601ec8cull);
}

TEST(Stages_Inputs, parseShard) {
    EXPECT_EQ(parseShard("0/1")->count, 1);
    auto s = parseShard("3/4");
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->index, 3);
    EXPECT_EQ(s->count, 4);
    for (const char* bad : {"4/4", "1/0", "a/2", "1", "/2", "1/", "-1/2", "1/2/3", ""})
        EXPECT_EQ(parseShard(bad).code(), Code::INVALID_ARGUMENT) << bad;
}

}  // namespace
}  // namespace cvgen::stages
