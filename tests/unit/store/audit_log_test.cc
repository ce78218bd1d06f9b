// The audit log: the chain, its continuation across restarts, what verify() detects (and the limits
// it documents), export, schema checks, concurrency and durability against SIGKILL.
#include "store/audit_log.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "core/errors.h"
#include "store/sqlite.h"
#include "store_test_util.h"

namespace dg::store {
namespace {

using test::SteppingClock;
using test::TempDir;

AuditRecord sample(int i) {
  AuditRecord r;
  r.request_id = "req-" + std::to_string(i);
  r.key_id = "0123456789ab";
  r.route = "/v1/chat/completions";
  r.http_status = i % 7 == 0 ? 403 : 200;
  r.error_code = i % 7 == 0 ? "blocked_by_policy" : "";
  r.action = i % 7 == 0 ? "block" : "allow";
  r.verdict_class = i % 7 == 0 ? "security" : "clean";
  r.findings_json = R"([{"category":"prompt_injection","score":0.9,"spans":[[0,5]]}])";
  r.latency_total_us = 1000 + i;
  r.latency_engine_us = 20 + i;
  r.latency_upstream_us = 900;
  r.prompt_sha256 = sha256_hex("prompt " + std::to_string(i));
  r.prompt_text = "prompt " + std::to_string(i);
  r.response_text = "answer \"quoted\"\n\twith control \x01 and UTF-8 \xc3\xa9";
  return r;
}

std::unique_ptr<AuditLog> open_log(const TempDir& dir, SteppingClock clock = {}) {
  AuditLog::Options o;
  o.clock = clock;
  auto log = AuditLog::open(dir.path(), o);
  EXPECT_TRUE(log.ok()) << (log.ok() ? "" : log.error().format());
  return log.ok() ? std::move(log).value() : nullptr;
}

std::vector<AuditRecord> append_n(AuditLog& log, int n, int first = 1) {
  std::vector<AuditRecord> out;
  for (int i = first; i < first + n; ++i) {
    AuditRecord r = sample(i);
    auto st = log.append(r);
    EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().format());
    out.push_back(r);
  }
  return out;
}

// Raw SQL on audit.db through a second connection, as an attacker with file access would.
void tamper(const TempDir& dir, const std::string& sql) {
  Db db = Db::open((dir.path() / "audit.db").string(), Db::Mode::read_write);
  db.exec("DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;");
  db.exec(sql);
}

VerifyResult verify(const AuditLog& log, VerifyOptions o = {}) {
  auto v = log.verify(o);
  EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().format());
  return v.ok() ? *v : VerifyResult{};
}

TEST(AuditLog, AppendFillsSeqTsPrevAndHash) {
  TempDir dir("append");
  auto log = open_log(dir);
  ASSERT_TRUE(log);
  const auto recs = append_n(*log, 3);
  EXPECT_EQ(recs[0].seq, 1);
  EXPECT_EQ(recs[2].seq, 3);
  EXPECT_EQ(recs[0].prev_hash, kGenesisHash);
  EXPECT_EQ(recs[1].prev_hash, recs[0].hash);
  EXPECT_EQ(recs[2].prev_hash, recs[1].hash);
  EXPECT_EQ(recs[0].ts, "2026-01-02T03:04:05.000Z");
  EXPECT_EQ(recs[1].ts, "2026-01-02T03:04:05.001Z");
  for (const auto& r : recs) {
    EXPECT_EQ(r.hash.size(), 64u);
    EXPECT_EQ(r.hash, record_hash(r));
  }
  EXPECT_EQ(log->head().seq, 3);
  EXPECT_EQ(log->head().hash, recs[2].hash);
}

TEST(AuditLog, CanonicalJsonIsSortedCompactAndByteExact) {
  AuditRecord r;
  r.seq = 7;
  r.chain = "a\"b\\c\n\x01\x1f\x7f\xc3\xa9";
  const std::string c = canonical_json(r, false);
  EXPECT_EQ(c.find("\"hash\""), std::string::npos);
  EXPECT_EQ(c.substr(0, 20), "{\"action\":\"\",\"chain\"");
  EXPECT_NE(c.find(R"("chain":"a\"b\\c\n\u0001\u001f)" "\x7f\xc3\xa9\""), std::string::npos) << c;
  EXPECT_NE(c.find(",\"seq\":7,"), std::string::npos);
  EXPECT_EQ(c.find(' '), std::string::npos);
  EXPECT_NE(canonical_json(r, true).find("\"hash\":\"\""), std::string::npos);
  // Every field takes part in the hash.
  AuditRecord s = r;
  s.latency_upstream_us = 1;
  EXPECT_NE(record_hash(r), record_hash(s));
  s = r;
  s.prev_hash = "x";
  EXPECT_NE(record_hash(r), record_hash(s));
}

