// Per-key admission limits of the gateway (docs/gateway.md, "Errors": 413 / 429):
//
//   max_body_bytes       a number per key, checked first, no state
//   concurrent           requests of the key in flight at once; held by an RAII Permit
//   tokens_per_day       a rolling 24-hour token budget in hour steps: checked before the request with
//                        an estimate (reserved while the request runs), charged after the response
//                        with the actual count (Permit::charge_tokens)
//   requests_per_minute  GCRA, a token bucket kept as one timestamp per key (see below)
//
// Why GCRA (the "generic cell rate algorithm", a token bucket stored as its theoretical arrival
// time) rather than a sliding window: one atomic 64-bit word per key updated with a single CAS (no
// lock, no per-request memory, where a sliding log keeps one timestamp per request), an exact
// Retry-After (the time until the next request conforms), and no burst at the edge of fixed windows.
// The key may spend `burst` requests at once after being idle (default: its requests_per_minute, so
// "N per minute" lets N through at once) and then one every 60/N seconds; over any 60 s interval at
// most burst + N requests pass, and the long-run rate is exactly N per minute.
//
// Why a reservation for tokens: a budget only charged after the response lets every request running
// at the same time pass the same check; reserving the estimate bounds the overshoot to the error of
// the estimates instead of concurrency × request size.
//
// Limits come from the key (KeyLimits: optional overrides) or from the limiter's defaults; 0 means
// unlimited. The body limit is the smaller of the two when both are set, as docs/gateway.md says
// ("the body exceeds gateway.max_body_bytes or the key's own limit"); the other limits of a key
// replace the defaults (a key may get more or less than the default).
//
// Memory: one small state per key seen (≈ 400 bytes with its map entry), in 16 shards. A key's state is dropped when
// nothing references it, it has been idle for `idle_ttl`, and dropping it loses nothing (its bucket
// is full, its token window empty). Past `max_keys` the least recently seen unreferenced state of
// the shard is dropped even if that forgets usage (counted in `evicted_with_state`): keys are
// authenticated, so that cap is only reached by a deployment with more keys than it was sized for.
//
// Thread safety: every method may be called from any thread. admit() takes one shard mutex for a
// hash lookup, then works with atomics; the token budget (when the key has one) takes the key's own
// mutex for a few dozen instructions. No allocation on the path of a known key.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/errors.h"
#include "core/load_result.h"
#include "gateway/clock.h"

namespace dg::gateway {

enum class LimitKind { max_body_bytes = 0, concurrent = 1, tokens_per_day = 2, requests_per_minute = 3 };
inline constexpr std::size_t kLimitKinds = 4;

// "max_body_bytes", "concurrent", "tokens_per_day", "requests_per_minute" (config key spellings).
std::string_view to_string(LimitKind k) noexcept;
// The stable error code of a rejection by `k` (request_too_large, too_many_concurrent_requests, token_budget_exceeded or rate_limited; core/errors.h).
std::string_view error_code(LimitKind k) noexcept;
// 413 for max_body_bytes, 429 otherwise.
int http_status(LimitKind k) noexcept;

// Effective limits of a key. 0 = unlimited.
struct Limits {
  std::uint64_t requests_per_minute = 0;
  std::uint64_t tokens_per_day = 0;
  std::uint64_t concurrent = 0;
  std::uint64_t max_body_bytes = 0;
  friend bool operator==(const Limits&, const Limits&) = default;
};

// A key's own limits (from the key store); an empty optional takes the default, a value (0 included:
// unlimited) replaces it, except max_body_bytes which can only lower the default.
struct KeyLimits {
  std::optional<std::uint64_t> requests_per_minute;
  std::optional<std::uint64_t> tokens_per_day;
  std::optional<std::uint64_t> concurrent;
  std::optional<std::uint64_t> max_body_bytes;
};

// What admit() needs to know about one request.
struct RequestCost {
  std::uint64_t body_bytes = 0;
  std::uint64_t estimated_tokens = 0;  // prompt tokens + max completion tokens, or a fair guess
};

struct Rejection {
  LimitKind limit = LimitKind::requests_per_minute;
  std::string_view code;            // stable error code (core/errors.h), static storage
  int http_status = 429;            // 413 or 429
  std::uint32_t retry_after_s = 1;  // >= 1; the time until the limit frees, rounded up (1 for max_body_bytes,
                                    // where retrying the same body cannot help: do not send Retry-After with 413)
  std::string message;              // one line for the error body, names the limit and its value
};

namespace detail {
struct KeyState;
}

// Holds one admitted request's concurrency slot and token reservation; releases both on destruction.
// Move-only. Not thread-safe itself (one request, one owner); different permits of one key may be
// used from different threads. A Permit keeps its key's state alive: it may outlive the Limiter.
class Permit {
 public:
  Permit() = default;
  Permit(Permit&& o) noexcept;
  Permit& operator=(Permit&& o) noexcept;
  Permit(const Permit&) = delete;
  Permit& operator=(const Permit&) = delete;
  ~Permit() { release(); }

