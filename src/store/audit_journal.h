// The audit log's journal: DIR/audit.journal/, where a journaling AuditLog (Options::journal) writes
// each record before it answers, so that the SQLite commit and its WAL checkpoints happen on the
// writer thread, off every request's path. Internal to src/store; see audit_log.h for the contract.
//
// Layout: segments named by the seq of their first record, 20 digits ("00000000000000000001.jsonl"),
// each line one record's canonical_json(r, true) and a newline, seqs ascending. A segment is removed
// once every record in it is in the database; `lock` is the file that writers flock (LOCK_EX for
// the journaling writer, LOCK_SH for leader/follower appenders), so that no two of them assign
// seqs from different tails.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "store/audit_log.h"

namespace dg::store {

class Journal {
 public:
  // A segment is closed (a new one started) once it holds this many bytes.
  static constexpr std::uintmax_t kSegmentBytes = std::uintmax_t{16} << 20;

  static std::filesystem::path dir_of(const std::filesystem::path& data_dir) { return data_dir / "audit.journal"; }

  // Every complete record of every segment, in seq order (records not yet in the database and, until
  // their segment is removed, some that are). A last line without its newline (an append cut short
  // by a crash, never acknowledged) is ignored; so is a segment removed while this reads it, with
  // every record before it (they were all in the database). A missing directory reads as empty.
  // Throws StoreError(store_io) naming FILE:LINE for a line that is not a canonical audit record or
  // a seq that does not follow the one before.
  // With `where`, also each record's "FILE:LINE", index for index.
  static std::vector<AuditRecord> read(const std::filesystem::path& jdir, std::vector<std::string>* where = nullptr);

  // Whether jdir holds any segment. Throws StoreError(store_io) when it cannot be listed.
  static bool has_segments(const std::filesystem::path& jdir);
  // Removes every segment (after their records were committed). Throws StoreError(store_io).
  static void remove_segments(const std::filesystem::path& jdir);

  // flock on jdir/lock, created with jdir (mode 0700) when missing; released on destruction.
  class Lock {
   public:
    enum class Kind { shared, exclusive };
    // Never waits: throws StoreError(store_io) naming the lock when another process or AuditLog holds
    // it in a conflicting way (a gateway already writes this log).
    Lock(const std::filesystem::path& jdir, Kind kind);
    ~Lock();
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;
    // Exclusive to shared (after recovery). Throws StoreError(store_io).
    void downgrade();

   private:
    std::filesystem::path path_;
    int fd_ = -1;
  };

  // Starts a new segment for records from next_seq on. Throws StoreError(store_io).
  Journal(std::filesystem::path jdir, std::int64_t next_seq);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Writes `line` (one record and its newline) for record `seq` with write(2): durable against a
  // crash of the process once it returns, as a SQLite commit with synchronous=NORMAL. Starts a new
  // segment first when the current one is full. On failure the segment is cut back to its length
  // before the call (no partial line stays behind) and StoreError(store_io) is thrown; when even
  // that fails, every later append() throws too. Not thread-safe: the caller serialises appends.
  void append(std::string_view line, std::int64_t seq);

  // Removes the closed segments whose records are all at most `committed` (never the one being
  // written). Thread-safe against append(). Failures to remove are left for the next call.
  void release(std::int64_t committed);

 private:
  void open_segment(std::int64_t first_seq);

  struct Closed {
    std::filesystem::path path;
    std::int64_t last_seq;
  };
  std::filesystem::path dir_;
  std::filesystem::path path_;  // the segment being written
  int fd_ = -1;
  std::uintmax_t size_ = 0;
  bool broken_ = false;
  std::mutex closed_mu_;  // closed_: append() adds, release() removes
  std::deque<Closed> closed_;
};

}  // namespace dg::store