TEST(AuditLog, ChainContinuesAcrossReopen) {
  TempDir dir("reopen");
  std::string last;
  {
    auto log = open_log(dir);
    ASSERT_TRUE(log);
    last = append_n(*log, 3).back().hash;
  }
  auto log = open_log(dir);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->head().seq, 3);
  EXPECT_EQ(log->head().hash, last);
  const auto more = append_n(*log, 2, 4);
  EXPECT_EQ(more[0].seq, 4);
  EXPECT_EQ(more[0].prev_hash, last);
  const auto v = verify(*log);
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.records_checked, 5);
  EXPECT_EQ(v.last_seq, 5);
  EXPECT_EQ(v.last_hash, more[1].hash);
}

TEST(AuditLog, EmptyLogVerifies) {
  TempDir dir("empty");
  auto log = open_log(dir);
  ASSERT_TRUE(log);
  const auto v = verify(*log);
  EXPECT_TRUE(v.ok);
  EXPECT_EQ(v.records_checked, 0);
  EXPECT_EQ(v.last_hash, kGenesisHash);
}

TEST(AuditLog, TriggersRefuseUpdateAndDelete) {
  TempDir dir("triggers");
  auto log = open_log(dir);
  ASSERT_TRUE(log);
  append_n(*log, 2);
  Db db = Db::open((dir.path() / "audit.db").string(), Db::Mode::read_write);
  try {
    db.exec("UPDATE audit SET route = 'x' WHERE seq = 1");
    ADD_FAILURE() << "UPDATE was not refused";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("append-only"), std::string::npos) << e.what();
  }
  EXPECT_THROW(db.exec("DELETE FROM audit WHERE seq = 1"), StoreError);
  EXPECT_TRUE(verify(*log).ok);
}

class AuditTamper : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = open_log(dir_);
    ASSERT_TRUE(log_);
    recs_ = append_n(*log_, 5);
    ASSERT_TRUE(verify(*log_).ok);
  }
  TempDir dir_{"tamper"};
  std::unique_ptr<AuditLog> log_;
  std::vector<AuditRecord> recs_;
};

TEST_F(AuditTamper, EditedField) {
  tamper(dir_, "UPDATE audit SET http_status = 201 WHERE seq = 3");
  const auto v = verify(*log_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 3);
  EXPECT_NE(v.reason.find("edited"), std::string::npos) << v.reason;
  EXPECT_EQ(v.records_checked, 2);
  EXPECT_EQ(v.last_hash, recs_[1].hash);
}

TEST_F(AuditTamper, EditedTextField) {
  tamper(dir_, "UPDATE audit SET prompt_text = 'harmless' WHERE seq = 5");
  const auto v = verify(*log_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 5);
}

TEST_F(AuditTamper, EditedHashColumnAlone) {
  tamper(dir_, "UPDATE audit SET hash = '" + std::string(64, 'a') + "' WHERE seq = 2");
  const auto v = verify(*log_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 2);
}

TEST_F(AuditTamper, DeletedMiddleRecord) {
  tamper(dir_, "DELETE FROM audit WHERE seq = 3");
  const auto v = verify(*log_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 3);
  EXPECT_NE(v.reason.find("missing"), std::string::npos) << v.reason;
}

TEST_F(AuditTamper, DeletedFirstRecord) {
  tamper(dir_, "DELETE FROM audit WHERE seq = 1");
  const auto v = verify(*log_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 1);
}

TEST_F(AuditTamper, DeletedAndRenumbered) {
  // Hide the gap: delete 3 and move 4, 5 down. Record 4 (was 5) no longer links, and its seq changed.
  tamper(dir_, "DELETE FROM audit WHERE seq = 3; UPDATE audit SET seq = seq - 1 WHERE seq > 3");
  const auto v = verify(*log_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 3);
  EXPECT_NE(v.reason.find("prev_hash"), std::string::npos) << v.reason;
}

