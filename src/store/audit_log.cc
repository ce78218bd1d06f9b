#include "store/audit_log.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <ostream>
#include <thread>
#include <vector>

#include "core/errors.h"
#include "store/audit_journal.h"
#include "store/sqlite.h"

namespace dg::store {
namespace {

// Every field of a record, in table order. The SQL, the canonical JSON and the row reader are all
// derived from this one list so that they cannot disagree.
struct Field {
  const char* name;
  std::string AuditRecord::*text = nullptr;
  std::int64_t AuditRecord::*integer = nullptr;
};

#define DG_TEXT(f) Field{#f, &AuditRecord::f, nullptr}
#define DG_INT(f) Field{#f, nullptr, &AuditRecord::f}
const Field kFields[] = {
    DG_INT(seq),
    DG_TEXT(ts),
    DG_TEXT(request_id),
    DG_TEXT(key_id),
    DG_TEXT(route),
    DG_INT(http_status),
    DG_TEXT(error_code),
    DG_TEXT(action),
    DG_TEXT(verdict_class),
    DG_TEXT(chain),
    DG_TEXT(findings_json),
    DG_INT(latency_total_us),
    DG_INT(latency_engine_us),
    DG_INT(latency_upstream_us),
    DG_TEXT(prompt_sha256),
    DG_TEXT(response_sha256),
    DG_TEXT(prompt_text),
    DG_TEXT(response_text),
    DG_TEXT(event),
    DG_TEXT(detail_json),
    DG_TEXT(prev_hash),
    DG_TEXT(hash),
};
#undef DG_TEXT
#undef DG_INT
constexpr int kFieldCount = static_cast<int>(std::size(kFields));

// JCS orders members by the UTF-16 code units of their names; for ASCII names that is byte order.
const std::vector<const Field*>& canonical_order() {
  static const std::vector<const Field*> order = [] {
    std::vector<const Field*> v;
    for (const auto& f : kFields) v.push_back(&f);
    std::sort(v.begin(), v.end(), [](const Field* a, const Field* b) { return std::string_view(a->name) < b->name; });
    return v;
  }();
  return order;
}

std::string column_list() {
  std::string s;
  for (const auto& f : kFields) s += (s.empty() ? "" : ", ") + std::string(f.name);
  return s;
}

std::string create_sql() {
  std::string s = "CREATE TABLE audit(\n";
  for (const auto& f : kFields) {
    s += "  " + std::string(f.name);
    if (std::string_view(f.name) == "seq") s += " INTEGER PRIMARY KEY,\n";
    else s += f.integer ? " INTEGER NOT NULL,\n" : " TEXT NOT NULL,\n";
  }
  s.resize(s.size() - 2);
  s += "\n);\n"
       "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
       "BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;\n"
       "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
       "BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;\n";
  return s;
}

std::string insert_sql() {
  std::string s = "INSERT INTO audit(" + column_list() + ") VALUES(";
  for (int i = 1; i <= kFieldCount; ++i) s += (i > 1 ? ", ?" : "?") + std::to_string(i);
  return s + ")";
}

std::string select_sql() { return "SELECT " + column_list() + " FROM audit ORDER BY seq"; }

void bind_record(Stmt& st, const AuditRecord& r) {
  for (int i = 0; i < kFieldCount; ++i) {
    const Field& f = kFields[i];
    if (f.integer) st.bind(i + 1, r.*f.integer);
    else st.bind(i + 1, std::string_view(r.*f.text));
  }
}

AuditRecord read_record(const Stmt& st) {
  AuditRecord r;
  for (int i = 0; i < kFieldCount; ++i) {
    const Field& f = kFields[i];
    if (f.integer) r.*f.integer = st.column_int64(i);
    else r.*f.text = st.column_text(i);
  }
  return r;
}

// RFC 8785 string escaping: the two mandatory escapes, the short forms for \b \f \n \r \t, \u00xx
// (lowercase hex) for other control characters; every other byte as is.
void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the bytes not yet copied (copied in runs: records are mostly text)
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0x0f];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

std::chrono::system_clock::time_point system_now() { return std::chrono::system_clock::now(); }

}  // namespace

