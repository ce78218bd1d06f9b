// The dashboard's side of the gateway: its built assets at / and /assets/*, and the JSON / SSE API
// under /api (docs/dashboard-api.md). Reads need any role; changing an incident's status needs the
// operator role and is audited like the other admin actions.
#include <spdlog/spdlog.h>

#include <cctype>
#include <charconv>
#include <chrono>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "gateway/monitor_hub.h"
#include "gateway/server_internal.h"

namespace dg::gateway {

namespace {

using net::use_awaitable;
constexpr auto kTuple = net::as_tuple(use_awaitable);

std::string query_param(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return "";
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view kv = rest.substr(0, amp);
    const auto eq = kv.find('=');
    if (kv.substr(0, eq) == name) return eq == std::string_view::npos ? "" : std::string(kv.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return "";
}

// A bounded integer query parameter: fallback when absent, nullopt when malformed or out of range.
std::optional<std::int64_t> int_param(std::string_view target, std::string_view name, std::int64_t fallback, std::int64_t lo,
                                      std::int64_t hi) {
  const std::string v = query_param(target, name);
  if (v.empty()) return fallback;
  std::int64_t n = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{} || p != v.data() + v.size() || n < lo || n > hi) return std::nullopt;
  return n;
}

std::string_view content_type(std::string_view path) {
  auto ends = [&](std::string_view s) { return path.size() >= s.size() && path.substr(path.size() - s.size()) == s; };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".json") || ends(".map")) return "application/json";
  if (ends(".woff2")) return "font/woff2";
  return "application/octet-stream";
}

// Only plain file names under assets/: no separators, no dot files, so nothing outside the folder.
bool safe_asset_name(std::string_view name) {
  if (name.empty() || name.size() > 200 || name.front() == '.') return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) return false;
  return true;
}

json info_json(const Server& s, const Ctx& ctx) {
  json out = json::object();
  out["version"] = DG_VERSION;
  out["key"] = {{"id", ctx.key->id}, {"name", ctx.key->name}, {"role", store::to_string(ctx.key->role)}};
  out["policy_sha256"] = ctx.snap->policy_sha256;
  out["config_sha256"] = ctx.snap->config_sha256;
  json models = json::array();
  for (const auto& m : ctx.snap->models) models.push_back({{"name", m.name}, {"path", m.path}, {"sha256", m.sha256}});
  out["models"] = std::move(models);
  json dets = json::array();
  for (const auto& d : ctx.snap->engine->detectors()) dets.push_back(std::string(d->name()));
  out["detectors"] = std::move(dets);
  out["killswitch"] = s.kill_state_json();
  out["safe_mode"] = s.safe_mode.load();
  out["monitor"] = s.hub != nullptr;
  return out;
}

json incident_detail(MonitorHub& hub, const store::IncidentRow& row, std::string& error) {
  json inc = json::parse(row.json, nullptr, false);
  if (!inc.is_object()) inc = json::object();
  inc["status"] = row.status;
  json out = json::object();
  out["incident"] = std::move(inc);
  json vs = json::array();
  if (auto v = hub.store().verdicts(row.id, 200); v.ok()) {
    for (const auto& d : *v) {
      json j = json::parse(d, nullptr, false);
      if (j.is_object()) vs.push_back(std::move(j));
    }
  } else {
    error = v.error().message;
  }
  out["verdicts"] = std::move(vs);
  json hist = json::array();
  if (auto h = hub.store().history(row.id); h.ok()) {
    for (const auto& e : *h)
      hist.push_back({{"ts_ms", e.ts_ms}, {"key_id", e.key_id}, {"action", e.action}, {"status", e.status}, {"note", e.note}});
  } else {
    error = h.error().message;
  }
  out["history"] = std::move(hist);
  return out;
}

json incidents_json(const std::vector<store::IncidentRow>& rows) {
  json a = json::array();
  for (const auto& r : rows) {
    json j = json::parse(r.json, nullptr, false);
    if (!j.is_object()) continue;
    j["status"] = r.status;
    a.push_back(std::move(j));
  }
  json out = json::object();
  out["incidents"] = std::move(a);
  return out;
}

// The whole file, or nullopt when it cannot be read. Outside the coroutines on purpose: GCC 12 under
// ASan reports a false -Wmismatched-new-delete for stream objects kept in a coroutine frame.
std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream body;
  body << in.rdbuf();
  return body.str();
}

json tick_json(std::int64_t now_ms) {
  json j = json::object();
  j["now_ms"] = now_ms;
  return j;
}

}  // namespace

