// The compiled-database cache: hits, fallbacks and pruning.
#include "detect/hyperscan.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

namespace dg::detect {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("dg-hs-cache-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::size_t count(const std::string& prefix) const {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(path)) n += e.path().filename().string().rfind(prefix, 0) == 0;
    return n;
  }
};

std::vector<HsMatch> scan(const HsDatabase& db, std::string_view text) {
  HsScratch scratch({&db});
  std::vector<HsMatch> out;
  EXPECT_TRUE(db.scan(text, scratch.get(), out, 100));
  return out;
}

const std::vector<HsPattern> kPatterns = {{"ignore\\s+previous", HS_FLAG_CASELESS, 0}, {"system\\s+prompt", 0, 1}};

TEST(HsCache, StoresThenLoadsTheSameDatabase) {
  TempDir dir;
  int bad = -1;
  std::string msg;
  auto first = HsDatabase::compile_cached(kPatterns, dir.path.string(), bad, msg, Som::none);
  ASSERT_NE(first, nullptr) << msg;
  EXPECT_EQ(dir.count("hs-"), 1u);
  auto second = HsDatabase::compile_cached(kPatterns, dir.path.string(), bad, msg, Som::none);
  ASSERT_NE(second, nullptr) << msg;
  EXPECT_EQ(dir.count("hs-"), 1u);
  const auto a = scan(*first, "IGNORE previous words; the system prompt");
  const auto b = scan(*second, "IGNORE previous words; the system prompt");
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, b[i].id);
    EXPECT_EQ(a[i].to, b[i].to);
  }
}

TEST(HsCache, ACorruptEntryIsRebuilt) {
  TempDir dir;
  int bad = -1;
  std::string msg;
  ASSERT_NE(HsDatabase::compile_cached(kPatterns, dir.path.string(), bad, msg, Som::none), nullptr) << msg;
  fs::path entry;
  for (const auto& e : fs::directory_iterator(dir.path)) entry = e.path();
  { std::ofstream(entry, std::ios::binary | std::ios::trunc) << "not a database"; }
  auto db = HsDatabase::compile_cached(kPatterns, dir.path.string(), bad, msg, Som::none);
  ASSERT_NE(db, nullptr) << msg;
  EXPECT_EQ(scan(*db, "system prompt").size(), 1u);
  EXPECT_GT(fs::file_size(entry), 100u) << "the corrupt entry was not replaced";
}

TEST(HsCache, KeepsTheMostRecentEntriesOnly) {
  TempDir dir;
  const auto old = fs::file_time_type::clock::now() - std::chrono::hours(24);
  for (std::size_t i = 0; i < HsDatabase::kMaxCachedDatabases + 10; ++i) {
    const fs::path p = dir.path / ("hs-old" + std::to_string(i) + ".db");
    { std::ofstream(p) << "x"; }
    fs::last_write_time(p, old + std::chrono::seconds(i));
  }
  { std::ofstream(dir.path / "notes.txt") << "not ours"; }
  int bad = -1;
  std::string msg;
  ASSERT_NE(HsDatabase::compile_cached(kPatterns, dir.path.string(), bad, msg, Som::none), nullptr) << msg;
  EXPECT_EQ(dir.count("hs-"), HsDatabase::kMaxCachedDatabases);
  EXPECT_TRUE(fs::exists(dir.path / "notes.txt"));
  EXPECT_FALSE(fs::exists(dir.path / "hs-old0.db")) << "the oldest entry survived";
  EXPECT_TRUE(fs::exists(dir.path / ("hs-old" + std::to_string(HsDatabase::kMaxCachedDatabases + 9) + ".db")));
  std::size_t fresh = 0;  // the database just built is kept
  for (const auto& e : fs::directory_iterator(dir.path))
    fresh += e.path().filename().string().rfind("hs-old", 0) != 0 && e.path().extension() == ".db";
  EXPECT_EQ(fresh, 1u);
}

}  // namespace
}  // namespace dg::detect
