#include "store/incident_store.h"

#include <charconv>
#include <mutex>

#include "core/errors.h"
#include "store/sqlite.h"

namespace dg::store {

namespace {

constexpr std::string_view kCreateSql = R"sql(
CREATE TABLE incidents(
  id TEXT PRIMARY KEY,
  num INTEGER NOT NULL,
  status TEXT NOT NULL,
  class TEXT NOT NULL,
  key_id TEXT NOT NULL,
  session TEXT NOT NULL,
  first_ms INTEGER NOT NULL,
  last_ms INTEGER NOT NULL,
  json TEXT NOT NULL
);
CREATE INDEX incidents_last ON incidents(last_ms);
CREATE INDEX incidents_status ON incidents(status, last_ms);
CREATE TABLE incident_verdicts(
  incident_id TEXT NOT NULL REFERENCES incidents(id),
  request_id TEXT NOT NULL,
  ts_ms INTEGER NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX incident_verdicts_by ON incident_verdicts(incident_id, ts_ms);
CREATE TABLE incident_history(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id TEXT NOT NULL REFERENCES incidents(id),
  ts_ms INTEGER NOT NULL,
  key_id TEXT NOT NULL,
  action TEXT NOT NULL,
  status TEXT NOT NULL,
  note TEXT NOT NULL
);
CREATE INDEX incident_history_by ON incident_history(incident_id, seq);
CREATE TRIGGER incident_history_no_update BEFORE UPDATE ON incident_history
  BEGIN SELECT RAISE(ABORT, 'incident history is append-only'); END;
CREATE TRIGGER incident_history_no_delete BEFORE DELETE ON incident_history
  BEGIN SELECT RAISE(ABORT, 'incident history is append-only'); END;
)sql";

std::int64_t number_of(const std::string& id) {
  std::int64_t n = 0;
  if (id.rfind("inc-", 0) == 0) std::from_chars(id.data() + 4, id.data() + id.size(), n);
  return n;
}

IncidentRow row_of(Stmt& s) {
  IncidentRow r;
  r.id = s.column_text(0);
  r.status = s.column_text(1);
  r.cls = s.column_text(2);
  r.key_id = s.column_text(3);
  r.session = s.column_text(4);
  r.first_ms = s.column_int64(5);
  r.last_ms = s.column_int64(6);
  r.json = s.column_text(7);
  return r;
}

constexpr std::string_view kCols = "id, status, class, key_id, session, first_ms, last_ms, json";

template <typename F>
auto guarded(const std::string& file, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const StoreError& e) {
    return e.to_error();
  } catch (const std::exception& e) {
    return Error{std::string(errc::kStoreIo), file + ": " + e.what()};
  }
}

}  // namespace

struct IncidentStore::Impl {
  std::string file;
  Options options;
  std::optional<Db> writer;
  mutable std::mutex read_mu;
  mutable std::optional<Db> reader;
};

IncidentStore::IncidentStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
IncidentStore::~IncidentStore() = default;

Result<std::unique_ptr<IncidentStore>> IncidentStore::open(const std::filesystem::path& dir, Options options) {
  const std::string file = (dir / "incidents.db").string();
  return guarded(file, [&]() -> Result<std::unique_ptr<IncidentStore>> {
    prepare_data_dir(dir, true);
    auto impl = std::make_unique<Impl>();
    impl->file = file;
    impl->options = options;
    Db& w = impl->writer.emplace(Db::open(file, Db::Mode::create));
    ensure_schema(w, "incidents", kIncidentSchemaVersion, kCreateSql, true);
    impl->reader.emplace(Db::open(file, Db::Mode::read_write));
    return std::unique_ptr<IncidentStore>(new IncidentStore(std::move(impl)));
  });
}

Status IncidentStore::batch(const std::function<void()>& fn) {
  return guarded(impl_->file, [&]() -> Status {
    Transaction tx(*impl_->writer);
    fn();
    tx.commit();
    return {};
  });
}

