// Internals shared by server.cc (listener, sessions, routing, admin, metrics) and proxy.cc (the
// scan, OpenAI and Open Inference Protocol handlers). Not a public interface.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "core/finding.h"
#include "gateway/abuse.h"
#include "gateway/circuit_breaker.h"
#include "gateway/gateway_config.h"
#include "gateway/limiter.h"
#include "gateway/metrics.h"
#include "gateway/monitor_hub.h"
#include "gateway/alert_sink.h"
#include "gateway/upstream.h"
#include "policy/engine.h"
#include "store/audit_log.h"
#include "store/common.h"
#include "store/key_store.h"

namespace dg::gateway {

using json = nlohmann::ordered_json;
using metrics::Counter;
using metrics::Family;
using metrics::Gauge;
using metrics::Histogram;
using metrics::Info;
using metrics::Registry;
using Request = http::request<http::string_body>;

// A shared_ptr published by one thread and read by many. Not std::atomic<std::shared_ptr>: libstdc++
// 12's implementation has a data race that ThreadSanitizer reports (its internal lock is released
// with a relaxed store). The mutex is held only to copy the pointer; writes are rare (reload, admin).
template <typename T>
class Published {
 public:
  explicit Published(std::shared_ptr<const T> p) : p_(std::move(p)) {}
  std::shared_ptr<const T> load() const {
    std::lock_guard lock(mu_);
    return p_;
  }
  void store(std::shared_ptr<const T> p) {
    std::lock_guard lock(mu_);
    p_.swap(p);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const T> p_;
};

// Everything a reload replaces, immutable once published.
struct Snapshot {
  std::shared_ptr<const policy::Engine> engine;
  GatewayConfig gw;
  std::string policy_sha256;
  std::string config_sha256;
  struct Model {
    std::string name;  // the detector
    std::string path;
    std::string sha256;
  };
  std::vector<Model> models;  // the enabled detectors' model and profile files
};

struct KillState {
  bool all = false;
  std::set<std::string> routes;
};

struct Metrics {
  explicit Metrics(Registry& r);
  Family<Counter>& requests;        // route, code
  Family<Counter>& verdicts;        // stage, action, class
  Family<Counter>& findings;        // domain, category
  Family<Histogram>& duration;      // route
  Histogram& engine_duration;
  Histogram& upstream_duration;
  Histogram& audit_commit_duration;  // the audit append: the record written to the journal
  Family<Counter>& upstream_errors;  // kind
  Family<Counter>& limiter_rejections;  // code
  Counter& fail_open;
  Counter& audit_errors;
  Gauge& in_flight;
  Gauge& kill_switch;
  Gauge& safe_mode;
  Family<Gauge>& breaker_state;  // upstream
  Info& policy_info;
};

// One request's bookkeeping: who, what, and the audit record being filled.
struct Ctx {
  std::string request_id;
  std::string route;  // canonical route ("/v2/models/{name}/infer")
  std::chrono::steady_clock::time_point t0;
  std::optional<store::KeyInfo> key;
  std::shared_ptr<const Snapshot> snap;
  store::AuditRecord rec;
  std::uint64_t engine_us = 0;
  std::uint64_t upstream_us = 0;
  bool keep_alive = true;
  std::string session;             // the X-Session-Id header ("" when absent)
  std::optional<MonitorEvent> mon;  // the verdict for the monitors, submitted after the audit commit
  // The last recorded verdict's findings and texts, when it has findings: the monitor event's detail
  // (findings JSON, highlight segments) is built from them once, at commit, rather than for each
  // verdict that record_verdict replaces (the request's, then the exchange's).
  struct MonitorDetail {
    std::vector<Finding> findings;
    std::string prompt, response;
  };
  std::optional<MonitorDetail> mon_detail;
};

class Server;

// The handlers in proxy.cc; each writes its response (or stream) and fills ctx.rec.
net::awaitable<void> handle_scan(Server& s, beast::tcp_stream& stream, Request& req, Ctx& ctx, Permit& permit);
net::awaitable<void> handle_openai(Server& s, beast::tcp_stream& stream, Request& req, Ctx& ctx, Permit& permit, bool chat);
net::awaitable<void> handle_passthrough(Server& s, beast::tcp_stream& stream, Request& req, Ctx& ctx, Permit& permit);
net::awaitable<void> handle_oip_infer(Server& s, beast::tcp_stream& stream, Request& req, Ctx& ctx, Permit& permit);
// dashboard.cc: the built dashboard at / and /assets/*, and the /api routes (docs/dashboard-api.md).
net::awaitable<void> handle_static(Server& s, beast::tcp_stream& stream, Request& req, Ctx& ctx);
net::awaitable<void> handle_api(Server& s, beast::tcp_stream& stream, Request& req, Ctx& ctx);

class Server {
 public:
  Server(net::io_context& io, std::shared_ptr<const Snapshot> snap, std::unique_ptr<store::AuditLog> audit,
         std::unique_ptr<store::KeyStore> keys, std::unique_ptr<Limiter> limiter, std::unique_ptr<AbuseDetector> abuse,
         std::unique_ptr<CircuitBreakerSet> breakers, std::string config_path, std::vector<std::string> overrides);

