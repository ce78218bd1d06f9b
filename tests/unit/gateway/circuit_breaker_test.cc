// Circuit breaker: closed -> open after N consecutive failures, cool-down, one probe in half-open,
// doubling cool-down after failed probes, stale results ignored. Time moves through a ManualClock.
#include "gateway/circuit_breaker.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace dg::gateway {
namespace {

using namespace std::chrono_literals;

BreakerConfig cfg(std::uint32_t threshold = 3) {
  BreakerConfig c;
  c.failure_threshold = threshold;
  c.cooldown = 10s;
  c.max_cooldown = 40s;
  return c;
}

void fail(CircuitBreaker& cb, int n) {
  for (int i = 0; i < n; ++i) {
    auto a = cb.try_acquire();
    ASSERT_TRUE(a);
    a.failure();
  }
}

TEST(CircuitBreaker, ConfigErrorsAreAllReported) {
  BreakerConfig c;
  c.failure_threshold = 0;
  c.cooldown = 0ms;
  c.max_cooldown = 48h;
  const LoadErrors e = validate(c);
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].format(), "<input>: config_invalid_value: circuit_breaker: failure_threshold must be between 1 and 1000");
  EXPECT_EQ(e[1].message, "circuit_breaker: cooldown must be at least 1 ms");
  EXPECT_EQ(e[2].message, "circuit_breaker: max_cooldown must be at most 24 h");
  c = BreakerConfig{};
  c.max_cooldown = 1s;
  ASSERT_EQ(validate(c).size(), 1u);
  EXPECT_EQ(validate(c)[0].message, "circuit_breaker: max_cooldown must not be shorter than cooldown");
  EXPECT_FALSE(CircuitBreakerSet::create(c, Clock::real()).ok());
}

TEST(CircuitBreaker, OpensAfterConsecutiveFailures) {
  ManualClock clock;
  CircuitBreaker cb("up", cfg(3), clock);
  EXPECT_EQ(cb.state(), BreakerState::closed);
  fail(cb, 2);
  EXPECT_EQ(cb.state(), BreakerState::closed);
  EXPECT_EQ(cb.snapshot().consecutive_failures, 2u);
  fail(cb, 1);
  EXPECT_EQ(cb.state(), BreakerState::open);
  auto a = cb.try_acquire();
  EXPECT_FALSE(a);
  EXPECT_EQ(a.retry_after_s(), 10u);
  clock.advance(9500ms);
  a = cb.try_acquire();
  EXPECT_FALSE(a);
  EXPECT_EQ(a.retry_after_s(), 1u);
  const BreakerSnapshot s = cb.snapshot();
  EXPECT_EQ(s.name, "up");
  EXPECT_EQ(s.state, BreakerState::open);
  EXPECT_EQ(s.opened, 1u);
  EXPECT_EQ(s.rejected, 2u);
  EXPECT_EQ(s.open_remaining_ms, 500);
}

TEST(CircuitBreaker, ASuccessResetsTheStreak) {
  ManualClock clock;
  CircuitBreaker cb("up", cfg(3), clock);
  fail(cb, 2);
  cb.try_acquire().success();
  fail(cb, 2);
  EXPECT_EQ(cb.state(), BreakerState::closed);
  // An attempt dropped without a report is neither.
  { auto a = cb.try_acquire(); }
  EXPECT_EQ(cb.snapshot().consecutive_failures, 2u);
  fail(cb, 1);
  EXPECT_EQ(cb.state(), BreakerState::open);
}

TEST(CircuitBreaker, HalfOpenLetsOneProbeThroughAndClosesOnSuccess) {
  ManualClock clock;
  CircuitBreaker cb("up", cfg(1), clock);
  fail(cb, 1);
  clock.advance(10s);
  EXPECT_EQ(cb.state(), BreakerState::half_open);
  auto probe = cb.try_acquire();
  ASSERT_TRUE(probe);
  EXPECT_TRUE(probe.probe());
  auto second = cb.try_acquire();
  EXPECT_FALSE(second);
  EXPECT_EQ(second.retry_after_s(), 1u);
  probe.success();
  probe.failure();  // a second report is ignored
  EXPECT_EQ(cb.state(), BreakerState::closed);
  auto after = cb.try_acquire();
  EXPECT_TRUE(after);
  EXPECT_FALSE(after.probe());
}

