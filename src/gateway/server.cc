#include "gateway/server.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>
#include <random>
#include <thread>

#include "core/errors.h"
#include "core/verdict_json.h"
#include "detect/fasttext_model.h"
#include "gateway/openai.h"
#include "gateway/server_internal.h"

namespace dg::gateway {

namespace {

using net::use_awaitable;
constexpr auto kTuple = net::as_tuple(use_awaitable);

const std::vector<std::string> kRoutes = {"/v1/scan", "/v1/chat/completions", "/v1/completions", "/v1/models",
                                          "/v2/models/{name}/infer", "/v2/models/{name}", "/v2/health/ready",
                                          "/healthz", "/readyz", "/metrics", "/admin/killswitch", "/admin/safemode",
                                          "/admin/reload", "/api/info", "/api/overview", "/api/feed", "/api/events",
                                          "/api/incidents", "/api/incidents/{id}", "/api/alerts", "dashboard"};

const std::vector<std::string> kCodes = [] {
  std::vector<std::string> out{"ok"};
  for (std::string_view c :
       {errc::kInvalidJson, errc::kInvalidRequest, errc::kMissingApiKey, errc::kInvalidApiKey, errc::kInsufficientRole,
        errc::kBlockedByPolicy, errc::kNotFound, errc::kMethodNotAllowed, errc::kRequestTooLarge, errc::kRateLimited,
        errc::kTokenBudgetExceeded, errc::kTooManyConcurrentRequests, errc::kUpstreamError, errc::kNoUpstream,
        errc::kUpstreamUnavailable, errc::kKillSwitchEngaged, errc::kDraining, errc::kUpstreamTimeout,
        errc::kDetectorError, errc::kUpstreamStatus, errc::kClientClosed, errc::kAuditUnavailable,
        errc::kDashboardNotBuilt, errc::kMonitorDisabled, errc::kStoreIo})
    out.emplace_back(c);
  return out;
}();

std::string new_request_id() {
  unsigned char b[12];
  randombytes_buf(b, sizeof b);
  static const char* hex = "0123456789abcdef";
  std::string s = "req_";
  for (unsigned char c : b) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

// Maps a request target to its canonical route and the route's required role (nullopt: public).
struct RouteInfo {
  std::string route;
  bool known = false;
  std::optional<store::KeyRole> role;
  std::vector<http::verb> methods;
};

RouteInfo route_of(std::string_view target, bool metrics_public) {
  const auto q = target.find('?');
  const std::string_view path = target.substr(0, q);
  using store::KeyRole;
  auto r = [&](std::string route, std::optional<KeyRole> role, std::vector<http::verb> m) {
    return RouteInfo{std::move(route), true, role, std::move(m)};
  };
  if (path == "/healthz") return r("/healthz", std::nullopt, {http::verb::get});
  if (path == "/readyz") return r("/readyz", std::nullopt, {http::verb::get});
  if (path == "/metrics")
    return r("/metrics", metrics_public ? std::nullopt : std::optional(KeyRole::operator_), {http::verb::get});
  if (path == "/v1/scan") return r("/v1/scan", KeyRole::client, {http::verb::post});
  if (path == "/v1/chat/completions") return r("/v1/chat/completions", KeyRole::client, {http::verb::post});
  if (path == "/v1/completions") return r("/v1/completions", KeyRole::client, {http::verb::post});
  if (path == "/v1/models") return r("/v1/models", KeyRole::client, {http::verb::get});
  if (path == "/v2/health/ready") return r("/v2/health/ready", KeyRole::client, {http::verb::get});
  if (path == "/admin/killswitch") return r("/admin/killswitch", KeyRole::operator_, {http::verb::get, http::verb::post});
  if (path == "/admin/safemode") return r("/admin/safemode", KeyRole::operator_, {http::verb::get, http::verb::post});
  if (path == "/admin/reload") return r("/admin/reload", KeyRole::admin, {http::verb::post});
  if (path == "/" || path == "/index.html" || path.rfind("/assets/", 0) == 0)
    return r("dashboard", std::nullopt, {http::verb::get, http::verb::head});
  for (const char* api : {"/api/info", "/api/overview", "/api/feed", "/api/events", "/api/incidents", "/api/alerts"})
    if (path == api) return r(api, KeyRole::client, {http::verb::get});
  if (path.rfind("/api/incidents/", 0) == 0 && path.size() > std::string_view("/api/incidents/").size() &&
      path.find('/', std::string_view("/api/incidents/").size()) == std::string_view::npos)
    return r("/api/incidents/{id}", KeyRole::client, {http::verb::get, http::verb::post});  // POST: operator, checked by the handler
  if (path.rfind("/v2/models/", 0) == 0) {
    const std::string_view rest = path.substr(11);
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos && !rest.empty()) return r("/v2/models/{name}", KeyRole::client, {http::verb::get});
    if (slash != std::string_view::npos && slash > 0 && rest.substr(slash) == "/infer")
      return r("/v2/models/{name}/infer", KeyRole::client, {http::verb::post});
  }
  return RouteInfo{"other", false, std::nullopt, {}};
}


}  // namespace

std::uint64_t us_since(std::chrono::steady_clock::time_point t0) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count());
}

std::string error_body(std::string_view code, const std::string& message, const std::string& param, const Verdict* v,
                       const std::string& request_id) {
  ojson e = ojson::object();
  e["message"] = message;
  e["type"] = "dualguard_error";
  e["param"] = param.empty() ? ojson(nullptr) : ojson(param);
  e["code"] = code;
  ojson body = ojson::object();
  body["error"] = e;
  if (v) body["verdict"] = verdict_to_json(request_id, *v);
  return body.dump();
}

