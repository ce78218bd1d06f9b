// API keys in DIR/keys.db (SQLite, WAL). See docs/gateway.md "API keys".
//
// A key is `dg_<id>_<secret>`: id = 12 lowercase hex (6 random bytes), secret = 43 characters of
// unpadded base64url (32 random bytes from randombytes_buf). The store keeps the id, a name, the role,
// the SHA-256 of the WHOLE key, timestamps, the revoked flag and optional per-key limits; never the
// key. The key is returned once, by create().
//
// Keys live in their own file, not in audit.db: SQLite's `PRAGMA data_version` (how a running
// gateway notices keys created or revoked by the CLI) changes on every commit by another connection
// to the same file, and the audit committer commits on every request; one file would turn each
// request into a key reload. Separately, the two files have different readers (operators export and
// archive audit.db; keys.db is for the gateway alone), different sizes and different retention.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/common.h"

namespace dg::store {

inline constexpr int kKeysSchemaVersion = 1;
inline constexpr std::size_t kKeyIdChars = 12;
inline constexpr std::size_t kKeySecretChars = 43;
inline constexpr std::size_t kKeyChars = 3 + kKeyIdChars + 1 + kKeySecretChars;  // 59

// Ordered: admin ⊇ operator ⊇ client. (`operator` is a C++ keyword, hence the underscore.)
enum class KeyRole { client = 0, operator_ = 1, admin = 2 };
std::string_view to_string(KeyRole r) noexcept;                     // "client" | "operator" | "admin"
std::optional<KeyRole> parse_key_role(std::string_view s) noexcept;  // the same spellings only
// True when a key of role `have` may use a route that requires `need`.
constexpr bool role_allows(KeyRole have, KeyRole need) noexcept { return have >= need; }

// Per-key limits; nullopt = the gateway's default. Values are positive.
struct KeyLimits {
  std::optional<std::int64_t> requests_per_minute;
  std::optional<std::int64_t> tokens_per_day;
  std::optional<std::int64_t> concurrent;
  std::optional<std::int64_t> max_body_bytes;
  friend bool operator==(const KeyLimits&, const KeyLimits&) = default;
};

struct KeyInfo {
  std::string id;
  std::string name;
  KeyRole role = KeyRole::client;
  std::string created;     // RFC 3339 UTC with milliseconds
  bool revoked = false;
  std::string revoked_at;  // "" unless revoked
  KeyLimits limits;
};

struct NewKey {
  KeyInfo info;
  std::string key;  // the full key; shown once, not recoverable
};

// The id of a well-formed key (a view into `key`), or nullopt when `key` does not have the exact
// shape dg_<12 lowercase hex>_<43 base64url>.
std::optional<std::string_view> parse_key_id(std::string_view key) noexcept;

// Thread safety: every member may be called concurrently. authenticate() reads an immutable
// snapshot (std::shared_ptr<const ...>, replaced whole on reload) that each thread caches; it takes a
// lock only once per thread after a reload, and in the one call per refresh interval that checks
// the database for changes.
class KeyStore {
 public:
  struct Options {
    WallClock clock;  // created / revoked timestamps; default system_clock::now
    MonoClock now;    // refresh timing; default steady_clock::now
    // How often authenticate() checks whether another process changed the keys (one
    // `PRAGMA data_version`, microseconds; the keys are reloaded only when it changed).
    std::chrono::milliseconds refresh_interval{500};
    // An unknown id triggers that check early, at most once per this interval (a flood of made-up
    // ids cannot turn into a flood of database reads).
    std::chrono::milliseconds miss_refresh_interval{100};
    // Source of key material; default libsodium's randombytes_buf. Injectable for tests.
    std::function<void(unsigned char*, std::size_t)> random;
    // false: DIR/keys.db must exist (`keys list`, `keys revoke` must not create an empty store).
    bool create_if_missing = true;
  };

  // Opens (creates) DIR/keys.db and loads the snapshot. Errors: store_io, store_schema.
  static Result<std::unique_ptr<KeyStore>> open(const std::filesystem::path& dir, Options options);
  static Result<std::unique_ptr<KeyStore>> open(const std::filesystem::path& dir) { return open(dir, Options{}); }
  ~KeyStore();
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  // Creates a key. Errors: invalid_key_spec (empty or over-long name, control characters in it,
  // a limit <= 0; every problem in one message), store_io.
  Result<NewKey> create(KeyRole role, std::string_view name, const KeyLimits& limits = {});

  // The key's info when `key` is well-formed, its id is known, its SHA-256 matches the stored one
  // (compared in constant time with sodium_memcmp) and it is not revoked; nullopt otherwise (the
  // reasons are deliberately not told apart). Never throws; a failing refresh keeps the last snapshot.
  std::optional<KeyInfo> authenticate(std::string_view key) noexcept;

  // Every key, revoked ones included, ordered by creation; read from the database, not the snapshot.
  Result<std::vector<KeyInfo>> list() const;

  // Revokes key `id`: true when this call revoked it, false when it was already revoked (revoking is
  // idempotent; the first revocation time is kept). Errors: unknown_key_id, store_io.
  Result<bool> revoke(std::string_view id);

  // Checks the database now and reloads the snapshot when it changed. Error store_io.
  Status refresh();

  // DIR/keys.db
  const std::filesystem::path& file() const noexcept;

 private:
  struct Impl;
  explicit KeyStore(std::unique_ptr<Impl> impl);
  bool maybe_refresh(bool miss) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dg::store