TEST(CircuitBreaker, FailedProbesDoubleTheCooldownUpToTheCap) {
  ManualClock clock;
  CircuitBreaker cb("up", cfg(1), clock);
  fail(cb, 1);
  for (std::uint32_t expect : {20u, 40u, 40u}) {
    clock.advance(std::chrono::seconds(cb.try_acquire().retry_after_s()));
    auto probe = cb.try_acquire();
    ASSERT_TRUE(probe.probe());
    probe.failure();
    EXPECT_EQ(cb.state(), BreakerState::open);
    EXPECT_EQ(cb.try_acquire().retry_after_s(), expect);
  }
  clock.advance(40s);
  cb.try_acquire().success();
  // Closed again: the next opening starts from the first cool-down.
  fail(cb, 1);
  EXPECT_EQ(cb.try_acquire().retry_after_s(), 10u);
  EXPECT_EQ(cb.snapshot().opened, 5u);
}

TEST(CircuitBreaker, AnAbandonedProbeFreesTheSlot) {
  ManualClock clock;
  CircuitBreaker cb("up", cfg(1), clock);
  fail(cb, 1);
  clock.advance(10s);
  {
    auto probe = cb.try_acquire();
    ASSERT_TRUE(probe.probe());
    EXPECT_FALSE(cb.try_acquire());
  }  // the client went away
  auto next = cb.try_acquire();
  ASSERT_TRUE(next);
  EXPECT_TRUE(next.probe());
  CircuitBreaker::Attempt moved = std::move(next);
  EXPECT_FALSE(next);
  moved.success();
  EXPECT_EQ(cb.state(), BreakerState::closed);
}

TEST(CircuitBreaker, ResultsFromBeforeAStateChangeAreIgnored) {
  ManualClock clock;
  CircuitBreaker cb("up", cfg(2), clock);
  auto slow_ok = cb.try_acquire();   // admitted while closed
  auto slow_bad = cb.try_acquire();
  fail(cb, 2);
  ASSERT_EQ(cb.state(), BreakerState::open);
  slow_ok.success();  // must not close the breaker
  EXPECT_EQ(cb.state(), BreakerState::open);
  clock.advance(10s);
  auto probe = cb.try_acquire();
  ASSERT_TRUE(probe.probe());
  slow_bad.failure();  // must not reopen it, nor count against the probe
  EXPECT_EQ(cb.state(), BreakerState::half_open);
  EXPECT_EQ(cb.snapshot().consecutive_failures, 2u);  // the streak that opened it, unchanged
  probe.success();
  EXPECT_EQ(cb.state(), BreakerState::closed);
  EXPECT_EQ(cb.snapshot().consecutive_failures, 0u);
}

TEST(CircuitBreaker, ConcurrentFailuresOpenItOnce) {
  ManualClock clock;
  CircuitBreaker cb("up", cfg(5), clock);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        auto a = cb.try_acquire();
        if (a) a.failure();
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(cb.state(), BreakerState::open);
  EXPECT_EQ(cb.snapshot().opened, 1u);
  EXPECT_GE(cb.snapshot().rejected, 4000u - 4u * 5u);
}

TEST(CircuitBreakerSet, OneBreakerPerUpstream) {
  ManualClock clock;
  auto r = CircuitBreakerSet::create(cfg(1), clock);
  ASSERT_TRUE(r.ok());
  CircuitBreakerSet& set = **r.value;
  CircuitBreaker& a = set.get("a");
  EXPECT_EQ(&a, &set.get("a"));
  CircuitBreaker& b = set.get("b");
  EXPECT_NE(&a, &b);
  fail(b, 1);
  const auto snap = set.snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[0].name, "a");
  EXPECT_EQ(snap[0].state, BreakerState::closed);
  EXPECT_EQ(snap[1].state, BreakerState::open);
  EXPECT_EQ(to_string(snap[1].state), "open");
  EXPECT_EQ(to_string(BreakerState::half_open), "half_open");
}

}  // namespace
}  // namespace dg::gateway
