#include "gateway/circuit_breaker.h"

#include <algorithm>

#include "core/errors.h"

namespace dg::gateway {

namespace {

constexpr std::int64_t kNsPerMs = 1'000'000;
constexpr std::int64_t kNsPerSec = 1'000'000'000;

BreakerState state_of(std::uint64_t word) noexcept { return static_cast<BreakerState>(word & 3); }
std::uint64_t gen_of(std::uint64_t word) noexcept { return word >> 2; }

std::uint32_t ceil_seconds(std::int64_t ns) noexcept {
  if (ns <= kNsPerSec) return 1;
  return static_cast<std::uint32_t>(std::min<std::int64_t>((ns + kNsPerSec - 1) / kNsPerSec, 0xffffffff));
}

}  // namespace

std::string_view to_string(BreakerState s) noexcept {
  switch (s) {
    case BreakerState::closed: return "closed";
    case BreakerState::open: return "open";
    case BreakerState::half_open: return "half_open";
  }
  return "unknown";
}

LoadErrors validate(const BreakerConfig& cfg) {
  LoadErrors errors;
  auto bad = [&](std::string m) {
    errors.push_back({"", 0, 0, std::string(errc::kConfigInvalidValue), "circuit_breaker: " + m});
  };
  if (cfg.failure_threshold < 1 || cfg.failure_threshold > 1000) bad("failure_threshold must be between 1 and 1000");
  if (cfg.cooldown.count() < 1) bad("cooldown must be at least 1 ms");
  if (cfg.max_cooldown < cfg.cooldown) bad("max_cooldown must not be shorter than cooldown");
  if (cfg.max_cooldown > std::chrono::hours(24)) bad("max_cooldown must be at most 24 h");
  return errors;
}

// Attempt ----------------------------------------------------------------------------------------

CircuitBreaker::Attempt::Attempt(Attempt&& o) noexcept
    : cb_(std::exchange(o.cb_, nullptr)),
      generation_(o.generation_),
      retry_after_s_(o.retry_after_s_),
      allowed_(std::exchange(o.allowed_, false)),
      probe_(std::exchange(o.probe_, false)) {}

CircuitBreaker::Attempt& CircuitBreaker::Attempt::operator=(Attempt&& o) noexcept {
  if (this != &o) {
    finish(-1);
    cb_ = std::exchange(o.cb_, nullptr);
    generation_ = o.generation_;
    retry_after_s_ = o.retry_after_s_;
    allowed_ = std::exchange(o.allowed_, false);
    probe_ = std::exchange(o.probe_, false);
  }
  return *this;
}

CircuitBreaker::Attempt::~Attempt() { finish(-1); }
void CircuitBreaker::Attempt::success() noexcept { finish(1); }
void CircuitBreaker::Attempt::failure() noexcept { finish(0); }

void CircuitBreaker::Attempt::finish(int outcome) noexcept {
  if (!cb_) return;  // refused, moved from, or already reported
  cb_->on_result(*this, outcome);
  cb_ = nullptr;
}

// CircuitBreaker ---------------------------------------------------------------------------------

CircuitBreaker::CircuitBreaker(std::string name, const BreakerConfig& cfg, const Clock& clock)
    : name_(std::move(name)), cfg_(cfg), clock_(clock) {
  cooldown_ns_ = cfg_.cooldown.count() * kNsPerMs;
}

CircuitBreaker::Attempt CircuitBreaker::try_acquire() noexcept {
  Attempt a;
  std::uint64_t w = word_.load(std::memory_order_acquire);
  if (state_of(w) == BreakerState::closed) {
    a.cb_ = this;
    a.generation_ = gen_of(w);
    a.allowed_ = true;
    return a;
  }
  const std::int64_t now = clock_.steady_ns();
  if (state_of(w) == BreakerState::open) {
    const std::int64_t until = open_until_ns_.load(std::memory_order_acquire);
    if (now < until) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      a.retry_after_s_ = ceil_seconds(until - now);
      return a;
    }
  }
  std::lock_guard lock(mu_);
  w = word_.load(std::memory_order_acquire);
  switch (state_of(w)) {
    case BreakerState::closed:  // closed by a probe in the meantime
      a.cb_ = this;
      a.generation_ = gen_of(w);
      a.allowed_ = true;
      return a;
    case BreakerState::open:
      if (now < open_until_ns_.load(std::memory_order_acquire)) break;
      w = pack(BreakerState::half_open, gen_of(w) + 1);
      word_.store(w, std::memory_order_release);
      probe_out_ = false;
      [[fallthrough]];
    case BreakerState::half_open:
      if (probe_out_) break;
      probe_out_ = true;
      a.cb_ = this;
      a.generation_ = gen_of(w);
      a.allowed_ = true;
      a.probe_ = true;
      return a;
  }
  rejected_.fetch_add(1, std::memory_order_relaxed);
  const std::int64_t left = state_of(w) == BreakerState::open ? open_until_ns_.load(std::memory_order_acquire) - now : 0;
  a.retry_after_s_ = ceil_seconds(left);  // half-open with the probe out: 1 s
  return a;
}

