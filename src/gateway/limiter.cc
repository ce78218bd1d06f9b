#include "gateway/limiter.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/errors.h"

namespace dg::gateway {

namespace {

constexpr std::size_t kShards = 16;
constexpr std::int64_t kNsPerSec = 1'000'000'000;
constexpr std::int64_t kHourNs = 3600 * kNsPerSec;
constexpr std::size_t kHours = 24;
constexpr std::uint64_t kSweepEvery = 1024;
// Bounds keep the GCRA arithmetic (burst × interval in ns) far from int64 overflow.
constexpr std::uint64_t kMaxRpm = 60'000'000;  // one request per microsecond

std::uint32_t ceil_seconds(std::int64_t ns) noexcept {
  if (ns <= kNsPerSec) return 1;
  const std::int64_t s = (ns + kNsPerSec - 1) / kNsPerSec;
  return static_cast<std::uint32_t>(std::min<std::int64_t>(s, 0xffffffff));
}

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

}  // namespace

namespace detail {

struct KeyState {
  std::atomic<std::int64_t> tat_ns{0};       // GCRA theoretical arrival time (steady ns)
  std::atomic<std::uint64_t> in_flight{0};
  std::atomic<std::int64_t> last_seen_ns{0};

  std::mutex tokens_mu;  // guards the token window below
  std::int64_t newest_hour = 0;                 // hour index (steady) of the newest slot
  std::array<std::uint64_t, kHours> hour_tokens{};  // slot h % 24 holds hour h, for h in (newest-24, newest]
  std::uint64_t reserved = 0;

  // Moves the window so that `hour` is the newest slot (slots that left the window are cleared).
  void advance_to(std::int64_t hour) noexcept {
    if (hour <= newest_hour) return;
    const std::int64_t gap = std::min<std::int64_t>(hour - newest_hour, kHours);
    for (std::int64_t i = 1; i <= gap; ++i) hour_tokens[static_cast<std::size_t>((newest_hour + i) % kHours)] = 0;
    newest_hour = hour;
  }
  std::uint64_t used() const noexcept {
    std::uint64_t sum = 0;
    for (std::uint64_t t : hour_tokens) sum += t;
    return sum;
  }
};

}  // namespace detail

using detail::KeyState;

// Counters live in the shards (own cache lines) so that threads admitting different keys share no
// written memory.
struct alignas(64) Limiter::Shard {
  std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<KeyState>, StringHash, std::equal_to<>> map;
  std::uint64_t lookups = 0;  // guarded by mu; every kSweepEvery-th lookup sweeps the shard
  std::atomic<std::uint64_t> admitted{0};
};

std::string_view to_string(LimitKind k) noexcept {
  switch (k) {
    case LimitKind::max_body_bytes: return "max_body_bytes";
    case LimitKind::concurrent: return "concurrent";
    case LimitKind::tokens_per_day: return "tokens_per_day";
    case LimitKind::requests_per_minute: return "requests_per_minute";
  }
  return "unknown";
}

std::string_view error_code(LimitKind k) noexcept {
  switch (k) {
    case LimitKind::max_body_bytes: return errc::kRequestTooLarge;
    case LimitKind::concurrent: return errc::kTooManyConcurrentRequests;
    case LimitKind::tokens_per_day: return errc::kTokenBudgetExceeded;
    case LimitKind::requests_per_minute: return errc::kRateLimited;
  }
  return errc::kRateLimited;
}

int http_status(LimitKind k) noexcept { return k == LimitKind::max_body_bytes ? 413 : 429; }

// Permit -----------------------------------------------------------------------------------------

Permit::Permit(Permit&& o) noexcept
    : st_(std::move(o.st_)), reserved_(std::exchange(o.reserved_, 0)), holds_slot_(std::exchange(o.holds_slot_, false)) {}

Permit& Permit::operator=(Permit&& o) noexcept {
  if (this != &o) {
    release();
    st_ = std::move(o.st_);
    reserved_ = std::exchange(o.reserved_, 0);
    holds_slot_ = std::exchange(o.holds_slot_, false);
  }
  return *this;
}

void Permit::charge_tokens(std::uint64_t tokens) noexcept {
  if (!st_) return;
  // Tokens land in the key's newest hour: the hour of its latest admit(), so the one this request was
  // admitted in or a later one (a charge never expires earlier than its request's hour would).
  std::lock_guard lock(st_->tokens_mu);
  st_->reserved -= std::min(st_->reserved, reserved_);
  reserved_ = 0;
  st_->hour_tokens[static_cast<std::size_t>(st_->newest_hour % kHours)] += tokens;
}

void Permit::release() noexcept {
  if (!st_) return;
  if (reserved_ > 0) {
    std::lock_guard lock(st_->tokens_mu);
    st_->reserved -= std::min(st_->reserved, reserved_);
    reserved_ = 0;
  }
  if (holds_slot_) {
    st_->in_flight.fetch_sub(1, std::memory_order_acq_rel);
    holds_slot_ = false;
  }
  st_.reset();
}

// Limiter ----------------------------------------------------------------------------------------

LoadResult<std::unique_ptr<Limiter>> Limiter::create(const Config& cfg, const Clock& clock) {
  LoadErrors errors;
  auto bad = [&](std::string m) {
    errors.push_back({"", 0, 0, std::string(errc::kConfigInvalidValue), "limiter: " + m});
  };
  if (cfg.defaults.requests_per_minute > kMaxRpm) bad("requests_per_minute must be at most 60000000");
  if (cfg.burst > 1'000'000) bad("burst must be at most 1000000");
  if (cfg.defaults.tokens_per_day > (std::uint64_t{1} << 50)) bad("tokens_per_day must be at most 2^50");
  if (cfg.idle_ttl.count() < 1) bad("idle_ttl must be at least 1 s");
  if (cfg.idle_ttl > std::chrono::hours(24 * 30)) bad("idle_ttl must be at most 30 days");
  if (cfg.max_keys < kShards) bad("max_keys must be at least 16");
  if (!errors.empty()) return LoadResult<std::unique_ptr<Limiter>>::failure(std::move(errors));
  return LoadResult<std::unique_ptr<Limiter>>::success(std::unique_ptr<Limiter>(new Limiter(cfg, clock)));
}

Limiter::Limiter(const Config& cfg, const Clock& clock)
    : clock_(clock),
      burst_(cfg.burst),
      idle_ttl_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(cfg.idle_ttl).count()),
      max_keys_per_shard_((cfg.max_keys + kShards - 1) / kShards),
      shards_(new Shard[kShards]) {
  set_defaults(cfg.defaults);
}

