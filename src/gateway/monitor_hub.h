// The gateway's monitoring side: every answered request's verdict goes, after its audit commit,
// into a bounded queue that one monitor thread drains. The thread feeds the incident correlator
// (monitor/correlator.h) and persists what it returns (store/incident_store.h), feeds the drift
// monitor and evaluates it every few seconds, runs the alert rules and hands alerts to the sinks,
// keeps the time series and the live feed the dashboard reads (docs/dashboard-api.md), and
// broadcasts events to server-sent-event subscribers.
//
// The request path only calls submit(): a try-lock and a push, never blocking; when the queue is
// full the event is dropped and counted (the audit log still has the verdict).
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/types.h"
#include "monitor/alerts.h"
#include "monitor/correlator.h"
#include "monitor/drift.h"
#include "store/incident_store.h"

namespace dg::gateway {

// One verdict as the monitors see it (built on the request path from the Verdict, see server.cc).
struct MonitorEvent {
  monitor::VerdictEvent v;
  std::string route;
  std::string chain;
  std::string rule;         // the policy rule that decided ("" for none)
  std::string explanation;  // the verdict's one-line reason
  double latency_ms = 0.0;
  int http_status = 0;
  // Detail, filled only when the verdict has findings: the findings as JSON and the stored (redacted)
  // texts cut into highlight segments (docs/dashboard-api.md).
  nlohmann::ordered_json findings;
  nlohmann::ordered_json texts;
  // Drift inputs.
  std::size_t prompt_bytes = 0;
  bool has_prompt = false;
  std::string language;
  double max_score = 0.0;
  bool has_response = false;
  bool refused = false;
};

struct MonitorOptions {
  monitor::CorrelatorOptions correlator;
  monitor::DriftOptions drift;
  std::int64_t drift_every_ms = 5000;
  std::size_t queue = 65536;
  std::size_t feed = 500;     // verdicts kept for GET /api/feed
  std::size_t alerts = 500;   // alerts kept for GET /api/alerts
  std::size_t max_subscribers = 64;  // open /api/events streams
  std::function<std::int64_t()> now_ms;  // wall clock in ms; default system_clock
};

// An SSE subscriber's queue of formatted events ("event: x\ndata: {...}\n\n").
class Subscriber {
 public:
  // Moves out what is queued. Thread-safe.
  std::vector<std::string> take();
  void push(const std::string& ev);
  std::uint64_t dropped() const noexcept { return dropped_.load(); }

 private:
  std::mutex mu_;
  std::deque<std::string> q_;
  std::atomic<std::uint64_t> dropped_{0};
};

class MonitorHub {
 public:
  // Counters the gateway exports (dualguard_monitor_*): read from any thread.
  struct Counters {
    std::atomic<std::uint64_t> events{0}, dropped{0}, incidents_opened{0}, alerts{0}, store_errors{0};
  };
  using AlertSink = std::function<void(const monitor::Alert&, const nlohmann::ordered_json&)>;

  MonitorHub(MonitorOptions options, monitor::AlertsConfig alerts, std::unique_ptr<store::IncidentStore> store);
  ~MonitorHub();  // stops the thread after draining the queue
  MonitorHub(const MonitorHub&) = delete;
  MonitorHub& operator=(const MonitorHub&) = delete;

  // Adds a sink called on the monitor thread for every alert (log, webhook). Before start().
  void add_sink(AlertSink sink);
  void start();

  // Request path: never blocks.
  void submit(MonitorEvent ev);
  // Publishes a control change (kill switch, safe mode) to subscribers.
  void publish(const std::string& event, const nlohmann::ordered_json& data);

  // A new SSE subscriber, or null when `max_subscribers` are connected (the caller answers 429).
  std::shared_ptr<Subscriber> subscribe();

  // Reads for the API (any thread).
  nlohmann::ordered_json overview(std::int64_t range_s) const;
  nlohmann::ordered_json feed(std::size_t limit) const;
  nlohmann::ordered_json alerts(std::size_t limit) const;
  store::IncidentStore& store() noexcept { return *store_; }
  // Operator action: the new status in the store (with history) and in the correlator. Returns the
  // updated summary JSON, or the store's error (not_found).
  store::Result<nlohmann::ordered_json> set_status(const std::string& id, monitor::IncidentStatus status,
                                                   const std::string& key_id, const std::string& note);
  const Counters& counters() const noexcept { return counters_; }
  std::int64_t now_ms() const { return opt_.now_ms(); }

  // The summary JSON of an incident (docs/dashboard-api.md).
  static nlohmann::ordered_json summary_json(const monitor::Incident& inc);

 private:
  // 10-second buckets for 24 hours.
  static constexpr std::int64_t kBucketS = 10;
  static constexpr std::size_t kBuckets = 8640;
  static constexpr int kLatencyBins = 48;
  struct Bucket {
    std::int64_t start_s = -1;
    std::uint32_t requests = 0;
    std::array<std::array<std::uint32_t, 3>, 3> cls{};  // [safety, security, hybrid][flagged, blocked, review]
    std::array<std::uint32_t, kLatencyBins> latency{};
    std::vector<std::pair<std::string, std::uint32_t>> categories[3];
  };
  void run();
  void process(MonitorEvent& ev);
  void record_series(const MonitorEvent& ev);
  void emit(const std::vector<monitor::Alert>& alerts);
  void broadcast(const std::string& event, const nlohmann::ordered_json& data);

  MonitorOptions opt_;
  std::unique_ptr<store::IncidentStore> store_;
  monitor::Correlator correlator_;
  monitor::DriftMonitor drift_;
  monitor::AlertEngine alert_engine_;
  std::vector<AlertSink> sinks_;
  Counters counters_;

  std::mutex qmu_;
  std::condition_variable qcv_;
  std::deque<MonitorEvent> queue_;
  bool stop_ = false;
  std::thread thread_;

  // Correlator state changed by operators is applied on the monitor thread.
  std::mutex status_mu_;
  std::vector<std::pair<std::string, monitor::IncidentStatus>> status_changes_;

  mutable std::mutex view_mu_;  // guards what the API reads: series, feed, alerts, drift
  std::vector<Bucket> series_;
  std::deque<nlohmann::ordered_json> feed_;
  std::deque<nlohmann::ordered_json> alerts_;
  std::vector<monitor::DriftStat> drift_stats_;
  std::int64_t open_incidents_ = 0;

  std::mutex sub_mu_;
  std::vector<std::weak_ptr<Subscriber>> subs_;
};

}  // namespace dg::gateway