namespace {

// canonical_json(r, with_hash); without the hash, *hash_at (when given) is the offset where
// canonical_json(r, true) has its "hash" member, with the comma before it.
std::string canonical_json_at(const AuditRecord& r, bool with_hash, std::size_t* hash_at) {
  std::string out;
  out.reserve(512 + r.findings_json.size() + r.prompt_text.size() + r.response_text.size() + r.detail_json.size());
  out += '{';
  bool first = true;
  for (const Field* f : canonical_order()) {
    if (!with_hash && std::string_view(f->name) == "hash") {
      if (hash_at) *hash_at = out.size();
      continue;
    }
    if (!first) out += ',';
    first = false;
    append_json_string(out, f->name);
    out += ':';
    if (f->integer) out += std::to_string(r.*f->integer);
    else append_json_string(out, r.*f->text);
  }
  out += '}';
  return out;
}

// Sets r.hash and returns canonical_json(r, true) and a newline, canonicalising once: the hash
// covers the form without "hash", into which the member is then spliced.
std::string seal(AuditRecord& r) {
  std::size_t at = 0;
  std::string line = canonical_json_at(r, false, &at);
  r.hash = sha256_hex(line);
  // "hash" is never the first member (canonical_order() is sorted and "action" precedes it).
  line.insert(at, ",\"hash\":\"" + r.hash + '"');
  line += '\n';
  return line;
}

}  // namespace

std::string canonical_json(const AuditRecord& r, bool with_hash) { return canonical_json_at(r, with_hash, nullptr); }

std::string record_hash(const AuditRecord& r) { return sha256_hex(canonical_json(r, false)); }

namespace {

// The strict reader of parse_canonical_json(): exactly the members of canonical_json(r, true), in
// its order; strings with the escapes append_json_string() writes, integers in decimal.
class CanonicalReader {
 public:
  explicit CanonicalReader(std::string_view s) : s_(s) {}
  bool literal(std::string_view t) {
    if (s_.substr(pos_, t.size()) != t) return false;
    pos_ += t.size();
    return true;
  }
  bool string(std::string& out) {
    out.clear();
    if (!literal("\"")) return false;
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) return false;
      switch (s_[pos_++]) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          if (!literal("00") || pos_ + 2 > s_.size()) return false;
          const int hi = hex(s_[pos_]), lo = hex(s_[pos_ + 1]);
          if (hi < 0 || lo < 0) return false;
          pos_ += 2;
          out += static_cast<char>(hi * 16 + lo);
          break;
        }
        default: return false;
      }
    }
    return false;
  }
  bool integer(std::int64_t& out) {
    const bool neg = pos_ < s_.size() && s_[pos_] == '-';
    if (neg) ++pos_;
    const std::size_t start = pos_;
    std::uint64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      if (v > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) return false;
      v = v * 10 + static_cast<std::uint64_t>(s_[pos_++] - '0');
    }
    if (pos_ == start || v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
    out = neg ? -static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v);
    return true;
  }
  bool at_end() const { return pos_ == s_.size(); }
  std::size_t pos() const { return pos_; }

 private:
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  }
  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace

bool parse_canonical_json(std::string_view line, AuditRecord& out, std::string& error) {
  CanonicalReader in(line);
  AuditRecord r;
  std::string name;
  bool first = true;
  auto bad = [&](const std::string& what) {
    error = what + " at byte " + std::to_string(in.pos());
    return false;
  };
  if (!in.literal("{")) return bad("expected '{'");
  for (const Field* f : canonical_order()) {
    if (!first && !in.literal(",")) return bad("expected ','");
    first = false;
    if (!in.string(name) || name != f->name || !in.literal(":"))
      return bad(std::string("expected member \"") + f->name + "\"");
    if (f->integer ? !in.integer(r.*f->integer) : !in.string(r.*f->text))
      return bad(std::string("bad value of \"") + f->name + "\"");
  }
  if (!in.literal("}") || !in.at_end()) return bad("expected the end of the record");
  if (canonical_json(r, true) != line) return bad("not in canonical form");
  out = std::move(r);
  return true;
}