Limiter::~Limiter() = default;

void Limiter::set_defaults(const Limits& d) noexcept {
  defaults_[0].store(d.requests_per_minute, std::memory_order_relaxed);
  defaults_[1].store(d.tokens_per_day, std::memory_order_relaxed);
  defaults_[2].store(d.concurrent, std::memory_order_relaxed);
  defaults_[3].store(d.max_body_bytes, std::memory_order_relaxed);
}

Limits Limiter::defaults() const noexcept {
  return {defaults_[0].load(std::memory_order_relaxed), defaults_[1].load(std::memory_order_relaxed),
          defaults_[2].load(std::memory_order_relaxed), defaults_[3].load(std::memory_order_relaxed)};
}

Limits Limiter::effective(const KeyLimits& key) const noexcept {
  const Limits d = defaults();
  Limits e;
  e.requests_per_minute = key.requests_per_minute.value_or(d.requests_per_minute);
  e.tokens_per_day = key.tokens_per_day.value_or(d.tokens_per_day);
  e.concurrent = key.concurrent.value_or(d.concurrent);
  const std::uint64_t kb = key.max_body_bytes.value_or(0);
  e.max_body_bytes = kb == 0 ? d.max_body_bytes : d.max_body_bytes == 0 ? kb : std::min(kb, d.max_body_bytes);
  return e;
}

Limiter::Shard& Limiter::shard_of(std::string_view key_id) const noexcept { return shards_[StringHash{}(key_id) % kShards]; }

std::shared_ptr<KeyState> Limiter::lookup(Shard& s, std::string_view key_id, std::int64_t now) noexcept {
  std::shared_ptr<KeyState> st;
  {
    std::lock_guard lock(s.mu);
    if (auto it = s.map.find(key_id); it != s.map.end()) {
      st = it->second;
    } else {
      try {
        if (s.map.size() >= max_keys_per_shard_) sweep_shard(s, now, /*make_room=*/true);
        st = std::make_shared<KeyState>();
        st->tat_ns.store(now, std::memory_order_relaxed);
        st->newest_hour = now / kHourNs;
        s.map.emplace(std::string(key_id), st);
        keys_.fetch_add(1, std::memory_order_relaxed);
      } catch (...) {
        return nullptr;
      }
    }
    // Under the shard lock, so that a sweep never sees a state as idle while it is being handed out.
    st->last_seen_ns.store(now, std::memory_order_relaxed);
    if (++s.lookups % kSweepEvery == 0) sweep_shard(s, now, false);
  }
  return st;
}

