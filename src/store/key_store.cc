#include "store/key_store.h"

#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <unordered_map>

#include "core/errors.h"
#include "store/sqlite.h"

namespace dg::store {
namespace {

constexpr std::size_t kMaxNameBytes = 200;

constexpr std::string_view kCreateSql = R"sql(
CREATE TABLE api_keys(
  id TEXT PRIMARY KEY CHECK(length(id) = 12),
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK(role IN ('client', 'operator', 'admin')),
  key_sha256 BLOB NOT NULL CHECK(length(key_sha256) = 32),
  created TEXT NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0 CHECK(revoked IN (0, 1)),
  revoked_at TEXT,
  requests_per_minute INTEGER CHECK(requests_per_minute > 0),
  tokens_per_day INTEGER CHECK(tokens_per_day > 0),
  concurrent INTEGER CHECK(concurrent > 0),
  max_body_bytes INTEGER CHECK(max_body_bytes > 0)
);
)sql";

constexpr std::string_view kSelectSql =
    "SELECT id, name, role, key_sha256, created, revoked, revoked_at, requests_per_minute, tokens_per_day, "
    "concurrent, max_body_bytes FROM api_keys";

struct Entry {
  KeyInfo info;
  std::array<unsigned char, 32> digest{};
};
using Snapshot = std::unordered_map<std::string, Entry>;

std::optional<std::int64_t> column_opt(const Stmt& st, int col) {
  if (st.column_is_null(col)) return std::nullopt;
  return st.column_int64(col);
}

// One row of kSelectSql; nullopt for a row that cannot be a usable key (only a hand-edited database
// has one: the CHECK constraints refuse them).
std::optional<Entry> read_entry(const Stmt& st) {
  Entry e;
  e.info.id = st.column_text(0);
  e.info.name = st.column_text(1);
  const auto role = parse_key_role(st.column_text(2));
  const std::string digest = st.column_blob(3);
  if (!role || digest.size() != e.digest.size()) return std::nullopt;
  e.info.role = *role;
  std::copy(digest.begin(), digest.end(), e.digest.begin());
  e.info.created = st.column_text(4);
  e.info.revoked = st.column_int64(5) != 0;
  e.info.revoked_at = st.column_text(6);
  e.info.limits = KeyLimits{column_opt(st, 7), column_opt(st, 8), column_opt(st, 9), column_opt(st, 10)};
  return e;
}

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool is_base64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}
bool is_key_id(std::string_view id) {
  if (id.size() != kKeyIdChars) return false;
  for (char c : id)
    if (!is_lower_hex(c)) return false;
  return true;
}

std::int64_t ns_of(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

void default_random(unsigned char* buf, std::size_t n) { randombytes_buf(buf, n); }

}  // namespace

std::string_view to_string(KeyRole r) noexcept {
  switch (r) {
    case KeyRole::client: return "client";
    case KeyRole::operator_: return "operator";
    case KeyRole::admin: return "admin";
  }
  return "client";
}

std::optional<KeyRole> parse_key_role(std::string_view s) noexcept {
  if (s == "client") return KeyRole::client;
  if (s == "operator") return KeyRole::operator_;
  if (s == "admin") return KeyRole::admin;
  return std::nullopt;
}

std::optional<std::string_view> parse_key_id(std::string_view key) noexcept {
  if (key.size() != kKeyChars || key.substr(0, 3) != "dg_" || key[3 + kKeyIdChars] != '_') return std::nullopt;
  const std::string_view id = key.substr(3, kKeyIdChars);
  if (!is_key_id(id)) return std::nullopt;
  for (char c : key.substr(3 + kKeyIdChars + 1))
    if (!is_base64url(c)) return std::nullopt;
  return id;
}

struct KeyStore::Impl {
  std::filesystem::path file;
  Options options;
  std::mutex db_mu;         // guards db, data_version and the statements' use
  std::optional<Db> db;
  std::int64_t data_version = -1;
  // The published snapshot. Readers do not lock: each thread caches the snapshot it last saw with
  // its generation and takes snap_mu only when the generation moved (once per reload). Not
  // std::atomic<std::shared_ptr>: libstdc++ 12's load() releases its internal lock with a relaxed
  // store, a data race that ThreadSanitizer reports (fixed in later GCC releases).
  mutable std::mutex snap_mu;
  std::shared_ptr<const Snapshot> snap = std::make_shared<const Snapshot>();  // guarded by snap_mu
  std::atomic<std::uint64_t> generation{0};  // of `snap`; unique across all KeyStores of the process

  void publish(std::shared_ptr<const Snapshot> fresh) {
    static std::atomic<std::uint64_t> generations{0};
    std::lock_guard lk(snap_mu);
    snap = std::move(fresh);
    generation.store(generations.fetch_add(1) + 1, std::memory_order_release);
  }