Metrics::Metrics(Registry& r)
    : requests(r.counter_family("dualguard_gateway_requests_total", "Requests answered, by route and error code (ok when none).",
                                {{"route", kRoutes}, {"code", kCodes}}, 400)),
      verdicts(r.counter_family("dualguard_gateway_verdicts_total", "Verdicts by stage (request, response), action and class.",
                                {{"stage", {"request", "response", "scan"}},
                                 {"action", {"allow", "redact", "review", "safe_mode", "block"}},
                                 {"class", {"clean", "safety", "security", "hybrid"}}},
                                200)),
      findings(r.counter_family("dualguard_gateway_findings_total", "Findings by domain and category.",
                                {{"domain", {"safety", "security"}}, {"category", {}}}, 128)),
      duration(r.histogram_family("dualguard_gateway_request_duration_seconds", "Time from request read to answer sent.",
                                  {{"route", kRoutes}},
                                  {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                   2.5, 5, 10, 30})),
      engine_duration(r.histogram("dualguard_gateway_engine_duration_seconds", "Engine time per scan (normalise, detectors, policy).",
                                  {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1})),
      upstream_duration(r.histogram("dualguard_gateway_upstream_duration_seconds", "Upstream time per request (to the last byte).",
                                    Registry::latency_buckets())),
      audit_commit_duration(r.histogram("dualguard_gateway_audit_commit_duration_seconds",
                                        "Audit append before the answer is sent (the write of the record to the audit journal).",
                                        {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1})),
      upstream_errors(r.counter_family("dualguard_gateway_upstream_errors_total", "Upstream failures by kind.",
                                       {{"kind", {"connect", "timeout", "reset", "protocol", "status_5xx", "breaker_open"}}})),
      limiter_rejections(r.counter_family("dualguard_gateway_limiter_rejections_total", "Requests refused by a per-key limit.",
                                          {{"code", {std::string(errc::kRequestTooLarge), std::string(errc::kRateLimited),
                                                     std::string(errc::kTokenBudgetExceeded),
                                                     std::string(errc::kTooManyConcurrentRequests)}}})),
      fail_open(r.counter("dualguard_gateway_fail_open_total", "Requests let through although a detector failed (fail-open route).")),
      audit_errors(r.counter("dualguard_gateway_audit_errors_total", "Audit records that could not be committed.")),
      in_flight(r.gauge("dualguard_gateway_in_flight_requests", "Requests being handled.")),
      kill_switch(r.gauge("dualguard_gateway_kill_switch_engaged", "1 when the kill switch is engaged for any route.")),
      safe_mode(r.gauge("dualguard_gateway_safe_mode", "1 when safe mode is on (review becomes block).")),
      breaker_state(r.gauge_family("dualguard_gateway_breaker_state", "Upstream circuit breaker: 0 closed, 1 open, 2 half-open.",
                                   {{"upstream", {}}}, 16)),
      policy_info(r.info("dualguard_policy_info", "The loaded policy and config (sha256 of their files).",
                         {"sha256", "config_sha256"})) {}

Server::Server(net::io_context& io_, std::shared_ptr<const Snapshot> s, std::unique_ptr<store::AuditLog> a,
               std::unique_ptr<store::KeyStore> k, std::unique_ptr<Limiter> l, std::unique_ptr<AbuseDetector> ab,
               std::unique_ptr<CircuitBreakerSet> b, std::string cp, std::vector<std::string> ov)
    : io(io_), snap(s), audit(std::move(a)), keys(std::move(k)), limiter(std::move(l)), abuse(std::move(ab)),
      breakers(std::move(b)), kill(std::make_shared<const KillState>()), config_path(std::move(cp)), overrides(std::move(ov)) {
  const auto& gw = s->gw;
  if (!gw.upstream.empty())
    pool = std::make_unique<UpstreamPool>(gw.upstream, gw.upstream_pool_size, std::chrono::milliseconds(gw.upstream_connect_timeout_ms),
                                          std::chrono::milliseconds(gw.upstream_timeout_ms), gw.upstream_retries);
  metrics.policy_info.set({s->policy_sha256, s->config_sha256});
  auto& limiter_keys = registry.gauge("dualguard_gateway_limiter_keys", "API keys with limiter state held.");
  auto& wal_resets = registry.counter_family(
      "dualguard_gateway_audit_wal_resets_total",
      "audit.db's WAL at its cap: started over in place (rewind), truncated (a reader defeated a rewind), attempts put off (deferred).",
      {{"kind", {"rewind", "truncate", "deferred"}}}, 3);
  auto& db_errors = registry.counter("dualguard_gateway_audit_db_commit_errors_total",
                                     "Failed commits of journaled audit records into audit.db (retried; the records stay in the journal).");
  auto& backlog = registry.gauge("dualguard_gateway_audit_backlog_records", "Audit records in the journal and not yet in audit.db.");
  registry.on_collect([this, &limiter_keys, &wal_resets, &db_errors, &backlog] {
    if (audit) {
      // Counters only count up: add what the log counted since the last scrape (scrapes may overlap).
      static std::mutex mu;
      std::lock_guard lk(mu);
      const auto w = audit->wal_stats();
      auto catch_up = [](Counter& c, std::uint64_t now) {
        if (now > c.value()) c.inc(now - c.value());
      };
      catch_up(wal_resets.with({"rewind"}), w.rewinds);
      catch_up(wal_resets.with({"truncate"}), w.truncations);
      catch_up(wal_resets.with({"deferred"}), w.deferred);
      catch_up(db_errors, w.commit_errors);
      backlog.set(static_cast<double>(w.backlog));
    }
    if (limiter) limiter_keys.set(static_cast<double>(limiter->stats().keys));
    if (!breakers) return;
    for (const auto& b : breakers->snapshot())
      metrics.breaker_state.with({b.name}).set(b.state == BreakerState::closed ? 0 : b.state == BreakerState::open ? 1 : 2);
  });
}

