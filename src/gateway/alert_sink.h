// Alert sinks of the gateway: the log, and a webhook that POSTs each alert as JSON to a configured
// http:// URL from a thread of its own. The webhook's queue is bounded and enqueueing never blocks:
// when it is full the alert is dropped and counted (the dashboard and the log still have it).
// Delivery retries `retries` times with doubling backoff on a connection error, a timeout or a 5xx /
// 429 answer; other 4xx answers are not retried (the receiver rejected the alert).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "monitor/alerts.h"

namespace dg::gateway {

class WebhookSink {
 public:
  struct Counters {
    std::atomic<std::uint64_t> delivered{0}, failed{0}, dropped{0}, retries{0};
  };
  // `cfg.webhook_url` must be a parsed-valid http:// URL (monitor::load_alerts checks the scheme).
  explicit WebhookSink(const monitor::AlertsConfig& cfg);
  ~WebhookSink();  // delivers what is queued (each attempt bounded by the timeout), then stops
  WebhookSink(const WebhookSink&) = delete;
  WebhookSink& operator=(const WebhookSink&) = delete;

  void enqueue(std::string json_body);
  const Counters& counters() const noexcept { return counters_; }

 private:
  void run();
  // One POST; returns the HTTP status, or 0 on a connection error / timeout.
  int post(const std::string& body);

  std::string host_, port_, target_;
  std::int64_t timeout_ms_;
  int retries_;
  std::int64_t backoff_ms_;
  std::size_t cap_;
  Counters counters_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> q_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dg::gateway