  // The current snapshot; valid until this thread's next call (for any KeyStore).
  const Snapshot* current() const {
    thread_local struct {
      std::uint64_t generation = 0;
      std::shared_ptr<const Snapshot> snap;
    } cache;
    if (!cache.snap || cache.generation != generation.load(std::memory_order_acquire)) {
      std::lock_guard lk(snap_mu);
      cache.snap = snap;
      cache.generation = generation.load(std::memory_order_relaxed);
    }
    return cache.snap.get();
  }
  std::atomic<std::int64_t> next_check_ns{0};
  std::atomic<std::int64_t> next_miss_check_ns{0};

  // Both with db_mu held; throw StoreError.
  void reload() {
    auto fresh = std::make_shared<Snapshot>();
    Stmt st = db->prepare(kSelectSql);
    while (st.step()) {
      if (auto e = read_entry(st)) {
        std::string id = e->info.id;
        fresh->emplace(std::move(id), std::move(*e));
      }
    }
    publish(std::move(fresh));
  }
  void check() {
    const auto v = db->query_int("PRAGMA data_version").value_or(0);
    if (v != data_version) {
      reload();
      data_version = v;
    }
  }
};

KeyStore::KeyStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KeyStore::~KeyStore() = default;

const std::filesystem::path& KeyStore::file() const noexcept { return impl_->file; }

Result<std::unique_ptr<KeyStore>> KeyStore::open(const std::filesystem::path& dir, Options options) {
  try {
    if (!options.clock) options.clock = [] { return std::chrono::system_clock::now(); };
    if (!options.now) options.now = [] { return std::chrono::steady_clock::now(); };
    if (!options.random) options.random = default_random;
    ensure_sodium();
    prepare_data_dir(dir, options.create_if_missing);
    auto impl = std::make_unique<Impl>();
    impl->file = dir / "keys.db";
    std::error_code ec;
    const bool existed = std::filesystem::exists(impl->file, ec);
    if (!existed && !options.create_if_missing)
      throw StoreError(errc::kStoreIo, impl->file.string() + ": no key store (create a key first)");
    Db& db = impl->db.emplace(
        Db::open(impl->file.string(), options.create_if_missing ? Db::Mode::create : Db::Mode::read_write));
    if (!existed) ::chmod(impl->file.c_str(), 0600);
    ensure_schema(db, "keys", kKeysSchemaVersion, kCreateSql, true);
    impl->options = std::move(options);
    const std::int64_t now = ns_of(impl->options.now());
    impl->next_check_ns = now + std::chrono::nanoseconds(impl->options.refresh_interval).count();
    impl->next_miss_check_ns = now + std::chrono::nanoseconds(impl->options.miss_refresh_interval).count();
    impl->check();
    return std::unique_ptr<KeyStore>(new KeyStore(std::move(impl)));
  } catch (const StoreError& e) {
    return e.to_error();
  } catch (const std::exception& e) {
    return Error{std::string(errc::kStoreIo), (dir / "keys.db").string() + ": " + e.what()};
  }
}