policy::Engine::ThreadState& Server::thread_state(const std::shared_ptr<const policy::Engine>& engine) {
  thread_local std::shared_ptr<const policy::Engine> owner;
  thread_local std::unique_ptr<policy::Engine::ThreadState> ts;
  if (owner != engine || !ts) {
    ts = engine->make_thread_state();
    owner = engine;
  }
  return *ts;
}

void Server::finalize(Verdict& v, const Ctx& ctx) const {
  if (!v.errors.empty() && ctx.snap->gw.fail_mode_for(ctx.route) == policy::FailMode::open) {
    // Fail-open route: decide on the findings alone; the errors stay in the verdict and the log.
    auto errors = std::move(v.errors);
    v.errors.clear();
    ctx.snap->engine->policy().decide(v);
    v.errors = std::move(errors);
    const_cast<Metrics&>(metrics).fail_open.inc();
    spdlog::warn("gateway: detector error on fail-open route {} ({}): request allowed by its findings", ctx.route, ctx.request_id);
  }
  if (safe_mode.load(std::memory_order_relaxed) && v.action == Action::review) {
    v.action = Action::block;
    v.reason = "safe mode: review becomes block; " + v.reason;
  }
}

void Server::add_findings(Verdict& v, std::vector<Finding> extra, const Ctx& ctx) const {
  if (extra.empty()) return;
  const auto& tax = ctx.snap->engine->taxonomy();
  for (auto& f : extra) {
    if (const CategoryInfo* c = tax.find(f.category)) {
      f.domain = c->domain;
      f.intent = c->intent;
      f.property = c->property;
    }
    v.findings.push_back(std::move(f));
  }
  ctx.snap->engine->policy().decide(v);
}

void Server::count_verdict(const Verdict& v, std::string_view stage) {
  metrics.verdicts.with({stage, to_string(v.action), to_string(v.cls)}).inc();
  for (const auto& f : v.findings) metrics.findings.with({to_string(f.domain), f.category}).inc();
  metrics.engine_duration.observe(static_cast<double>(v.latency_us) / 1e6);
}

void Server::record_verdict(Ctx& ctx, const Verdict& v, std::string_view prompt, std::string_view response) const {
  ctx.rec.action = std::string(to_string(v.action));
  ctx.rec.verdict_class = std::string(to_string(v.cls));
  ctx.rec.chain = v.chain;
  ojson fs = ojson::array();
  for (const auto& f : v.findings) {
    ojson j = finding_to_json(f);
    fs.push_back(std::move(j));
  }
  ctx.rec.findings_json = fs.dump();
  if (hub) {
    // What the monitors need (gateway/monitor_hub.h); the detail only for verdicts with findings.
    MonitorEvent m;
    m.v.action = v.action;
    m.v.cls = v.cls;
    m.chain = v.chain;
    m.explanation = v.reason;
    for (const auto& f : v.findings) {
      m.v.findings.push_back({f.category, f.domain, f.role, f.severity});
      m.max_score = std::max(m.max_score, f.score);
      if (f.role == Role::response && f.category == "refusal") m.refused = true;
      if (m.rule.empty() && f.action == v.action && !f.rule.empty()) m.rule = f.rule;
    }
    m.has_prompt = !prompt.empty();
    m.prompt_bytes = prompt.size();
    m.language = monitor::dominant_script(prompt.substr(0, std::min<std::size_t>(prompt.size(), 4096)));
    m.has_response = !response.empty();
    if (!v.findings.empty()) ctx.mon_detail = Ctx::MonitorDetail{v.findings, std::string(prompt), std::string(response)};
    else ctx.mon_detail.reset();
    ctx.mon = std::move(m);
  }
  // The request's verdict is recorded first and the exchange's replaces it: same prompt, hash once.
  if (!prompt.empty() && ctx.rec.prompt_sha256.empty()) ctx.rec.prompt_sha256 = store::sha256_hex(prompt);
  if (!response.empty()) ctx.rec.response_sha256 = store::sha256_hex(response);
  if (ctx.snap->gw.store_raw_text) {
    ctx.rec.prompt_text = std::string(prompt);
    ctx.rec.response_text = std::string(response);
  } else {
    // Redacted text: the spans of redactable findings (PII, secrets) are replaced by their labels, so
    // the log keeps the shape of the exchange and the evidence, not the sensitive bytes.
    auto cut = [&](std::string_view text, Role role) {
      std::vector<Cut> cuts;
      for (const auto& f : v.findings)
        if (f.role == role && f.context_index < 0 && f.redactable)
          for (const auto& s : f.spans) cuts.push_back({s.start, s.end, f.redact_label});
      return apply_cuts(text, std::move(cuts));
    };
    ctx.rec.prompt_text = cut(prompt, Role::prompt);
    ctx.rec.response_text = cut(response, Role::response);
  }
}