void CircuitBreaker::open_locked(std::int64_t now_ns, std::int64_t cooldown_ns) noexcept {
  open_until_ns_.store(now_ns + cooldown_ns, std::memory_order_release);
  word_.store(pack(BreakerState::open, gen_of(word_.load(std::memory_order_relaxed)) + 1), std::memory_order_release);
  probe_out_ = false;
  opened_.fetch_add(1, std::memory_order_relaxed);
}

void CircuitBreaker::on_result(const Attempt& a, int outcome) noexcept {
  if (!a.probe_) {
    const std::uint64_t w = word_.load(std::memory_order_acquire);
    if (state_of(w) != BreakerState::closed || gen_of(w) != a.generation_ || outcome < 0) return;  // stale or abandoned
    if (outcome == 1) {
      if (failures_.load(std::memory_order_relaxed) != 0) failures_.store(0, std::memory_order_relaxed);
      return;
    }
    if (failures_.fetch_add(1, std::memory_order_acq_rel) + 1 < cfg_.failure_threshold) return;
    std::lock_guard lock(mu_);
    const std::uint64_t w2 = word_.load(std::memory_order_acquire);
    if (state_of(w2) != BreakerState::closed || gen_of(w2) != a.generation_) return;  // another thread opened it
    cooldown_ns_ = cfg_.cooldown.count() * kNsPerMs;
    open_locked(clock_.steady_ns(), cooldown_ns_);
    return;
  }
  std::lock_guard lock(mu_);
  const std::uint64_t w = word_.load(std::memory_order_acquire);
  if (state_of(w) != BreakerState::half_open || gen_of(w) != a.generation_) return;
  if (outcome < 0) {
    probe_out_ = false;  // let the next request probe
  } else if (outcome == 1) {
    failures_.store(0, std::memory_order_relaxed);
    cooldown_ns_ = cfg_.cooldown.count() * kNsPerMs;
    probe_out_ = false;
    word_.store(pack(BreakerState::closed, gen_of(w) + 1), std::memory_order_release);
  } else {
    cooldown_ns_ = std::min(cooldown_ns_ * 2, cfg_.max_cooldown.count() * kNsPerMs);
    open_locked(clock_.steady_ns(), cooldown_ns_);
  }
}

BreakerState CircuitBreaker::state() const noexcept {
  const BreakerState s = state_of(word_.load(std::memory_order_acquire));
  if (s == BreakerState::open && clock_.steady_ns() >= open_until_ns_.load(std::memory_order_acquire))
    return BreakerState::half_open;  // the next request will probe
  return s;
}

BreakerSnapshot CircuitBreaker::snapshot() const {
  BreakerSnapshot s;
  s.name = name_;
  s.state = state();
  s.consecutive_failures = failures_.load(std::memory_order_relaxed);
  s.opened = opened_.load(std::memory_order_relaxed);
  s.rejected = rejected_.load(std::memory_order_relaxed);
  if (s.state == BreakerState::open)
    s.open_remaining_ms = (open_until_ns_.load(std::memory_order_acquire) - clock_.steady_ns() + kNsPerMs - 1) / kNsPerMs;
  return s;
}

// CircuitBreakerSet ------------------------------------------------------------------------------

LoadResult<std::unique_ptr<CircuitBreakerSet>> CircuitBreakerSet::create(const BreakerConfig& cfg, const Clock& clock) {
  LoadErrors errors = validate(cfg);
  if (!errors.empty()) return LoadResult<std::unique_ptr<CircuitBreakerSet>>::failure(std::move(errors));
  return LoadResult<std::unique_ptr<CircuitBreakerSet>>::success(std::unique_ptr<CircuitBreakerSet>(new CircuitBreakerSet(cfg, clock)));
}

CircuitBreaker& CircuitBreakerSet::get(std::string_view upstream) {
  std::lock_guard lock(mu_);
  for (const auto& b : breakers_)
    if (b->name() == upstream) return *b;
  breakers_.push_back(std::make_unique<CircuitBreaker>(std::string(upstream), cfg_, clock_));
  return *breakers_.back();
}

std::vector<BreakerSnapshot> CircuitBreakerSet::snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<BreakerSnapshot> out;
  out.reserve(breakers_.size());
  for (const auto& b : breakers_) out.push_back(b->snapshot());
  return out;
}

}  // namespace dg::gateway
