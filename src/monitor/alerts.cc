#include "monitor/alerts.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "core/errors.h"
#include "core/yaml_util.h"

namespace dg::monitor {

namespace {

// "250ms", "30s", "5m", "1h", "1d" -> milliseconds; nullopt when malformed.
std::optional<std::int64_t> parse_duration(const std::string& s) {
  std::int64_t n = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc{} || n < 0 || p == s.data()) return std::nullopt;
  const std::string unit(p, s.data() + s.size());
  std::int64_t mul = 0;
  if (unit == "ms") mul = 1;
  else if (unit == "s") mul = 1000;
  else if (unit == "m") mul = 60 * 1000;
  else if (unit == "h") mul = 3600 * 1000;
  else if (unit == "d") mul = 86400 * 1000;
  else return std::nullopt;
  if (n > (std::int64_t{1} << 40) / mul) return std::nullopt;
  return n * mul;
}

std::int64_t duration(yaml::Reader& r, const YAML::Node& map, std::string_view key, std::int64_t fallback) {
  const YAML::Node v = map[std::string(key)];
  if (!v.IsDefined() || v.IsNull()) return fallback;
  if (!v.IsScalar()) {
    r.error(v, errc::kConfigInvalidValue, std::string(key) + " must be a duration such as 30s, 5m or 1h");
    return fallback;
  }
  const auto d = parse_duration(v.as<std::string>());
  if (!d || *d == 0) {
    r.error(v, errc::kConfigInvalidValue, std::string(key) + " must be a positive duration such as 30s, 5m or 1h, got '" + v.as<std::string>() + "'");
    return fallback;
  }
  return *d;
}

template <typename T, typename F>
std::vector<T> enum_list(yaml::Reader& r, const YAML::Node& map, std::string_view key, F parse, std::string_view allowed) {
  std::vector<T> out;
  for (const auto& s : r.str_list(map, key)) {
    if (auto v = parse(s)) out.push_back(*v);
    else r.error(map[std::string(key)], errc::kConfigInvalidValue, std::string(key) + ": '" + s + "' is not one of " + std::string(allowed));
  }
  return out;
}

LoadResult<AlertsConfig> parse_node(const YAML::Node& root, yaml::Reader& r) {
  using R = LoadResult<AlertsConfig>;
  AlertsConfig c;
  if (!root.IsDefined() || root.IsNull()) return R::success(c);
  if (!r.check_keys(root, {"rules", "cross_domain", "sinks"}, "alerts")) return R::failure(std::move(r.errors()));
  if (const YAML::Node x = root["cross_domain"]; x.IsDefined() && !x.IsNull()) {
    if (r.check_keys(x, {"enabled", "window"}, "cross_domain")) {
      c.cross_domain = r.boolean(x, "enabled", true);
      c.cross_domain_window_ms = duration(r, x, "window", c.cross_domain_window_ms);
    }
  }
  if (const YAML::Node s = root["sinks"]; s.IsDefined() && !s.IsNull()) {
    if (r.check_keys(s, {"log", "webhook"}, "sinks")) {
      c.log = r.boolean(s, "log", true);
      if (const YAML::Node w = s["webhook"]; w.IsDefined() && !w.IsNull()) {
        if (r.check_keys(w, {"url", "timeout", "retries", "backoff", "queue"}, "sinks.webhook")) {
          c.webhook_url = r.str_or(w, "url", "");
          if (!c.webhook_url.empty() && c.webhook_url.rfind("http://", 0) != 0)
            r.error(w["url"], errc::kConfigInvalidValue, "sinks.webhook.url must be an http:// URL (put TLS in a local relay)");
          c.webhook_timeout_ms = duration(r, w, "timeout", c.webhook_timeout_ms);
          c.webhook_retries = static_cast<int>(r.integer(w, "retries", 3, 0, 20));
          c.webhook_backoff_ms = duration(r, w, "backoff", c.webhook_backoff_ms);
          c.webhook_queue = static_cast<std::size_t>(r.integer(w, "queue", 1000, 1, 1000000));
        }
      }
    }
  }
  const YAML::Node rules = root["rules"];
  if (rules.IsDefined() && !rules.IsNull() && !rules.IsSequence()) r.error(rules, errc::kConfigInvalidValue, "rules must be a list");
  if (rules.IsSequence()) {
    for (const auto& n : rules) {
      if (!r.check_keys(n, {"name", "kind", "severity", "cooldown", "class", "action", "domain", "category", "per_key", "window",
                            "count", "ratio", "min_events", "incident_kind", "min_severity", "statistic"},
                        "rule"))
        continue;
      AlertRule a;
      a.name = r.str(n, "name", true).value_or("");
      const std::string kind = r.str_or(n, "kind", "rate");
      if (kind == "rate") a.kind = AlertRule::Kind::rate;
      else if (kind == "incident") a.kind = AlertRule::Kind::incident;
      else if (kind == "drift") a.kind = AlertRule::Kind::drift;
      else r.error(n["kind"], errc::kConfigInvalidValue, "kind must be rate, incident or drift, got '" + kind + "'");
      if (auto s = r.str(n, "severity")) {
        if (auto v = parse_severity(*s)) a.severity = *v;
        else r.error(n["severity"], errc::kConfigInvalidValue, "severity must be low, medium, high or critical");
      }
      if (auto s = r.str(n, "min_severity")) {
        if (auto v = parse_severity(*s)) a.min_severity = *v;
        else r.error(n["min_severity"], errc::kConfigInvalidValue, "min_severity must be low, medium, high or critical");
      }
      a.cooldown_ms = duration(r, n, "cooldown", a.cooldown_ms);
      a.classes = enum_list<VerdictClass>(r, n, "class", parse_verdict_class, "clean, safety, security, hybrid");
      a.actions = enum_list<Action>(r, n, "action", parse_action, "allow, redact, review, safe_mode, block");
      a.kinds = enum_list<IncidentKind>(r, n, "incident_kind", parse_incident_kind,
                                        "security, safety, security_causing_safety, safety_flaw_exploited");
      if (auto s = r.str(n, "domain")) {
        if (auto v = parse_domain(*s)) a.domain = *v;
        else r.error(n["domain"], errc::kConfigInvalidValue, "domain must be safety or security");
      }
      a.categories = r.str_list(n, "category");
      a.statistics = r.str_list(n, "statistic");
      a.per_key = r.boolean(n, "per_key", true);
      a.window_ms = duration(r, n, "window", a.window_ms);
      a.count = static_cast<int>(r.integer(n, "count", 0, 0, 100000000));
      a.ratio = r.number(n, "ratio", 0.0, 0.0, 1.0);
      a.min_events = static_cast<int>(r.integer(n, "min_events", 20, 1, 100000000));
      if (a.kind == AlertRule::Kind::rate && a.count == 0 && a.ratio == 0.0)
        r.error(n, errc::kConfigMissingKey, "rule '" + a.name + "': a rate rule needs count or ratio");
      for (const auto& o : c.rules)
        if (o.name == a.name && !a.name.empty()) r.error(n["name"], errc::kConfigDuplicate, "rule '" + a.name + "' is defined twice");
      c.rules.push_back(std::move(a));
    }
  }
  if (!r.errors().empty()) return R::failure(std::move(r.errors()));
  return R::success(std::move(c));
}

template <typename T>
bool any_or(const std::vector<T>& v, const T& x) {
  return v.empty() || std::find(v.begin(), v.end(), x) != v.end();
}

std::string pct(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%.0f%%", 100.0 * x);
  return b;
}

}  // namespace

