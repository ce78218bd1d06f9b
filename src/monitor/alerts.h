// Alert rules over the verdict stream, incidents and drift (config/alerts.yaml, docs/monitors.md
// "Alerts"), and the cross-domain escalation: a security alert and a safety alert for the same key
// within `cross_domain.window` become one critical alert.
//
// Rule kinds:
//   rate      verdicts matching a filter (class, action, domain, category) counted over a sliding
//             window, per key or over all traffic; fires at `count` matches, or when the matching
//             share reaches `ratio` of at least `min_events` verdicts
//   incident  an incident opened or escalated, filtered by class, kind and minimum severity
//   drift     a drift statistic crossed its threshold (filter by statistic name)
// Every rule has a severity and a cooldown per (rule, key): it does not fire again for the same key
// until the cooldown has passed.
//
// The engine holds no clock: each call passes the time. Not thread-safe (the gateway's monitor
// thread owns it). Sinks (log, webhook, dashboard) are the caller's: the engine returns alerts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/load_result.h"
#include "core/types.h"
#include "monitor/correlator.h"
#include "monitor/drift.h"

namespace dg::monitor {

struct AlertRule {
  enum class Kind { rate, incident, drift };
  std::string name;
  Kind kind = Kind::rate;
  Severity severity = Severity::high;
  std::int64_t cooldown_ms = 5 * 60 * 1000;
  // rate
  std::vector<VerdictClass> classes;   // empty = any
  std::vector<Action> actions;         // empty = any
  std::optional<Domain> domain;        // a finding of this domain
  std::vector<std::string> categories; // a finding of one of these
  bool per_key = true;
  std::int64_t window_ms = 5 * 60 * 1000;
  int count = 0;                       // 0 = not used
  double ratio = 0.0;                  // 0 = not used
  int min_events = 20;
  // incident
  std::vector<IncidentKind> kinds;     // empty = any (classes above filter the incident's class)
  Severity min_severity = Severity::low;
  // drift
  std::vector<std::string> statistics; // empty = any
};

struct AlertsConfig {
  std::vector<AlertRule> rules;
  bool cross_domain = true;
  std::int64_t cross_domain_window_ms = 10 * 60 * 1000;
  // Webhook sink (the gateway delivers; see gateway/alert_sink.h).
  std::string webhook_url;             // "" = no webhook
  std::int64_t webhook_timeout_ms = 2000;
  int webhook_retries = 3;
  std::int64_t webhook_backoff_ms = 250;
  std::size_t webhook_queue = 1000;
  bool log = true;
};

// Parses an alerts file. Every problem at once, with file:line (unknown keys are errors).
LoadResult<AlertsConfig> load_alerts(const std::string& path);
LoadResult<AlertsConfig> parse_alerts(const std::string& text, const std::string& name);

struct Alert {
  std::string id;  // "al-<n>"
  std::string rule;
  Severity severity = Severity::high;
  std::int64_t ts_ms = 0;
  std::string summary;
  std::string key_id;
  std::string incident_id;
  std::optional<Domain> domain;        // none for a merged cross-domain alert
  std::vector<std::string> merged;     // cross-domain: the two alerts' rules
};

class AlertEngine {
 public:
  explicit AlertEngine(AlertsConfig config);

  std::vector<Alert> on_verdict(const VerdictEvent& v, const std::string& incident_id);
  std::vector<Alert> on_incident(const Incident& inc, bool created, bool escalated, std::int64_t now_ms);
  std::vector<Alert> on_drift(const std::vector<DriftStat>& stats, std::int64_t now_ms);

  const AlertsConfig& config() const noexcept { return cfg_; }

 private:
  struct RateState {
    std::deque<std::pair<std::int64_t, bool>> events;  // (time, matched)
    int matched = 0;
  };
  bool cooling(const AlertRule& r, const std::string& key, std::int64_t now);
  // Applies the cross-domain merge and numbers the alert; returns what to emit.
  std::optional<Alert> finish(Alert a);

  AlertsConfig cfg_;
  std::int64_t next_id_ = 1;
  std::map<std::pair<std::string, std::string>, RateState> rate_;  // (rule, key or "") -> window
  std::map<std::pair<std::string, std::string>, std::int64_t> last_fired_;
  // The last alert per (key, domain), for the cross-domain merge.
  std::map<std::pair<std::string, Domain>, Alert> recent_;
};

}  // namespace dg::monitor
