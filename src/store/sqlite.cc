#include "store/sqlite.h"

#include <sqlite3.h>

#include <utility>

#include "core/errors.h"
#include "store/common.h"

namespace dg::store {
namespace {

constexpr int kBusyTimeoutMs = 5000;

std::string describe(sqlite3* db, int rc) {
  std::string m = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return m + " (" + std::to_string(db ? sqlite3_extended_errcode(db) : rc) + ")";
}

}  // namespace

Db Db::open(const std::string& path, Mode mode) {
  int flags = SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case Mode::create: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
    case Mode::read_write: flags |= SQLITE_OPEN_READWRITE; break;
    case Mode::read_only: flags |= SQLITE_OPEN_READONLY; break;
  }
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = path + ": cannot open: " + describe(raw, rc);
    sqlite3_close_v2(raw);  // a handle is returned even on failure
    throw StoreError(errc::kStoreIo, msg);
  }
  Db db(raw, path);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  if (mode != Mode::read_only) {
    Stmt wal = db.prepare("PRAGMA journal_mode=WAL");
    if (!wal.step() || wal.column_text(0) != "wal") db.fail("cannot switch to WAL mode");
  }
  db.exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  // Touch the schema now so that "not a database" and permission problems surface at open.
  db.query_int("SELECT count(*) FROM sqlite_schema");
  return db;
}

Db::Db(Db&& other) noexcept : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    if (db_) sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

Db::~Db() {
  if (db_) sqlite3_close_v2(db_);
}

void Db::fail(std::string_view what) const {
  throw StoreError(errc::kStoreIo, path_ + ": " + std::string(what) + ": " + describe(db_, SQLITE_ERROR));
}

void Db::exec(std::string_view sql) {
  const std::string s(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string m = err ? err : "error";
    sqlite3_free(err);
    throw StoreError(errc::kStoreIo, path_ + ": " + m + " (" + std::to_string(sqlite3_extended_errcode(db_)) +
                                         ") in: " + s.substr(0, 80));
  }
}

Stmt Db::prepare(std::string_view sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &st, nullptr) != SQLITE_OK)
    fail("cannot prepare \"" + std::string(sql.substr(0, 80)) + "\"");
  return Stmt(this, st);
}

std::optional<std::int64_t> Db::query_int(std::string_view sql) {
  Stmt st = prepare(sql);
  if (!st.step() || st.column_is_null(0)) return std::nullopt;
  return st.column_int64(0);
}

bool Db::table_exists(std::string_view name) {
  Stmt st = prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1");
  st.bind(1, name);
  return st.step();
}

std::int64_t Db::changes() const { return sqlite3_changes64(db_); }

Stmt::Stmt(Stmt&& other) noexcept : db_(other.db_), st_(std::exchange(other.st_, nullptr)) {}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    if (st_) sqlite3_finalize(st_);
    db_ = other.db_;
    st_ = std::exchange(other.st_, nullptr);
  }
  return *this;
}

Stmt::~Stmt() {
  if (st_) sqlite3_finalize(st_);
}

void Stmt::check_bind(int rc, int index) {
  if (rc != SQLITE_OK) db_->fail("cannot bind parameter " + std::to_string(index));
}

Stmt& Stmt::bind(int index, std::int64_t v) {
  check_bind(sqlite3_bind_int64(st_, index, v), index);
  return *this;
}

Stmt& Stmt::bind(int index, std::string_view text) {
  // A non-null pointer even for "": a null pointer would bind NULL.
  check_bind(sqlite3_bind_text64(st_, index, text.empty() ? "" : text.data(), text.size(), SQLITE_TRANSIENT,
                                 SQLITE_UTF8),
             index);
  return *this;
}

Stmt& Stmt::bind(int index, std::optional<std::int64_t> v) { return v ? bind(index, *v) : bind_null(index); }

Stmt& Stmt::bind_blob(int index, const void* data, std::size_t n) {
  check_bind(sqlite3_bind_blob64(st_, index, n ? data : "", n, SQLITE_TRANSIENT), index);
  return *this;
}

Stmt& Stmt::bind_null(int index) {
  check_bind(sqlite3_bind_null(st_, index), index);
  return *this;
}

bool Stmt::step() {
  const int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const char* sql = sqlite3_sql(st_);
  const std::string msg = db_->path() + ": \"" + std::string(sql ? sql : "?").substr(0, 80) +
                          "\" failed: " + describe(db_->handle(), rc);
  sqlite3_reset(st_);  // leave the statement reusable (the audit committer keeps its INSERT)
  throw StoreError(errc::kStoreIo, msg);
}

void Stmt::run() {
  while (step()) {
  }
  reset();
}

void Stmt::reset() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
}

std::int64_t Stmt::column_int64(int col) const { return sqlite3_column_int64(st_, col); }

std::string Stmt::column_text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, col));
  if (!p) return {};
  return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, col)));
}

std::string Stmt::column_blob(int col) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(st_, col));
  if (!p) return {};
  return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, col)));
}

bool Stmt::column_is_null(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }

std::string Stmt::column_name(int col) const {
  const char* n = sqlite3_column_name(st_, col);
  return n ? n : "";
}

int Stmt::column_count() const { return sqlite3_column_count(st_); }

Transaction::Transaction(Db& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

void ensure_schema(Db& db, std::string_view component, int version, std::string_view create_sql, bool may_create) {
  const std::string what = db.path() + ": ";
  const std::string comp(component);
  auto check = [&] {
    Stmt st = db.prepare("SELECT version FROM schema_version WHERE component = ?1");
    st.bind(1, component);
    if (!st.step())
      throw StoreError(errc::kStoreSchema,
                       what + "not a dualguard " + comp + " database (schema_version has no '" + comp + "' row)");
    const auto found = st.column_int64(0);
    if (found != version)
      throw StoreError(errc::kStoreSchema, what + comp + " schema version " + std::to_string(found) +
                                               ", this build reads version " + std::to_string(version) +
                                               (found > version ? " (written by a newer dualguard?)" : ""));
  };
  auto any_table = [&] { return db.query_int("SELECT count(*) FROM sqlite_schema").value_or(0) > 0; };
  if (db.table_exists("schema_version")) return check();
  if (!may_create) {
    throw StoreError(errc::kStoreSchema, what + (any_table() ? "not a dualguard " + comp + " database (no schema_version table)"
                                                             : "empty database, no " + comp + " schema"));
  }
  Transaction tx(db);
  if (db.table_exists("schema_version")) {  // another process created it first
    tx.commit();
    return check();
  }
  if (any_table())
    throw StoreError(errc::kStoreSchema, what + "not a dualguard " + comp + " database (no schema_version table)");
  db.exec("CREATE TABLE schema_version(component TEXT PRIMARY KEY, version INTEGER NOT NULL)");
  db.exec(create_sql);
  Stmt ins = db.prepare("INSERT INTO schema_version(component, version) VALUES(?1, ?2)");
  ins.bind(1, component).bind(2, static_cast<std::int64_t>(version)).run();
  tx.commit();
}

}  // namespace dg::store
