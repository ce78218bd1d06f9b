#include "gateway/gateway_config.h"

#include <filesystem>

#include "core/errors.h"
#include "core/yaml_util.h"

#include <cstdlib>

namespace dg::gateway {

std::string UpstreamUrl::to_string() const {
  if (host.empty()) return "";
  return "http://" + host + ":" + port + base_path;
}

std::string parse_upstream_url(const std::string& s, UpstreamUrl& out) {
  out = {};
  if (s.empty()) return "";
  const std::string scheme = "http://";
  if (s.rfind(scheme, 0) != 0) {
    if (s.rfind("https://", 0) == 0) return "https upstreams are not supported: terminate TLS in front of the model server";
    return "upstream must look like http://host:port, got '" + s + "'";
  }
  std::string rest = s.substr(scheme.size());
  const auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) {
    out.base_path = rest.substr(slash);
    while (!out.base_path.empty() && out.base_path.back() == '/') out.base_path.pop_back();
  }
  if (authority.empty()) return "upstream '" + s + "' has no host";
  std::string host = authority, port = "80";
  if (authority.front() == '[') {  // [::1]:9000
    const auto close = authority.find(']');
    if (close == std::string::npos) return "upstream '" + s + "': unclosed '['";
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return "upstream '" + s + "': expected ':' after ']'";
      port = authority.substr(close + 2);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return "upstream '" + s + "' has no host";
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) == 0 || std::stoul(port) > 65535)
    return "upstream '" + s + "': port must be 1..65535";
  out.host = host;
  out.port = port;
  return "";
}

policy::FailMode GatewayConfig::fail_mode_for(const std::string& route) const {
  const auto it = route_fail_mode.find(route);
  return it == route_fail_mode.end() ? fail_mode : it->second;
}

namespace {

bool split_listen(const std::string& s, std::string& host, std::string& port) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= s.size()) return false;
  host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  port = s.substr(colon + 1);
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 || std::stoul(port) > 65535) return false;
  return true;
}

std::optional<policy::FailMode> parse_fail_mode(const std::string& s) {
  if (s == "open") return policy::FailMode::open;
  if (s == "closed") return policy::FailMode::closed;
  return std::nullopt;
}

}  // namespace

