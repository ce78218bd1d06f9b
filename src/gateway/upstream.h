// The HTTP/1.1 client to the model server: a pool of keep-alive connections, connect and read
// timeouts, and a retry only where it is safe (the connection failed before the request was sent,
// or a reused idle connection was closed by the server before any byte of the answer came back).
//
// Thread safety: the pool may be used from every I/O thread (one mutex around the idle list); one
// UpstreamConnection belongs to one coroutine at a time.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gateway/gateway_config.h"

namespace dg::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

struct UpstreamConnection {
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::buffer_body>> parser;  // the exchange in progress
  bool reused = false;
  std::chrono::steady_clock::time_point idle_since{};  // when it was returned to the pool
  explicit UpstreamConnection(net::any_io_executor ex) : stream(ex) {}
};

enum class UpstreamErrorKind { none, connect, timeout, reset, protocol };

struct UpstreamError {
  UpstreamErrorKind kind = UpstreamErrorKind::none;
  std::string message;
  explicit operator bool() const noexcept { return kind != UpstreamErrorKind::none; }
};

class UpstreamPool {
 public:
  UpstreamPool(UpstreamUrl url, std::size_t max_idle, std::chrono::milliseconds connect_timeout,
               std::chrono::milliseconds read_timeout, unsigned retries);

  const UpstreamUrl& url() const noexcept { return url_; }
  std::chrono::milliseconds read_timeout() const noexcept { return read_timeout_; }

  // Sends `req` (target without the base path: it is prefixed here) and reads the response header.
  // On success `conn` holds the connection with `conn->parser` positioned at the body; the caller
  // reads the body (all at once or in pieces) and then calls release(). Retries as described above.
  net::awaitable<UpstreamError> start(http::request<http::string_body>& req, std::unique_ptr<UpstreamConnection>& conn);

  // Returns a connection whose exchange completed cleanly and may be reused (keep-alive).
  void release(std::unique_ptr<UpstreamConnection> conn, bool keep_alive);

  std::size_t idle() const;

 private:
  net::awaitable<UpstreamError> connect(std::unique_ptr<UpstreamConnection>& conn);

  UpstreamUrl url_;
  std::size_t max_idle_;
  std::chrono::milliseconds connect_timeout_, read_timeout_;
  unsigned retries_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<UpstreamConnection>> idle_;
  std::vector<tcp::endpoint> endpoints_;  // resolved once
};

// Reads the whole body after start() (bounded by `limit` bytes, timeout per read).
net::awaitable<UpstreamError> read_body(UpstreamConnection& conn, std::chrono::milliseconds timeout, std::size_t limit, std::string& body);

// Reads the next piece of the body into `out` (appending); sets `done` at the end of the body.
net::awaitable<UpstreamError> read_some_body(UpstreamConnection& conn, std::chrono::milliseconds timeout, std::string& out, bool& done);

}  // namespace dg::gateway