struct AuditLog::Impl {
  struct Pending {
    AuditRecord* record;
    Status status;
    bool done = false;
  };

  std::filesystem::path file;
  std::filesystem::path journal_dir;
  Options options;
  // Write side (none when read-only), used only by the current leader (or the writer thread).
  // Declared before the statements so that they are finalised first.
  std::optional<Db> db;
  std::optional<Stmt> insert;
  std::optional<Stmt> tail;
  // Every writable log holds the journal's lock (shared without the journal, exclusive with it).
  std::optional<Journal::Lock> lock;

  // Group commit, leader/follower (no journal): an appender queues its record; when no commit is in
  // progress it becomes the leader, commits everything queued (its own record included) in one
  // transaction and wakes the others; otherwise it waits, and either its record was committed by the
  // leader meanwhile or it leads the next batch. One appender alone commits on its own thread without
  // any hand-off; under load, records that arrive during a commit share the next one.
  mutable std::mutex mu;
  std::condition_variable cv;  // a batch finished
  std::deque<Pending*> queue;
  bool leading = false;  // a leader is committing
  Head head;             // the last record appended (with the journal: written to it)
  std::vector<Pending*> batch;  // the leader's; reused

  // Options::journal. Appenders take jmu (seq, ts, chain, the journal write, in one order), then mu
  // to hand the record to the writer thread, which takes only mu.
  std::mutex jmu;
  std::optional<Journal> journal;
  std::deque<AuditRecord> backlog;    // mu: in the journal, not yet in audit.db, in seq order
  std::int64_t committed_seq = 0;     // mu: the last record in audit.db
  std::uint64_t failed_commits = 0;   // mu: failed commits so far (flush() returns on the next one)
  Error last_error;                   // mu: of the last failed commit
  std::condition_variable flushed_cv; // committed_seq advanced, or a commit failed
  std::thread writer;
  std::condition_variable writer_cv;  // the backlog is no longer empty, or stopping
  bool writer_sleeping = false;
  bool stopping = false;

  // With the journal, WAL checkpoints leave the writer's commits. SQLite's automatic checkpoint
  // runs inside the commit that crosses 1000 WAL pages and copies the WAL into the database file
  // with an fsync (10-100 ms). Instead the writer's connection never checkpoints on its own; a
  // checkpointer thread with its own connection runs PASSIVE checkpoints (they never block the
  // writer) a few times a second. They copy frames but cannot make the WAL shorter: SQLite writes
  // from the start of the WAL again only when a write transaction *begins* with every frame already
  // copied and no connection holding a read mark, a moment that continuous commits never leave. So
  // at Options::wal_cap_frames the writer makes that moment itself (rewind()): between two batches,
  // with the background pass excluded (ckpt_mu), it copies the few frames left on its own
  // connection and keeps ckpt_mu until its next commit has begun, which then restarts the WAL in
  // place (no truncation, no wait for readers). That order does not depend on thread timing; only a
  // reader holding a snapshot defeats it, and then the writer falls back to one TRUNCATE attempt
  // that does not wait. Since the journal, those passes (tens of ms of fsync, bench/README.md)
  // delay only the copy into the database, never an answer.
  static constexpr std::chrono::milliseconds kCheckpointEvery{250};
  static constexpr int kWriterBusyTimeoutMs = 5000;  // as Db::open sets it (sqlite.h)
  int next_truncate_at = 0;  // writer thread only: frames before the next TRUNCATE attempt
  std::mutex ckpt_mu;        // one checkpoint at a time: the background pass or the writer's rewind
  // Writer thread only: ckpt_mu, held from a complete catch-up pass until the next commit has
  // begun (and restarted the WAL); rewind_from is the WAL size when it was taken.
  std::unique_lock<std::mutex> rewind_hold;
  int rewind_from = 0;
  std::atomic<std::uint64_t> rewinds{0}, truncations{0}, deferred{0};  // wal_stats()
  std::thread checkpointer;
  std::condition_variable checkpointer_cv;  // stopping
  std::atomic<int> wal_frames{0};           // WAL size after the last commit (sqlite3_wal_hook)
  std::atomic<std::uint64_t> commits{0};    // committed batches, to skip idle checkpoints
  void checkpointer_loop();
  void checkpoint_if_wal_too_large();
  bool rewind(int frames);
  void truncate(int frames);
  // One checkpoint on the writer's connection that never waits (busy timeout 0 for its duration):
  // with the usual 5 s it would wait for a reader's snapshot while the backlog grows.
  int checkpoint_now(int mode, int* log, int* copied);

