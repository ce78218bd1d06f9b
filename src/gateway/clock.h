// Clocks for the request path, injectable so that limits, breakers and abuse windows are testable
// without sleeping: production code takes a `const Clock&` (usually `Clock::real()`), tests pass a
// ManualClock and move time by hand.
//
//   steady   monotonic, for durations, windows and deadlines (never goes back, unrelated to dates)
//   system   wall clock, for timestamps shown to people and written to records (may jump)
//
// Thread safety: every method may be called from any thread. ManualClock's setters are atomic; a
// reader sees either the old or the new time, never a torn value.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace dg::gateway {

using SteadyTime = std::chrono::steady_clock::time_point;
using SystemTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime steady_now() const noexcept = 0;
  virtual SystemTime system_now() const noexcept = 0;

  // Convenience: steady time in ns / ms since the clock's (arbitrary) epoch; system time in ms
  // since the Unix epoch.
  std::int64_t steady_ns() const noexcept { return to_ns(steady_now()); }
  std::int64_t steady_ms() const noexcept { return steady_ns() / 1'000'000; }
  std::int64_t system_ms() const noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(system_now().time_since_epoch()).count();
  }

  static std::int64_t to_ns(SteadyTime t) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  }

  // The process-wide real clock (std::chrono::steady_clock and system_clock). Lives forever.
  static const Clock& real() noexcept;
};

class RealClock final : public Clock {
 public:
  SteadyTime steady_now() const noexcept override { return std::chrono::steady_clock::now(); }
  SystemTime system_now() const noexcept override { return std::chrono::system_clock::now(); }
};

inline const Clock& Clock::real() noexcept {
  static const RealClock clock;
  return clock;
}

// A clock that moves only when told. Starts at steady 1000 s (not 0, so that "time 0" is never
// confused with "never") and at system 2026-01-01T00:00:00Z unless told otherwise.
class ManualClock final : public Clock {
 public:
  static constexpr std::int64_t kDefaultSystemMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

  explicit ManualClock(std::int64_t steady_ns = 1'000'000'000'000, std::int64_t system_ms = kDefaultSystemMs) noexcept
      : steady_ns_(steady_ns), system_ms_(system_ms) {}

  SteadyTime steady_now() const noexcept override {
    return SteadyTime(std::chrono::nanoseconds(steady_ns_.load(std::memory_order_acquire)));
  }
  SystemTime system_now() const noexcept override {
    return SystemTime(std::chrono::duration_cast<SystemTime::duration>(
        std::chrono::milliseconds(system_ms_.load(std::memory_order_acquire))));
  }

  // Moves both clocks forward by `d` (must not be negative: a steady clock never goes back).
  void advance(std::chrono::nanoseconds d) noexcept {
    steady_ns_.fetch_add(d.count(), std::memory_order_acq_rel);
    system_ms_.fetch_add(std::chrono::duration_cast<std::chrono::milliseconds>(d).count(), std::memory_order_acq_rel);
  }
  // Sets the wall clock alone (it may jump, as a real one does after an NTP step).
  void set_system_ms(std::int64_t ms) noexcept { system_ms_.store(ms, std::memory_order_release); }

 private:
  std::atomic<std::int64_t> steady_ns_;
  std::atomic<std::int64_t> system_ms_;
};

}  // namespace dg::gateway
