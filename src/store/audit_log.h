// The audit log: append-only, hash-chained records of answered requests and admin actions in
// DIR/audit.db (SQLite, WAL). See docs/gateway.md "Audit log".
//
// Chain: every record carries `prev_hash` (the `hash` of the record before it; 64 zeros for seq 1)
// and `hash` = SHA-256 hex of canonical_json(record without `hash`). The canonical form is RFC 8785
// (JCS) JSON: keys sorted, no whitespace, integers in decimal, strings escaped minimally and otherwise
// byte-exact, with findings_json / detail_json included as strings. So anyone can re-check a record
// of `audit export` with any JCS implementation: drop "hash", canonicalise, SHA-256.
//
// What verify() detects and what it cannot: an edited field, a deleted record (a seq gap, or a
// prev_hash mismatch when later records were renumbered), an inserted record, reordered records,
// and an edited record whose hash column was recomputed to match (the next record's prev_hash no
// longer does). It cannot detect, without an external anchor, a truncated tail (records removed
// from the end) nor a forged record appended at the end or an edit of the last record with its hash
// recomputed, because nothing after them commits to them and the chain has no secret. An operator
// closes that gap by recording the last hash that verify reports (head()) somewhere the gateway
// cannot write, and passing it back as VerifyOptions::anchor.
//
// The database refuses UPDATE and DELETE on records through triggers: a guard against mistakes, not
// against an attacker (who can drop them); the chain is the tamper evidence.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "store/common.h"

namespace dg::store {

// The schema this build reads and writes; opening another version fails with store_schema.
inline constexpr int kAuditSchemaVersion = 1;
// prev_hash of the first record.
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// One audit record. The caller fills the request fields; append() fills seq, ts, prev_hash, hash.
struct AuditRecord {
  // Filled by append().
  std::int64_t seq = 0;   // 1..n, contiguous
  std::string ts;         // RFC 3339 UTC with milliseconds, from the injected clock
  // Filled by the caller. Strings are stored byte-exact (UTF-8 expected, not checked).
  std::string request_id;
  std::string key_id;             // "" when unauthenticated
  std::string route;              // e.g. "/v1/chat/completions"
  std::int64_t http_status = 0;
  std::string error_code;         // stable code from core/errors.h or the gateway's table; "" when none
  std::string action;             // allow | redact | review | safe_mode | block; "" when no verdict
  std::string verdict_class;      // clean | safety | security | hybrid; "" when no verdict
  std::string chain;              // e.g. "prompt_injection -> pii_exposure"
  std::string findings_json = "[]";  // compact JSON text (categories, scores, spans, evidence)
  std::int64_t latency_total_us = 0;
  std::int64_t latency_engine_us = 0;
  std::int64_t latency_upstream_us = 0;
  std::string prompt_sha256;      // sha256_hex of the prompt; "" when none
  std::string response_sha256;
  std::string prompt_text;        // redacted by default; raw only when configured (the caller decides)
  std::string response_text;
  std::string event = "request";  // "request" | "admin" | ...
  std::string detail_json = "{}"; // compact JSON text: event-specific detail (e.g. an admin action)
  // Filled by append().
  std::string prev_hash;
  std::string hash;
};

// The canonical JSON of a record (see above); with_hash = false is what `hash` covers, with_hash =
// true is one line of export_jsonl().
std::string canonical_json(const AuditRecord& r, bool with_hash);
// sha256_hex(canonical_json(r, false)).
std::string record_hash(const AuditRecord& r);
// The inverse of canonical_json(r, true) for one line (no newline): true and `out` filled when
// `line` is exactly what canonical_json(out, true) writes; else false with `error` saying where it
// differs (`out` untouched). Reads byte-exact strings (no UTF-8 check). Never throws except
// std::bad_alloc.
bool parse_canonical_json(std::string_view line, AuditRecord& out, std::string& error);

struct VerifyOptions {
  // An externally kept (seq, hash) from an earlier verify: the log must still contain record `seq`
  // with exactly this hash. Detects truncation and tail rewrites up to that record.
  struct Anchor {
    std::int64_t seq = 0;
    std::string hash;
  };
  std::optional<Anchor> anchor;
};

struct VerifyResult {
  bool ok = true;
  std::int64_t records_checked = 0;  // records found intact, in seq order, before the first bad one
  std::int64_t first_bad_seq = 0;    // 0 when ok
  std::string reason;                // why first_bad_seq is bad; "" when ok
  // The last intact record: the anchor to keep (0 and kGenesisHash for an empty log). A truncated
  // tail is not detectable from the log alone; compare these with a previously kept anchor.
  std::int64_t last_seq = 0;
  std::string last_hash = std::string(kGenesisHash);
};

// Thread safety: append() may be called from any number of threads; verify(), export_jsonl() and
// head() may run concurrently with appends (they read through their own connection, from a
// consistent snapshot). Without Options::journal several processes may append to one log: the chain
// is extended inside the write transaction from the stored tail, so they interleave rather than fork
// it. A journaling log is the only writer of its directory (see Options::journal).
class AuditLog {
 public:
  struct Options {
    WallClock clock;              // record timestamps; default std::chrono::system_clock::now
    bool read_only = false;       // verify / export only: never creates or writes; append() fails
    std::size_t max_batch = 512;  // most records per group commit
    // The gateway's mode. append() writes the record to DIR/audit.journal/ (one write(2); durable
    // against a crash of the process, like a commit) and returns; a writer thread of the log's own
    // copies the records into audit.db in batches, so no caller ever waits for SQLite, its locks or
    // its checkpoints. open() first replays into audit.db what a killed process left in the
    // journal; verify() and export_jsonl() (read-only opens too) read the journal's records after
    // the database's. The log then holds an exclusive lock on DIR/audit.journal/lock: a second
    // writer on the directory (journaling or not) fails to open with store_io.
    bool journal = false;
    // With journal: the most records that may wait for the database (each is in memory as well
    // as in the journal). When the database falls this far behind (a failing disk, a foreign
    // process holding its write lock), append() fails with store_io instead of accepting more.
    std::size_t max_backlog = 65536;
    // With journal: WAL checkpoints run on a background thread of their own (PASSIVE, never in a
    // commit), and once the WAL holds this many frames (pages) the writer makes SQLite start it
    // over in place between two batches (a short catch-up pass; falling back to a TRUNCATE
    // checkpoint that does not wait). While a reader keeps a snapshot open (a long `audit verify`
    // of a live log) the WAL cannot shrink and grows until the reader ends.
    int wal_cap_frames = 16384;  // 64 MB at 4 KB pages
  };