LoadResult<AlertsConfig> load_alerts(const std::string& path) {
  LoadErrors errors;
  const YAML::Node root = yaml::load_file(path, errors);
  if (!errors.empty()) return LoadResult<AlertsConfig>::failure(std::move(errors));
  yaml::Reader r(path, errors);
  return parse_node(root, r);
}

LoadResult<AlertsConfig> parse_alerts(const std::string& text, const std::string& name) {
  LoadErrors errors;
  const YAML::Node root = yaml::load_string(text, name, errors);
  if (!errors.empty()) return LoadResult<AlertsConfig>::failure(std::move(errors));
  yaml::Reader r(name, errors);
  return parse_node(root, r);
}

AlertEngine::AlertEngine(AlertsConfig config) : cfg_(std::move(config)) {}

bool AlertEngine::cooling(const AlertRule& r, const std::string& key, std::int64_t now) {
  const auto k = std::make_pair(r.name, key);
  const auto it = last_fired_.find(k);
  if (it != last_fired_.end() && now - it->second < r.cooldown_ms) return true;
  last_fired_[k] = now;
  if (last_fired_.size() > 100000) last_fired_.erase(last_fired_.begin());  // bounded; a dropped entry only shortens a cooldown
  return false;
}

std::optional<Alert> AlertEngine::finish(Alert a) {
  a.id = "al-" + std::to_string(next_id_++);
  if (!cfg_.cross_domain || !a.domain || a.key_id.empty()) return a;
  const Domain other = *a.domain == Domain::safety ? Domain::security : Domain::safety;
  const auto it = recent_.find({a.key_id, other});
  if (it != recent_.end() && a.ts_ms - it->second.ts_ms <= cfg_.cross_domain_window_ms) {
    Alert m;
    m.id = a.id;
    m.rule = "cross_domain_escalation";
    m.severity = Severity::critical;
    m.ts_ms = a.ts_ms;
    m.key_id = a.key_id;
    m.incident_id = a.incident_id.empty() ? it->second.incident_id : a.incident_id;
    m.merged = {it->second.rule, a.rule};
    m.summary = "security and safety alerts for key " + a.key_id + " within the window: " + it->second.summary + " | " + a.summary;
    recent_.erase(it);
    return m;
  }
  recent_[{a.key_id, *a.domain}] = a;
  if (recent_.size() > 100000) recent_.erase(recent_.begin());
  return a;
}

