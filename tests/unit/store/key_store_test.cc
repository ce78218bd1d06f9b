// API keys: format, authentication (constant-time digest check), revocation, limits, validation,
// schema checks and the snapshot refresh that lets a running gateway see keys changed by the CLI.
#include "store/key_store.h"

#include <gtest/gtest.h>

#include <regex>
#include <thread>

#include "core/errors.h"
#include "store/sqlite.h"
#include "store_test_util.h"

namespace dg::store {
namespace {

using namespace std::chrono_literals;
using test::SteppingClock;
using test::TempDir;

// A steady clock the test moves by hand; shared by copies.
struct ManualClock {
  std::shared_ptr<std::atomic<std::int64_t>> ns = std::make_shared<std::atomic<std::int64_t>>(1'000'000'000);
  std::chrono::steady_clock::time_point operator()() const {
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ns->load()));
  }
  void advance(std::chrono::milliseconds d) const { *ns += std::chrono::nanoseconds(d).count(); }
};

KeyStore::Options options(ManualClock now = {}) {
  KeyStore::Options o;
  o.clock = SteppingClock{};
  o.now = now;
  o.refresh_interval = 500ms;
  o.miss_refresh_interval = 100ms;
  return o;
}

std::unique_ptr<KeyStore> open_store(const TempDir& dir, KeyStore::Options o = options()) {
  auto s = KeyStore::open(dir.path(), std::move(o));
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().format());
  return s.ok() ? std::move(s).value() : nullptr;
}

NewKey must_create(KeyStore& s, KeyRole role, std::string_view name, KeyLimits limits = {}) {
  auto k = s.create(role, name, limits);
  EXPECT_TRUE(k.ok()) << (k.ok() ? "" : k.error().format());
  return k.ok() ? *k : NewKey{};
}

TEST(KeyStore, CreateReturnsAWellFormedKeyOnce) {
  TempDir dir("create");
  auto s = open_store(dir);
  ASSERT_TRUE(s);
  const KeyLimits limits{60, std::nullopt, 4, 1 << 20};
  const NewKey k = must_create(*s, KeyRole::operator_, "ops console", limits);
  EXPECT_TRUE(std::regex_match(k.key, std::regex("dg_[0-9a-f]{12}_[A-Za-z0-9_-]{43}"))) << k.key;
  EXPECT_EQ(k.key.size(), kKeyChars);
  EXPECT_EQ(k.key.substr(3, 12), k.info.id);
  EXPECT_EQ(k.info.name, "ops console");
  EXPECT_EQ(k.info.role, KeyRole::operator_);
  EXPECT_EQ(k.info.created, "2026-01-02T03:04:05.000Z");
  EXPECT_FALSE(k.info.revoked);
  EXPECT_EQ(k.info.limits, limits);
  // Only the digest is stored, never the key or its secret part.
  Db db = Db::open((dir.path() / "keys.db").string(), Db::Mode::read_only);
  Stmt st = db.prepare("SELECT * FROM api_keys");
  ASSERT_TRUE(st.step());
  for (int c = 0; c < st.column_count(); ++c) {
    const std::string v = st.column_is_null(c) ? "" : st.column_text(c);
    EXPECT_EQ(v.find(k.key.substr(16)), std::string::npos) << st.column_name(c);
  }
  EXPECT_EQ(st.column_blob(3).size(), 32u);
}

TEST(KeyStore, KeysAreDistinct) {
  TempDir dir("distinct");
  auto s = open_store(dir);
  ASSERT_TRUE(s);
  const auto a = must_create(*s, KeyRole::client, "a");
  const auto b = must_create(*s, KeyRole::client, "a");  // names need not be unique (rotation)
  EXPECT_NE(a.info.id, b.info.id);
  EXPECT_NE(a.key, b.key);
}

