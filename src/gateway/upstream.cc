#include "gateway/upstream.h"

namespace dg::gateway {

namespace {

using net::as_tuple;
using net::use_awaitable;
constexpr auto kTuple = as_tuple(use_awaitable);

UpstreamError classify(const beast::error_code& ec, std::string_view what) {
  // The stream's timer cancels the operation; depending on the composed operation that surfaces as
  // error::timeout or operation_aborted (nothing else cancels upstream I/O).
  if (ec == beast::error::timeout || ec == net::error::operation_aborted)
    return {UpstreamErrorKind::timeout, std::string(what) + ": timed out"};
  if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
      ec == net::error::broken_pipe || ec == http::error::partial_message)
    return {UpstreamErrorKind::reset, std::string(what) + ": " + ec.message()};
  if (ec.category() == beast::error_code(http::error::end_of_stream).category())
    return {UpstreamErrorKind::protocol, std::string(what) + ": " + ec.message()};
  return {UpstreamErrorKind::reset, std::string(what) + ": " + ec.message()};
}

}  // namespace

UpstreamPool::UpstreamPool(UpstreamUrl url, std::size_t max_idle, std::chrono::milliseconds connect_timeout,
                           std::chrono::milliseconds read_timeout, unsigned retries)
    : url_(std::move(url)), max_idle_(max_idle), connect_timeout_(connect_timeout), read_timeout_(read_timeout),
      retries_(retries) {}

std::size_t UpstreamPool::idle() const {
  std::lock_guard lock(mu_);
  return idle_.size();
}

net::awaitable<UpstreamError> UpstreamPool::connect(std::unique_ptr<UpstreamConnection>& conn) {
  auto ex = co_await net::this_coro::executor;
  std::vector<tcp::endpoint> eps;
  {
    std::lock_guard lock(mu_);
    eps = endpoints_;
  }
  if (eps.empty()) {
    tcp::resolver resolver(ex);
    auto [ec, results] = co_await resolver.async_resolve(url_.host, url_.port, kTuple);
    if (ec) co_return UpstreamError{UpstreamErrorKind::connect, "resolve " + url_.host + ": " + ec.message()};
    for (const auto& r : results) eps.push_back(r.endpoint());
    std::lock_guard lock(mu_);
    endpoints_ = eps;
  }
  conn = std::make_unique<UpstreamConnection>(ex);
  conn->stream.expires_after(connect_timeout_);
  auto [ec, ep] = co_await conn->stream.async_connect(eps, kTuple);
  if (ec) {
    conn.reset();
    if (ec == beast::error::timeout) co_return UpstreamError{UpstreamErrorKind::timeout, "connect: timed out"};
    co_return UpstreamError{UpstreamErrorKind::connect, "connect " + url_.to_string() + ": " + ec.message()};
  }
  conn->stream.socket().set_option(tcp::no_delay(true));
  co_return UpstreamError{};
}

net::awaitable<UpstreamError> UpstreamPool::start(http::request<http::string_body>& req,
                                                  std::unique_ptr<UpstreamConnection>& conn) {
  req.target(url_.base_path + std::string(req.target()));
  req.set(http::field::host, url_.host + ":" + url_.port);
  req.keep_alive(true);
  req.prepare_payload();
  unsigned connect_failures = 0;
  bool retried_stale = false;
  // Model servers close idle keep-alive connections (Node and uvicorn after 5 s): a pooled connection
  // idle longer than kMaxIdle is dropped unused, and after a stale one failed the retry connects afresh.
  constexpr auto kMaxIdle = std::chrono::seconds(4);
  for (;;) {
    conn.reset();
    if (!retried_stale) {
      std::lock_guard lock(mu_);
      const auto now = std::chrono::steady_clock::now();
      while (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        if (now - c->idle_since < kMaxIdle) {
          conn = std::move(c);
          break;
        }
      }
    }
    if (!conn) {
      if (auto err = co_await connect(conn)) {
        if (err.kind == UpstreamErrorKind::connect && connect_failures++ < retries_) continue;
        co_return err;
      }
    }
    conn->stream.expires_after(read_timeout_);
    auto [wec, wn] = co_await http::async_write(conn->stream, req, kTuple);
    if (wec) {
      // Nothing of the answer was read: safe to try again on a fresh connection once.
      if (conn->reused && !retried_stale) {
        retried_stale = true;
        continue;
      }
      co_return classify(wec, "send request");
    }
    conn->parser.emplace();
    conn->parser->body_limit(boost::none);
    auto [rec, rn] = co_await http::async_read_header(conn->stream, conn->buffer, *conn->parser, kTuple);
    if (rec) {
      // A reused idle connection the server had closed: no byte came back, so the request was not
      // processed (HTTP/1.1 servers close idle connections, RFC 9112 §9.6). Retry once, fresh.
      if (conn->reused && !retried_stale && rn == 0 &&
          (rec == http::error::end_of_stream || rec == net::error::connection_reset || rec == net::error::eof)) {
        retried_stale = true;
        continue;
      }
      co_return classify(rec, "read answer");
    }
    co_return UpstreamError{};
  }
}

void UpstreamPool::release(std::unique_ptr<UpstreamConnection> conn, bool keep_alive) {
  if (!conn || !keep_alive) return;
  conn->reused = true;
  conn->idle_since = std::chrono::steady_clock::now();
  conn->parser.reset();
  conn->buffer.clear();
  std::lock_guard lock(mu_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(conn));
}

net::awaitable<UpstreamError> read_some_body(UpstreamConnection& conn, std::chrono::milliseconds timeout,
                                             std::string& out, bool& done) {
  auto& parser = *conn.parser;
  done = parser.is_done();
  if (done) co_return UpstreamError{};
  char buf[16384];
  parser.get().body().data = buf;
  parser.get().body().size = sizeof buf;
  conn.stream.expires_after(timeout);
  auto [ec, n] = co_await http::async_read_some(conn.stream, conn.buffer, parser, kTuple);
  if (ec && ec != http::error::need_buffer) co_return classify(ec, "read answer body");
  out.append(buf, sizeof buf - parser.get().body().size);
  done = parser.is_done();
  co_return UpstreamError{};
}

net::awaitable<UpstreamError> read_body(UpstreamConnection& conn, std::chrono::milliseconds timeout, std::size_t limit,
                                        std::string& body) {
  bool done = conn.parser->is_done();
  while (!done) {
    if (auto err = co_await read_some_body(conn, timeout, body, done)) co_return err;
    if (body.size() > limit) co_return UpstreamError{UpstreamErrorKind::protocol, "answer larger than " + std::to_string(limit) + " bytes"};
  }
  co_return UpstreamError{};
}

}  // namespace dg::gateway