void Limiter::sweep_shard(Shard& s, std::int64_t now, bool make_room) noexcept {
  // Caller holds s.mu. use_count() == 1 under the lock means no permit and no admit() holds the state.
  auto clean = [&](KeyState& st) {
    if (st.tat_ns.load(std::memory_order_relaxed) > now) return false;  // bucket not yet full
    std::lock_guard lock(st.tokens_mu);
    if (st.reserved != 0) return false;
    if (now / kHourNs - st.newest_hour >= static_cast<std::int64_t>(kHours)) return true;
    return st.used() == 0;
  };
  for (auto it = s.map.begin(); it != s.map.end();) {
    KeyState& st = *it->second;
    if (it->second.use_count() == 1 && now - st.last_seen_ns.load(std::memory_order_relaxed) >= idle_ttl_ns_ && clean(st)) {
      it = s.map.erase(it);
      keys_.fetch_sub(1, std::memory_order_relaxed);
      evicted_.fetch_add(1, std::memory_order_relaxed);
    } else {
      ++it;
    }
  }
  if (!make_room || s.map.size() < max_keys_per_shard_) return;
  // Still full: drop the least recently seen unreferenced state even though it forgets usage.
  auto victim = s.map.end();
  for (auto it = s.map.begin(); it != s.map.end(); ++it) {
    if (it->second.use_count() != 1) continue;
    if (victim == s.map.end() || it->second->last_seen_ns.load(std::memory_order_relaxed) <
                                     victim->second->last_seen_ns.load(std::memory_order_relaxed))
      victim = it;
  }
  if (victim != s.map.end()) {
    s.map.erase(victim);
    keys_.fetch_sub(1, std::memory_order_relaxed);
    evicted_with_state_.fetch_add(1, std::memory_order_relaxed);
  }
}

void Limiter::sweep() noexcept {
  const std::int64_t now = clock_.steady_ns();
  for (std::size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mu);
    sweep_shard(shards_[i], now, false);
  }
}

Admission Limiter::reject(LimitKind k, std::uint32_t retry_after_s, std::string message) noexcept {
  rejected_[static_cast<std::size_t>(k)].fetch_add(1, std::memory_order_relaxed);
  Admission a;
  a.rejection = Rejection{k, error_code(k), http_status(k), std::max<std::uint32_t>(retry_after_s, 1), std::move(message)};
  return a;
}