TEST(KeyStore, InjectedRandomSourceDeterminesTheKey) {
  TempDir dir("random");
  auto o = options();
  auto counter = std::make_shared<unsigned char>(0);
  o.random = [counter](unsigned char* buf, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) buf[i] = (*counter)++;
  };
  auto s = open_store(dir, o);
  ASSERT_TRUE(s);
  const auto k = must_create(*s, KeyRole::client, "det");
  EXPECT_EQ(k.info.id, "000102030405");
  // bytes 6..37 in unpadded base64url
  EXPECT_EQ(k.key, "dg_000102030405_BgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCU");
}

TEST(KeyStore, AuthenticateReturnsTheKeysInfo) {
  TempDir dir("auth");
  auto s = open_store(dir);
  ASSERT_TRUE(s);
  const auto k = must_create(*s, KeyRole::admin, "root", KeyLimits{std::nullopt, 100000, std::nullopt, std::nullopt});
  const auto info = s->authenticate(k.key);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->id, k.info.id);
  EXPECT_EQ(info->name, "root");
  EXPECT_EQ(info->role, KeyRole::admin);
  EXPECT_EQ(info->limits.tokens_per_day, 100000);
  EXPECT_FALSE(info->limits.requests_per_minute);
}

TEST(KeyStore, WrongSecretWithTheRightIdIsRefused) {
  TempDir dir("wrong");
  auto s = open_store(dir);
  ASSERT_TRUE(s);
  const auto k = must_create(*s, KeyRole::client, "app");
  std::string forged = k.key;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(s->authenticate(forged));
  forged = k.key;
  forged[20] = forged[20] == 'x' ? 'y' : 'x';
  EXPECT_FALSE(s->authenticate(forged));
  EXPECT_TRUE(s->authenticate(k.key));
}

TEST(KeyStore, MalformedKeysAreRefused) {
  TempDir dir("malformed");
  auto s = open_store(dir);
  ASSERT_TRUE(s);
  const auto k = must_create(*s, KeyRole::client, "app");
  std::string upper = k.key;
  for (std::size_t i = 3; i < 15; ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  const std::string bad[] = {
      "",
      "dg_",
      k.key.substr(0, kKeyChars - 1),          // short
      k.key + "A",                             // long
      "xx" + k.key.substr(2),                  // prefix
      k.key.substr(0, 15) + "-" + k.key.substr(16),  // separator
      k.key.substr(0, 20) + "+" + k.key.substr(21),  // not base64url
      k.key.substr(0, 20) + "=" + k.key.substr(21),
      "Bearer " + k.key,
  };
  for (const auto& key : bad) {
    EXPECT_FALSE(parse_key_id(key)) << key;
    EXPECT_FALSE(s->authenticate(key)) << key;
  }
  if (upper != k.key) {
    EXPECT_FALSE(parse_key_id(upper));
    EXPECT_FALSE(s->authenticate(upper));
  }
  EXPECT_EQ(parse_key_id(k.key), std::optional<std::string_view>(k.info.id));
}

TEST(KeyStore, UnknownIdIsRefused) {
  TempDir dir("unknown");
  auto s = open_store(dir);
  ASSERT_TRUE(s);
  const auto k = must_create(*s, KeyRole::client, "app");
  std::string other = k.key;
  other[3] = other[3] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(s->authenticate(other));
}

TEST(KeyStore, RevokeRefusesTheKeyAndIsIdempotent) {
  TempDir dir("revoke");
  auto s = open_store(dir);
  ASSERT_TRUE(s);
  const auto k = must_create(*s, KeyRole::client, "app");
  const auto keep = must_create(*s, KeyRole::client, "other");
  auto r = s->revoke(k.info.id);
  ASSERT_TRUE(r.ok()) << r.error().format();
  EXPECT_TRUE(*r);
  EXPECT_FALSE(s->authenticate(k.key));
  EXPECT_TRUE(s->authenticate(keep.key));
  auto again = s->revoke(k.info.id);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  auto list = s->list();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, k.info.id);
  EXPECT_TRUE((*list)[0].revoked);
  EXPECT_EQ((*list)[0].revoked_at, "2026-01-02T03:04:05.002Z");  // the first revocation time is kept
  EXPECT_FALSE((*list)[1].revoked);
  EXPECT_EQ((*list)[1].revoked_at, "");
}