LoadResult<GatewayConfig> load_gateway_config(const policy::Config& cfg) {
  using R = LoadResult<GatewayConfig>;
  GatewayConfig g;
  LoadErrors errors;
  const YAML::Node n = cfg.root["gateway"];
  if (!n.IsDefined() || n.IsNull()) return R::success(g);
  yaml::Reader r(cfg.path, errors);
  if (!n.IsMap()) {
    r.error(n, errc::kConfigInvalidValue, "gateway must be a map");
    return R::failure(std::move(errors));
  }
  if (!r.check_keys(n, {"listen", "upstream", "upstream_api_key_env", "data_dir", "threads", "max_body_bytes", "upstream_connect_timeout_ms",
                        "upstream_timeout_ms", "upstream_retries", "upstream_pool_size", "breaker_failures",
                        "breaker_open_ms", "stream_window_bytes", "stream_scan_bytes", "drain_timeout_ms",
                        "metrics_public", "fail_mode", "route_fail_mode", "limits", "abuse", "audit", "monitor", "dashboard"},
                    "gateway"))
    return R::failure(std::move(errors));
  const std::string listen = r.str_or(n, "listen", g.listen_host + ":" + g.listen_port);
  if (!split_listen(listen, g.listen_host, g.listen_port))
    r.error(n["listen"], errc::kConfigInvalidValue, "gateway.listen must be HOST:PORT, got '" + listen + "'");
  if (const std::string msg = parse_upstream_url(r.str_or(n, "upstream", ""), g.upstream); !msg.empty())
    r.error(n["upstream"], errc::kConfigInvalidValue, "gateway.upstream: " + msg);
  g.upstream_api_key_env = r.str_or(n, "upstream_api_key_env", "");
  if (!g.upstream_api_key_env.empty()) {
    const char* v = std::getenv(g.upstream_api_key_env.c_str());
    if (!v || !*v)
      r.error(n["upstream_api_key_env"], errc::kConfigMissingKey,
              "gateway.upstream_api_key_env names $" + g.upstream_api_key_env + ", which is not set");
    else
      g.upstream_api_key = v;
  }
  g.data_dir = r.str_or(n, "data_dir", g.data_dir);
  g.threads = static_cast<unsigned>(r.integer(n, "threads", 0, 0, 256));
  g.max_body_bytes = static_cast<std::uint64_t>(r.integer(n, "max_body_bytes", 1 << 20, 256, 1ll << 30));
  g.upstream_connect_timeout_ms = static_cast<std::uint32_t>(r.integer(n, "upstream_connect_timeout_ms", 2000, 1, 600000));
  g.upstream_timeout_ms = static_cast<std::uint32_t>(r.integer(n, "upstream_timeout_ms", 60000, 1, 3600000));
  g.upstream_retries = static_cast<std::uint32_t>(r.integer(n, "upstream_retries", 1, 0, 5));
  g.upstream_pool_size = static_cast<std::uint32_t>(r.integer(n, "upstream_pool_size", 64, 0, 4096));
  g.breaker_failures = static_cast<std::uint32_t>(r.integer(n, "breaker_failures", 5, 1, 1000));
  g.breaker_open_ms = static_cast<std::uint32_t>(r.integer(n, "breaker_open_ms", 10000, 1, 3600000));
  g.stream_window_bytes = static_cast<std::uint32_t>(r.integer(n, "stream_window_bytes", 2048, 64, 1 << 20));
  g.stream_scan_bytes = static_cast<std::uint32_t>(r.integer(n, "stream_scan_bytes", 256, 1, 1 << 20));
  if (g.stream_scan_bytes > g.stream_window_bytes)
    r.error(n["stream_scan_bytes"], errc::kConfigInvalidValue,
            "gateway.stream_scan_bytes must not exceed gateway.stream_window_bytes (text would pass unscanned)");
  g.drain_timeout_ms = static_cast<std::uint32_t>(r.integer(n, "drain_timeout_ms", 10000, 0, 600000));
  g.metrics_public = r.boolean(n, "metrics_public", true);
  if (auto s = r.str(n, "fail_mode")) {
    if (auto m = parse_fail_mode(*s)) g.fail_mode = *m;
    else r.error(n["fail_mode"], errc::kConfigInvalidValue, "gateway.fail_mode must be open or closed");
  }
  if (const YAML::Node rf = n["route_fail_mode"]; rf.IsDefined() && !rf.IsNull()) {
    if (!rf.IsMap()) {
      r.error(rf, errc::kConfigInvalidValue, "gateway.route_fail_mode must map a route to open or closed");
    } else {
      for (const auto& kv : rf) {
        const std::string route = kv.first.as<std::string>();
        const auto m = kv.second.IsScalar() ? parse_fail_mode(kv.second.as<std::string>()) : std::nullopt;
        if (route.empty() || route.front() != '/') r.error(kv.first, errc::kConfigInvalidValue, "route '" + route + "' must start with '/'");
        else if (!m) r.error(kv.second, errc::kConfigInvalidValue, "gateway.route_fail_mode." + route + " must be open or closed");
        else g.route_fail_mode[route] = *m;
      }
    }
  }
  if (const YAML::Node l = n["limits"]; l.IsDefined() && !l.IsNull()) {
    if (r.check_keys(l, {"requests_per_minute", "tokens_per_day", "concurrent"}, "gateway.limits")) {
      g.requests_per_minute = static_cast<std::uint64_t>(r.integer(l, "requests_per_minute", 600, 0, 100000000));
      g.tokens_per_day = static_cast<std::uint64_t>(r.integer(l, "tokens_per_day", 0, 0, 1ll << 50));
      g.concurrent = static_cast<std::uint64_t>(r.integer(l, "concurrent", 64, 0, 1000000));
    }
  }
  if (const YAML::Node a = n["abuse"]; a.IsDefined() && !a.IsNull()) {
    if (r.check_keys(a, {"enabled"}, "gateway.abuse")) g.abuse_enabled = r.boolean(a, "enabled", true);
  }
  if (const YAML::Node a = n["audit"]; a.IsDefined() && !a.IsNull()) {
    if (r.check_keys(a, {"store_raw_text", "wal_cap_frames", "max_backlog"}, "gateway.audit")) {
      g.store_raw_text = r.boolean(a, "store_raw_text", false);
      g.audit_wal_cap_frames = static_cast<int>(r.integer(a, "wal_cap_frames", g.audit_wal_cap_frames, 64, 1 << 24));
      g.audit_max_backlog = static_cast<std::size_t>(r.integer(a, "max_backlog", 65536, 1, 1 << 24));
    }
  }
  const std::filesystem::path base = std::filesystem::path(cfg.path).parent_path();
  auto resolve = [&](const std::string& p) { return p.empty() || p.front() == '/' ? p : (base / p).lexically_normal().string(); };
  if (const YAML::Node m = n["monitor"]; m.IsDefined() && !m.IsNull()) {
    if (r.check_keys(m, {"enabled", "incident_window_ms", "probe_repeats", "incident_min_severity", "drift", "alerts_file"}, "gateway.monitor")) {
      g.monitor_enabled = r.boolean(m, "enabled", true);
      g.incident_window_ms = r.integer(m, "incident_window_ms", g.incident_window_ms, 1000, 7 * 86400000ll);
      g.probe_repeats = static_cast<int>(r.integer(m, "probe_repeats", 3, 2, 1000));
      g.incident_min_severity = r.str_or(m, "incident_min_severity", "medium");
      if (!parse_severity(g.incident_min_severity))
        r.error(m["incident_min_severity"], errc::kConfigInvalidValue, "gateway.monitor.incident_min_severity must be low, medium, high or critical");
      g.alerts_file = resolve(r.str_or(m, "alerts_file", ""));
      if (const YAML::Node d = m["drift"]; d.IsDefined() && !d.IsNull()) {
        if (r.check_keys(d, {"baseline_ms", "window_ms", "min_samples", "psi_threshold", "ks_alpha", "every_ms"}, "gateway.monitor.drift")) {
          g.drift_baseline_ms = r.integer(d, "baseline_ms", g.drift_baseline_ms, 1000, 30 * 86400000ll);
          g.drift_window_ms = r.integer(d, "window_ms", g.drift_window_ms, 1000, 7 * 86400000ll);
          g.drift_min_samples = r.integer(d, "min_samples", g.drift_min_samples, 10, 100000000);
          g.drift_psi_threshold = r.number(d, "psi_threshold", g.drift_psi_threshold, 0.01, 10.0);
          g.drift_ks_alpha = r.number(d, "ks_alpha", g.drift_ks_alpha, 1e-12, 0.5);
          g.drift_every_ms = r.integer(d, "every_ms", g.drift_every_ms, 100, 3600000);
        }
      }
    }
  }
  g.dashboard_dir = resolve("../web/dist");
  if (const YAML::Node d = n["dashboard"]; d.IsDefined() && !d.IsNull()) {
    if (r.check_keys(d, {"enabled", "dir"}, "gateway.dashboard")) {
      g.dashboard_enabled = r.boolean(d, "enabled", true);
      if (auto dir = r.str(d, "dir"); dir && !dir->empty()) g.dashboard_dir = resolve(*dir);
    }
  }
  if (!errors.empty()) return R::failure(std::move(errors));
  return R::success(std::move(g));
}

}  // namespace dg::gateway
