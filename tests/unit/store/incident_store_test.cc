#include "store/incident_store.h"

#include <gtest/gtest.h>

#include "store/sqlite.h"
#include "store_test_util.h"

namespace dg::store {
namespace {

IncidentRow row(std::string id, std::int64_t last, std::string status = "open") {
  IncidentRow r;
  r.id = std::move(id);
  r.status = std::move(status);
  r.cls = "security";
  r.key_id = "k1";
  r.first_ms = 1;
  r.last_ms = last;
  r.json = R"({"id":")" + r.id + R"("})";
  return r;
}

TEST(IncidentStore, RoundTripsIncidentsVerdictsAndHistory) {
  test::TempDir dir("incidents");
  auto s = IncidentStore::open(dir.path());
  ASSERT_TRUE(s.ok()) << s.error().message;
  IncidentStore& st = **s;
  EXPECT_EQ(*st.next_id(), 1);
  ASSERT_TRUE(st.upsert(row("inc-1", 10)).ok());
  ASSERT_TRUE(st.upsert(row("inc-2", 30)).ok());
  IncidentRow up = row("inc-1", 50);
  up.cls = "hybrid";
  ASSERT_TRUE(st.upsert(up).ok());
  ASSERT_TRUE(st.add_verdict("inc-1", "r1", 10, R"({"n":1})").ok());
  ASSERT_TRUE(st.add_verdict("inc-1", "r2", 50, R"({"n":2})").ok());
  ASSERT_TRUE(st.add_history("inc-1", {10, "", "opened", "open", ""}).ok());

  auto all = st.list("", 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "inc-1");  // newest activity first
  EXPECT_EQ((*all)[0].cls, "hybrid");
  EXPECT_EQ((*all)[1].id, "inc-2");
  EXPECT_EQ(*st.next_id(), 3);
  EXPECT_EQ(*st.verdicts("inc-1", 10), (std::vector<std::string>{R"({"n":1})", R"({"n":2})"}));

  auto acked = st.set_status("inc-1", "acknowledged", R"({"status":"acknowledged"})", {60, "k_op", "acknowledged", "acknowledged", "on it"});
  ASSERT_TRUE(acked.ok()) << acked.error().message;
  EXPECT_EQ(acked->status, "acknowledged");
  EXPECT_EQ(acked->json, R"({"status":"acknowledged"})");
  const auto h = *st.history("inc-1");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1].key_id, "k_op");
  EXPECT_EQ(h[1].note, "on it");
  EXPECT_EQ(st.list("acknowledged", 10)->size(), 1u);
  EXPECT_EQ(st.list("resolved", 10)->size(), 0u);
  EXPECT_EQ(*st.count({"open"}), 1);
  EXPECT_EQ(*st.count({"open", "acknowledged"}), 2);
  EXPECT_EQ(*st.count({"resolved"}), 0);

  auto missing = st.set_status("inc-9", "resolved", "{}", {70, "k_op", "resolved", "resolved", ""});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "not_found");
  EXPECT_FALSE(st.get("inc-9")->has_value());
  EXPECT_EQ(st.get("inc-2")->value().last_ms, 30);
}

TEST(IncidentStore, RestoresActiveIncidentsAfterReopening) {
  test::TempDir dir("incidents");
  {
    auto s = IncidentStore::open(dir.path());
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->upsert(row("inc-1", 10)).ok());
    ASSERT_TRUE((*s)->upsert(row("inc-2", 100, "resolved")).ok());
    ASSERT_TRUE((*s)->upsert(row("inc-3", 100)).ok());
  }
  auto s = IncidentStore::open(dir.path());
  ASSERT_TRUE(s.ok());
  auto a = (*s)->active_since(50);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ((*a)[0].id, "inc-3");
  EXPECT_EQ(*(*s)->next_id(), 4);
}

TEST(IncidentStore, BoundsVerdictsAndRefusesHistoryEdits) {
  test::TempDir dir("incidents");
  IncidentStore::Options o;
  o.max_verdicts_per_incident = 2;
  auto s = IncidentStore::open(dir.path(), o);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->upsert(row("inc-1", 10)).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*s)->add_verdict("inc-1", "r", i, "{}").ok());
  EXPECT_EQ((*s)->verdicts("inc-1", 100)->size(), 2u);
  ASSERT_TRUE((*s)->add_history("inc-1", {1, "", "opened", "open", ""}).ok());
  Db db = Db::open((dir.path() / "incidents.db").string(), Db::Mode::read_write);
  EXPECT_THROW(db.exec("UPDATE incident_history SET note = 'x'"), StoreError);
  EXPECT_THROW(db.exec("DELETE FROM incident_history"), StoreError);
}

TEST(IncidentStore, ABatchCommitsOnceAndAnExceptionRollsItBack) {
  test::TempDir dir("incidents");
  auto s = IncidentStore::open(dir.path());
  ASSERT_TRUE(s.ok());
  IncidentStore& st = **s;
  ASSERT_TRUE(st.batch([&] {
                  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(st.upsert(row("inc-" + std::to_string(i), i)).ok());
                }).ok());
  EXPECT_EQ(st.list("", 10)->size(), 3u);
  const Status failed = st.batch([&] {
    ASSERT_TRUE(st.upsert(row("inc-4", 4)).ok());
    throw std::runtime_error("disk on fire");
  });
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(st.list("", 10)->size(), 3u) << "the batch was rolled back";
}

TEST(IncidentStore, AnotherDatabaseIsRefused) {
  test::TempDir dir("incidents");
  {
    Db db = Db::open((dir.path() / "incidents.db").string(), Db::Mode::create);
    ensure_schema(db, "audit", 1, "CREATE TABLE x(a);", true);
  }
  auto s = IncidentStore::open(dir.path());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "store_schema");
}

}  // namespace
}  // namespace dg::store