TEST_F(AuditTamper, InsertedForgedRecordWithValidLinkAndHash) {
  // Make room at seq 3 (3..5 move to 4..6) and insert a copy of record 3 with another request id,
  // linked to record 2 and carrying a correct hash of its own.
  tamper(dir_, "UPDATE audit SET seq = seq + 100 WHERE seq >= 3; UPDATE audit SET seq = seq - 99 WHERE seq >= 100");
  AuditRecord forged = recs_[2];
  forged.request_id = "forged";
  forged.hash = record_hash(forged);
  ASSERT_EQ(forged.prev_hash, recs_[1].hash);
  Db db = Db::open((dir_.path() / "audit.db").string(), Db::Mode::read_write);
  Stmt ins = db.prepare(
      "INSERT INTO audit SELECT 3, ts, ?1, key_id, route, http_status, error_code, action, verdict_class, "
      "chain, findings_json, latency_total_us, latency_engine_us, latency_upstream_us, prompt_sha256, "
      "response_sha256, prompt_text, response_text, event, detail_json, prev_hash, ?2 FROM audit WHERE seq = 4");
  ins.bind(1, std::string_view("forged")).bind(2, std::string_view(forged.hash)).run();
  const auto v = verify(*log_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 4) << v.reason;  // 1..3 look fine; 4 links to the real record 3
  EXPECT_EQ(v.records_checked, 3);
}

TEST_F(AuditTamper, InsertedRecordAfterAGap) {
  tamper(dir_, "INSERT INTO audit SELECT 7, ts, request_id, key_id, route, http_status, error_code, action, "
               "verdict_class, chain, findings_json, latency_total_us, latency_engine_us, latency_upstream_us, "
               "prompt_sha256, response_sha256, prompt_text, response_text, event, detail_json, prev_hash, hash "
               "FROM audit WHERE seq = 5");
  const auto v = verify(*log_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 6);
}

TEST_F(AuditTamper, SwappedRecords) {
  tamper(dir_, "UPDATE audit SET seq = -2 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3; "
               "UPDATE audit SET seq = 3 WHERE seq = -2");
  const auto v = verify(*log_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 2);
  EXPECT_NE(v.reason.find("prev_hash"), std::string::npos) << v.reason;
}

TEST_F(AuditTamper, EditedRecordWithRecomputedHashIsCaughtByTheNextLink) {
  AuditRecord edited = recs_[2];
  edited.action = "review";
  edited.hash = record_hash(edited);
  tamper(dir_, "UPDATE audit SET action = 'review', hash = '" + edited.hash + "' WHERE seq = 3");
  const auto v = verify(*log_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 4);
  EXPECT_NE(v.reason.find("hash of record 3"), std::string::npos) << v.reason;
}

// The documented limit: the tail is not covered without an anchor; with one it is.
TEST_F(AuditTamper, TruncatedTailNeedsAnAnchor) {
  const VerifyOptions::Anchor anchor{5, recs_[4].hash};
  tamper(dir_, "DELETE FROM audit WHERE seq >= 4");
  EXPECT_TRUE(verify(*log_).ok);  // undetectable from the log alone
  const auto v = verify(*log_, VerifyOptions{anchor});
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 4);
  EXPECT_NE(v.reason.find("removed from the end"), std::string::npos) << v.reason;
}

TEST_F(AuditTamper, RewrittenLastRecordNeedsAnAnchor) {
  AuditRecord edited = recs_[4];
  edited.response_text = "nothing to see";
  edited.hash = record_hash(edited);
  tamper(dir_, "UPDATE audit SET response_text = 'nothing to see', hash = '" + edited.hash + "' WHERE seq = 5");
  EXPECT_TRUE(verify(*log_).ok);
  const auto v = verify(*log_, VerifyOptions{VerifyOptions::Anchor{5, recs_[4].hash}});
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 5);
  EXPECT_NE(v.reason.find("anchor"), std::string::npos);
}

TEST_F(AuditTamper, AppendAfterTamperingKeepsReportingTheBreak) {
  tamper(dir_, "UPDATE audit SET route = '/x' WHERE seq = 2");
  append_n(*log_, 2, 6);
  const auto v = verify(*log_);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 2);
}

TEST(AuditLog, ConcurrentAppendsFormOneContiguousChain) {
  TempDir dir("concurrent");
  auto log = open_log(dir);
  ASSERT_TRUE(log);
  constexpr int kThreads = 4, kPerThread = 250;
  std::vector<std::vector<std::int64_t>> seqs(kThreads);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        AuditRecord r = sample(t * 1000 + i);
        if (!log->append(r).ok() || r.hash != record_hash(r)) failures++;
        seqs[t].push_back(r.seq);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<std::int64_t> all;
  for (const auto& s : seqs) {
    EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));  // a thread's own appends stay in order
    all.insert(s.begin(), s.end());
  }
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kPerThread);
  const auto v = verify(*log);
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.records_checked, kThreads * kPerThread);
}