net::awaitable<void> handle_static(Server& s, beast::tcp_stream& stream, Request& req, Ctx& ctx) {
  ctx.rec.event = "none";  // asset fetches are not audited
  const auto& gw = ctx.snap->gw;
  std::string_view path = req.target();
  path = path.substr(0, path.find('?'));
  std::string file;
  bool immutable = false;
  if (path == "/" || path == "/index.html") {
    file = gw.dashboard_dir + "/index.html";
  } else {
    const std::string_view name = path.substr(std::string_view("/assets/").size());
    if (!safe_asset_name(name)) {
      co_await s.error(stream, ctx, 404, errc::kNotFound, "no asset " + std::string(path));
      co_return;
    }
    file = gw.dashboard_dir + "/assets/" + std::string(name);
    immutable = true;  // Vite names assets by content hash
  }
  const std::optional<std::string> content = gw.dashboard_enabled ? read_file(file) : std::nullopt;
  if (!content) {
    // Code and message as locals: GCC 12 mishandles conditional temporaries inside co_await arguments.
    std::string_view code = errc::kNotFound;
    std::string msg = "no asset " + std::string(path);
    if (!immutable) {
      code = errc::kDashboardNotBuilt;
      msg = "the dashboard is not built: run `npm ci && npm run build` in web/ (run.sh does), or set gateway.dashboard.dir";
    }
    co_await s.error(stream, ctx, 404, code, msg);
    co_return;
  }
  http::response<http::string_body> res{http::status::ok, 11};
  res.set(http::field::server, "dualguard");
  res.set(http::field::content_type, std::string(content_type(file)));
  const std::string cache = immutable ? "public, max-age=31536000, immutable" : "no-cache";
  res.set(http::field::cache_control, cache);
  res.set("x-content-type-options", "nosniff");
  res.set("x-frame-options", "DENY");
  res.set("referrer-policy", "no-referrer");
  res.set("content-security-policy",
          "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
          "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
  res.keep_alive(ctx.keep_alive && !s.draining.load());
  if (req.method() != http::verb::head) res.body() = *content;
  res.prepare_payload();
  if (req.method() == http::verb::head) res.content_length(content->size());
  stream.expires_after(std::chrono::seconds(30));
  co_await http::async_write(stream, res, kTuple);
}

// GET /api/events: server-sent events until the client leaves or the gateway drains. The loop wakes
// every 250 ms to forward what the hub queued for this subscriber and sends a tick every 2 s.
net::awaitable<void> handle_events(Server& s, beast::tcp_stream& stream, Ctx& ctx) {
  ctx.rec.event = "none";
  auto sub = s.hub->subscribe();
  if (!sub) {
    co_await s.error(stream, ctx, 429, errc::kTooManyConcurrentRequests, "too many open event streams; close one and retry", "",
                     nullptr, 5);
    co_return;
  }
  http::response<http::empty_body> head{http::status::ok, 11};
  head.set(http::field::server, "dualguard");
  head.set(http::field::content_type, "text/event-stream");
  head.set(http::field::cache_control, "no-cache");
  head.set("x-accel-buffering", "no");
  head.keep_alive(false);
  head.chunked(true);
  http::response_serializer<http::empty_body> sr{head};
  stream.expires_never();
  if (auto [ec, n] = co_await http::async_write_header(stream, sr, kTuple); ec) co_return;
  net::steady_timer timer(co_await net::this_coro::executor);
  auto last_tick = std::chrono::steady_clock::now() - std::chrono::seconds(10);
  std::string out = ": connected\n\n";
  for (;;) {
    if (std::chrono::steady_clock::now() - last_tick >= std::chrono::seconds(2)) {
      last_tick = std::chrono::steady_clock::now();
      out += "event: tick\ndata: " + tick_json(s.hub->now_ms()).dump() + "\n\n";
    }
    for (auto& e : sub->take()) out += e;
    if (!out.empty()) {
      stream.expires_after(std::chrono::seconds(10));  // a client that stops reading is dropped
      auto [ec, n] = co_await net::async_write(stream, http::make_chunk(net::buffer(out)), kTuple);
      if (ec) co_return;
      out.clear();
    }
    if (s.draining.load()) break;
    timer.expires_after(std::chrono::milliseconds(250));
    if (auto [ec] = co_await timer.async_wait(kTuple); ec) co_return;
  }
  stream.expires_after(std::chrono::seconds(5));
  co_await net::async_write(stream, http::make_chunk_last(), kTuple);
}

net::awaitable<void> handle_api(Server& s, beast::tcp_stream& stream, Request& req, Ctx& ctx) {
  ctx.rec.event = "none";  // reads are not audited
  if (!s.hub) {
    co_await s.error(stream, ctx, 503, errc::kMonitorDisabled, "the monitors are off (gateway.monitor.enabled: false)");
    co_return;
  }
  MonitorHub& hub = *s.hub;
  const std::string_view target = req.target();
  if (ctx.route == "/api/info") {
    co_await s.respond(stream, ctx, 200, info_json(s, ctx).dump());
    co_return;
  }
  if (ctx.route == "/api/events") {
    co_await handle_events(s, stream, ctx);
    co_return;
  }
  if (ctx.route == "/api/overview") {
    const auto range = int_param(target, "range", 3600, 300, 86400);
    if (!range) {
      co_await s.error(stream, ctx, 400, errc::kInvalidRequest, "range must be a number of seconds from 300 to 86400", "range");
      co_return;
    }
    co_await s.respond(stream, ctx, 200, hub.overview(*range).dump(-1, ' ', false, json::error_handler_t::replace));
    co_return;
  }
  if (ctx.route == "/api/feed" || ctx.route == "/api/alerts" || ctx.route == "/api/incidents") {
    const auto limit = int_param(target, "limit", 100, 1, 500);
    if (!limit) {
      co_await s.error(stream, ctx, 400, errc::kInvalidRequest, "limit must be a number from 1 to 500", "limit");
      co_return;
    }
    if (ctx.route == "/api/feed") {
      co_await s.respond(stream, ctx, 200, hub.feed(static_cast<std::size_t>(*limit)).dump(-1, ' ', false, json::error_handler_t::replace));
      co_return;
    }
    if (ctx.route == "/api/alerts") {
      co_await s.respond(stream, ctx, 200, hub.alerts(static_cast<std::size_t>(*limit)).dump(-1, ' ', false, json::error_handler_t::replace));
      co_return;
    }
    std::string status = query_param(target, "status");
    if (status == "all") status.clear();
    if (!status.empty() && !monitor::parse_incident_status(status)) {
      co_await s.error(stream, ctx, 400, errc::kInvalidRequest, "status must be open, acknowledged, resolved or all", "status");
      co_return;
    }
    auto rows = hub.store().list(status, static_cast<int>(*limit));
    if (!rows.ok()) {
      co_await s.error(stream, ctx, 503, errc::kStoreIo, rows.error().message);
      co_return;
    }
    co_await s.respond(stream, ctx, 200, incidents_json(*rows).dump(-1, ' ', false, json::error_handler_t::replace));
    co_return;
  }
  // /api/incidents/{id}
  std::string_view path = target.substr(0, target.find('?'));
  const std::string id(path.substr(std::string_view("/api/incidents/").size()));
  if (req.method() == http::verb::get) {
    auto row = hub.store().get(id);
    if (!row.ok()) {
      co_await s.error(stream, ctx, 503, errc::kStoreIo, row.error().message);
      co_return;
    }
    if (!row->has_value()) {
      co_await s.error(stream, ctx, 404, errc::kNotFound, "no incident " + id);
      co_return;
    }
    std::string err;
    const json out = incident_detail(hub, **row, err);
    if (!err.empty()) spdlog::error("gateway: incident {}: {}", id, err);
    co_await s.respond(stream, ctx, 200, out.dump(-1, ' ', false, json::error_handler_t::replace));
    co_return;
  }
  // POST: an operator changes the status; audited.
  if (!store::role_allows(ctx.key->role, store::KeyRole::operator_)) {
    co_await s.error(stream, ctx, 403, errc::kInsufficientRole, "changing an incident needs the operator role");
    co_return;
  }
  ctx.rec.event = "admin";
  json detail = json::object();
  detail["method"] = "POST";
  detail["incident"] = id;
  const json body = json::parse(req.body(), nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    ctx.rec.detail_json = detail.dump();
    co_await s.error(stream, ctx, 400, errc::kInvalidJson, "the body must be a JSON object");
    co_return;
  }
  const auto st = body.find("status");
  const auto parsed = st != body.end() && st->is_string() ? monitor::parse_incident_status(st->get<std::string>()) : std::nullopt;
  const auto note = body.find("note");
  if (!parsed || (note != body.end() && !note->is_string())) {
    ctx.rec.detail_json = detail.dump();
    const std::string param = parsed ? "note" : "status";
    co_await s.error(stream, ctx, 400, errc::kInvalidRequest, "'status' must be open, acknowledged or resolved, and 'note' (optional) a string",
                     param);
    co_return;
  }
  const std::string note_text = note == body.end() ? "" : note->get<std::string>().substr(0, 1000);
  detail["status"] = monitor::to_string(*parsed);
  detail["note"] = note_text;
  auto r = hub.set_status(id, *parsed, ctx.key->id, note_text);
  ctx.rec.detail_json = detail.dump();
  if (!r.ok()) {
    const bool missing = r.error().code == errc::kNotFound;
    const int status = missing ? 404 : 503;
    const std::string_view code = missing ? errc::kNotFound : errc::kStoreIo;
    const std::string msg = r.error().message;
    co_await s.error(stream, ctx, status, code, msg);
    co_return;
  }
  spdlog::info("gateway: incident {} {} by key {}", id, monitor::to_string(*parsed), ctx.key->id);
  co_await s.respond(stream, ctx, 200, r->dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace dg::gateway