  bool valid() const noexcept { return st_ != nullptr; }

  // Charges `tokens` actually used to the key's daily window, in the hour of the key's latest
  // admission (this request's hour or a later one). The first call also releases the estimate
  // reserved by admit(); later calls add (for streams charged as they go). A permit released without
  // a call charges nothing (the upstream was not reached or reported no usage).
  void charge_tokens(std::uint64_t tokens) noexcept;

  // Releases the concurrency slot and any unsettled reservation now (also done by the destructor).
  void release() noexcept;

 private:
  friend class Limiter;
  std::shared_ptr<detail::KeyState> st_;
  std::uint64_t reserved_ = 0;  // estimate still reserved (0 once charged)
  bool holds_slot_ = false;     // counted in the key's in-flight requests
};

// The outcome of admit(): a valid permit, or a rejection.
struct Admission {
  Permit permit;
  std::optional<Rejection> rejection;
  explicit operator bool() const noexcept { return !rejection.has_value(); }
};

struct LimiterStats {
  std::uint64_t keys = 0;                          // key states held now
  std::uint64_t admitted = 0;                      // requests admitted since start
  std::array<std::uint64_t, kLimitKinds> rejected{};  // by LimitKind
  std::uint64_t evicted = 0;                       // idle key states dropped (nothing lost)
  std::uint64_t evicted_with_state = 0;            // dropped over max_keys while holding usage
};

// One key's usage now (for admin views and tests).
struct KeyUsage {
  std::uint64_t in_flight = 0;
  std::uint64_t tokens_used = 0;      // charged within the rolling 24-hour window
  std::uint64_t tokens_reserved = 0;  // estimates of requests still running
};

class Limiter {
 public:
  struct Config {
    Limits defaults;                      // limits of keys without their own
    std::uint64_t burst = 0;              // GCRA burst in requests; 0 = the key's requests_per_minute
    std::chrono::seconds idle_ttl{600};   // a state idle this long may be dropped (when that loses nothing)
    std::size_t max_keys = 100000;        // cap on key states (see the header comment)
  };

  // Validates `cfg` (every problem reported, "limiter: ..." messages); `clock` must outlive the limiter.
  static LoadResult<std::unique_ptr<Limiter>> create(const Config& cfg, const Clock& clock);
  ~Limiter();

  // Checks the request against the key's effective limits in the order max_body_bytes, concurrent,
  // tokens_per_day, requests_per_minute; the first that fails is reported and nothing is consumed.
  // On success the permit holds a concurrency slot (when the key has a concurrency limit) and the
  // token estimate (when it has a budget); the request counts against requests_per_minute. Never
  // throws (an allocation failure for a new key's state is reported as admitted without state).
  Admission admit(std::string_view key_id, const KeyLimits& key, const RequestCost& cost) noexcept;

  // The limits admit() applies to a key.
  Limits effective(const KeyLimits& key) const noexcept;

  // Replaces the defaults (on config reload); requests admitted after the call use them.
  void set_defaults(const Limits& defaults) noexcept;
  Limits defaults() const noexcept;

  // Drops every idle state whose loss forgets nothing. admit() also sweeps a shard on every 1024th
  // lookup in it; call this from a timer to return memory sooner.
  void sweep() noexcept;

  LimiterStats stats() const noexcept;
  std::optional<KeyUsage> usage(std::string_view key_id) const;

 private:
  struct Shard;
  Limiter(const Config& cfg, const Clock& clock);
  Shard& shard_of(std::string_view key_id) const noexcept;
  std::shared_ptr<detail::KeyState> lookup(Shard& s, std::string_view key_id, std::int64_t now) noexcept;
  void sweep_shard(Shard& s, std::int64_t now, bool make_room) noexcept;
  Admission reject(LimitKind k, std::uint32_t retry_after_s, std::string message) noexcept;

  const Clock& clock_;
  std::uint64_t burst_;
  std::int64_t idle_ttl_ns_;
  std::size_t max_keys_per_shard_;
  std::array<std::atomic<std::uint64_t>, 4> defaults_{};  // order of Limits' fields
  std::unique_ptr<Shard[]> shards_;
  std::atomic<std::uint64_t> keys_{0}, evicted_{0}, evicted_with_state_{0};  // change rarely
  std::array<std::atomic<std::uint64_t>, kLimitKinds> rejected_{};
};

}  // namespace dg::gateway