  // Leader/follower: assigns seq, ts and the chain from the stored tail and commits the batch.
  Status commit_batch(Head& new_head);
  // Takes up to max_batch queued records (mu held), commits them with mu released and publishes the
  // result (mu held again).
  void lead(std::unique_lock<std::mutex>& lk);

  // Journal: the writer thread's loop, and the insertion of records that already carry their chain.
  void writer_loop();
  void insert_records(const std::vector<AuditRecord>& records);  // throws StoreError
  Status append_journaled(AuditRecord& record);
  // At open: copies into audit.db the journal's records past its tail, then empties the journal.
  void replay_journal();
  Db open_reader() const { return Db::open(file.string(), Db::Mode::read_only); }
  // Calls f(record) for every record in seq order, audit.db's and then the journal's past them,
  // until f returns false. The journal is read first: a segment removed after that holds only
  // records that the database snapshot, taken after it, already has. Throws StoreError.
  template <class F>
  void for_each_record(F&& f) const {
    const std::vector<AuditRecord> journaled = Journal::read(journal_dir);
    Db reader = open_reader();
    Stmt st = reader.prepare(select_sql());
    std::int64_t last = 0;
    while (st.step()) {
      const AuditRecord r = read_record(st);
      last = r.seq;
      if (!f(r)) return;
    }
    for (const AuditRecord& r : journaled)
      if (r.seq > last && !f(r)) return;
  }
};

AuditLog::AuditLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AuditLog::~AuditLog() {
  Impl& m = *impl_;
  if (!m.writer.joinable()) return;
  {
    std::lock_guard lk(m.mu);
    m.stopping = true;
  }
  m.writer_cv.notify_one();
  m.checkpointer_cv.notify_one();
  m.writer.join();
  if (m.checkpointer.joinable()) m.checkpointer.join();
}