std::unique_ptr<AuditLog> open_journaling(const TempDir& dir, std::size_t max_batch = 512, std::size_t max_backlog = 65536) {
  AuditLog::Options o;
  o.journal = true;
  o.max_batch = max_batch;
  o.max_backlog = max_backlog;
  auto log = AuditLog::open(dir.path(), o);
  EXPECT_TRUE(log.ok()) << (log.ok() ? "" : log.error().format());
  return log.ok() ? std::move(log).value() : nullptr;
}

std::int64_t rows_in_db(const TempDir& dir) {
  Db db = Db::open((dir.path() / "audit.db").string(), Db::Mode::read_only);
  return db.query_int("SELECT count(*) FROM audit").value_or(-1);
}

std::vector<std::filesystem::path> segments(const TempDir& dir) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir.path() / "audit.journal", ec))
    if (e.path().extension() == ".jsonl") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Makes every commit into audit.db fail until unblock_commits(): what a full disk does to the writer.
void block_commits(const TempDir& dir) {
  Db db = Db::open((dir.path() / "audit.db").string(), Db::Mode::read_write);
  db.exec("CREATE TRIGGER test_block BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'test: disk full'); END;");
}
void unblock_commits(const TempDir& dir) {
  Db db = Db::open((dir.path() / "audit.db").string(), Db::Mode::read_write);
  db.exec("DROP TRIGGER test_block");
}

// Journaled appends from several threads form one contiguous chain, in audit.db once flushed, and
// the journal's segments are gone once their records are committed.
TEST(AuditLog, JournaledAppendsFromManyThreadsFormOneChain) {
  TempDir dir("journal_threads");
  auto log = open_journaling(dir, 16);  // small batches: many commits, the backlog refilled during each
  ASSERT_TRUE(log);
  constexpr int kThreads = 4, kPerThread = 250;
  std::vector<std::vector<std::int64_t>> seqs(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        AuditRecord r = sample(t * 1000 + i);
        if (!log->append(r).ok() || r.hash != record_hash(r)) failures++;
        seqs[t].push_back(r.seq);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<std::int64_t> all;
  for (const auto& s : seqs) {
    EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
    all.insert(s.begin(), s.end());
  }
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(*all.rbegin(), kThreads * kPerThread);
  const auto live = verify(*log);  // the journal's records count before they reach the database
  EXPECT_TRUE(live.ok) << live.reason;
  EXPECT_EQ(live.records_checked, kThreads * kPerThread);
  ASSERT_TRUE(log->flush().ok());
  EXPECT_EQ(rows_in_db(dir), kThreads * kPerThread);
  EXPECT_EQ(log->wal_stats().backlog, 0u);
  log.reset();
  EXPECT_EQ(segments(dir).size(), 1u) << "the last, empty segment";
  auto reader = open_log(dir);
  ASSERT_TRUE(reader);
  const auto v = verify(*reader);
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.records_checked, kThreads * kPerThread);
}

// The WAL is bounded by the cap (once it holds wal_cap_frames pages the writer makes SQLite start it
// over in place) and the chain stays intact. With no reader about, every reset is a rewind, never a
// truncation: the order (catch-up pass, then the next commit, with the background checkpointer held
// off) does not depend on thread timing (regression: a rewind left to the checkpointer thread missed
// its moment under CPU starvation and the WAL reached 6-13 MB against a 256 KB cap).
TEST(AuditLog, WriterThreadKeepsTheWalBelowItsCap) {
  TempDir dir("walcap");
  AuditLog::Options o;
  o.journal = true;
  o.max_batch = 16;  // a batch's pages stay well under the cap
  o.wal_cap_frames = 64;
  auto opened = AuditLog::open(dir.path(), o);
  ASSERT_TRUE(opened.ok()) << opened.error().format();
  auto log = std::move(opened).value();
  const auto wal = dir.path() / "audit.db-wal";
  std::uintmax_t largest = 0;
  constexpr int kRecords = 1500;
  for (int i = 1; i <= kRecords; ++i) {
    AuditRecord r = sample(i);
    r.prompt_text.assign(3000, 'p');  // about one page per record
    ASSERT_TRUE(log->append(r).ok());
    if (i % 8 == 0) {  // keep the writer in step, as a steady load would
      ASSERT_TRUE(log->flush().ok());
    }
    std::error_code ec;
    largest = std::max<std::uintmax_t>(largest, std::filesystem::file_size(wal, ec));
  }
  ASSERT_TRUE(log->flush().ok());
  // Without the cap the WAL would hold every page of 1500 records (> 6 MB, SQLite's own automatic
  // checkpoint being off). With it: the cap, plus the commits made while a background pass kept the
  // writer waiting (it tries again after each batch; the writer waits for the pass at twice the
  // cap), plus one commit's pages: 3 caps is 40 times below the uncapped size.
  EXPECT_GT(largest, 0u);
  EXPECT_LT(largest, 3u * 64u * (4096u + 24u)) << "largest WAL: " << largest << " bytes";
  const auto stats = log->wal_stats();
  EXPECT_GE(stats.rewinds, 1500u / 64u / 3u) << "the WAL holds about 1500 pages over the run";
  EXPECT_EQ(stats.truncations, 0u);
  EXPECT_EQ(stats.deferred, 0u);
  log.reset();
  auto reader = open_log(dir);
  ASSERT_TRUE(reader);
  const auto v = verify(*reader);
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.records_checked, kRecords);
}