std::vector<Alert> AlertEngine::on_verdict(const VerdictEvent& v, const std::string& incident_id) {
  std::vector<Alert> out;
  for (const auto& r : cfg_.rules) {
    if (r.kind != AlertRule::Kind::rate) continue;
    bool match = any_or(r.classes, v.cls) && any_or(r.actions, v.action);
    if (match && (r.domain || !r.categories.empty())) {
      match = std::any_of(v.findings.begin(), v.findings.end(), [&](const VerdictEvent::Finding& f) {
        return (!r.domain || f.domain == *r.domain) && any_or(r.categories, f.category);
      });
    }
    const std::string key = r.per_key ? v.key_id : std::string();
    RateState& st = rate_[{r.name, key}];
    st.events.emplace_back(v.ts_ms, match);
    st.matched += match ? 1 : 0;
    while (!st.events.empty() && v.ts_ms - st.events.front().first > r.window_ms) {
      st.matched -= st.events.front().second ? 1 : 0;
      st.events.pop_front();
    }
    const int total = static_cast<int>(st.events.size());
    const bool by_count = r.count > 0 && st.matched >= r.count;
    const bool by_ratio = r.ratio > 0.0 && total >= r.min_events && static_cast<double>(st.matched) >= r.ratio * total;
    if (!match || !(by_count || by_ratio) || cooling(r, key, v.ts_ms)) continue;
    Alert a;
    a.rule = r.name;
    a.severity = r.severity;
    a.ts_ms = v.ts_ms;
    a.key_id = v.key_id;
    a.incident_id = incident_id;
    if (r.domain) a.domain = r.domain;
    else if (v.cls == VerdictClass::security) a.domain = Domain::security;
    else if (v.cls == VerdictClass::safety) a.domain = Domain::safety;
    a.summary = r.name + ": " + std::to_string(st.matched) + " of " + std::to_string(total) + " verdicts (" +
                pct(total ? static_cast<double>(st.matched) / total : 0.0) + ") " + (r.per_key ? "for key " + (v.key_id.empty() ? "(none)" : v.key_id) : "overall") +
                " in " + std::to_string(r.window_ms / 1000) + " s";
    if (auto f = finish(std::move(a))) out.push_back(std::move(*f));
  }
  if (rate_.size() > 100000) {  // bounded: forget idle windows first
    for (auto it = rate_.begin(); it != rate_.end();) it = it->second.events.empty() ? rate_.erase(it) : std::next(it);
    while (rate_.size() > 100000) rate_.erase(rate_.begin());
  }
  return out;
}

std::vector<Alert> AlertEngine::on_incident(const Incident& inc, bool created, bool escalated, std::int64_t now_ms) {
  std::vector<Alert> out;
  if (!created && !escalated) return out;
  for (const auto& r : cfg_.rules) {
    if (r.kind != AlertRule::Kind::incident) continue;
    if (!any_or(r.classes, inc.cls) || !any_or(r.kinds, inc.kind) || inc.severity < r.min_severity) continue;
    if (cooling(r, inc.id, now_ms)) continue;
    Alert a;
    a.rule = r.name;
    a.severity = std::max(r.severity, inc.cls == VerdictClass::hybrid ? Severity::critical : r.severity);
    a.ts_ms = now_ms;
    a.key_id = inc.key_id;
    a.incident_id = inc.id;
    if (inc.cls == VerdictClass::security) a.domain = Domain::security;
    else if (inc.cls == VerdictClass::safety) a.domain = Domain::safety;
    a.summary = std::string(created ? "incident " : "incident escalated ") + inc.id + " (" + std::string(to_string(inc.kind)) + "): " + inc.title();
    if (auto f = finish(std::move(a))) out.push_back(std::move(*f));
  }
  return out;
}

std::vector<Alert> AlertEngine::on_drift(const std::vector<DriftStat>& stats, std::int64_t now_ms) {
  std::vector<Alert> out;
  for (const auto& r : cfg_.rules) {
    if (r.kind != AlertRule::Kind::drift) continue;
    for (const auto& s : stats) {
      if (!s.drifted || !any_or(r.statistics, s.statistic)) continue;
      if (cooling(r, s.statistic, now_ms)) continue;
      Alert a;
      a.rule = r.name;
      a.severity = r.severity;
      a.ts_ms = now_ms;
      char psi[32];
      std::snprintf(psi, sizeof psi, "%.2f", s.psi);
      a.summary = "drift in " + s.statistic + ": " + s.detail + " (PSI " + psi + ")";
      // Drift is about the deployment, not a key: no cross-domain merge.
      if (auto f = finish(std::move(a))) out.push_back(std::move(*f));
    }
  }
  return out;
}

}  // namespace dg::monitor