void Server::commit(Ctx& ctx, int status, std::string_view code) {
  ctx.rec.request_id = ctx.request_id;
  ctx.rec.route = ctx.route;
  ctx.rec.http_status = status;
  ctx.rec.error_code = std::string(code);
  if (ctx.key) ctx.rec.key_id = ctx.key->id;
  ctx.rec.latency_total_us = static_cast<std::int64_t>(us_since(ctx.t0));
  ctx.rec.latency_engine_us = static_cast<std::int64_t>(ctx.engine_us);
  ctx.rec.latency_upstream_us = static_cast<std::int64_t>(ctx.upstream_us);
  const auto t_commit = std::chrono::steady_clock::now();
  const store::Status st = audit->append(ctx.rec);  // one write(2) to the journal (store/audit_log.h)
  metrics.audit_commit_duration.observe(static_cast<double>(us_since(t_commit)) / 1e6);
  if (!st.ok()) {
    metrics.audit_errors.inc();
    spdlog::error("gateway: audit append failed for {}: {}", ctx.request_id, st.error().format());
  }
  metrics.requests.with({ctx.route, code.empty() ? std::string_view("ok") : code}).inc();
  metrics.duration.with({ctx.route}).observe(static_cast<double>(us_since(ctx.t0)) / 1e6);
  if (hub && ctx.mon && ctx.rec.event == "request") {
    MonitorEvent& m = *ctx.mon;
    m.v.request_id = ctx.request_id;
    m.v.ts_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    m.v.key_id = ctx.rec.key_id;
    m.v.session = ctx.session;
    m.route = ctx.route;
    m.http_status = status;
    m.latency_ms = static_cast<double>(ctx.rec.latency_total_us) / 1000.0;
    if (ctx.mon_detail) {
      const auto& d = *ctx.mon_detail;
      const bool redact = !ctx.snap->gw.store_raw_text;
      m.texts = ojson::object();
      m.texts["prompt"] = highlight_segments(d.prompt, d.findings, Role::prompt, redact);
      m.texts["response"] = highlight_segments(d.response, d.findings, Role::response, redact);
      m.findings = ojson::array();
      for (const auto& f : d.findings) {
        ojson j = finding_to_json(f);
        j["explanation"] = f.evidence;
        m.findings.push_back(std::move(j));
      }
      ctx.mon_detail.reset();
    }
    hub->submit(std::move(m));
    ctx.mon.reset();
  }
}

net::awaitable<void> Server::respond(beast::tcp_stream& stream, Ctx& ctx, int status, const std::string& body,
                                     std::string_view code, const Verdict* v, std::uint32_t retry_after) {
  if (!ctx.rec.event.empty() && ctx.rec.event != "none") commit(ctx, status, code);
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::server, "dualguard");
  res.set(http::field::content_type, "application/json");
  res.set("x-request-id", ctx.request_id);
  if (v) {
    res.set("x-dualguard-action", std::string(to_string(v->action)));
    res.set("x-dualguard-class", std::string(to_string(v->cls)));
  }
  if (retry_after) res.set(http::field::retry_after, std::to_string(retry_after));
  res.keep_alive(ctx.keep_alive && !draining.load());
  res.body() = body;
  res.prepare_payload();
  stream.expires_after(std::chrono::seconds(30));
  co_await http::async_write(stream, res, kTuple);
}

net::awaitable<void> Server::error(beast::tcp_stream& stream, Ctx& ctx, int status, std::string_view code,
                                   const std::string& message, const std::string& param, const Verdict* v,
                                   std::uint32_t retry_after) {
  co_await respond(stream, ctx, status, error_body(code, message, param, v, ctx.request_id), code, v, retry_after);
}

ojson Server::kill_state_json() const {
  const auto k = kill.load();
  ojson state = ojson::object();
  state["engaged"] = k->all || !k->routes.empty();
  state["all"] = k->all;
  state["routes"] = std::vector<std::string>(k->routes.begin(), k->routes.end());
  return state;
}

ojson Server::control_json() const {
  ojson j = ojson::object();
  j["killswitch"] = kill_state_json();
  j["safe_mode"] = safe_mode.load();
  return j;
}

bool Server::killed(const std::string& route) const {
  const auto k = kill.load();
  return k->all || k->routes.count(route) > 0;
}

LoadResult<std::shared_ptr<const Snapshot>> load_snapshot(const std::string& config_path, const std::vector<std::string>& overrides) {
  using R = LoadResult<std::shared_ptr<const Snapshot>>;
  const std::string path = config_path.empty() ? policy::find_default_config() : config_path;
  auto cfg = policy::load_config(path, overrides);
  if (!cfg.ok()) return R::failure(std::move(cfg.errors));
  auto gw = load_gateway_config(*cfg.value);
  if (!gw.ok()) return R::failure(std::move(gw.errors));
  auto snap = std::make_shared<Snapshot>();
  snap->gw = std::move(*gw.value);
  snap->policy_sha256 = detect::FastTextModel::file_sha256(cfg.value->policy_path);
  snap->config_sha256 = detect::FastTextModel::file_sha256(path);
  auto engine = policy::Engine::from_config(std::move(*cfg.value));
  if (!engine.ok()) return R::failure(std::move(engine.errors));
  snap->engine = std::move(*engine.value);
  // The model and profile files of the enabled detectors, for /api/info (paths as configured,
  // resolved like the engine resolves them: against the config file's folder).
  const auto& cfgv = snap->engine->config();
  if (const YAML::Node dets = cfgv.root["detectors"]; dets.IsMap()) {
    const std::filesystem::path base = std::filesystem::path(cfgv.path).parent_path();
    for (const auto& kv : dets) {
      const YAML::Node d = kv.second;
      if (!d.IsMap() || (d["enabled"].IsDefined() && d["enabled"].IsScalar() && d["enabled"].as<std::string>() == "false")) continue;
      for (const char* k : {"model", "profile"}) {
        if (!d[k].IsDefined() || !d[k].IsScalar() || d[k].as<std::string>().empty()) continue;
        const std::string file = (base / d[k].as<std::string>()).lexically_normal().string();
        snap->models.push_back({kv.first.as<std::string>(), file, detect::FastTextModel::file_sha256(file)});
      }
    }
  }
  return R::success(std::move(snap));
}