  // Opens (or, unless read_only, creates) DIR/audit.db and reads the last record to continue the
  // chain. Errors: store_io (the directory or file cannot be created / opened / read, or is missing
  // in read_only mode), store_schema (not an audit database, or an unknown schema version).
  static Result<std::unique_ptr<AuditLog>> open(const std::filesystem::path& dir, Options options);
  static Result<std::unique_ptr<AuditLog>> open(const std::filesystem::path& dir) { return open(dir, Options{}); }

  // Appends must not race with destruction (every append() has returned). A journaling log commits
  // its backlog to the database before the destructor returns (what a failing database keeps out
  // stays in the journal for the next open).
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends one record and returns once it is durable against a crash of the process: committed
  // to audit.db (see sqlite.h), or, with Options::journal, written to the journal. Fills
  // record.seq, ts, prev_hash and hash. Without the journal it blocks the calling thread for the
  // commit (tens of microseconds; up to the 5 s busy timeout when another process holds the write
  // lock); group commit: records that arrive while a commit is in progress are written together in
  // the next transaction by one of their callers. With the journal it costs one write(2) under a
  // mutex and never waits for SQLite. Error store_io (write failed, database busy beyond the busy
  // timeout, the journal's backlog full, log opened read-only); the record's filled fields are then
  // unspecified and the record is not in the log. Never throws.
  Status append(AuditRecord& record);

  // With Options::journal: waits until every record appended before the call is in audit.db, and
  // returns the database's error when a commit fails meanwhile (the records stay in the journal and
  // the writer keeps trying). Without the journal there is nothing to wait for. Never throws.
  Status flush();

  // Walks the whole log in seq order and checks seq continuity, prev_hash links and hashes. The
  // Result fails only when the log cannot be read (store_io, store_schema); a broken chain is
  // ok() with value().ok == false.
  Result<VerifyResult> verify(const VerifyOptions& options = {}) const;

  // Writes one canonical JSON object per record (canonical_json(r, true)), in seq order. Error
  // store_io when the log cannot be read or the stream fails.
  Status export_jsonl(std::ostream& out) const;

  struct Head {
    std::int64_t seq = 0;
    std::string hash = std::string(kGenesisHash);
  };
  // The last record this object committed or found at open (another process may have appended since).
  Head head() const;

  // DIR/audit.db
  const std::filesystem::path& file() const noexcept;

  // With Options::journal: how the writer has held the WAL at its cap so far, and what waits for
  // the database. Thread-safe.
  struct WalStats {
    std::uint64_t rewinds = 0;      // the WAL started over in place after a catch-up pass
    std::uint64_t truncations = 0;  // TRUNCATE checkpoints (a reader's read mark defeated a rewind)
    std::uint64_t deferred = 0;     // TRUNCATE attempts put off (a reader's snapshot, or a background pass)
    std::uint64_t commit_errors = 0;  // failed database commits (their records stayed in the journal)
    std::uint64_t backlog = 0;        // records in the journal, not yet in the database
  };
  WalStats wal_stats() const;

 private:
  struct Impl;
  explicit AuditLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dg::store