// A reader holding a snapshot (`audit verify` on a live log) keeps the WAL from being truncated;
// the writer must then go on committing instead of waiting out SQLite's 5 s busy timeout for it
// (regression: one such wait per batch stalled every answer).
TEST(AuditLog, ReaderSnapshotDoesNotStallTheWriterAtTheWalCap) {
  TempDir dir("walcap_reader");
  AuditLog::Options o;
  o.journal = true;
  o.max_batch = 16;
  o.wal_cap_frames = 32;
  auto opened = AuditLog::open(dir.path(), o);
  ASSERT_TRUE(opened.ok()) << opened.error().format();
  auto log = std::move(opened).value();
  append_n(*log, 1);
  ASSERT_TRUE(log->flush().ok());
  Db reader = Db::open((dir.path() / "audit.db").string(), Db::Mode::read_only);
  reader.exec("BEGIN");
  ASSERT_TRUE(reader.query_int("SELECT count(*) FROM audit").has_value());  // the snapshot starts here
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 2; i <= 200; ++i) {  // ~6 times the cap: several truncation attempts, all busy
    AuditRecord r = sample(i);
    r.prompt_text.assign(3000, 'p');
    ASSERT_TRUE(log->append(r).ok());
    if (i % 8 == 0) {
      ASSERT_TRUE(log->flush().ok());
    }
  }
  ASSERT_TRUE(log->flush().ok());
  // A hang detector, not a benchmark: one busy wait would take 5 s; 200 commits take milliseconds.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));
  EXPECT_GT(log->wal_stats().deferred, 0u) << "the reader's snapshot holds frames back";
  EXPECT_EQ(log->wal_stats().rewinds, 0u);
  reader.exec("COMMIT");
  AuditRecord last = sample(201);
  ASSERT_TRUE(log->append(last).ok());
  EXPECT_EQ(last.seq, 201);
}

// A database that refuses commits (a full disk) costs no acknowledged record: appends go on into the
// journal, flush() reports the database's error, the writer retries, and once the database takes
// writes again everything reaches it in order. Past max_backlog appends fail, and write nothing.
TEST(AuditLog, JournaledAppendsOutliveAFailingDatabase) {
  TempDir dir("journal_failing_db");
  auto log = open_journaling(dir, 512, 5);
  ASSERT_TRUE(log);
  append_n(*log, 1);
  ASSERT_TRUE(log->flush().ok());
  block_commits(dir);
  append_n(*log, 4, 2);
  const Status st = log->flush();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, errc::kStoreIo);
  EXPECT_NE(st.error().message.find("test: disk full"), std::string::npos) << st.error().message;
  EXPECT_GE(log->wal_stats().commit_errors, 1u);
  EXPECT_EQ(log->wal_stats().backlog, 4u);
  AuditRecord fifth = sample(6);
  ASSERT_TRUE(log->append(fifth).ok());  // the 5th waiting record: the most allowed
  AuditRecord over = sample(7);
  const Status full = log->append(over);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, errc::kStoreIo);
  EXPECT_NE(full.error().message.find("5 audit records wait for the database"), std::string::npos) << full.error().message;
  EXPECT_NE(full.error().message.find("test: disk full"), std::string::npos) << full.error().message;
  EXPECT_EQ(log->head().seq, 6);
  EXPECT_EQ(rows_in_db(dir), 1);
  const auto live = verify(*log);
  EXPECT_TRUE(live.ok) << live.reason;
  EXPECT_EQ(live.records_checked, 6);
  unblock_commits(dir);
  Status flushed;
  for (int i = 0; i < 100 && !(flushed = log->flush()).ok(); ++i) {  // the writer's retry backs off up to 1 s
  }
  ASSERT_TRUE(flushed.ok()) << flushed.error().format();
  EXPECT_EQ(rows_in_db(dir), 6);
  EXPECT_EQ(log->wal_stats().backlog, 0u);
  AuditRecord next = sample(8);
  ASSERT_TRUE(log->append(next).ok());
  EXPECT_EQ(next.seq, 7);
}