std::string Server::reload(std::string& message) {
  auto res = load_snapshot(config_path, overrides);
  if (!res.ok()) {
    message = "reload refused, the running config stays: ";
    for (const auto& e : res.errors) message += e.format() + "; ";
    spdlog::error("gateway: {}", message);
    return res.errors.empty() ? std::string(errc::kConfigInvalidValue) : res.errors.front().code;
  }
  const auto old = snap.load();
  auto next = *res.value;
  if (next->gw.upstream.to_string() != old->gw.upstream.to_string() || next->gw.listen_port != old->gw.listen_port ||
      next->gw.data_dir != old->gw.data_dir)
    spdlog::warn("gateway: listen, upstream and data_dir changes take effect on restart only");
  limiter->set_defaults(Limits{next->gw.requests_per_minute, next->gw.tokens_per_day, next->gw.concurrent, next->gw.max_body_bytes});
  snap.store(next);
  metrics.policy_info.set({next->policy_sha256, next->config_sha256});
  message = "reloaded: policy sha256 " + next->policy_sha256;
  spdlog::info("gateway: {}", message);
  return {};
}

namespace {

net::awaitable<void> handle_admin(Server& s, beast::tcp_stream& stream, Request& req, Ctx& ctx) {
  ctx.rec.event = "admin";
  json detail = json::object();
  detail["method"] = std::string(req.method_string());
  if (ctx.route == "/admin/reload") {
    std::string msg;
    const std::string code = s.reload(msg);
    detail["ok"] = code.empty();
    detail["message"] = msg;
    ctx.rec.detail_json = detail.dump();
    if (!code.empty()) {
      co_await s.error(stream, ctx, 400, code, msg);
      co_return;
    }
    // (built outside the co_await: GCC 12 miscompiles braced string-literal initialisers in coroutines)
    json out = json::object();
    out["reloaded"] = true;
    out["message"] = msg;
    {
      co_await s.respond(stream, ctx, 200, out.dump());
      co_return;
    }
  }
  if (req.method() == http::verb::post) {
    const json body = json::parse(req.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      ctx.rec.detail_json = detail.dump();
      {
      co_await s.error(stream, ctx, 400, errc::kInvalidJson, "the body must be a JSON object");
      co_return;
    }
    }
    if (ctx.route == "/admin/killswitch") {
      const auto e = body.find("engaged");
      if (e == body.end() || !e->is_boolean())
        {
      co_await s.error(stream, ctx, 400, errc::kInvalidRequest, "'engaged' (boolean) is required", "engaged");
      co_return;
    }
      auto next = std::make_shared<KillState>(*s.kill.load());
      std::vector<std::string> routes;
      if (const auto r = body.find("routes"); r != body.end()) {
        if (!r->is_array()) {
      co_await s.error(stream, ctx, 400, errc::kInvalidRequest, "'routes' must be an array of route paths", "routes");
      co_return;
    }
        for (const auto& x : *r) {
          if (!x.is_string() || std::find(kRoutes.begin(), kRoutes.end(), x.get<std::string>()) == kRoutes.end() ||
              x.get<std::string>().rfind("/admin", 0) == 0 || x.get<std::string>() == "/healthz" ||
              x.get<std::string>() == "/readyz" || x.get<std::string>() == "/metrics")
            {
      co_await s.error(stream, ctx, 400, errc::kInvalidRequest,
                                       "'routes' entries must be proxied or scan routes, e.g. /v1/chat/completions", "routes");
      co_return;
    }
          routes.push_back(x.get<std::string>());
        }
      }
      if (routes.empty()) {
        next->all = e->get<bool>();
        if (!next->all) next->routes.clear();
      } else {
        for (const auto& r : routes) {
          if (e->get<bool>()) next->routes.insert(r);
          else next->routes.erase(r);
        }
      }
      s.kill.store(next);
      s.metrics.kill_switch.set(next->all || !next->routes.empty() ? 1 : 0);
      detail["engaged"] = e->get<bool>();
      detail["routes"] = routes;
      spdlog::warn("gateway: kill switch {} by key {} for {}", e->get<bool>() ? "engaged" : "released", ctx.key->id,
                   routes.empty() ? std::string("every route") : json(routes).dump());
    } else {
      const auto e = body.find("enabled");
      if (e == body.end() || !e->is_boolean())
        {
      co_await s.error(stream, ctx, 400, errc::kInvalidRequest, "'enabled' (boolean) is required", "enabled");
      co_return;
    }
      s.safe_mode.store(e->get<bool>());
      s.metrics.safe_mode.set(e->get<bool>() ? 1 : 0);
      detail["enabled"] = e->get<bool>();
      spdlog::warn("gateway: safe mode {} by key {}", e->get<bool>() ? "on" : "off", ctx.key->id);
    }
    ctx.rec.detail_json = detail.dump();
    if (s.hub) s.hub->publish("control", s.control_json());
  } else {
    ctx.rec.event = "none";  // reads are not audited
  }
  if (ctx.route == "/admin/killswitch") {
    co_await s.respond(stream, ctx, 200, s.kill_state_json().dump());
  } else {
    json state = json::object();
    state["enabled"] = s.safe_mode.load();
    co_await s.respond(stream, ctx, 200, state.dump());
  }
}

net::awaitable<void> handle_request(Server& s, beast::tcp_stream& stream, Request& req, bool keep_alive) {
  Ctx ctx;
  ctx.t0 = std::chrono::steady_clock::now();
  ctx.request_id = new_request_id();
  ctx.snap = s.snap.load();
  ctx.keep_alive = keep_alive;
  const RouteInfo ri = route_of(req.target(), ctx.snap->gw.metrics_public);
  ctx.route = ri.route;
  ctx.rec.event = "request";
  if (!ri.known) {
      co_await s.error(stream, ctx, 404, errc::kNotFound, "no route " + std::string(req.target()));
      co_return;
    }
  if (std::find(ri.methods.begin(), ri.methods.end(), req.method()) == ri.methods.end())
    {
      co_await s.error(stream, ctx, 405, errc::kMethodNotAllowed,
                               std::string(req.method_string()) + " is not allowed on " + ri.route);
      co_return;
    }
  if (ri.route == "dashboard") {
    co_await handle_static(s, stream, req, ctx);
    co_return;
  }
  if (ri.route == "/healthz" || ri.route == "/readyz" || (ri.route == "/metrics" && !ri.role)) {
    ctx.rec.event = "none";  // probes and scrapes are not audited
    if (ri.route == "/healthz") {
      co_await s.respond(stream, ctx, 200, R"({"status":"ok"})");
      co_return;
    }
    if (ri.route == "/readyz") {
      if (s.draining.load()) {
      co_await s.error(stream, ctx, 503, errc::kDraining, "the gateway is shutting down");
      co_return;
    }
      json out = json::object();
      out["status"] = "ready";
      out["policy_sha256"] = ctx.snap->policy_sha256;
      {
      co_await s.respond(stream, ctx, 200, out.dump());
      co_return;
    }
    }
  }
  if (ri.route != "/metrics" || ri.role) {
    const auto auth = req[http::field::authorization];
    if (auth.empty()) {
      co_await s.error(stream, ctx, 401, errc::kMissingApiKey, "send the API key as 'Authorization: Bearer KEY'");
      co_return;
    }
    constexpr std::string_view kBearer = "Bearer ";
    if (auth.size() <= kBearer.size() || !beast::iequals(auth.substr(0, kBearer.size()), kBearer))
      {
      co_await s.error(stream, ctx, 401, errc::kInvalidApiKey, "the Authorization header must be 'Bearer KEY'");
      co_return;
    }
    std::string_view key = auth.substr(kBearer.size());
    while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
    ctx.key = s.keys->authenticate(key);
    if (!ctx.key) {
      co_await s.error(stream, ctx, 401, errc::kInvalidApiKey, "the API key is not valid");
      co_return;
    }
    if (!store::role_allows(ctx.key->role, *ri.role))
      {
      co_await s.error(stream, ctx, 403, errc::kInsufficientRole,
                                 "route " + ri.route + " needs the " + std::string(store::to_string(*ri.role)) + " role");
      co_return;
    }
  }
  if (ri.route == "/metrics") {
    ctx.rec.event = "none";
    http::response<http::string_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.keep_alive(keep_alive);
    res.body() = s.registry.render();
    res.prepare_payload();
    co_await http::async_write(stream, res, kTuple);
    co_return;
  }
  if (ri.route.rfind("/admin/", 0) == 0) {
      co_await handle_admin(s, stream, req, ctx);
      co_return;
    }
  if (ri.route.rfind("/api/", 0) == 0) {
    co_await handle_api(s, stream, req, ctx);
    co_return;
  }
  if (const auto sid = req["x-session-id"]; !sid.empty()) ctx.session = std::string(sid.substr(0, 128));
  if (s.killed(ri.route))
    {
      co_await s.error(stream, ctx, 503, errc::kKillSwitchEngaged, "the operator engaged the kill switch for " + ri.route);
      co_return;
    }

  KeyLimits kl;
  const auto& l = ctx.key->limits;
  if (l.requests_per_minute) kl.requests_per_minute = static_cast<std::uint64_t>(*l.requests_per_minute);
  if (l.tokens_per_day) kl.tokens_per_day = static_cast<std::uint64_t>(*l.tokens_per_day);
  if (l.concurrent) kl.concurrent = static_cast<std::uint64_t>(*l.concurrent);
  if (l.max_body_bytes) kl.max_body_bytes = static_cast<std::uint64_t>(*l.max_body_bytes);
  RequestCost cost{req.body().size(), req.body().size() / 4 + 256};
  Admission adm = s.limiter->admit(ctx.key->id, kl, cost);
  if (!adm) {
    const Rejection& r = *adm.rejection;
    s.metrics.limiter_rejections.with({r.code}).inc();
    {
      co_await s.error(stream, ctx, r.http_status, r.code, r.message, "", nullptr,
                               r.http_status == 429 ? r.retry_after_s : 0);
      co_return;
    }
  }
  if (ri.route == "/v1/scan") {
      co_await handle_scan(s, stream, req, ctx, adm.permit);
      co_return;
    }
  if (ri.route == "/v1/chat/completions") {
      co_await handle_openai(s, stream, req, ctx, adm.permit, true);
      co_return;
    }
  if (ri.route == "/v1/completions") {
      co_await handle_openai(s, stream, req, ctx, adm.permit, false);
      co_return;
    }
  if (ri.route == "/v2/models/{name}/infer") {
      co_await handle_oip_infer(s, stream, req, ctx, adm.permit);
      co_return;
    }
  co_await handle_passthrough(s, stream, req, ctx, adm.permit);
}

struct InFlight {
  Server& s;
  explicit InFlight(Server& srv) : s(srv) {
    s.in_flight.fetch_add(1);
    s.metrics.in_flight.add(1);
  }
  ~InFlight() {
    s.in_flight.fetch_sub(1);
    s.metrics.in_flight.sub(1);
  }
};

net::awaitable<void> session(Server& s, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    const auto snap = s.snap.load();
    http::request_parser<http::string_body> parser;
    parser.body_limit(snap->gw.max_body_bytes);
    parser.header_limit(64 * 1024);
    stream.expires_after(std::chrono::seconds(75));  // keep-alive idle timeout
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::connection_reset ||
        ec == net::error::eof || ec == net::error::operation_aborted)
      break;
    InFlight guard(s);
    if (ec) {
      Ctx ctx;
      ctx.t0 = std::chrono::steady_clock::now();
      ctx.request_id = new_request_id();
      ctx.snap = snap;
      ctx.route = "other";
      ctx.keep_alive = false;
      ctx.rec.event = "none";
      if (ec == http::error::body_limit)
        co_await s.error(stream, ctx, 413, errc::kRequestTooLarge,
                         "the body exceeds gateway.max_body_bytes (" + std::to_string(snap->gw.max_body_bytes) + ")");
      else
        co_await s.error(stream, ctx, 400, errc::kInvalidRequest, "malformed HTTP request: " + ec.message());
      break;
    }
    auto req = parser.release();
    spdlog::debug("gateway: {} {} ({} body bytes)", std::string(req.method_string()), std::string(req.target()), req.body().size());
    const bool keep = req.keep_alive() && !s.draining.load();
    if (s.draining.load()) {
      Ctx ctx;
      ctx.t0 = std::chrono::steady_clock::now();
      ctx.request_id = new_request_id();
      ctx.snap = snap;
      ctx.route = route_of(req.target(), true).route;
      ctx.keep_alive = false;
      ctx.rec.event = "none";
      co_await s.error(stream, ctx, 503, errc::kDraining, "the gateway is shutting down");
      break;
    }
    try {
      co_await handle_request(s, stream, req, keep);
    } catch (const std::exception& e) {
      spdlog::error("gateway: request failed: {}", e.what());
      break;
    }
    if (!keep || !stream.socket().is_open()) break;
  }
  beast::error_code ignore;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignore);
}

