// Circuit breakers in front of upstream model servers (docs/gateway.md: 503 `upstream_unavailable`
// while the breaker is open).
//
//   closed     requests pass; `failure_threshold` consecutive failures open the breaker
//   open       requests are refused for the cool-down (Retry-After = what is left of it)
//   half_open  after the cool-down exactly one request (the probe) passes; its success closes the
//              breaker, its failure opens it again with the cool-down doubled (up to max_cooldown)
//
// Why consecutive failures rather than a failure ratio over a window: the upstream is usually one
// self-hosted model server that either answers or is down (refused connections, timeouts), and a
// count of consecutive failures trips the same way at 1 request per second as at 1000 — a ratio
// needs a minimum volume per window and two more knobs, and at low traffic either trips on one
// unlucky request or never. A flaky upstream still trips: with half its requests failing at random, a
// run of 5 failures comes on average within ~60 requests. The healthy path is one atomic load and,
// after a failure streak, one atomic store; no lock.
//
// What counts as a failure is the caller's decision; the gateway reports transport errors (refused,
// reset, not HTTP) and timeouts, and may report 502 / 503 / 504 from the upstream. A client error
// (4xx) is a success for the breaker: the upstream answered.
//
// Results of requests admitted before a state change are ignored (each attempt carries the
// breaker's generation): a slow request that started while closed cannot close a breaker that has
// since opened, and only the probe decides in half-open.
//
// Thread safety: every method of CircuitBreaker and CircuitBreakerSet may be called from any thread.
// An Attempt belongs to one request; it must not outlive its breaker.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/load_result.h"
#include "gateway/clock.h"

namespace dg::gateway {

enum class BreakerState { closed = 0, open = 1, half_open = 2 };
std::string_view to_string(BreakerState s) noexcept;  // "closed", "open", "half_open"

struct BreakerConfig {
  std::uint32_t failure_threshold = 5;              // consecutive failures that open the breaker
  std::chrono::milliseconds cooldown{10'000};       // first open period
  std::chrono::milliseconds max_cooldown{120'000};  // cap of the doubling after failed probes
};

// Every problem of `cfg`, "circuit_breaker: ..." messages.
LoadErrors validate(const BreakerConfig& cfg);

struct BreakerSnapshot {
  std::string name;
  BreakerState state = BreakerState::closed;  // half_open once an open breaker's cool-down has passed
  std::uint32_t consecutive_failures = 0;
  std::uint64_t opened = 0;    // times the breaker opened (closed -> open and failed probes)
  std::uint64_t rejected = 0;  // requests refused while open / while a probe was out
  std::int64_t open_remaining_ms = 0;  // cool-down left when open
};

class CircuitBreaker {
 public:
  // One request's passage. Report success() or failure() once (later calls are ignored); an attempt
  // destroyed without a report counts as neither, and a probe's slot is freed so that another
  // request can probe (e.g. the client went away before the upstream answered).
  class Attempt {
   public:
    Attempt() = default;
    Attempt(Attempt&& o) noexcept;
    Attempt& operator=(Attempt&& o) noexcept;
    Attempt(const Attempt&) = delete;
    Attempt& operator=(const Attempt&) = delete;
    ~Attempt();

    explicit operator bool() const noexcept { return allowed_; }
    bool allowed() const noexcept { return allowed_; }
    bool probe() const noexcept { return probe_; }
    // When refused: seconds until a request may pass (>= 1).
    std::uint32_t retry_after_s() const noexcept { return retry_after_s_; }

    void success() noexcept;
    void failure() noexcept;

   private:
    friend class CircuitBreaker;
    void finish(int outcome) noexcept;  // 1 success, 0 failure, -1 abandoned
    CircuitBreaker* cb_ = nullptr;
    std::uint64_t generation_ = 0;
    std::uint32_t retry_after_s_ = 0;
    bool allowed_ = false;
    bool probe_ = false;
  };

  // `cfg` must be valid (see validate()); `clock` must outlive the breaker.
  CircuitBreaker(std::string name, const BreakerConfig& cfg, const Clock& clock);

  // Asks to send one request upstream. Never throws. A refused attempt needs no report.
  Attempt try_acquire() noexcept;

  BreakerState state() const noexcept;
  BreakerSnapshot snapshot() const;
  const std::string& name() const noexcept { return name_; }

 private:
  void on_result(const Attempt& a, int outcome) noexcept;
  void open_locked(std::int64_t now_ns, std::int64_t cooldown_ns) noexcept;
  // state (2 bits) | generation << 2, in one word so that a reader sees a consistent pair
  static std::uint64_t pack(BreakerState s, std::uint64_t gen) noexcept { return gen << 2 | static_cast<std::uint64_t>(s); }

  const std::string name_;
  const BreakerConfig cfg_;
  const Clock& clock_;
  std::atomic<std::uint64_t> word_{0};
  std::atomic<std::uint32_t> failures_{0};
  std::atomic<std::int64_t> open_until_ns_{0};
  std::atomic<std::uint64_t> opened_{0}, rejected_{0};
  std::mutex mu_;  // transitions; the fields below
  std::int64_t cooldown_ns_ = 0;  // current cool-down (doubles after failed probes)
  bool probe_out_ = false;
};

// The breakers of a gateway, one per upstream name, made on first use and kept for the process's
// life (names come from the config, so the set is small). References returned by get() stay valid.
class CircuitBreakerSet {
 public:
  static LoadResult<std::unique_ptr<CircuitBreakerSet>> create(const BreakerConfig& cfg, const Clock& clock);

  CircuitBreaker& get(std::string_view upstream);
  std::vector<BreakerSnapshot> snapshot() const;  // in order of first use

 private:
  CircuitBreakerSet(const BreakerConfig& cfg, const Clock& clock) : cfg_(cfg), clock_(clock) {}
  const BreakerConfig cfg_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::deque<std::unique_ptr<CircuitBreaker>> breakers_;
};

}  // namespace dg::gateway
