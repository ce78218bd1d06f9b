// The `gateway:` section of config/dualguard.yaml (docs/gateway.md): parsed strictly from the
// effective config tree (after --set overrides), every problem reported with file:line.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/load_result.h"
#include "policy/config.h"
#include "policy/policy.h"

namespace dg::gateway {

// "http://host:port" split into parts; only plain HTTP upstreams (the gateway and the model server
// sit on one host or one private network; TLS termination is in front of the gateway).
struct UpstreamUrl {
  std::string host;
  std::string port;
  std::string base_path;  // "" or "/prefix" (no trailing slash)
  bool empty() const noexcept { return host.empty(); }
  std::string to_string() const;
};

// Parses "http://host[:port][/path]"; "" gives an empty url. Returns an error message or "".
std::string parse_upstream_url(const std::string& s, UpstreamUrl& out);

struct GatewayConfig {
  std::string listen_host = "127.0.0.1";
  std::string listen_port = "8080";
  UpstreamUrl upstream;               // empty: scan-only (proxy routes answer 503 no_upstream)
  // The upstream's own credential, read from this environment variable (never from the file) and sent
  // as `Authorization: Bearer` upstream; the client's gateway key is never forwarded.
  std::string upstream_api_key_env;
  std::string upstream_api_key;       // the value, resolved at load (redacted in every dump)
  std::string data_dir = "data";      // audit.db, keys.db (resolved against the working directory)
  unsigned threads = 0;               // I/O threads; 0 = one per core
  std::uint64_t max_body_bytes = 1u << 20;
  std::uint32_t upstream_connect_timeout_ms = 2000;
  std::uint32_t upstream_timeout_ms = 60000;  // whole answer (non-streaming) or between stream chunks
  std::uint32_t upstream_retries = 1;         // retries when the connection fails before the request was sent
  std::uint32_t upstream_pool_size = 64;      // idle keep-alive connections kept per upstream
  std::uint32_t breaker_failures = 5;         // consecutive upstream failures that open the breaker
  std::uint32_t breaker_open_ms = 10000;      // how long it stays open before one probe
  std::uint32_t stream_window_bytes = 2048;   // streamed text re-scanned per step
  std::uint32_t stream_scan_bytes = 256;      // new streamed text that triggers a scan
  std::uint32_t drain_timeout_ms = 10000;     // SIGTERM: wait this long for requests in flight
  bool metrics_public = true;                 // /metrics without a key
  bool store_raw_text = false;                // audit: raw prompt/response text instead of redacted
  int audit_wal_cap_frames = 16384;           // audit.db's WAL restarts at this many 4 KB pages (store/audit_log.h)
  std::size_t audit_max_backlog = 65536;      // journaled audit records that may wait for audit.db
  policy::FailMode fail_mode = policy::FailMode::closed;  // detector error on a route without its own
  std::map<std::string, policy::FailMode> route_fail_mode;  // route path -> mode
  // Default per-key limits (0 = unlimited); a key may carry its own (keys create --requests-per-minute ...).
  std::uint64_t requests_per_minute = 600;
  std::uint64_t tokens_per_day = 0;
  std::uint64_t concurrent = 64;
  // Abuse / extraction signals (src/gateway/abuse.h).
  bool abuse_enabled = true;

  // Monitors, incidents and alerts (gateway.monitor; docs/monitors.md).
  bool monitor_enabled = true;
  std::int64_t incident_window_ms = 600000;   // a verdict joins its actor's incident this soon after the last one
  int probe_repeats = 3;                      // same safety failure this often from one actor = flaw exploited
  std::string incident_min_severity = "medium";
  std::int64_t drift_baseline_ms = 3600000;   // the first hour of traffic is the baseline
  std::int64_t drift_window_ms = 900000;      // compared with the last 15 minutes
  std::int64_t drift_min_samples = 200;
  double drift_psi_threshold = 0.25;
  double drift_ks_alpha = 0.01;
  std::int64_t drift_every_ms = 5000;
  std::string alerts_file;                    // resolved against the config file's folder; "" = no rules
  // The dashboard's built assets (gateway.dashboard.dir), resolved against the config file's folder;
  // default ../web/dist. Missing files: / answers 404 dashboard_not_built.
  bool dashboard_enabled = true;
  std::string dashboard_dir;

  policy::FailMode fail_mode_for(const std::string& route) const;
};

// Reads cfg.root["gateway"] (absent = defaults). Unknown keys are errors.
LoadResult<GatewayConfig> load_gateway_config(const policy::Config& cfg);

}  // namespace dg::gateway