net::awaitable<void> listen(Server& s, tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kTuple);
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
      continue;
    }
    socket.set_option(tcp::no_delay(true));
    net::co_spawn(acceptor.get_executor(), session(s, std::move(socket)), net::detached);
  }
}

}  // namespace

int serve(const ServeOptions& opt, LoadErrors& errors) {
  if (sodium_init() < 0) {
    errors.push_back({"", 0, 0, "internal", "libsodium failed to initialise"});
    return 3;
  }
  auto snap = load_snapshot(opt.config_path, opt.overrides);
  if (!snap.ok()) {
    errors = std::move(snap.errors);
    return 2;
  }
  const auto& gw = (*snap.value)->gw;
  store::AuditLog::Options audit_options;
  audit_options.journal = true;  // the I/O threads never wait for SQLite: a write(2) to the journal
  audit_options.wal_cap_frames = gw.audit_wal_cap_frames;
  audit_options.max_backlog = gw.audit_max_backlog;
  auto audit = store::AuditLog::open(gw.data_dir, audit_options);
  if (!audit.ok()) {
    errors.push_back({gw.data_dir, 0, 0, audit.error().code, audit.error().message});
    return 3;
  }
  auto keys = store::KeyStore::open(gw.data_dir);
  if (!keys.ok()) {
    errors.push_back({gw.data_dir, 0, 0, keys.error().code, keys.error().message});
    return 3;
  }
  Limiter::Config lc;
  lc.defaults = Limits{gw.requests_per_minute, gw.tokens_per_day, gw.concurrent, gw.max_body_bytes};
  auto limiter = Limiter::create(lc, Clock::real());
  AbuseDetector::Config ac;
  auto abuse = AbuseDetector::create(ac);
  BreakerConfig bc;
  bc.failure_threshold = gw.breaker_failures;
  bc.cooldown = std::chrono::milliseconds(gw.breaker_open_ms);
  bc.max_cooldown = std::max(bc.cooldown, std::chrono::milliseconds(120000));
  auto breakers = CircuitBreakerSet::create(bc, Clock::real());
  for (auto* e : {&limiter.errors, &abuse.errors, &breakers.errors}) errors.insert(errors.end(), e->begin(), e->end());
  if (!errors.empty()) return 2;

  // Monitors: the incident store and the alert rules load before anything listens.
  std::unique_ptr<store::IncidentStore> incidents;
  monitor::AlertsConfig alerts_cfg;
  if (gw.monitor_enabled) {
    auto is = store::IncidentStore::open(gw.data_dir);
    if (!is.ok()) {
      errors.push_back({gw.data_dir, 0, 0, is.error().code, is.error().message});
      return 3;
    }
    incidents = std::move(is.value());
    if (!gw.alerts_file.empty()) {
      // The alert rules are an artifact like the policy: verified against the trusted keys first.
      (*snap.value)->engine->config().integrity.check(gw.alerts_file, errors);
      if (!errors.empty()) return 2;
      auto a = monitor::load_alerts(gw.alerts_file);
      if (!a.ok()) {
        errors = std::move(a.errors);
        return 2;
      }
      alerts_cfg = std::move(*a.value);
    }
  }

  const unsigned threads = gw.threads ? gw.threads : std::max(1u, std::thread::hardware_concurrency());
  // The Server outlives the io_context: after a drain that timed out, ~io_context destroys the
  // request coroutines still suspended in it, and they touch the Server (in-flight count, metrics).
  // Its own I/O objects (the upstream pool's sockets) are released explicitly before ~io_context.
  std::unique_ptr<Server> server;
  net::io_context io(static_cast<int>(threads));
  server = std::make_unique<Server>(io, *snap.value, std::move(audit.value()), std::move(keys.value()),
                                    std::move(*limiter.value), gw.abuse_enabled ? std::move(*abuse.value) : nullptr,
                                    std::move(*breakers.value), opt.config_path, opt.overrides);
  Server& s = *server;
  if (incidents) {
    MonitorOptions mo;
    mo.correlator.window_ms = gw.incident_window_ms;
    mo.correlator.probe_repeats = gw.probe_repeats;
    mo.correlator.min_severity = parse_severity(gw.incident_min_severity).value_or(Severity::medium);
    mo.drift.baseline_ms = gw.drift_baseline_ms;
    mo.drift.window_ms = gw.drift_window_ms;
    mo.drift.min_samples = static_cast<std::size_t>(gw.drift_min_samples);
    mo.drift.psi_threshold = gw.drift_psi_threshold;
    mo.drift.ks_alpha = gw.drift_ks_alpha;
    mo.drift_every_ms = gw.drift_every_ms;
    s.hub = std::make_unique<MonitorHub>(mo, alerts_cfg, std::move(incidents));
    if (alerts_cfg.log)
      s.hub->add_sink([](const monitor::Alert& a, const ojson&) {
        spdlog::warn("alert {} {} [{}] {}", a.id, a.rule, to_string(a.severity), a.summary);
      });
    if (!alerts_cfg.webhook_url.empty()) {
      s.webhook = std::make_unique<WebhookSink>(alerts_cfg);
      WebhookSink* w = s.webhook.get();
      s.hub->add_sink([w](const monitor::Alert&, const ojson& j) { w->enqueue(j.dump(-1, ' ', false, ojson::error_handler_t::replace)); });
    }
    auto& fam = s.registry.counter_family("dualguard_monitor_events_total",
                                          "Monitor events by kind: verdicts seen, dropped (queue full), incidents opened, alerts, "
                                          "store errors, webhook deliveries / failures / drops / retries.",
                                          {{"kind", {"verdicts", "dropped", "incidents_opened", "alerts", "store_errors", "webhook_delivered",
                                                     "webhook_failed", "webhook_dropped", "webhook_retries"}}},
                                          16);
    struct Last {
      std::mutex mu;  // scrapes may run concurrently
      std::array<std::uint64_t, 9> v{};
    };
    auto last_state = std::make_shared<Last>();
    s.registry.on_collect([&s, &fam, last_state] {
      std::lock_guard lock(last_state->mu);
      auto* last = &last_state->v;
      const auto& c = s.hub->counters();
      std::array<std::uint64_t, 9> now{c.events.load(), c.dropped.load(), c.incidents_opened.load(), c.alerts.load(), c.store_errors.load(), 0, 0, 0, 0};
      if (s.webhook) {
        const auto& w = s.webhook->counters();
        now[5] = w.delivered.load();
        now[6] = w.failed.load();
        now[7] = w.dropped.load();
        now[8] = w.retries.load();
      }
      static constexpr const char* kKinds[9] = {"verdicts", "dropped", "incidents_opened", "alerts", "store_errors",
                                                "webhook_delivered", "webhook_failed", "webhook_dropped", "webhook_retries"};
      for (std::size_t i = 0; i < now.size(); ++i) {
        if (now[i] > (*last)[i]) fam.with({kKinds[i]}).inc(now[i] - (*last)[i]);
        (*last)[i] = now[i];
      }
    });
    s.hub->start();
  }

  tcp::acceptor acceptor(io);
  try {
    const auto addr = net::ip::make_address(gw.listen_host);
    tcp::endpoint ep(addr, static_cast<unsigned short>(std::stoul(gw.listen_port)));
    acceptor.open(ep.protocol());
    acceptor.set_option(net::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(net::socket_base::max_listen_connections);
  } catch (const std::exception& e) {
    errors.push_back({"", 0, 0, "listen_failed", "cannot listen on " + gw.listen_host + ":" + gw.listen_port + ": " + e.what()});
    return 3;
  }
  const auto bound = acceptor.local_endpoint();
  const std::string host = bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string();
  const std::string url = "http://" + host + ":" + std::to_string(bound.port());

  net::signal_set signals(io, SIGINT, SIGTERM);
  net::signal_set hup(io, SIGHUP);
  net::steady_timer drain_timer(io);
  std::function<void()> wait_hup = [&] {
    hup.async_wait([&](const beast::error_code& ec, int) {
      if (ec) return;
      std::string msg;
      (void)s.reload(msg);  // logged either way
      wait_hup();
    });
  };
  wait_hup();
  const auto drain_deadline = std::chrono::milliseconds(gw.drain_timeout_ms);
  std::function<void(std::chrono::steady_clock::time_point)> poll_drain = [&](std::chrono::steady_clock::time_point until) {
    if (s.in_flight.load() == 0 || std::chrono::steady_clock::now() >= until) {
      if (s.in_flight.load() != 0) spdlog::warn("gateway: drain timed out with {} requests in flight", s.in_flight.load());
      io.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(20));
    drain_timer.async_wait([&, until](const beast::error_code&) { poll_drain(until); });
  };
  signals.async_wait([&](const beast::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("gateway: signal {}, draining ({} in flight)", sig, s.in_flight.load());
    s.draining.store(true);
    beast::error_code ignore;
    acceptor.close(ignore);
    hup.cancel(ignore);
    poll_drain(std::chrono::steady_clock::now() + drain_deadline);
  });

  net::co_spawn(io, listen(s, acceptor), net::detached);
  if (opt.on_ready) opt.on_ready(url);
  spdlog::info("gateway: listening on {}, upstream {}, data {}, {} threads", url,
               gw.upstream.empty() ? std::string("none (scan only)") : gw.upstream.to_string(), gw.data_dir, threads);
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  // The audit writer commits what is still queued; the completions it posts to the stopped io_context
  // never run and are destroyed with it. Then the upstream sockets close while io is alive.
  s.audit.reset();
  s.hub.reset();  // processes what is queued; its sinks run on its thread, so the webhook goes after it
  s.webhook.reset();
  s.pool.reset();
  spdlog::info("gateway: stopped");
  return 0;
}

}  // namespace dg::gateway