Result<NewKey> KeyStore::create(KeyRole role, std::string_view name, const KeyLimits& limits) {
  std::string problems;
  auto problem = [&](const std::string& p) { problems += (problems.empty() ? "" : "; ") + p; };
  if (name.empty()) problem("the name is empty");
  if (name.size() > kMaxNameBytes) problem("the name is longer than " + std::to_string(kMaxNameBytes) + " bytes");
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      problem("the name contains a control character");
      break;
    }
  }
  auto check_limit = [&](const char* what, const std::optional<std::int64_t>& v) {
    if (v && *v <= 0) problem(std::string(what) + " must be positive (got " + std::to_string(*v) + ")");
  };
  check_limit("requests_per_minute", limits.requests_per_minute);
  check_limit("tokens_per_day", limits.tokens_per_day);
  check_limit("concurrent", limits.concurrent);
  check_limit("max_body_bytes", limits.max_body_bytes);
  if (!problems.empty()) return Error{std::string(errc::kInvalidKeySpec), problems};

  try {
    std::lock_guard lk(impl_->db_mu);
    Db& db = *impl_->db;
    Transaction tx(db);
    Stmt exists = db.prepare("SELECT 1 FROM api_keys WHERE id = ?1");
    std::array<unsigned char, 6> id_bytes{};
    std::string id;
    for (int attempt = 0;; ++attempt) {  // 2^48 ids: a collision is rare; an endless one is a broken RNG
      if (attempt == 8) throw StoreError(errc::kStoreIo, "the random source keeps returning known key ids");
      impl_->options.random(id_bytes.data(), id_bytes.size());
      id = to_hex(id_bytes.data(), id_bytes.size());
      exists.bind(1, std::string_view(id));
      const bool taken = exists.step();
      exists.reset();
      if (!taken) break;
    }
    std::array<unsigned char, 32> secret{};
    impl_->options.random(secret.data(), secret.size());
    char b64[kKeySecretChars + 1];
    sodium_bin2base64(b64, sizeof b64, secret.data(), secret.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(secret.data(), secret.size());
    NewKey out;
    out.key = "dg_" + id + "_" + std::string(b64, kKeySecretChars);
    sodium_memzero(b64, sizeof b64);
    const auto digest = sha256(out.key);
    out.info = KeyInfo{id, std::string(name), role, format_utc_ms(impl_->options.clock()), false, "", limits};
    Stmt ins = db.prepare(
        "INSERT INTO api_keys(id, name, role, key_sha256, created, requests_per_minute, tokens_per_day, concurrent, "
        "max_body_bytes) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    ins.bind(1, std::string_view(id))
        .bind(2, name)
        .bind(3, to_string(role))
        .bind_blob(4, digest.data(), digest.size())
        .bind(5, std::string_view(out.info.created))
        .bind(6, limits.requests_per_minute)
        .bind(7, limits.tokens_per_day)
        .bind(8, limits.concurrent)
        .bind(9, limits.max_body_bytes)
        .run();
    tx.commit();
    impl_->reload();  // data_version does not change for this connection's own commits
    return out;
  } catch (const StoreError& e) {
    return e.to_error();
  } catch (const std::exception& e) {
    return Error{std::string(errc::kStoreIo), impl_->file.string() + ": create failed: " + e.what()};
  }
}

bool KeyStore::maybe_refresh(bool miss) noexcept {
  try {
    const std::int64_t now = ns_of(impl_->options.now());
    auto& next = miss ? impl_->next_miss_check_ns : impl_->next_check_ns;
    std::int64_t due = next.load(std::memory_order_relaxed);
    if (now < due) return false;
    const auto interval = miss ? impl_->options.miss_refresh_interval : impl_->options.refresh_interval;
    // One thread per interval does the check; the others go on with the current snapshot.
    if (!next.compare_exchange_strong(due, now + std::chrono::nanoseconds(interval).count())) return false;
    if (miss) impl_->next_check_ns.store(now + std::chrono::nanoseconds(impl_->options.refresh_interval).count());
    std::lock_guard lk(impl_->db_mu);
    impl_->check();
    return true;
  } catch (...) {
    return false;  // keep serving from the last good snapshot; the next interval retries
  }
}

std::optional<KeyInfo> KeyStore::authenticate(std::string_view key) noexcept {
  try {
    const auto id = parse_key_id(key);
    if (!id) return std::nullopt;
    maybe_refresh(false);
    const Snapshot* snap = impl_->current();
    auto it = snap->find(std::string(*id));
    if (it == snap->end()) {
      if (!maybe_refresh(true)) return std::nullopt;
      snap = impl_->current();
      it = snap->find(std::string(*id));
      if (it == snap->end()) return std::nullopt;
    }
    const auto digest = sha256(key);
    if (sodium_memcmp(digest.data(), it->second.digest.data(), digest.size()) != 0) return std::nullopt;
    if (it->second.info.revoked) return std::nullopt;
    return it->second.info;
  } catch (...) {
    return std::nullopt;
  }
}

Result<std::vector<KeyInfo>> KeyStore::list() const {
  try {
    std::lock_guard lk(impl_->db_mu);
    Stmt st = impl_->db->prepare(std::string(kSelectSql) + " ORDER BY created, id");
    std::vector<KeyInfo> out;
    while (st.step()) {
      if (auto e = read_entry(st)) out.push_back(std::move(e->info));
    }
    return out;
  } catch (const StoreError& e) {
    return e.to_error();
  } catch (const std::exception& e) {
    return Error{std::string(errc::kStoreIo), impl_->file.string() + ": list failed: " + e.what()};
  }
}

Result<bool> KeyStore::revoke(std::string_view id) {
  if (!is_key_id(id))
    return Error{std::string(errc::kUnknownKeyId), "'" + std::string(id) + "' is not a key id (12 lowercase hex)"};
  try {
    std::lock_guard lk(impl_->db_mu);
    Db& db = *impl_->db;
    Transaction tx(db);
    Stmt upd = db.prepare("UPDATE api_keys SET revoked = 1, revoked_at = ?1 WHERE id = ?2 AND revoked = 0");
    upd.bind(1, std::string_view(format_utc_ms(impl_->options.clock()))).bind(2, id).run();
    bool revoked_now = db.changes() == 1;
    if (!revoked_now) {
      Stmt exists = db.prepare("SELECT 1 FROM api_keys WHERE id = ?1");
      exists.bind(1, id);
      if (!exists.step()) return Error{std::string(errc::kUnknownKeyId), "no key with id " + std::string(id)};
    }
    tx.commit();
    if (revoked_now) impl_->reload();
    return revoked_now;
  } catch (const StoreError& e) {
    return e.to_error();
  } catch (const std::exception& e) {
    return Error{std::string(errc::kStoreIo), impl_->file.string() + ": revoke failed: " + e.what()};
  }
}

Status KeyStore::refresh() {
  try {
    std::lock_guard lk(impl_->db_mu);
    impl_->check();
    return {};
  } catch (const StoreError& e) {
    return e.to_error();
  } catch (const std::exception& e) {
    return Error{std::string(errc::kStoreIo), impl_->file.string() + ": refresh failed: " + e.what()};
  }
}

}  // namespace dg::store