TEST(KeyStore, RevokeUnknownOrMalformedIdIsUnknownKeyId) {
  TempDir dir("revoke_unknown");
  auto s = open_store(dir);
  ASSERT_TRUE(s);
  for (const std::string id : {"0123456789ab", "nothex", "", "0123456789AB"}) {
    auto r = s->revoke(id);
    ASSERT_FALSE(r.ok()) << id;
    EXPECT_EQ(r.error().code, errc::kUnknownKeyId) << id;
  }
}

TEST(KeyStore, InvalidSpecReportsEveryProblem) {
  TempDir dir("spec");
  auto s = open_store(dir);
  ASSERT_TRUE(s);
  auto r = s->create(KeyRole::client, "", KeyLimits{0, -5, std::nullopt, std::nullopt});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errc::kInvalidKeySpec);
  EXPECT_EQ(r.error().message,
            "the name is empty; requests_per_minute must be positive (got 0); tokens_per_day must be positive (got -5)");
  r = s->create(KeyRole::client, "bad\nname");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errc::kInvalidKeySpec);
  r = s->create(KeyRole::client, std::string(201, 'n'));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errc::kInvalidKeySpec);
  auto list = s->list();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST(KeyStore, RolesAreOrdered) {
  EXPECT_TRUE(role_allows(KeyRole::admin, KeyRole::operator_));
  EXPECT_TRUE(role_allows(KeyRole::operator_, KeyRole::client));
  EXPECT_TRUE(role_allows(KeyRole::client, KeyRole::client));
  EXPECT_FALSE(role_allows(KeyRole::client, KeyRole::operator_));
  EXPECT_FALSE(role_allows(KeyRole::operator_, KeyRole::admin));
  for (auto r : {KeyRole::client, KeyRole::operator_, KeyRole::admin}) EXPECT_EQ(parse_key_role(to_string(r)), r);
  EXPECT_FALSE(parse_key_role("Admin"));
  EXPECT_FALSE(parse_key_role("root"));
}

// A second KeyStore on the same directory stands in for the CLI process.
TEST(KeyStore, SeesKeysCreatedAndRevokedElsewhereAfterTheRefreshInterval) {
  TempDir dir("refresh");
  ManualClock now;
  auto gateway = open_store(dir, options(now));
  auto cli = open_store(dir);
  ASSERT_TRUE(gateway && cli);

  const auto k = must_create(*cli, KeyRole::client, "new");
  // An unknown id triggers an early check, but not before miss_refresh_interval has passed.
  EXPECT_FALSE(gateway->authenticate(k.key));
  now.advance(100ms);
  EXPECT_TRUE(gateway->authenticate(k.key));

  // The miss check is rate-limited: a second new key right after is not seen at once...
  const auto k2 = must_create(*cli, KeyRole::client, "newer");
  EXPECT_FALSE(gateway->authenticate(k2.key));
  now.advance(99ms);
  EXPECT_FALSE(gateway->authenticate(k2.key));
  now.advance(1ms);
  EXPECT_TRUE(gateway->authenticate(k2.key));

  // A revocation elsewhere is seen at the next periodic check (refresh_interval after the last one).
  ASSERT_TRUE(cli->revoke(k.info.id).ok());
  EXPECT_TRUE(gateway->authenticate(k.key));
  now.advance(499ms);
  EXPECT_TRUE(gateway->authenticate(k.key));
  now.advance(1ms);
  EXPECT_FALSE(gateway->authenticate(k.key));
  EXPECT_TRUE(gateway->authenticate(k2.key));
}

TEST(KeyStore, ExplicitRefreshSeesChangesAtOnce) {
  TempDir dir("explicit");
  auto gateway = open_store(dir);
  auto cli = open_store(dir);
  ASSERT_TRUE(gateway && cli);
  const auto k = must_create(*cli, KeyRole::client, "x");
  ASSERT_TRUE(gateway->refresh().ok());
  EXPECT_TRUE(gateway->authenticate(k.key));
}

