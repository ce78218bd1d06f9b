// The handlers that scan and forward: /v1/scan, the OpenAI proxy (streaming and not), the Open
// Inference Protocol and plain pass-through routes.
#include <spdlog/spdlog.h>

#include "core/errors.h"
#include "core/verdict_json.h"
#include "gateway/openai.h"
#include "gateway/server_internal.h"

namespace dg::gateway {

namespace {

using net::use_awaitable;
constexpr auto kTuple = net::as_tuple(use_awaitable);

// Where a blocking finding sits, for the error's `param`.
std::string blocking_param(const Verdict& v, const std::vector<Piece>& prompt_pieces,
                           const std::vector<std::string>& context_params, const std::string& response_param) {
  for (const auto& f : v.findings) {
    if (f.action != Action::block && f.action != Action::safe_mode) continue;
    if (f.role == Role::context && f.context_index >= 0 && static_cast<std::size_t>(f.context_index) < context_params.size())
      return context_params[f.context_index];
    if (f.role == Role::response) return response_param;
    if (f.role == Role::prompt) return f.spans.empty() ? (prompt_pieces.empty() ? "" : prompt_pieces.back().param)
                                                       : param_at(prompt_pieces, f.spans.front().start);
  }
  return "";
}

std::string what_blocked(const Verdict& v, std::string_view part) {
  return "the " + std::string(part) + " was blocked by policy: " + v.reason;
}

bool blocks(const Verdict& v) { return v.action == Action::block || v.action == Action::safe_mode; }

// A block that no finding asked for came from a detector error on a fail-closed route: 500
// detector_error rather than a policy block (the client did nothing wrong; retrying may help).
bool error_block(const Verdict& v) {
  if (v.errors.empty()) return false;
  for (const auto& f : v.findings)
    if (f.action == Action::block || f.action == Action::safe_mode) return false;
  return true;
}
int block_status(const Verdict& v) { return error_block(v) ? 500 : 403; }
std::string_view block_code(const Verdict& v) { return error_block(v) ? errc::kDetectorError : errc::kBlockedByPolicy; }

// The last user message (what abuse signals look at).
std::string last_piece(const RequestParts& p) {
  if (p.prompt_pieces.empty()) return "";
  const auto& pc = p.prompt_pieces.back();
  return p.prompt.substr(pc.offset, pc.size);
}

// The engine's view of a request (views into `parts`, which must outlive it).
policy::Exchange exchange_of(const RequestParts& parts, const detect::ProtectedPrompt* system) {
  policy::Exchange ex;
  ex.prompt = parts.prompt;
  ex.has_prompt = !parts.prompt.empty();
  for (const auto& c : parts.context) ex.context.push_back(c);
  ex.prepared_system = system;
  return ex;
}

// Scans the request parts; returns the verdict with abuse signals and safe mode applied.
Verdict scan_request(Server& s, Ctx& ctx, const RequestParts& parts, const detect::ProtectedPrompt* system) {
  const auto& engine = ctx.snap->engine;
  const policy::Exchange ex = exchange_of(parts, system);
  Verdict v = engine->scan_exchange(s.thread_state(engine), ex);
  ctx.engine_us += v.latency_us;
  if (s.abuse && ctx.key)
    s.add_findings(v, s.abuse->observe(ctx.key->id, last_piece(parts), parts.estimated_tokens, std::chrono::steady_clock::now()), ctx);
  s.finalize(v, ctx);
  s.count_verdict(v, "request");
  return v;
}

// Builds the upstream request from the client's (same method, target and body; only safe headers).
Request upstream_request(const Request& req, std::string body) {
  Request up{req.method(), req.target(), 11};
  for (const auto h : {http::field::content_type, http::field::accept, http::field::user_agent})
    if (auto it = req.find(h); it != req.end()) up.set(h, it->value());
  // OpenAI-Organization / project headers are the upstream's business; the client's own
  // Authorization is the gateway key and is never forwarded.
  for (const auto& f : req)
    if (beast::iequals(f.name_string().substr(0, std::min<std::size_t>(7, f.name_string().size())), "openai-"))
      up.set(f.name_string(), f.value());
  up.body() = std::move(body);
  return up;
}

Request upstream_request(const Ctx& ctx, const Request& req, std::string body) {
  Request up = upstream_request(req, std::move(body));
  if (!ctx.snap->gw.upstream_api_key.empty()) up.set(http::field::authorization, "Bearer " + ctx.snap->gw.upstream_api_key);
  return up;
}

struct UpstreamAnswer {
  int status = 0;
  std::string body;
  std::string content_type;
};

// Sends to the upstream through the breaker; on failure answers the client and returns false.
net::awaitable<bool> call_upstream(Server& s, beast::tcp_stream& stream, Ctx& ctx, Request& up,
                                   std::unique_ptr<UpstreamConnection>& conn, const Verdict* v) {
  if (!s.pool) {
    co_await s.error(stream, ctx, 503, errc::kNoUpstream, "this gateway has no upstream configured (gateway.upstream)", "", v);
    co_return false;
  }
  auto attempt = s.breakers->get(s.pool->url().to_string()).try_acquire();
  if (!attempt) {
    s.metrics.upstream_errors.with({"breaker_open"}).inc();
    co_await s.error(stream, ctx, 503, errc::kUpstreamUnavailable, "the upstream failed repeatedly; the circuit breaker is open", "", v,
                     attempt.retry_after_s());
    co_return false;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const UpstreamError err = co_await s.pool->start(up, conn);
  ctx.upstream_us += us_since(t0);
  if (err) {
    attempt.failure();
    const char* kind = err.kind == UpstreamErrorKind::timeout ? "timeout"
                       : err.kind == UpstreamErrorKind::connect ? "connect"
                       : err.kind == UpstreamErrorKind::protocol ? "protocol"
                                                                 : "reset";
    s.metrics.upstream_errors.with({kind}).inc();
    spdlog::warn("gateway: upstream {} for {}: {}", kind, ctx.request_id, err.message);
    if (err.kind == UpstreamErrorKind::timeout)
      co_await s.error(stream, ctx, 504, errc::kUpstreamTimeout, "the upstream did not answer in time: " + err.message, "", v);
    else
      co_await s.error(stream, ctx, 502, errc::kUpstreamError, "the upstream failed: " + err.message, "", v);
    co_return false;
  }
  const int status = conn->parser->get().result_int();
  if (status >= 500) {
    attempt.failure();
    s.metrics.upstream_errors.with({"status_5xx"}).inc();
  } else {
    attempt.success();
  }
  co_return true;
}

// Reads the rest of a non-streaming answer; on failure answers the client and returns false.
net::awaitable<bool> read_answer(Server& s, beast::tcp_stream& stream, Ctx& ctx, std::unique_ptr<UpstreamConnection>& conn,
                                 UpstreamAnswer& ans, const Verdict* v) {
  const auto t0 = std::chrono::steady_clock::now();
  const UpstreamError err = co_await read_body(*conn, s.pool->read_timeout(), 64u << 20, ans.body);
  ctx.upstream_us += us_since(t0);
  s.metrics.upstream_duration.observe(static_cast<double>(ctx.upstream_us) / 1e6);
  if (err) {
    s.metrics.upstream_errors.with({err.kind == UpstreamErrorKind::timeout ? "timeout" : "reset"}).inc();
    if (err.kind == UpstreamErrorKind::timeout)
      co_await s.error(stream, ctx, 504, errc::kUpstreamTimeout, "the upstream did not finish its answer in time", "", v);
    else
      co_await s.error(stream, ctx, 502, errc::kUpstreamError, "the upstream failed mid-answer: " + err.message, "", v);
    co_return false;
  }
  auto& res = conn->parser->get();
  ans.status = res.result_int();
  ans.content_type = std::string(res[http::field::content_type]);
  const bool keep = res.keep_alive();
  s.pool->release(std::move(conn), keep);
  co_return true;
}

// Sends an upstream answer through unchanged (status, content type, body).
net::awaitable<void> pass_answer(Server& s, beast::tcp_stream& stream, Ctx& ctx, const UpstreamAnswer& ans, const Verdict* v) {
  s.commit(ctx, ans.status, ans.status >= 400 ? errc::kUpstreamStatus : "");
  http::response<http::string_body> res{static_cast<http::status>(ans.status), 11};
  res.set(http::field::server, "dualguard");
  res.set(http::field::content_type, ans.content_type.empty() ? "application/json" : ans.content_type);
  res.set("x-request-id", ctx.request_id);
  if (v) {
    res.set("x-dualguard-action", std::string(to_string(v->action)));
    res.set("x-dualguard-class", std::string(to_string(v->cls)));
  }
  res.keep_alive(ctx.keep_alive && !s.draining.load());
  res.body() = ans.body;
  res.prepare_payload();
  co_await http::async_write(stream, res, kTuple);
}

// The full exchange verdict at the end: the request's findings (abuse signals included) plus the
// response's, decided together so that escalations see both. The request parts are not scanned
// again (Engine::scan_response).
// `parts` (the request's context documents, for groundedness) and `logprobs` (the answer's, for
// uncertainty) may be null / empty.
Verdict scan_final(Server& s, Ctx& ctx, const detect::ProtectedPrompt* system, const std::string& response,
                   const Verdict& request_verdict, const RequestParts* parts = nullptr,
                   std::span<const TokenLogprob> logprobs = {}) {
  const auto& engine = ctx.snap->engine;
  std::vector<std::string_view> context;
  if (parts)
    for (const auto& c : parts->context) context.push_back(c);
  Verdict v = engine->scan_response(s.thread_state(engine), request_verdict, response, system, context, logprobs);
  ctx.engine_us += v.latency_us;
  s.finalize(v, ctx);
  s.count_verdict(v, "response");
  return v;
}

// ---- streaming -------------------------------------------------------------------------------

struct PendingEvent {
  std::string data;  // the SSE data field as received
  json chunk;        // parsed (null when not JSON)
  std::size_t start = 0, end = 0;  // its text in the accumulated response
  bool has_text = false;
};

net::awaitable<bool> write_chunk(beast::tcp_stream& stream, const std::string& s) {
  stream.expires_after(std::chrono::seconds(60));
  auto [ec, n] = co_await net::async_write(stream, http::make_chunk(net::buffer(s)), kTuple);
  co_return !ec;
}

net::awaitable<void> stream_answer(Server& s, beast::tcp_stream& stream, Ctx& ctx, std::unique_ptr<UpstreamConnection>& conn,
                                   const RequestParts& parts, const detect::ProtectedPrompt* system,
                                   const Verdict& request_verdict, Permit& permit) {
  const auto& gw = ctx.snap->gw;
  const auto& engine = ctx.snap->engine;
  http::response<http::empty_body> head{http::status::ok, 11};
  head.set(http::field::server, "dualguard");
  head.set(http::field::content_type, "text/event-stream");
  head.set(http::field::cache_control, "no-cache");
  head.set("x-request-id", ctx.request_id);
  head.set("x-dualguard-action", std::string(to_string(request_verdict.action)));
  head.set("x-dualguard-class", std::string(to_string(request_verdict.cls)));
  head.chunked(true);
  head.keep_alive(false);  // a stream may end early on a block: the connection closes after it
  http::response_serializer<http::empty_body> sr{head};
  stream.expires_after(std::chrono::seconds(30));
  if (auto [ec, n] = co_await http::async_write_header(stream, sr, kTuple); ec) co_return;

  SseParser sse;
  std::string text;          // everything the model said so far
  std::size_t released = 0;  // bytes of `text` sent to the client
  std::size_t scanned_to = 0;
  std::vector<PendingEvent> pending;
  bool done_marker = false, upstream_done = false, client_gone = false, blocked = false;
  std::uint64_t usage = 0;
  Verdict last;
  std::vector<TokenLogprob> logprobs;  // of the answer so far (uncertainty is judged at the end)
  bool logprobs_ok = true;             // false once a chunk's logprobs did not parse: judged without
  std::string block_message;
  auto last_scan = std::chrono::steady_clock::now();
  constexpr std::size_t kHoldBack = 24;  // an e-mail or card number split across chunks stays unsent until whole
  const auto max_hold = std::chrono::milliseconds(100);
  const std::string response_param = ctx.route == "/v1/completions" ? "choices[0].text" : "choices[0].delta.content";

  // Scans and releases what passed. Returns false when the stream must end (blocked or client gone).
  auto step = [&](bool final) -> net::awaitable<bool> {
    Verdict v;
    std::size_t w0 = 0;
    if (final) {
      v = scan_final(s, ctx, system, text, request_verdict, &parts, logprobs_ok ? std::span<const TokenLogprob>(logprobs) : std::span<const TokenLogprob>{});
    } else {
      w0 = text.size() > gw.stream_window_bytes ? text.size() - gw.stream_window_bytes : 0;
      v = engine->scan(s.thread_state(engine), Role::response, std::string_view(text).substr(w0), system);
      ctx.engine_us += v.latency_us;
      s.finalize(v, ctx);
    }
    scanned_to = text.size();
    last_scan = std::chrono::steady_clock::now();
    if (blocks(v)) {
      last = v;
      blocked = true;
      block_message = what_blocked(v, "response");
      co_return false;
    }
    if (final) last = v;
    // Release boundary: everything at the end, else up to the last event that ends before the hold-back.
    std::size_t want = final ? text.size() : (text.size() > kHoldBack ? text.size() - kHoldBack : 0);
    std::size_t boundary = released, take = 0;
    for (const auto& e : pending) {
      if (e.has_text && e.end > want) break;
      boundary = std::max(boundary, e.has_text ? e.end : boundary);
      ++take;
    }
    if (take == 0) co_return true;
    std::vector<Cut> cuts;
    if (v.action == Action::redact)
      for (const auto& f : v.findings)
        if (f.redactable && f.role == Role::response)
          for (const auto& sp : f.spans) {
            const std::size_t a = std::max<std::size_t>(w0 + sp.start, released), b = std::min<std::size_t>(w0 + sp.end, boundary);
            if (b > a) cuts.push_back({a - released, b - released, f.redact_label});
          }
    std::string out;
    if (!cuts.empty()) {
      // Held-back text rewritten as one chunk (in the first text event's shape), then the rest in order.
      const PendingEvent* first_text = nullptr;
      for (std::size_t i = 0; i < take; ++i)
        if (pending[i].has_text) {
          first_text = &pending[i];
          break;
        }
      out += "data: " + rewrite_chunk(first_text->chunk, apply_cuts(std::string_view(text).substr(released, boundary - released), cuts)).dump() + "\n\n";
      for (std::size_t i = 0; i < take; ++i)
        if (!pending[i].has_text) out += "data: " + pending[i].data + "\n\n";
    } else {
      for (std::size_t i = 0; i < take; ++i) out += "data: " + pending[i].data + "\n\n";
    }
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(take));
    released = boundary;
    if (!co_await write_chunk(stream, out)) {
      client_gone = true;
      co_return false;
    }
    co_return true;
  };

  while (!upstream_done && !blocked && !client_gone) {
    std::string bytes;
    bool done = false;
    const auto t0 = std::chrono::steady_clock::now();
    const UpstreamError err = co_await read_some_body(*conn, s.pool->read_timeout(), bytes, done);
    ctx.upstream_us += us_since(t0);
    if (err) {
      s.metrics.upstream_errors.with({err.kind == UpstreamErrorKind::timeout ? "timeout" : "reset"}).inc();
      const std::string_view code = err.kind == UpstreamErrorKind::timeout ? errc::kUpstreamTimeout : errc::kUpstreamError;
      // Whatever passed the scans so far was sent; end the stream with an error event.
      s.commit(ctx, 200, code);
      co_await write_chunk(stream, "data: " + error_body(code, "the upstream stream failed: " + err.message, "", nullptr, ctx.request_id) + "\n\n");
      co_await net::async_write(stream, http::make_chunk_last(), kTuple);
      co_return;
    }
    upstream_done = done;
    sse.feed(bytes);
    for (auto& data : sse.take()) {
      if (data == "[DONE]") {
        done_marker = true;
        continue;
      }
      PendingEvent e;
      e.chunk = json::parse(data, nullptr, false);
      if (e.chunk.is_discarded()) e.chunk = nullptr;
      e.data = std::move(data);
      if (e.chunk.is_object()) {
        e.start = text.size();
        e.has_text = chunk_text(e.chunk, text);
        e.end = text.size();
        if (const std::uint64_t u = usage_tokens(e.chunk)) usage = u;
        if (logprobs_ok) logprobs_ok = answer_logprobs(e.chunk, logprobs);
      }
      pending.push_back(std::move(e));
    }
    if (sse.pending() > (1u << 20)) {
      s.commit(ctx, 200, errc::kUpstreamError);
      co_await write_chunk(stream, "data: " + error_body(errc::kUpstreamError, "the upstream sent an SSE event over 1 MiB", "", nullptr, ctx.request_id) + "\n\n");
      co_await net::async_write(stream, http::make_chunk_last(), kTuple);
      co_return;
    }
    const bool due = text.size() - scanned_to >= gw.stream_scan_bytes || (scanned_to == 0 && !text.empty()) ||
                     std::chrono::steady_clock::now() - last_scan >= max_hold || (!pending.empty() && text.size() == scanned_to);
    if (!upstream_done && due && !co_await step(false)) break;
  }
  if (!blocked && !client_gone) co_await step(true);
  s.metrics.upstream_duration.observe(static_cast<double>(ctx.upstream_us) / 1e6);
  permit.charge_tokens(usage ? usage : parts.estimated_tokens - 256 + text.size() / 4);
  if (blocked) s.count_verdict(last, "response");
  s.record_verdict(ctx, last.findings.empty() && !blocked ? request_verdict : last, parts.prompt, text);
  if (client_gone) {
    s.commit(ctx, 200, errc::kClientClosed);
    co_return;
  }
  if (blocked) {
    s.commit(ctx, 200, errc::kBlockedByPolicy);
    co_await write_chunk(stream, "data: " + error_body(errc::kBlockedByPolicy, block_message, response_param, &last, ctx.request_id) + "\n\n");
  } else {
    s.commit(ctx, 200, "");
    if (done_marker) co_await write_chunk(stream, "data: [DONE]\n\n");
  }
  co_await net::async_write(stream, http::make_chunk_last(), kTuple);
  if (upstream_done && !blocked) {
    const bool keep = conn->parser->get().keep_alive();
    s.pool->release(std::move(conn), keep);
  }
}

}  // namespace

net::awaitable<void> handle_scan(Server& s, beast::tcp_stream& stream, Request& req, Ctx& ctx, Permit& permit) {
  const json body = json::parse(req.body(), nullptr, false);
  if (body.is_discarded()) {
      co_await s.error(stream, ctx, 400, errc::kInvalidJson, "the body is not valid JSON");
      co_return;
    }
  if (!body.is_object()) {
      co_await s.error(stream, ctx, 400, errc::kInvalidRequest, "the body must be a JSON object");
      co_return;
    }
  policy::Exchange ex;
  std::string prompt, response, system;
  std::vector<std::string> context;
  auto text_field = [&](const char* name, std::string& out, bool& has) -> bool {
    const auto it = body.find(name);
    if (it == body.end() || it->is_null()) return true;
    if (!it->is_string()) return false;
    out = it->get<std::string>();
    has = true;
    return true;
  };
  if (!text_field("prompt", prompt, ex.has_prompt)) {
      co_await s.error(stream, ctx, 400, errc::kInvalidRequest, "'prompt' must be a string", "prompt");
      co_return;
    }
  if (!text_field("response", response, ex.has_response))
    {
      co_await s.error(stream, ctx, 400, errc::kInvalidRequest, "'response' must be a string", "response");
      co_return;
    }
  if (!text_field("system", system, ex.has_system)) {
      co_await s.error(stream, ctx, 400, errc::kInvalidRequest, "'system' must be a string", "system");
      co_return;
    }
  if (const auto c = body.find("context"); c != body.end() && !c->is_null()) {
    if (!c->is_array()) {
      co_await s.error(stream, ctx, 400, errc::kInvalidRequest, "'context' must be an array of strings", "context");
      co_return;
    }
    for (const auto& d : *c) {
      if (!d.is_string()) {
      co_await s.error(stream, ctx, 400, errc::kInvalidRequest, "'context' must be an array of strings", "context");
      co_return;
    }
      context.push_back(d.get<std::string>());
    }
  }
  std::vector<TokenLogprob> logprobs;
  if (const auto lp = body.find("logprobs"); lp != body.end()) {
    std::string why;
    if (!parse_logprobs(*lp, logprobs, why)) {
      co_await s.error(stream, ctx, 400, errc::kInvalidRequest, "'logprobs': " + why, "logprobs");
      co_return;
    }
  }
  if (!ex.has_prompt && !ex.has_response && context.empty())
    {
      co_await s.error(stream, ctx, 400, errc::kInvalidRequest, "send at least one of 'prompt', 'response', 'context'");
      co_return;
    }
  ex.prompt = prompt;
  ex.response = response;
  ex.system = system;
  for (const auto& d : context) ex.context.push_back(d);
  ex.logprobs = logprobs;
  const auto& engine = ctx.snap->engine;
  Verdict v = engine->scan_exchange(s.thread_state(engine), ex);
  ctx.engine_us = v.latency_us;
  if (s.abuse && ex.has_prompt)
    s.add_findings(v, s.abuse->observe(ctx.key->id, prompt, prompt.size() / 4, std::chrono::steady_clock::now()), ctx);
  s.finalize(v, ctx);
  s.count_verdict(v, "scan");
  s.record_verdict(ctx, v, prompt, response);
  permit.charge_tokens(0);
  co_await s.respond(stream, ctx, 200, verdict_to_json(ctx.request_id, v).dump(), "", &v);
}

net::awaitable<void> handle_openai(Server& s, beast::tcp_stream& stream, Request& req, Ctx& ctx, Permit& permit, bool chat) {
  json body = json::parse(req.body(), nullptr, false);
  if (body.is_discarded()) {
      co_await s.error(stream, ctx, 400, errc::kInvalidJson, "the body is not valid JSON");
      co_return;
    }
  RequestParts parts;
  if (const std::string e = chat ? parse_chat_request(body, parts) : parse_completion_request(body, parts); !e.empty())
    {
      co_await s.error(stream, ctx, 400, errc::kInvalidRequest, e);
      co_return;
    }
  const auto& engine = ctx.snap->engine;
  detect::ProtectedPrompt system;
  if (parts.has_system) system = engine->prepare_system(parts.system);
  const detect::ProtectedPrompt* sp = parts.has_system ? &system : nullptr;
  const Verdict rv = scan_request(s, ctx, parts, sp);
  // The request's verdict goes into the audit record now: every answer from here on (a block, an
  // upstream failure, a passed-through error) is committed with it; a response verdict replaces it.
  s.record_verdict(ctx, rv, parts.prompt, "");
  if (blocks(rv)) {
    co_await s.error(stream, ctx, block_status(rv), block_code(rv), what_blocked(rv, "request"),
                     blocking_param(rv, parts.prompt_pieces, parts.context_params, ""), &rv);
    co_return;
  }
  Request up = upstream_request(ctx, req, req.body());
  std::unique_ptr<UpstreamConnection> conn;
  if (!co_await call_upstream(s, stream, ctx, up, conn, &rv)) co_return;
  const auto& res = conn->parser->get();
  const bool sse = res[http::field::content_type].find("text/event-stream") != std::string_view::npos;
  if (parts.stream && sse && res.result_int() == 200)
    {
      co_await stream_answer(s, stream, ctx, conn, parts, sp, rv, permit);
      co_return;
    }
  UpstreamAnswer ans;
  if (!co_await read_answer(s, stream, ctx, conn, ans, &rv)) co_return;
  json answer = json::parse(ans.body, nullptr, false);
  if (ans.status != 200 || !answer.is_object()) {
    co_await pass_answer(s, stream, ctx, ans, &rv);
    co_return;
  }
  std::vector<Piece> pieces;
  const std::string response = response_text(answer, pieces);
  std::vector<TokenLogprob> logprobs;
  if (!answer_logprobs(answer, logprobs)) logprobs.clear();
  const Verdict v = scan_final(s, ctx, sp, response, rv, &parts, logprobs);
  permit.charge_tokens(usage_tokens(answer) ? usage_tokens(answer) : parts.estimated_tokens);
  s.record_verdict(ctx, v, parts.prompt, response);
  if (blocks(v)) {
    std::string param = "choices[0]";
    for (const auto& f : v.findings)
      if ((f.action == Action::block || f.action == Action::safe_mode) && f.role == Role::response && !f.spans.empty()) {
        param = param_at(pieces, f.spans.front().start);
        break;
      }
    {
      co_await s.error(stream, ctx, block_status(v), block_code(v), what_blocked(v, "response"), param, &v);
      co_return;
    }
  }
  if (v.action == Action::redact) {
    redact_answer(answer, pieces, v.findings);
    ans.body = answer.dump();
  }  // else the upstream's bytes go out unchanged
  co_await pass_answer(s, stream, ctx, ans, &v);
}

net::awaitable<void> handle_passthrough(Server& s, beast::tcp_stream& stream, Request& req, Ctx& ctx, Permit&) {
  Request up = upstream_request(ctx, req, req.body());
  std::unique_ptr<UpstreamConnection> conn;
  if (!co_await call_upstream(s, stream, ctx, up, conn, nullptr)) co_return;
  UpstreamAnswer ans;
  if (!co_await read_answer(s, stream, ctx, conn, ans, nullptr)) co_return;
  co_await pass_answer(s, stream, ctx, ans, nullptr);
}

net::awaitable<void> handle_oip_infer(Server& s, beast::tcp_stream& stream, Request& req, Ctx& ctx, Permit& permit) {
  const json body = json::parse(req.body(), nullptr, false);
  if (body.is_discarded()) {
      co_await s.error(stream, ctx, 400, errc::kInvalidJson, "the body is not valid JSON");
      co_return;
    }
  if (!body.is_object() || !body.contains("inputs") || !body["inputs"].is_array())
    {
      co_await s.error(stream, ctx, 400, errc::kInvalidRequest, "an inference request needs an 'inputs' array", "inputs");
      co_return;
    }
  // BYTES tensors carry text: scan them as prompts (numeric tensors are passed with limits and audit).
  auto tensor_text = [](const json& tensors, const char* field, RequestParts& parts) {
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const json& t = tensors[i];
      if (!t.is_object() || t.value("datatype", "") != "BYTES" || !t.contains("data") || !t["data"].is_array()) continue;
      std::string joined;
      for (const auto& d : t["data"])
        if (d.is_string()) joined += (joined.empty() ? "" : "\n") + d.get<std::string>();
      if (joined.empty()) continue;
      if (!parts.prompt.empty()) parts.prompt += "\n\n";
      parts.prompt_pieces.push_back({std::string(field) + "[" + std::to_string(i) + "]", parts.prompt.size(), joined.size()});
      parts.prompt += joined;
    }
  };
  RequestParts parts;
  tensor_text(body["inputs"], "inputs", parts);
  parts.estimated_tokens = req.body().size() / 4;
  Verdict rv;
  if (!parts.prompt.empty()) {
    rv = scan_request(s, ctx, parts, nullptr);
    s.record_verdict(ctx, rv, parts.prompt, "");  // every answer from here on is audited with it
    if (blocks(rv)) {
      co_await s.error(stream, ctx, block_status(rv), block_code(rv), what_blocked(rv, "request"),
                       blocking_param(rv, parts.prompt_pieces, {}, ""), &rv);
      co_return;
    }
  }
  Request up = upstream_request(ctx, req, req.body());
  std::unique_ptr<UpstreamConnection> conn;
  if (!co_await call_upstream(s, stream, ctx, up, conn, &rv)) co_return;
  UpstreamAnswer ans;
  if (!co_await read_answer(s, stream, ctx, conn, ans, &rv)) co_return;
  const json answer = json::parse(ans.body, nullptr, false);
  RequestParts out;
  if (ans.status == 200 && answer.is_object() && answer.contains("outputs") && answer["outputs"].is_array())
    tensor_text(answer["outputs"], "outputs", out);
  permit.charge_tokens(parts.estimated_tokens);
  if (!out.prompt.empty()) {
    const Verdict v = scan_final(s, ctx, nullptr, out.prompt, rv);
    s.record_verdict(ctx, v, parts.prompt, out.prompt);
    if (blocks(v)) {
      co_await s.error(stream, ctx, block_status(v), block_code(v), what_blocked(v, "response"), "outputs", &v);
      co_return;
    }
    {
      co_await pass_answer(s, stream, ctx, ans, &v);
      co_return;
    }
  }
  s.record_verdict(ctx, rv, parts.prompt, "");
  co_await pass_answer(s, stream, ctx, ans, parts.prompt.empty() ? nullptr : &rv);
}

}  // namespace dg::gateway
