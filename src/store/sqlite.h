// A small RAII wrapper over sqlite3: one connection (Db), prepared statements (Stmt) with bind/step
// helpers, and a write transaction guard (Transaction). Failures throw StoreError with code
// `store_io` and a message that names the database file and carries SQLite's own message and
// extended result code; the public store APIs convert them to Error (see common.h).
//
// Connection settings (applied by Db::open):
//   journal_mode=WAL       readers never block the writer and vice versa (verify / export / the CLI
//                          can read while the gateway appends)
//   synchronous=NORMAL     in WAL mode a commit is durable once it returns against a crash of the
//                          process (SIGKILL included); only an OS crash or power loss may roll back
//                          the last commits. That is the guarantee the gateway needs: an answered
//                          request's audit record survives the gateway being killed.
//   busy_timeout=5000 ms   another process holding the write lock (the CLI revoking a key) delays
//                          rather than fails a write
//   foreign_keys=ON
//
// Thread safety: a Db and its Stmts must be used by one thread at a time (the owner serialises; the
// connection is opened with SQLITE_OPEN_NOMUTEX). Different Db objects on the same file may be used
// concurrently from different threads or processes; SQLite's file locks arbitrate.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace dg::store {

class Stmt;

class Db {
 public:
  enum class Mode {
    create,      // read-write, create the file when missing
    read_write,  // read-write, the file must exist
    read_only,   // never writes (journal mode is left as found)
  };

  // Opens `path` and applies the settings above. Throws StoreError(store_io).
  static Db open(const std::string& path, Mode mode);

  Db(Db&& other) noexcept;
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  // Runs one or more statements without results. Throws StoreError(store_io).
  void exec(std::string_view sql);
  // Compiles one statement. The Stmt must not outlive this Db. Throws StoreError(store_io).
  Stmt prepare(std::string_view sql);
  // The single integer of a one-row, one-column query (e.g. "PRAGMA data_version"); nullopt when the
  // query returns no row or NULL. Throws StoreError(store_io).
  std::optional<std::int64_t> query_int(std::string_view sql);

  bool table_exists(std::string_view name);
  std::int64_t changes() const;
  const std::string& path() const noexcept { return path_; }
  sqlite3* handle() const noexcept { return db_; }

  // Throws StoreError(store_io) with "<path>: <what>: <sqlite message> (<extended code>)".
  [[noreturn]] void fail(std::string_view what) const;

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::string path_;
};

// A prepared statement. Bind indexes are 1-based, column indexes 0-based (as in SQLite).
class Stmt {
 public:
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  Stmt& bind(int index, std::int64_t v);
  Stmt& bind(int index, std::string_view text);  // copied by SQLite (SQLITE_TRANSIENT)
  Stmt& bind(int index, std::optional<std::int64_t> v);  // nullopt binds NULL
  Stmt& bind_blob(int index, const void* data, std::size_t n);
  Stmt& bind_null(int index);

  // Advances: true when a row is available, false when the statement is done. Throws
  // StoreError(store_io) on any other result (SQLITE_BUSY after busy_timeout, constraint, I/O).
  bool step();
  // Runs a statement that returns no rows, then resets it.
  void run();
  // Makes the statement runnable again and clears its bindings.
  void reset();

  std::int64_t column_int64(int col) const;
  // TEXT (or a value converted to text); "" for NULL. Byte-exact, embedded NULs included.
  std::string column_text(int col) const;
  // BLOB bytes; "" for NULL.
  std::string column_blob(int col) const;
  bool column_is_null(int col) const;
  // The declared name of a result column.
  std::string column_name(int col) const;
  int column_count() const;

 private:
  friend class Db;
  Stmt(const Db* db, sqlite3_stmt* st) : db_(db), st_(st) {}
  void check_bind(int rc, int index);
  const Db* db_ = nullptr;
  sqlite3_stmt* st_ = nullptr;
};

// BEGIN IMMEDIATE (takes the write lock up front, so a busy database fails here, within busy_timeout,
// rather than at COMMIT); rolls back on destruction unless commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Db& db);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void commit();  // throws StoreError(store_io); the destructor then rolls back

 private:
  Db& db_;
  bool done_ = false;
};

// Every dualguard database has a table schema_version(component TEXT PRIMARY KEY, version INTEGER)
// naming what the file holds ("audit", "keys") and in which layout. ensure_schema() checks that row;
// when the file has no tables yet and `may_create` is true it runs `create_sql` and writes the row,
// in one write transaction (two processes creating the same file at once are serialised).
// Throws StoreError(store_schema) for a file that is not `component`'s database or has another
// version ("a newer dualguard wrote it"), StoreError(store_io) when it cannot be read or written.
void ensure_schema(Db& db, std::string_view component, int version, std::string_view create_sql, bool may_create);

}  // namespace dg::store