// Runs `body` in a child process that then kills itself with SIGKILL (no destructor, no flush).
// Returns what the child wrote to the pipe.
std::string run_and_sigkill(const std::function<std::string()>& body) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  EXPECT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    const std::string out = body();
    if (::write(fds[1], out.data(), out.size()) != static_cast<ssize_t>(out.size())) ::_exit(4);
    ::kill(::getpid(), SIGKILL);
    ::_exit(5);
  }
  ::close(fds[1]);
  std::string got;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
  return got;
}

// An answer's record survives SIGKILL of the gateway even when it never reached audit.db: a
// read-only verify already counts it, and the next writable open replays it into the database.
TEST(AuditLog, JournaledRecordSurvivesSigkillAndIsReplayed) {
  TempDir dir("journal_sigkill");
  { ASSERT_TRUE(open_journaling(dir)); }  // creates audit.db
  block_commits(dir);                     // so that nothing leaves the journal before the kill
  const std::string heads = run_and_sigkill([&] {
    auto log = open_journaling(dir);
    if (!log) ::_exit(2);
    std::string out;
    for (int i = 1; i <= 3; ++i) {
      AuditRecord r = sample(i);
      if (!log->append(r).ok()) ::_exit(3);
      out += r.hash;
    }
    return out;
  });
  ASSERT_EQ(heads.size(), 3u * 64u);
  EXPECT_EQ(rows_in_db(dir), 0);
  {
    AuditLog::Options ro;
    ro.read_only = true;
    auto reader = AuditLog::open(dir.path(), ro);
    ASSERT_TRUE(reader.ok()) << reader.error().format();
    const auto v = verify(**reader);
    EXPECT_TRUE(v.ok) << v.reason;
    EXPECT_EQ(v.records_checked, 3);
    EXPECT_EQ(v.last_hash, heads.substr(128, 64));
  }
  // A torn line at the end (an append the kill cut short, never acknowledged) is ignored.
  const auto segs = segments(dir);
  ASSERT_EQ(segs.size(), 1u);
  {
    std::ofstream torn(segs[0], std::ios::app | std::ios::binary);
    torn << R"({"action":"allow","chain":)";
  }
  unblock_commits(dir);
  auto log = open_journaling(dir);
  ASSERT_TRUE(log);
  EXPECT_EQ(rows_in_db(dir), 3) << "replayed at open";
  EXPECT_EQ(log->head().seq, 3);
  EXPECT_EQ(log->head().hash, heads.substr(128, 64));
  AuditRecord r = sample(4);
  ASSERT_TRUE(log->append(r).ok());
  EXPECT_EQ(r.prev_hash, heads.substr(128, 64));
  log.reset();
  auto reader = open_log(dir);
  ASSERT_TRUE(reader);
  const auto v = verify(*reader);
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.records_checked, 4);
}

// A journal line that is not a canonical record (edited, or damaged) stops the writer from opening,
// naming the file and line, and replays nothing; verify reports it the same way.
TEST(AuditLog, EditedJournalLineRefusesTheOpenWithItsFileAndLine) {
  TempDir dir("journal_edited");
  { ASSERT_TRUE(open_journaling(dir)); }
  block_commits(dir);
  run_and_sigkill([&] {
    auto log = open_journaling(dir);
    if (!log) ::_exit(2);
    append_n(*log, 3);
    return std::string("x");
  });
  unblock_commits(dir);
  const auto segs = segments(dir);
  ASSERT_EQ(segs.size(), 1u);
  std::string text;
  {
    std::ifstream in(segs[0], std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const auto at = text.find("\"http_status\":200", text.find('\n') + 1);  // in line 2
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 17, "\"http_status\":201");
  { std::ofstream(segs[0], std::ios::binary | std::ios::trunc) << text; }
  AuditLog::Options o;
  o.journal = true;
  auto opened = AuditLog::open(dir.path(), o);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, errc::kStoreIo);
  EXPECT_NE(opened.error().message.find(segs[0].filename().string()), std::string::npos) << opened.error().message;
  EXPECT_NE(opened.error().message.find("record 2 does not continue the chain"), std::string::npos) << opened.error().message;
  EXPECT_EQ(rows_in_db(dir), 0);
  // Not canonical at all: the parser names the line.
  text.replace(text.find("\"http_status\":201"), 17, "\"http_status\": 201");
  { std::ofstream(segs[0], std::ios::binary | std::ios::trunc) << text; }
  opened = AuditLog::open(dir.path(), o);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find(segs[0].filename().string() + ":2: not an audit record"), std::string::npos)
      << opened.error().message;
}