TEST(KeyStore, KeysPersistAcrossReopen) {
  TempDir dir("persist");
  NewKey k;
  { k = must_create(*open_store(dir), KeyRole::operator_, "ops", KeyLimits{10, 20, 3, 4096}); }
  auto s = open_store(dir);
  ASSERT_TRUE(s);
  const auto info = s->authenticate(k.key);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->limits, (KeyLimits{10, 20, 3, 4096}));
  EXPECT_EQ(info->role, KeyRole::operator_);
}

TEST(KeyStore, ConcurrentAuthenticationWhileKeysChange) {
  TempDir dir("concurrent");
  auto o = options();
  o.now = [] { return std::chrono::steady_clock::now(); };
  o.refresh_interval = 1ms;
  o.miss_refresh_interval = 1ms;
  auto s = open_store(dir, o);
  auto cli = open_store(dir);
  ASSERT_TRUE(s && cli);
  const auto stable = must_create(*s, KeyRole::client, "stable");
  std::atomic<bool> stop{false};
  std::atomic<int> refused{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop) {
        if (!s->authenticate(stable.key)) refused++;
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    const auto k = must_create(*cli, KeyRole::client, "churn");
    ASSERT_TRUE(cli->revoke(k.info.id).ok());
  }
  stop = true;
  for (auto& th : readers) th.join();
  EXPECT_EQ(refused.load(), 0);
}

TEST(KeyStore, MissingStoreWithoutCreateIsAnIoError) {
  TempDir dir("missing");
  auto o = options();
  o.create_if_missing = false;
  auto s = KeyStore::open(dir.path(), o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, errc::kStoreIo);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "keys.db"));
  auto nodir = KeyStore::open(dir.path() / "absent", o);
  ASSERT_FALSE(nodir.ok());
  EXPECT_EQ(nodir.error().code, errc::kStoreIo);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "absent"));
}

TEST(KeyStore, UnknownSchemaVersionIsAClearError) {
  TempDir dir("schema");
  { open_store(dir); }
  {
    Db db = Db::open((dir.path() / "keys.db").string(), Db::Mode::read_write);
    db.exec("UPDATE schema_version SET version = 2 WHERE component = 'keys'");
  }
  auto s = KeyStore::open(dir.path());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, errc::kStoreSchema);
  EXPECT_NE(s.error().message.find("keys schema version 2, this build reads version 1"), std::string::npos)
      << s.error().message;
}

TEST(KeyStore, AuditDatabaseIsNotAKeyStore) {
  TempDir dir("wrongfile");
  {
    Db db = Db::open((dir.path() / "keys.db").string(), Db::Mode::create);
    ensure_schema(db, "audit", 1, "CREATE TABLE audit(seq INTEGER PRIMARY KEY)", true);
  }
  auto s = KeyStore::open(dir.path());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, errc::kStoreSchema);
  EXPECT_NE(s.error().message.find("not a dualguard keys database"), std::string::npos) << s.error().message;
}

TEST(KeyStore, StoreErrorsAfterOpenCarryStoreIo) {
  TempDir dir("io");
  auto s = open_store(dir);
  ASSERT_TRUE(s);
  const auto k = must_create(*s, KeyRole::client, "x");
  {
    Db db = Db::open((dir.path() / "keys.db").string(), Db::Mode::read_write);
    db.exec("DROP TABLE api_keys");
  }
  auto c = s->create(KeyRole::client, "y");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, errc::kStoreIo);
  auto l = s->list();
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().code, errc::kStoreIo);
  auto r = s->revoke(k.info.id);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errc::kStoreIo);
  auto f = s->refresh();
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, errc::kStoreIo);
  // The request path keeps serving the last good snapshot.
  EXPECT_TRUE(s->authenticate(k.key));
}

}  // namespace
}  // namespace dg::store
