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
// consistent snapshot). Several processes may append to one log: the chain is extended inside the
// write transaction from the stored tail, so they interleave rather than fork it.
class AuditLog {
 public:
  struct Options {
    WallClock clock;              // record timestamps; default std::chrono::system_clock::now
    bool read_only = false;       // verify / export only: never creates or writes; append() fails
    std::size_t max_batch = 512;  // most records per group commit
    // Start a writer thread of its own that does every commit (append_async() needs it). Without
    // one, appenders commit on their own threads (leader/follower, see append()).
    bool writer_thread = false;
    // With writer_thread: WAL checkpoints run on a background thread of their own (PASSIVE, never in
    // a commit), and once the WAL holds this many frames (pages) the writer makes SQLite start it
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

  // Appends must not race with destruction (every append() has returned); queued append_async()
  // records are committed and their completions called before the destructor returns.
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends one record and returns after its transaction committed (durable against a crash of the
  // process, see sqlite.h). Fills record.seq, ts, prev_hash and hash. Blocks the calling thread for
  // the commit (tens of microseconds; up to the 5 s busy timeout when another process holds the
  // write lock). Group commit: records that arrive while a commit is in progress are written
  // together in the next transaction by one of their callers, so concurrent callers share the cost
  // of a commit; a lone caller commits on its own thread without a hand-off. Error store_io (write failed, database busy beyond the busy
  // timeout, log opened read-only); the record's filled fields are then unspecified and the record
  // is not in the log. Never throws.
  // With Options::writer_thread, the writer commits for the caller, which only waits.
  Status append(AuditRecord& record);

  // Completion of append_async(); called on the writer thread, after the commit, outside any lock.
  // It must be quick and must not throw (hand the result to the caller's own executor).
  using AppendDone = std::function<void(Status)>;

  // Queues `record` for the writer thread and returns at once; `done` gets the outcome of its
  // commit (the same as append() would return). `record` must stay alive and untouched until then.
  // The writer takes everything queued (up to max_batch) into one transaction, so callers never
  // block on SQLite and a burst shares one commit. Requires Options::writer_thread (else `done`
  // gets store_io at once, on the calling thread). The destructor commits what is queued first.
  void append_async(AuditRecord& record, AppendDone done);

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

  // With Options::writer_thread: how the writer has held the WAL at its cap so far. Thread-safe.
  struct WalStats {
    std::uint64_t rewinds = 0;      // the WAL started over in place after a catch-up pass
    std::uint64_t truncations = 0;  // TRUNCATE checkpoints (a reader's read mark defeated a rewind)
    std::uint64_t deferred = 0;     // TRUNCATE attempts put off (a reader's snapshot, or a background pass)
  };
  WalStats wal_stats() const;

 private:
  struct Impl;
  explicit AuditLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dg::store
