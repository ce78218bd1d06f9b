#include "gateway/alert_sink.h"

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <spdlog/spdlog.h>

#include <chrono>

namespace dg::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

WebhookSink::WebhookSink(const monitor::AlertsConfig& cfg)
    : timeout_ms_(cfg.webhook_timeout_ms), retries_(cfg.webhook_retries), backoff_ms_(cfg.webhook_backoff_ms), cap_(cfg.webhook_queue) {
  // http://host[:port][/path]
  std::string rest = cfg.webhook_url.substr(std::string("http://").size());
  const auto slash = rest.find('/');
  target_ = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string hostport = rest.substr(0, slash);
  const auto colon = hostport.rfind(':');
  host_ = colon == std::string::npos ? hostport : hostport.substr(0, colon);
  port_ = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
  thread_ = std::thread([this] { run(); });
}

WebhookSink::~WebhookSink() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void WebhookSink::enqueue(std::string body) {
  {
    std::lock_guard lock(mu_);
    if (q_.size() >= cap_) {
      counters_.dropped.fetch_add(1);
      return;
    }
    q_.push_back(std::move(body));
  }
  cv_.notify_one();
}

int WebhookSink::post(const std::string& body) {
  try {
    net::io_context io;
    beast::tcp_stream stream(io);
    net::ip::tcp::resolver resolver(io);
    const auto deadline = std::chrono::milliseconds(timeout_ms_);
    stream.expires_after(deadline);
    beast::error_code ec;
    const auto results = resolver.resolve(host_, port_, ec);
    if (ec) return 0;
    stream.connect(results, ec);
    if (ec) return 0;
    http::request<http::string_body> req{http::verb::post, target_, 11};
    req.set(http::field::host, host_);
    req.set(http::field::user_agent, "dualguard-alerts");
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    // tcp_stream's timeout covers each operation; the whole exchange is bounded by two of them.
    stream.expires_after(deadline);
    http::write(stream, req, ec);
    if (ec) return 0;
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    stream.expires_after(deadline);
    http::read(stream, buf, res, ec);
    if (ec) return 0;
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
    return static_cast<int>(res.result_int());
  } catch (const std::exception&) {
    return 0;
  }
}

void WebhookSink::run() {
  for (;;) {
    std::string body;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !q_.empty(); });
      if (q_.empty()) return;
      body = std::move(q_.front());
      q_.pop_front();
    }
    std::int64_t backoff = backoff_ms_;
    int status = 0;
    for (int attempt = 0;; ++attempt) {
      status = post(body);
      const bool retryable = status == 0 || status == 429 || status >= 500;
      if (!retryable || attempt >= retries_) break;
      counters_.retries.fetch_add(1);
      std::unique_lock lock(mu_);
      // Stopping cuts the backoff short, not the attempt count.
      cv_.wait_for(lock, std::chrono::milliseconds(backoff), [&] { return stop_; });
      backoff *= 2;
    }
    if (status >= 200 && status < 300) {
      counters_.delivered.fetch_add(1);
    } else {
      counters_.failed.fetch_add(1);
      spdlog::warn("alerts: webhook delivery to http://{}:{}{} failed (status {})", host_, port_, target_, status);
    }
  }
}

}  // namespace dg::gateway