  net::io_context& io;
  Published<Snapshot> snap;
  std::unique_ptr<store::AuditLog> audit;
  std::unique_ptr<store::KeyStore> keys;
  std::unique_ptr<Limiter> limiter;
  std::unique_ptr<AbuseDetector> abuse;
  std::unique_ptr<CircuitBreakerSet> breakers;
  std::unique_ptr<UpstreamPool> pool;  // null without an upstream (fixed at start; reload keeps it)
  std::unique_ptr<MonitorHub> hub;     // null when gateway.monitor.enabled is false
  std::unique_ptr<WebhookSink> webhook;  // null without sinks.webhook.url
  Registry registry;
  Metrics metrics{registry};
  Published<KillState> kill;
  std::atomic<bool> safe_mode{false};
  std::atomic<bool> draining{false};
  std::atomic<std::int64_t> in_flight{0};
  std::string config_path;
  std::vector<std::string> overrides;

  // The engine's per-thread scratch for `engine` (rebuilt when the engine changes).
  policy::Engine::ThreadState& thread_state(const std::shared_ptr<const policy::Engine>& engine);
  // Applies safe mode (review -> block) and the route's fail mode to a verdict.
  void finalize(Verdict& v, const Ctx& ctx) const;
  // Re-decides `v` with extra findings (abuse signals) added.
  void add_findings(Verdict& v, std::vector<Finding> extra, const Ctx& ctx) const;
  // Records the verdict in the metrics.
  void count_verdict(const Verdict& v, std::string_view stage);
  // Appends ctx.rec (status, code, latency filled here) to the audit journal; returns once it is
  // durable (one write(2), no waiting on the database), then hands the verdict to the monitors.
  void commit(Ctx& ctx, int status, std::string_view code);
  // Writes a JSON response (and commits the audit record first).
  net::awaitable<void> respond(beast::tcp_stream& stream, Ctx& ctx, int status, const std::string& body,
                               std::string_view code = "", const Verdict* v = nullptr, std::uint32_t retry_after = 0);
  // An OpenAI-shape error.
  net::awaitable<void> error(beast::tcp_stream& stream, Ctx& ctx, int status, std::string_view code, const std::string& message,
                             const std::string& param = "", const Verdict* v = nullptr, std::uint32_t retry_after = 0);
  // Fills the audit record's verdict fields.
  void record_verdict(Ctx& ctx, const Verdict& v, std::string_view prompt, std::string_view response) const;
  bool killed(const std::string& route) const;
  // {"engaged", "all", "routes"} of the kill switch.
  nlohmann::ordered_json kill_state_json() const;
  // {"killswitch": kill_state_json(), "safe_mode"}: the `control` event of /api/events.
  nlohmann::ordered_json control_json() const;
  // Loads the config again and swaps it in when it loads; otherwise keeps the running one. Returns
  // "" on success, else the stable code of the first load error (e.g. config_unknown_key); `message`
  // says what happened either way.
  std::string reload(std::string& message);
};

std::string error_body(std::string_view code, const std::string& message, const std::string& param, const Verdict* v,
                       const std::string& request_id);
std::uint64_t us_since(std::chrono::steady_clock::time_point t0);

}  // namespace dg::gateway