// One journaling writer per data directory: a second one, journaling or not, is refused at open.
TEST(AuditLog, SecondWriterBesideAJournalingOneIsRefused) {
  TempDir dir("journal_lock");
  auto log = open_journaling(dir);
  ASSERT_TRUE(log);
  AuditLog::Options o;
  o.journal = true;
  for (bool journal : {true, false}) {
    o.journal = journal;
    auto second = AuditLog::open(dir.path(), o);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, errc::kStoreIo);
    EXPECT_NE(second.error().message.find("in use by another writer"), std::string::npos) << second.error().message;
  }
  AuditLog::Options ro;
  ro.read_only = true;
  EXPECT_TRUE(AuditLog::open(dir.path(), ro).ok()) << "readers need no lock";
  log.reset();
  EXPECT_TRUE(open_journaling(dir));
}

TEST(AuditLog, ParseCanonicalJsonIsTheExactInverse) {
  AuditRecord r = sample(3);
  r.seq = 42;
  r.ts = "2026-01-02T03:04:05.000Z";
  r.latency_total_us = -5;
  r.prev_hash = std::string(kGenesisHash);
  r.chain = std::string("bytes \xff\xfe and \x7f, \x01\x1f escapes", 27);
  r.hash = record_hash(r);
  const std::string line = canonical_json(r, true);
  AuditRecord back;
  std::string error;
  ASSERT_TRUE(parse_canonical_json(line, back, error)) << error;
  EXPECT_EQ(canonical_json(back, true), line);
  EXPECT_EQ(back.chain, r.chain);
  EXPECT_EQ(back.latency_total_us, -5);
  for (const std::string& bad : {line.substr(0, line.size() - 1), line + " ", line + "\n",
                                 std::string("{}"), std::string(""), std::string("[]")}) {
    AuditRecord untouched;
    EXPECT_FALSE(parse_canonical_json(bad, untouched, error)) << bad;
    EXPECT_FALSE(error.empty());
    EXPECT_EQ(untouched.seq, 0);
  }
  std::string spaced = line;
  spaced.replace(spaced.find("\"seq\":42"), 8, "\"seq\":042");
  EXPECT_FALSE(parse_canonical_json(spaced, back, error));
  EXPECT_NE(error.find("canonical"), std::string::npos) << error;
  std::string reordered = canonical_json(r, false);  // without "hash": a member missing
  EXPECT_FALSE(parse_canonical_json(reordered, back, error));
  EXPECT_NE(error.find("\"hash\""), std::string::npos) << error;
}

TEST(AuditLog, TwoWritersOnOneFileInterleaveWithoutForking) {
  TempDir dir("two_writers");
  auto a = open_log(dir);
  auto b = open_log(dir);
  ASSERT_TRUE(a && b);
  append_n(*a, 2);
  append_n(*b, 2, 3);  // b opened when the log was empty; it must continue from a's records
  append_n(*a, 1, 5);
  const auto v = verify(*a);
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.records_checked, 5);
}

TEST(AuditLog, ExportIsCanonicalJsonThatReverifiesIndependently) {
  TempDir dir("export");
  auto log = open_log(dir);
  ASSERT_TRUE(log);
  const auto recs = append_n(*log, 4);
  std::ostringstream out;
  ASSERT_TRUE(log->export_jsonl(out).ok());
  std::istringstream in(out.str());
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    EXPECT_EQ(line, canonical_json(recs[n], true));
    // Re-check with another JSON implementation: nlohmann::json sorts keys and escapes like JCS.
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["seq"], n + 1);
    const std::string hash = j["hash"];
    j.erase("hash");
    EXPECT_EQ(sha256_hex(j.dump()), hash) << line;
    ++n;
  }
  EXPECT_EQ(n, 4);
}

