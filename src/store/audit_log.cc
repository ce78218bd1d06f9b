#include "store/audit_log.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <ostream>
#include <thread>
#include <vector>

#include "core/errors.h"
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

std::string canonical_json(const AuditRecord& r, bool with_hash) {
  std::string out;
  out.reserve(512 + r.findings_json.size() + r.prompt_text.size() + r.response_text.size() + r.detail_json.size());
  out += '{';
  bool first = true;
  for (const Field* f : canonical_order()) {
    if (!with_hash && std::string_view(f->name) == "hash") continue;
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

std::string record_hash(const AuditRecord& r) { return sha256_hex(canonical_json(r, false)); }

struct AuditLog::Impl {
  struct Pending {
    AuditRecord* record;
    Status status;
    bool done = false;
    AppendDone on_done;  // append_async() only
    bool async = false;  // heap-allocated by append_async(), deleted after on_done (if any) is called
  };

  std::filesystem::path file;
  Options options;
  // Write side (none when read-only), used only by the current leader. Declared before the
  // statements so that they are finalised first.
  std::optional<Db> db;
  std::optional<Stmt> insert;
  std::optional<Stmt> tail;

  // Group commit, leader/follower (no thread of its own): an appender queues its record; when no
  // commit is in progress it becomes the leader, commits everything queued (its own record included)
  // in one transaction and wakes the others; otherwise it waits, and either its record was committed
  // by the leader meanwhile or it leads the next batch. One appender alone commits on its own thread
  // without any hand-off; under load, records that arrive during a commit share the next one.
  mutable std::mutex mu;
  std::condition_variable cv;  // a batch finished
  std::deque<Pending*> queue;
  bool leading = false;  // a leader is committing
  Head head;
  std::vector<Pending*> batch;  // the leader's; reused

  // Options::writer_thread: the writer is the only leader; appenders wake it when it sleeps.
  bool writer_mode = false;  // set before the threads start; read-only afterwards
  std::thread writer;
  std::condition_variable writer_cv;  // the queue is no longer empty, or stopping
  bool writer_sleeping = false;
  bool stopping = false;

  // Options::writer_thread: WAL checkpoints leave the commit path. SQLite's automatic checkpoint
  // runs inside the commit that crosses 1000 WAL pages and copies the WAL into the database file
  // with an fsync: 10-100 ms during which every queued answer waits (measured: the gateway's p99).
  // Instead the writer's connection never checkpoints on its own; a checkpointer thread with its own
  // connection runs PASSIVE checkpoints (they never block the writer) a few times a second. They
  // copy frames but cannot make the WAL shorter: SQLite writes from the start of the WAL again only
  // when a write transaction *begins* with every frame already copied and no connection holding a
  // read mark, a moment that continuous commits never leave. So at Options::wal_cap_frames the
  // writer makes that moment itself (rewind()): between two batches, with the background pass
  // excluded (ckpt_mu), it copies the few frames left on its own connection and keeps ckpt_mu
  // until its next commit has begun, which then restarts the WAL in place (no truncation, no wait
  // for readers). That order does not depend on thread timing; only a reader holding a snapshot
  // defeats it, and then the writer falls back to one TRUNCATE attempt that does not wait.
  // Measured before this (bench/README.md): each TRUNCATE at a 64 MB cap stalled commits 87-119 ms.
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
  // with the usual 5 s it would wait for a reader's snapshot while answers queue.
  int checkpoint_now(int mode, int* log, int* copied);

  Status commit_batch(Head& new_head);
  // Takes up to max_batch queued records (mu held), commits them with mu released, publishes the
  // result (mu held again) and returns the async completions to call, outside the lock.
  // finished: the async entries of the batch (heap-allocated by append_async), for the caller to
  // call back and delete; its capacity is reserved so that this never allocates.
  void lead(std::unique_lock<std::mutex>& lk, std::vector<Pending*>& finished);
  void writer_loop();
  Db open_reader() const { return Db::open(file.string(), Db::Mode::read_only); }
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

void AuditLog::Impl::lead(std::unique_lock<std::mutex>& lk, std::vector<Pending*>& finished) {
  leading = true;
  const std::size_t n = std::min(queue.size(), options.max_batch);
  batch.assign(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
  queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
  lk.unlock();
  Head new_head;
  Status st = commit_batch(new_head);
  if (writer_mode) commits.fetch_add(1, std::memory_order_relaxed);  // (see checkpointer)
  lk.lock();
  if (st.ok()) head = std::move(new_head);
  for (Pending* q : batch) {
    q->status = st;
    q->done = true;
    if (q->async) finished.push_back(q);  // within the reserved capacity: a batch is <= max_batch
  }
  batch.clear();
  leading = false;
  cv.notify_all();  // the batch's synchronous appenders return; one of the rest may lead the next
}

void AuditLog::Impl::writer_loop() {
  std::vector<Pending*> finished;
  finished.reserve(options.max_batch);  // before the loop: the writer never allocates afterwards
  std::unique_lock lk(mu);
  for (;;) {
    if (queue.empty()) {
      if (stopping) {
        if (rewind_hold.owns_lock()) rewind_hold.unlock();  // on the thread that locked it
        return;
      }
      writer_sleeping = true;
      writer_cv.wait(lk);
      writer_sleeping = false;
      continue;
    }
    lead(lk, finished);
    lk.unlock();
    for (Pending* p : finished) {
      std::unique_ptr<Pending> owned(p);
      try {
        if (owned->on_done) owned->on_done(std::move(owned->status));
      } catch (...) {  // a completion must not throw (contract); never let it end the writer
      }
    }
    finished.clear();
    checkpoint_if_wal_too_large();  // after the batch's answers are on their way
    lk.lock();
  }
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::filesystem::path& dir, Options options) {
  try {
    if (!options.clock) options.clock = system_now;
    if (options.max_batch == 0) options.max_batch = 1;
    if (options.wal_cap_frames < 1) options.wal_cap_frames = 1;
    ensure_sodium();
    prepare_data_dir(dir, !options.read_only);
    auto impl = std::make_unique<Impl>();
    impl->file = dir / "audit.db";
    impl->options = options;
    std::error_code ec;
    const bool existed = std::filesystem::exists(impl->file, ec);
    if (options.read_only && !existed)
      throw StoreError(errc::kStoreIo, impl->file.string() + ": no audit log (nothing was ever written here)");
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
    }
    std::unique_ptr<AuditLog> log(new AuditLog(std::move(impl)));
    if (options.writer_thread && !options.read_only) {
      Impl* m = log->impl_.get();
      sqlite3* h = m->db->handle();
      sqlite3_wal_autocheckpoint(h, 0);  // checkpoints leave the commit path (see Impl::checkpointer)
      sqlite3_wal_hook(
          h,
          [](void* arg, sqlite3*, const char*, int frames) {
            static_cast<Impl*>(arg)->wal_frames.store(frames, std::memory_order_relaxed);
            return SQLITE_OK;
          },
          m);
      m->writer_mode = true;
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
  Impl::Pending p{&record, {}, false, {}, false};
  std::unique_lock lk(m.mu);
  try {
    m.queue.push_back(&p);
  } catch (const std::exception& e) {
    return Error{std::string(errc::kStoreIo), m.file.string() + ": append failed: " + e.what()};
  }
  if (m.writer_mode) {
    if (m.writer_sleeping) m.writer_cv.notify_one();
    m.cv.wait(lk, [&] { return p.done; });
    return p.status;
  }
  while (!p.done) {
    if (m.leading) {
      m.cv.wait(lk);
      continue;
    }
    // No writer thread, so no async entries: `none` stays empty and never allocates.
    std::vector<Impl::Pending*> none;
    m.lead(lk, none);
  }
  return p.status;
}

void AuditLog::append_async(AuditRecord& record, AppendDone done) {
  Impl& m = *impl_;
  if (m.options.read_only || !m.writer_mode) {
    if (done) done(Error{std::string(errc::kStoreIo),
               m.file.string() + (m.options.read_only ? ": the audit log was opened read-only"
                                                       : ": append_async needs the writer thread")});
    return;
  }
  std::unique_ptr<Impl::Pending> p;
  try {
    // new-expression: the allocation happens before `done` is moved, so a failed one leaves `done`.
    p.reset(new Impl::Pending{&record, {}, false, std::move(done), true});
    std::lock_guard lk(m.mu);
    m.queue.push_back(p.get());
    p.release();  // owned by the queue until the writer calls it back
    if (m.writer_sleeping) m.writer_cv.notify_one();
  } catch (const std::exception& e) {
    Error err{std::string(errc::kStoreIo), m.file.string() + ": append failed: " + e.what()};
    if (p) {  // push_back failed
      if (p->on_done) p->on_done(std::move(err));
    } else if (done) {
      done(std::move(err));  // allocation failed before `done` was moved
    }
  }
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
    Db db = impl_->open_reader();
    Stmt st = db.prepare(select_sql());
    VerifyResult v;
    auto fail = [&](std::int64_t seq, std::string reason) {
      v.ok = false;
      v.first_bad_seq = seq;
      v.reason = std::move(reason);
      return v;
    };
    const auto& anchor = options.anchor;
    while (st.step()) {
      const AuditRecord r = read_record(st);
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
    }
    if (anchor && v.last_seq < anchor->seq) {
      return fail(v.last_seq + 1, "the log ends at seq " + std::to_string(v.last_seq) + " but the anchor names seq " +
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
    Db db = impl_->open_reader();
    Stmt st = db.prepare(select_sql());
    std::string line;
    while (st.step()) {
      line = canonical_json(read_record(st), true);
      line += '\n';
      out.write(line.data(), static_cast<std::streamsize>(line.size()));
      if (!out) return Error{std::string(errc::kStoreIo), "export: the output stream failed"};
    }
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
  return {m.rewinds.load(std::memory_order_relaxed), m.truncations.load(std::memory_order_relaxed),
          m.deferred.load(std::memory_order_relaxed)};
}

}  // namespace dg::store