Admission Limiter::admit(std::string_view key_id, const KeyLimits& key, const RequestCost& cost) noexcept {
  const Limits lim = effective(key);
  Shard& shard = shard_of(key_id);
  try {
    if (lim.max_body_bytes != 0 && cost.body_bytes > lim.max_body_bytes)
      return reject(LimitKind::max_body_bytes, 1,
                    "the request body (" + std::to_string(cost.body_bytes) + " bytes) exceeds the limit of " +
                        std::to_string(lim.max_body_bytes) + " bytes");

    const std::int64_t now = clock_.steady_ns();
    Admission ok;
    if (lim.requests_per_minute == 0 && lim.tokens_per_day == 0 && lim.concurrent == 0) {
      shard.admitted.fetch_add(1, std::memory_order_relaxed);
      return ok;  // nothing to track: no state for unlimited keys
    }
    std::shared_ptr<KeyState> st = lookup(shard, key_id, now);
    if (!st) {
      shard.admitted.fetch_add(1, std::memory_order_relaxed);
      return ok;
    }
    Permit& p = ok.permit;
    p.st_ = st;

    if (lim.concurrent != 0) {
      const std::uint64_t before = st->in_flight.fetch_add(1, std::memory_order_acq_rel);
      p.holds_slot_ = true;
      if (before >= lim.concurrent) {
        p.release();
        return reject(LimitKind::concurrent, 1,
                      "the key already has " + std::to_string(before) + " requests in flight (limit " +
                          std::to_string(lim.concurrent) + ")");
      }
    }

    if (lim.tokens_per_day != 0) {
      std::unique_lock lock(st->tokens_mu);
      const std::int64_t hour = now / kHourNs;
      st->advance_to(hour);
      const std::uint64_t used = st->used();
      const std::uint64_t want = std::min<std::uint64_t>(cost.estimated_tokens, std::uint64_t{1} << 52);
      if (used + st->reserved + want > lim.tokens_per_day) {
        // Retry-After: until enough of the oldest hours leave the window for the estimate to fit.
        std::int64_t retry_ns = 24 * kHourNs;
        if (want <= lim.tokens_per_day) {
          const std::uint64_t need = used + st->reserved + want - lim.tokens_per_day;
          std::uint64_t freed = 0;
          retry_ns = 0;
          for (std::int64_t h = hour - static_cast<std::int64_t>(kHours) + 1; h <= hour; ++h) {
            freed += st->hour_tokens[static_cast<std::size_t>(((h % 24) + 24) % 24)];
            retry_ns = (h + static_cast<std::int64_t>(kHours)) * kHourNs - now;
            if (freed >= need) break;
          }
          // What is left is other requests' reservations: they settle when those requests end.
          if (freed < need && used == 0) retry_ns = kNsPerSec;
        }
        const std::uint64_t reserved = st->reserved;
        lock.unlock();
        p.release();
        std::string msg = want > lim.tokens_per_day
                              ? "the request's token estimate (" + std::to_string(want) + ") exceeds the key's daily budget of " +
                                    std::to_string(lim.tokens_per_day) + " tokens"
                              : "the key's budget of " + std::to_string(lim.tokens_per_day) + " tokens per day is spent (" +
                                    std::to_string(used) + " used, " + std::to_string(reserved) +
                                    " reserved by running requests, this request needs about " + std::to_string(want) + ")";
        return reject(LimitKind::tokens_per_day, ceil_seconds(retry_ns), std::move(msg));
      }
      st->reserved += want;
      p.reserved_ = want;
    }

    if (lim.requests_per_minute != 0) {
      const auto rpm = static_cast<std::int64_t>(std::min<std::uint64_t>(lim.requests_per_minute, kMaxRpm));
      const std::int64_t interval = 60 * kNsPerSec / rpm;
      const std::int64_t burst = burst_ != 0 ? static_cast<std::int64_t>(burst_) : rpm;
      const std::int64_t tolerance = burst * interval;
      std::int64_t tat = st->tat_ns.load(std::memory_order_relaxed);
      for (;;) {
        const std::int64_t next = std::max(tat, now) + interval;
        if (next - now > tolerance) {
          p.release();
          return reject(LimitKind::requests_per_minute, ceil_seconds(next - now - tolerance),
                        "the key's limit of " + std::to_string(lim.requests_per_minute) + " requests per minute is exceeded");
        }
        if (st->tat_ns.compare_exchange_weak(tat, next, std::memory_order_acq_rel, std::memory_order_relaxed)) break;
      }
    }
    shard.admitted.fetch_add(1, std::memory_order_relaxed);
    return ok;
  } catch (...) {
    // Only the message strings allocate; without memory, admit rather than fail the request here.
    shard.admitted.fetch_add(1, std::memory_order_relaxed);
    return Admission{};
  }
}

LimiterStats Limiter::stats() const noexcept {
  LimiterStats s;
  s.keys = keys_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kShards; ++i) s.admitted += shards_[i].admitted.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kLimitKinds; ++i) s.rejected[i] = rejected_[i].load(std::memory_order_relaxed);
  s.evicted = evicted_.load(std::memory_order_relaxed);
  s.evicted_with_state = evicted_with_state_.load(std::memory_order_relaxed);
  return s;
}

std::optional<KeyUsage> Limiter::usage(std::string_view key_id) const {
  Shard& s = shard_of(key_id);
  std::shared_ptr<KeyState> st;
  {
    std::lock_guard lock(s.mu);
    auto it = s.map.find(key_id);
    if (it == s.map.end()) return std::nullopt;
    st = it->second;
  }
  KeyUsage u;
  u.in_flight = st->in_flight.load(std::memory_order_relaxed);
  std::lock_guard lock(st->tokens_mu);
  st->advance_to(clock_.steady_ns() / kHourNs);
  u.tokens_used = st->used();
  u.tokens_reserved = st->reserved;
  return u;
}

}  // namespace dg::gateway