TEST(AuditLog, ReadOnlyOpenNeverCreatesAndCannotAppend) {
  TempDir dir("readonly");
  AuditLog::Options ro;
  ro.read_only = true;
  auto missing = AuditLog::open(dir.path() / "nope", ro);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, errc::kStoreIo);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "nope"));
  auto no_file = AuditLog::open(dir.path(), ro);
  ASSERT_FALSE(no_file.ok());
  EXPECT_EQ(no_file.error().code, errc::kStoreIo);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "audit.db"));

  { append_n(*open_log(dir), 2); }
  auto log = AuditLog::open(dir.path(), ro);
  ASSERT_TRUE(log.ok()) << log.error().format();
  EXPECT_EQ((*log)->head().seq, 2);
  AuditRecord r = sample(1);
  const auto st = (*log)->append(r);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, errc::kStoreIo);
  EXPECT_TRUE(verify(**log).ok);
}

TEST(AuditLog, UnknownSchemaVersionIsAClearError) {
  TempDir dir("schema");
  { append_n(*open_log(dir), 1); }
  {
    Db db = Db::open((dir.path() / "audit.db").string(), Db::Mode::read_write);
    db.exec("UPDATE schema_version SET version = 99 WHERE component = 'audit'");
  }
  auto log = AuditLog::open(dir.path());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().code, errc::kStoreSchema);
  EXPECT_NE(log.error().message.find("schema version 99"), std::string::npos) << log.error().message;
}

TEST(AuditLog, ForeignDatabaseIsASchemaError) {
  TempDir dir("foreign");
  {
    Db db = Db::open((dir.path() / "audit.db").string(), Db::Mode::create);
    db.exec("CREATE TABLE t(x)");
  }
  auto log = AuditLog::open(dir.path());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().code, errc::kStoreSchema);
  EXPECT_NE(log.error().message.find("not a dualguard audit database"), std::string::npos);
}

TEST(AuditLog, AnotherComponentsDatabaseIsASchemaError) {
  TempDir dir("component");
  {
    Db db = Db::open((dir.path() / "audit.db").string(), Db::Mode::create);
    ensure_schema(db, "keys", 1, "CREATE TABLE api_keys(id TEXT)", true);
  }
  auto log = AuditLog::open(dir.path());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().code, errc::kStoreSchema);
}

TEST(AuditLog, NotASqliteFileIsAnIoError) {
  TempDir dir("garbage");
  std::ofstream(dir.path() / "audit.db") << std::string(4096, 'x');
  auto log = AuditLog::open(dir.path());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().code, errc::kStoreIo);
  EXPECT_NE(log.error().message.find("audit.db"), std::string::npos);
}

TEST(AuditLog, DataDirThatIsAFileIsAnIoError) {
  TempDir dir("notdir");
  std::ofstream(dir.path() / "file") << "x";
  auto log = AuditLog::open(dir.path() / "file");
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.error().code, errc::kStoreIo);
}

TEST(AuditLog, FailedCommitIsReportedAndNothingIsWritten) {
  TempDir dir("fail");
  auto log = open_log(dir);
  ASSERT_TRUE(log);
  append_n(*log, 1);
  tamper(dir, "DROP TABLE audit");
  AuditRecord r = sample(2);
  const auto st = log->append(r);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, errc::kStoreIo);
  EXPECT_NE(st.error().message.find("audit"), std::string::npos) << st.error().message;
  EXPECT_EQ(log->head().seq, 1);  // unchanged
}

TEST(AuditLog, CommittedRecordSurvivesSigkill) {
  TempDir dir("sigkill");
  std::string hash;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    auto log = AuditLog::open(dir.path());
    if (!log.ok()) ::_exit(2);
    AuditRecord r = sample(1);
    if (!(*log)->append(r).ok()) ::_exit(3);
    if (::write(fds[1], r.hash.data(), r.hash.size()) != 64) ::_exit(4);
    ::kill(::getpid(), SIGKILL);  // no destructor, no checkpoint, no clean close
    ::_exit(5);
  }
  ::close(fds[1]);
  char buf[64];
  const auto got = ::read(fds[0], buf, sizeof buf);
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
  ASSERT_EQ(got, 64);
  auto log = AuditLog::open(dir.path());
  ASSERT_TRUE(log.ok()) << log.error().format();
  EXPECT_EQ((*log)->head().seq, 1);
  EXPECT_EQ((*log)->head().hash, std::string(buf, 64));
  EXPECT_TRUE(verify(**log).ok);
}

TEST(StoreCommon, FormatUtcMs) {
  using namespace std::chrono;
  EXPECT_EQ(format_utc_ms(system_clock::time_point(milliseconds(0))), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_utc_ms(system_clock::time_point(milliseconds(1767323045123))), "2026-01-02T03:04:05.123Z");
  EXPECT_EQ(format_utc_ms(system_clock::time_point(milliseconds(-1))), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace dg::store