Status IncidentStore::upsert(const IncidentRow& row) {
  return guarded(impl_->file, [&]() -> Status {
    Stmt s = impl_->writer->prepare(
        "INSERT INTO incidents(id, num, status, class, key_id, session, first_ms, last_ms, json) VALUES(?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT(id) DO UPDATE SET class=excluded.class, first_ms=excluded.first_ms, "
        "last_ms=excluded.last_ms, json=excluded.json");
    s.bind(1, std::string_view(row.id)).bind(2, number_of(row.id)).bind(3, std::string_view(row.status));
    s.bind(4, std::string_view(row.cls)).bind(5, std::string_view(row.key_id)).bind(6, std::string_view(row.session));
    s.bind(7, row.first_ms).bind(8, row.last_ms).bind(9, std::string_view(row.json));
    s.run();
    return {};
  });
}

Status IncidentStore::add_verdict(const std::string& incident_id, const std::string& request_id, std::int64_t ts_ms,
                                  const std::string& detail_json) {
  return guarded(impl_->file, [&]() -> Status {
    Stmt c = impl_->writer->prepare("SELECT count(*) FROM incident_verdicts WHERE incident_id = ?");
    c.bind(1, std::string_view(incident_id));
    if (c.step() && c.column_int64(0) >= impl_->options.max_verdicts_per_incident) return {};
    Stmt s = impl_->writer->prepare("INSERT INTO incident_verdicts(incident_id, request_id, ts_ms, detail) VALUES(?,?,?,?)");
    s.bind(1, std::string_view(incident_id)).bind(2, std::string_view(request_id)).bind(3, ts_ms).bind(4, std::string_view(detail_json));
    s.run();
    return {};
  });
}

Status IncidentStore::add_history(const std::string& incident_id, const IncidentHistoryEntry& e) {
  return guarded(impl_->file, [&]() -> Status {
    Stmt s = impl_->writer->prepare("INSERT INTO incident_history(incident_id, ts_ms, key_id, action, status, note) VALUES(?,?,?,?,?,?)");
    s.bind(1, std::string_view(incident_id)).bind(2, e.ts_ms).bind(3, std::string_view(e.key_id)).bind(4, std::string_view(e.action));
    s.bind(5, std::string_view(e.status)).bind(6, std::string_view(e.note));
    s.run();
    return {};
  });
}

Result<IncidentRow> IncidentStore::set_status(const std::string& incident_id, const std::string& status, const std::string& json,
                                              const IncidentHistoryEntry& e) {
  return guarded(impl_->file, [&]() -> Result<IncidentRow> {
    // Operators call this from request threads: the reader connection writes too, under its mutex
    // (SQLite's lock serialises it with the monitor thread's writes).
    std::lock_guard lock(impl_->read_mu);
    Db& db = *impl_->reader;
    Transaction tx(db);
    Stmt u = db.prepare("UPDATE incidents SET status = ?, json = ? WHERE id = ?");
    u.bind(1, std::string_view(status)).bind(2, std::string_view(json)).bind(3, std::string_view(incident_id));
    u.run();
    if (db.changes() == 0) return Error{std::string(errc::kNotFound), "no incident " + incident_id};
    Stmt h = db.prepare("INSERT INTO incident_history(incident_id, ts_ms, key_id, action, status, note) VALUES(?,?,?,?,?,?)");
    h.bind(1, std::string_view(incident_id)).bind(2, e.ts_ms).bind(3, std::string_view(e.key_id)).bind(4, std::string_view(e.action));
    h.bind(5, std::string_view(e.status)).bind(6, std::string_view(e.note));
    h.run();
    Stmt g = db.prepare("SELECT " + std::string(kCols) + " FROM incidents WHERE id = ?");
    g.bind(1, std::string_view(incident_id));
    if (!g.step()) return Error{std::string(errc::kNotFound), "no incident " + incident_id};
    IncidentRow r = row_of(g);
    g.reset();
    tx.commit();
    return r;
  });
}

