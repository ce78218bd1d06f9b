// The incident store: incidents, the verdicts that make them up, and each incident's history
// (opened, verdict added, acknowledged, resolved, reopened: who and when) in DIR/incidents.db
// (SQLite, WAL). docs/dashboard-api.md shows what the gateway serves from it.
//
// The store does not know the correlator's types (store comes before monitor in the module order):
// an incident is a row of indexed columns plus the JSON the gateway renders, and a verdict's detail is
// JSON too. The history is append-only (triggers refuse UPDATE and DELETE, as in the audit log);
// incident rows are updated in place as verdicts join them.
//
// Bounds: an incident keeps its first `max_verdicts_per_incident` verdict details (later ones are
// counted in the incident's JSON, not stored).
//
// Thread safety: writes (upsert, add_verdict, add_history) from one thread at a time — the gateway's
// monitor thread; reads from any thread (their own connection, behind a mutex), concurrently with
// the writes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/common.h"

namespace dg::store {

inline constexpr int kIncidentSchemaVersion = 1;

struct IncidentRow {
  std::string id;
  std::string status;  // open | acknowledged | resolved
  std::string cls;     // safety | security | hybrid
  std::string key_id;
  std::string session;
  std::int64_t first_ms = 0;
  std::int64_t last_ms = 0;
  std::string json;  // the rendered incident summary (docs/dashboard-api.md)
};

struct IncidentHistoryEntry {
  std::int64_t ts_ms = 0;
  std::string key_id;  // who: the operator's key, or "" for the correlator
  std::string action;  // opened | verdict_added | acknowledged | resolved | reopened
  std::string status;  // the status after the action
  std::string note;
};

class IncidentStore {
 public:
  struct Options {
    int max_verdicts_per_incident = 200;
  };
  // Opens (creates) DIR/incidents.db. Errors: store_io, store_schema.
  static Result<std::unique_ptr<IncidentStore>> open(const std::filesystem::path& dir, Options options);
  static Result<std::unique_ptr<IncidentStore>> open(const std::filesystem::path& dir) { return open(dir, Options{}); }
  ~IncidentStore();
  IncidentStore(const IncidentStore&) = delete;
  IncidentStore& operator=(const IncidentStore&) = delete;

  // Runs `fn` (which calls the write methods above or below) inside one write transaction on the
  // writer connection: one commit for a batch of verdicts instead of three per verdict. The writes
  // inside report their own errors; the returned status is the transaction's (begin / commit).
  Status batch(const std::function<void()>& fn);

  // Inserts the incident row, or updates it by id — every column but `status`, which after creation
  // belongs to operators (set_status): a verdict joining an acknowledged incident keeps it
  // acknowledged. Readers take the status from the column, not from `json`.
  Status upsert(const IncidentRow& row);
  // Stores one verdict's detail JSON under an incident (ignored past the bound).
  Status add_verdict(const std::string& incident_id, const std::string& request_id, std::int64_t ts_ms,
                     const std::string& detail_json);
  Status add_history(const std::string& incident_id, const IncidentHistoryEntry& e);
  // Sets the status of a stored incident and appends the history entry, in one transaction, and
  // returns the row as stored. Error not_found when there is no such incident.
  Result<IncidentRow> set_status(const std::string& incident_id, const std::string& status, const std::string& json,
                                 const IncidentHistoryEntry& e);

  // Newest activity first; status "" = any.
  Result<std::vector<IncidentRow>> list(const std::string& status, int limit) const;
  Result<std::optional<IncidentRow>> get(const std::string& id) const;
  // How many incidents have one of `statuses` (one COUNT query, e.g. the dashboard's open count).
  Result<std::int64_t> count(std::initializer_list<std::string_view> statuses) const;
  // Verdict details of an incident, oldest first.
  Result<std::vector<std::string>> verdicts(const std::string& id, int limit) const;
  Result<std::vector<IncidentHistoryEntry>> history(const std::string& id) const;
  // Incidents not resolved whose last activity is at or after since_ms (to restore the correlator).
  Result<std::vector<IncidentRow>> active_since(std::int64_t since_ms) const;
  // One past the largest "inc-N" stored (1 for an empty store): where new ids continue.
  Result<std::int64_t> next_id() const;

 private:
  struct Impl;
  explicit IncidentStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dg::store