void AuditLog::Impl::checkpointer_loop() {
  std::optional<Db> own;
  try {
    own.emplace(Db::open(file.string(), Db::Mode::read_write));
  } catch (const std::exception&) {
    return;  // no background checkpoints: the writer's hard cap still bounds the WAL
  }
  std::uint64_t done = commits.load();
  std::unique_lock lk(mu);
  while (!stopping) {
    checkpointer_cv.wait_for(lk, kCheckpointEvery);
    if (stopping) break;
    const std::uint64_t now = commits.load();
    if (now == done) continue;
    done = now;
    lk.unlock();
    {
      // Never while the writer rewinds (its pass would take the read marks the restart needs).
      // PASSIVE: copies what it can without waiting for the writer or readers; a busy result is fine.
      std::unique_lock ck(ckpt_mu, std::try_to_lock);
      if (ck) sqlite3_wal_checkpoint_v2(own->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    }
    lk.lock();
  }
}
void AuditLog::Impl::checkpoint_if_wal_too_large() {
  const int frames = wal_frames.load(std::memory_order_relaxed);
  if (rewind_hold.owns_lock()) {
    // The first commit after a complete catch-up pass has run: it wrote from the start of the WAL
    // unless a reader held a read mark when it began.
    rewind_hold.unlock();
    if (frames < rewind_from) {
      rewinds.fetch_add(1, std::memory_order_relaxed);
      next_truncate_at = 0;
      return;
    }
    truncate(frames);
    return;
  }
  if (frames < options.wal_cap_frames || frames < next_truncate_at) return;
  if (!rewind(frames)) truncate(frames);
}

bool AuditLog::Impl::rewind(int frames) {
  std::unique_lock ck(ckpt_mu, std::try_to_lock);
  if (!ck) {
    // The background pass is copying: let it finish and try after the next batch, unless the WAL
    // is already well past its cap (then wait for that one pass).
    if (frames < 2 * options.wal_cap_frames) return true;
    ck.lock();
  }
  int log = 0, copied = 0;
  const int rc = checkpoint_now(SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
  if (rc != SQLITE_OK || copied < log) return false;  // a reader's snapshot keeps frames uncopied
  rewind_hold = std::move(ck);
  rewind_from = frames;
  return true;
}

int AuditLog::Impl::checkpoint_now(int mode, int* log, int* copied) {
  sqlite3* h = db->handle();
  sqlite3_busy_timeout(h, 0);
  const int rc = sqlite3_wal_checkpoint_v2(h, nullptr, mode, log, copied);
  sqlite3_busy_timeout(h, kWriterBusyTimeoutMs);
  return rc;
}

void AuditLog::Impl::truncate(int frames) {
  // TRUNCATE without waiting (checkpoint_now; a background pass in progress also defers it). When
  // it cannot finish now, try again after another half cap of frames; a reader that keeps its
  // snapshot open keeps the WAL from shrinking until it ends.
  std::unique_lock ck(ckpt_mu, std::try_to_lock);
  int log = 0;
  const int rc = ck ? checkpoint_now(SQLITE_CHECKPOINT_TRUNCATE, &log, nullptr) : SQLITE_BUSY;
  if (rc == SQLITE_OK) {
    truncations.fetch_add(1, std::memory_order_relaxed);
    wal_frames.store(0, std::memory_order_relaxed);
    next_truncate_at = 0;
  } else {
    deferred.fetch_add(1, std::memory_order_relaxed);
    next_truncate_at = frames + std::max(1, options.wal_cap_frames / 2);
  }
}


void AuditLog::Impl::lead(std::unique_lock<std::mutex>& lk) {
  leading = true;
  const std::size_t n = std::min(queue.size(), options.max_batch);
  batch.assign(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
  queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
  lk.unlock();
  Head new_head;
  Status st = commit_batch(new_head);
  lk.lock();
  if (st.ok()) head = std::move(new_head);
  for (Pending* q : batch) {
    q->status = st;
    q->done = true;
  }
  batch.clear();
  leading = false;
  cv.notify_all();  // the batch's appenders return; one of the rest may lead the next
}

void AuditLog::Impl::insert_records(const std::vector<AuditRecord>& records) {
  Transaction tx(*db);
  for (const AuditRecord& r : records) {
    bind_record(*insert, r);
    insert->run();
  }
  tx.commit();
}

void AuditLog::Impl::writer_loop() {
  std::vector<AuditRecord> recs;
  recs.reserve(options.max_batch);
  auto backoff = std::chrono::milliseconds(10);
  std::unique_lock lk(mu);
  for (;;) {
    if (backlog.empty()) {
      if (stopping) break;
      writer_sleeping = true;
      writer_cv.wait(lk);
      writer_sleeping = false;
      continue;
    }
    const std::size_t n = std::min(backlog.size(), options.max_batch);
    for (std::size_t i = 0; i < n; ++i) recs.push_back(std::move(backlog[i]));
    lk.unlock();
    Status st;
    try {
      insert_records(recs);
    } catch (const StoreError& e) {
      st = e.to_error();
    } catch (const std::exception& e) {
      st = Error{std::string(errc::kStoreIo), file.string() + ": append failed: " + e.what()};
    }
    const std::int64_t last = recs.back().seq;
    if (st.ok()) {
      commits.fetch_add(1, std::memory_order_relaxed);
      journal->release(last);
    }
    lk.lock();
    if (st.ok()) {
      backlog.erase(backlog.begin(), backlog.begin() + static_cast<std::ptrdiff_t>(n));
      committed_seq = last;
      backoff = std::chrono::milliseconds(10);
    } else {
      for (std::size_t i = 0; i < n; ++i) backlog[i] = std::move(recs[i]);  // to try again
      ++failed_commits;
      last_error = st.error();
    }
    recs.clear();
    flushed_cv.notify_all();
    if (!st.ok()) {
      if (stopping) break;  // the journal keeps what is left for the next open
      writer_cv.wait_for(lk, backoff, [&] { return stopping; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
      continue;
    }
    lk.unlock();
    checkpoint_if_wal_too_large();
    lk.lock();
  }
  if (rewind_hold.owns_lock()) rewind_hold.unlock();  // on the thread that locked it
}

Status AuditLog::Impl::append_journaled(AuditRecord& r) {
  std::lock_guard jl(jmu);
  {
    std::lock_guard lk(mu);
    if (backlog.size() >= options.max_backlog)
      return Error{std::string(errc::kStoreIo),
                   file.string() + ": " + std::to_string(backlog.size()) +
                       " audit records wait for the database, the most allowed" +
                       (failed_commits > 0 ? "; the last commit failed: " + last_error.message : std::string())};
    r.seq = head.seq + 1;
    r.prev_hash = head.hash;
  }
  try {
    r.ts = format_utc_ms(options.clock());
    journal->append(seal(r), r.seq);
  } catch (const StoreError& e) {
    return e.to_error();
  } catch (const std::exception& e) {
    return Error{std::string(errc::kStoreIo), journal_dir.string() + ": append failed: " + e.what()};
  }
  std::lock_guard lk(mu);
  head = Head{r.seq, r.hash};  // from here on the record is in the log, whatever follows
  try {
    backlog.push_back(r);
  } catch (const std::exception&) {
    // Out of memory: the record is in the journal and the next open replays it; until then the
    // database cannot take the records after it in order, so stop accepting any.
    last_error = Error{std::string(errc::kStoreIo), file.string() + ": out of memory queueing an audit record"};
    options.max_backlog = 0;
  }
  if (writer_sleeping) writer_cv.notify_one();
  return {};
}

void AuditLog::Impl::replay_journal() {
  std::vector<std::string> where;
  std::vector<AuditRecord> recs = Journal::read(journal_dir, &where);
  std::size_t first = 0;  // records up to the database's tail are in it already
  while (first < recs.size() && recs[first].seq <= head.seq) ++first;
  Head h = head;
  for (std::size_t i = first; i < recs.size(); ++i) {
    const AuditRecord& r = recs[i];
    if (r.seq != h.seq + 1 || r.prev_hash != h.hash || record_hash(r) != r.hash)
      throw StoreError(errc::kStoreIo,
                       where[i] + ": record " + std::to_string(r.seq) + " does not continue the chain after seq " +
                           std::to_string(h.seq) + " (edited, or not this log's); nothing was replayed; `dualguard audit verify` shows where the chain breaks");
    h = Head{r.seq, r.hash};
  }
  if (first < recs.size()) {
    recs.erase(recs.begin(), recs.begin() + static_cast<std::ptrdiff_t>(first));
    insert_records(recs);
    head = h;
  }
  Journal::remove_segments(journal_dir);
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::filesystem::path& dir, Options options) {
  try {
    if (!options.clock) options.clock = system_now;
    if (options.max_batch == 0) options.max_batch = 1;
    if (options.max_backlog == 0) options.max_backlog = 1;
    if (options.wal_cap_frames < 1) options.wal_cap_frames = 1;
    ensure_sodium();
    prepare_data_dir(dir, !options.read_only);
    auto impl = std::make_unique<Impl>();
    impl->file = dir / "audit.db";
    impl->journal_dir = Journal::dir_of(dir);
    impl->options = options;
    std::error_code ec;
    const bool existed = std::filesystem::exists(impl->file, ec);
    if (options.read_only && !existed)
      throw StoreError(errc::kStoreIo, impl->file.string() + ": no audit log (nothing was ever written here)");
    if (!options.read_only) {
      // Exclusive while a journal left by a killed writer is replayed, and for a journaling log's
      // whole life; shared (appenders that coordinate through SQLite) otherwise.
      const bool replay = Journal::has_segments(impl->journal_dir);
      impl->lock.emplace(impl->journal_dir,
                         options.journal || replay ? Journal::Lock::Kind::exclusive : Journal::Lock::Kind::shared);
    }
    // A Stmt points at its Db: the connection goes to its final place before anything is prepared.
    Db& db = impl->db.emplace(
        Db::open(impl->file.string(), options.read_only ? Db::Mode::read_only : Db::Mode::create));
    if (!existed) ::chmod(impl->file.c_str(), 0600);  // prompts and responses: owner-only
    ensure_schema(db, "audit", kAuditSchemaVersion, create_sql(), !options.read_only);
    Stmt& tail = impl->tail.emplace(db.prepare("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"));
    if (tail.step()) impl->head = Head{tail.column_int64(0), tail.column_text(1)};
    tail.reset();
    if (options.read_only) {
      impl->tail.reset();
      impl->db.reset();  // verify / export open their own connections
    } else {
      impl->insert.emplace(db.prepare(insert_sql()));
      impl->batch.reserve(options.max_batch);  // the leader never allocates while it leads
      impl->replay_journal();
      if (!options.journal) impl->lock->downgrade();
    }
    std::unique_ptr<AuditLog> log(new AuditLog(std::move(impl)));
    if (options.journal && !options.read_only) {
      Impl* m = log->impl_.get();
      m->journal.emplace(m->journal_dir, m->head.seq + 1);
      m->committed_seq = m->head.seq;
      sqlite3* h = m->db->handle();
      sqlite3_wal_autocheckpoint(h, 0);  // checkpoints leave the commit path (see Impl::checkpointer)
      sqlite3_wal_hook(
          h,
          [](void* arg, sqlite3*, const char*, int frames) {
            static_cast<Impl*>(arg)->wal_frames.store(frames, std::memory_order_relaxed);
            return SQLITE_OK;
          },
          m);
      m->writer = std::thread([m] { m->writer_loop(); });
      m->checkpointer = std::thread([m] { m->checkpointer_loop(); });
    }
    return log;
  } catch (const StoreError& e) {
    return e.to_error();
  } catch (const std::exception& e) {
    return Error{std::string(errc::kStoreIo), (dir / "audit.db").string() + ": " + e.what()};
  }
}

Status AuditLog::append(AuditRecord& record) {
  Impl& m = *impl_;
  if (m.options.read_only)
    return Error{std::string(errc::kStoreIo), m.file.string() + ": the audit log was opened read-only"};
  if (m.journal) return m.append_journaled(record);
  Impl::Pending p{&record, {}, false};
  std::unique_lock lk(m.mu);
  try {
    m.queue.push_back(&p);
  } catch (const std::exception& e) {
    return Error{std::string(errc::kStoreIo), m.file.string() + ": append failed: " + e.what()};
  }
  while (!p.done) {
    if (m.leading) {
      m.cv.wait(lk);
      continue;
    }
    m.lead(lk);
  }
  return p.status;
}

Status AuditLog::flush() {
  Impl& m = *impl_;
  if (!m.journal) return {};
  std::unique_lock lk(m.mu);
  const std::int64_t target = m.head.seq;
  const std::uint64_t failures = m.failed_commits;
  m.flushed_cv.wait(lk, [&] { return m.committed_seq >= target || m.failed_commits != failures; });
  if (m.committed_seq >= target) return {};
  return m.last_error;
}

Status AuditLog::Impl::commit_batch(Head& new_head) {
  try {
    Transaction tx(*db);
    // The chain continues from the stored tail, read under the write lock: correct even when another
    // process appended since this one last wrote.
    std::int64_t seq = 0;
    std::string prev(kGenesisHash);
    if (tail->step()) {
      seq = tail->column_int64(0);
      prev = tail->column_text(1);
    }
    tail->reset();
    for (Pending* p : batch) {
      AuditRecord& r = *p->record;
      r.seq = ++seq;
      r.ts = format_utc_ms(options.clock());
      r.prev_hash = prev;
      r.hash = record_hash(r);
      prev = r.hash;
      bind_record(*insert, r);
      insert->run();
    }
    tx.commit();
    new_head = Head{seq, prev};
    return {};
  } catch (const StoreError& e) {
    return e.to_error();
  } catch (const std::exception& e) {
    return Error{std::string(errc::kStoreIo), file.string() + ": append failed: " + e.what()};
  }
}

Result<VerifyResult> AuditLog::verify(const VerifyOptions& options) const {
  try {
    VerifyResult v;
    auto fail = [&](std::int64_t seq, std::string reason) {
      v.ok = false;
      v.first_bad_seq = seq;
      v.reason = std::move(reason);
      return false;
    };
    const auto& anchor = options.anchor;
    impl_->for_each_record([&](const AuditRecord& r) {
      const std::int64_t expected = v.last_seq + 1;
      if (r.seq > expected) {
        return fail(expected, r.seq == expected + 1
                                  ? "record " + std::to_string(expected) + " is missing (deleted)"
                                  : "records " + std::to_string(expected) + ".." + std::to_string(r.seq - 1) +
                                        " are missing (deleted)");
      }
      if (r.seq < expected) return fail(r.seq, "unexpected seq " + std::to_string(r.seq) + " (seq starts at 1)");
      if (r.prev_hash != v.last_hash) {
        return fail(r.seq, r.seq == 1 ? "prev_hash of the first record is not the genesis hash (records were "
                                        "removed from the start or one was inserted)"
                                      : "prev_hash does not match the hash of record " + std::to_string(r.seq - 1) +
                                            " (that record was edited or replaced, or records were inserted, "
                                            "removed or reordered)");
      }
      if (record_hash(r) != r.hash) return fail(r.seq, "hash does not match the record's contents (edited)");
      if (anchor && r.seq == anchor->seq && r.hash != anchor->hash)
        return fail(r.seq, "hash differs from the anchor " + anchor->hash + " (the log was rewritten up to here)");
      v.records_checked += 1;
      v.last_seq = r.seq;
      v.last_hash = r.hash;
      return true;
    });
    if (v.ok && anchor && v.last_seq < anchor->seq) {
      fail(v.last_seq + 1, "the log ends at seq " + std::to_string(v.last_seq) + " but the anchor names seq " +
                               std::to_string(anchor->seq) + " (records were removed from the end)");
    }
    return v;
  } catch (const StoreError& e) {
    return e.to_error();
  } catch (const std::exception& e) {
    return Error{std::string(errc::kStoreIo), impl_->file.string() + ": verify failed: " + e.what()};
  }
}

Status AuditLog::export_jsonl(std::ostream& out) const {
  try {
    std::string line;
    impl_->for_each_record([&](const AuditRecord& r) {
      line = canonical_json(r, true);
      line += '\n';
      out.write(line.data(), static_cast<std::streamsize>(line.size()));
      return static_cast<bool>(out);
    });
    out.flush();
    if (!out) return Error{std::string(errc::kStoreIo), "export: the output stream failed"};
    return {};
  } catch (const StoreError& e) {
    return e.to_error();
  } catch (const std::exception& e) {
    return Error{std::string(errc::kStoreIo), impl_->file.string() + ": export failed: " + e.what()};
  }
}

AuditLog::Head AuditLog::head() const {
  std::lock_guard lk(impl_->mu);
  return impl_->head;
}

const std::filesystem::path& AuditLog::file() const noexcept { return impl_->file; }

AuditLog::WalStats AuditLog::wal_stats() const {
  const Impl& m = *impl_;
  WalStats w{m.rewinds.load(std::memory_order_relaxed), m.truncations.load(std::memory_order_relaxed),
             m.deferred.load(std::memory_order_relaxed), 0, 0};
  std::lock_guard lk(m.mu);
  w.commit_errors = m.failed_commits;
  w.backlog = m.backlog.size();
  return w;
}

}  // namespace dg::store