Result<std::vector<IncidentRow>> IncidentStore::list(const std::string& status, int limit) const {
  return guarded(impl_->file, [&]() -> Result<std::vector<IncidentRow>> {
    std::lock_guard lock(impl_->read_mu);
    Stmt s = impl_->reader->prepare("SELECT " + std::string(kCols) + " FROM incidents WHERE (?1 = '' OR status = ?1) ORDER BY last_ms DESC, num DESC LIMIT ?2");
    s.bind(1, std::string_view(status)).bind(2, static_cast<std::int64_t>(limit));
    std::vector<IncidentRow> out;
    while (s.step()) out.push_back(row_of(s));
    return out;
  });
}

Result<std::int64_t> IncidentStore::count(std::initializer_list<std::string_view> statuses) const {
  return guarded(impl_->file, [&]() -> Result<std::int64_t> {
    std::lock_guard lock(impl_->read_mu);
    std::int64_t n = 0;
    Stmt s = impl_->reader->prepare("SELECT COUNT(*) FROM incidents WHERE status = ?");
    for (const auto st : statuses) {
      s.reset();
      s.bind(1, st);
      if (s.step()) n += s.column_int64(0);
    }
    return n;
  });
}

Result<std::optional<IncidentRow>> IncidentStore::get(const std::string& id) const {
  return guarded(impl_->file, [&]() -> Result<std::optional<IncidentRow>> {
    std::lock_guard lock(impl_->read_mu);
    Stmt s = impl_->reader->prepare("SELECT " + std::string(kCols) + " FROM incidents WHERE id = ?");
    s.bind(1, std::string_view(id));
    if (!s.step()) return std::optional<IncidentRow>{};
    return std::optional<IncidentRow>{row_of(s)};
  });
}

Result<std::vector<std::string>> IncidentStore::verdicts(const std::string& id, int limit) const {
  return guarded(impl_->file, [&]() -> Result<std::vector<std::string>> {
    std::lock_guard lock(impl_->read_mu);
    Stmt s = impl_->reader->prepare("SELECT detail FROM incident_verdicts WHERE incident_id = ? ORDER BY ts_ms, rowid LIMIT ?");
    s.bind(1, std::string_view(id)).bind(2, static_cast<std::int64_t>(limit));
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.column_text(0));
    return out;
  });
}

Result<std::vector<IncidentHistoryEntry>> IncidentStore::history(const std::string& id) const {
  return guarded(impl_->file, [&]() -> Result<std::vector<IncidentHistoryEntry>> {
    std::lock_guard lock(impl_->read_mu);
    Stmt s = impl_->reader->prepare("SELECT ts_ms, key_id, action, status, note FROM incident_history WHERE incident_id = ? ORDER BY seq");
    s.bind(1, std::string_view(id));
    std::vector<IncidentHistoryEntry> out;
    while (s.step()) out.push_back({s.column_int64(0), s.column_text(1), s.column_text(2), s.column_text(3), s.column_text(4)});
    return out;
  });
}

Result<std::vector<IncidentRow>> IncidentStore::active_since(std::int64_t since_ms) const {
  return guarded(impl_->file, [&]() -> Result<std::vector<IncidentRow>> {
    std::lock_guard lock(impl_->read_mu);
    Stmt s = impl_->reader->prepare("SELECT " + std::string(kCols) + " FROM incidents WHERE status != 'resolved' AND last_ms >= ? ORDER BY num");
    s.bind(1, since_ms);
    std::vector<IncidentRow> out;
    while (s.step()) out.push_back(row_of(s));
    return out;
  });
}

Result<std::int64_t> IncidentStore::next_id() const {
  return guarded(impl_->file, [&]() -> Result<std::int64_t> {
    std::lock_guard lock(impl_->read_mu);
    const auto n = impl_->reader->query_int("SELECT max(num) FROM incidents");
    return n.value_or(0) + 1;
  });
}

}  // namespace dg::store
