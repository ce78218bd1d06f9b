// Per-key limits: request size, concurrency, token budget (rolling day), requests per minute (GCRA),
// eviction, and their stable codes / Retry-After. Time moves only through a ManualClock.
#include "gateway/limiter.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace dg::gateway {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<Limiter> make(const Limiter::Config& cfg, const Clock& clock) {
  auto r = Limiter::create(cfg, clock);
  EXPECT_TRUE(r.ok()) << format_errors_text(r.errors);
  return r.ok() ? std::move(*r.value) : nullptr;
}

Limiter::Config with_defaults(Limits d) {
  Limiter::Config c;
  c.defaults = d;
  return c;
}

TEST(Limiter, ConfigErrorsAreAllReported) {
  ManualClock clock;
  Limiter::Config c;
  c.defaults.requests_per_minute = 60'000'001;
  c.burst = 2'000'000;
  c.idle_ttl = 0s;
  c.max_keys = 3;
  auto r = Limiter::create(c, clock);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 4u);
  EXPECT_EQ(r.errors[0].format(), "<input>: config_invalid_value: limiter: requests_per_minute must be at most 60000000");
  EXPECT_EQ(r.errors[1].message, "limiter: burst must be at most 1000000");
  EXPECT_EQ(r.errors[2].message, "limiter: idle_ttl must be at least 1 s");
  EXPECT_EQ(r.errors[3].message, "limiter: max_keys must be at least 16");
}

TEST(Limiter, CodesAndStatuses) {
  EXPECT_EQ(error_code(LimitKind::max_body_bytes), "request_too_large");
  EXPECT_EQ(error_code(LimitKind::requests_per_minute), "rate_limited");
  EXPECT_EQ(error_code(LimitKind::tokens_per_day), "token_budget_exceeded");
  EXPECT_EQ(error_code(LimitKind::concurrent), "too_many_concurrent_requests");
  EXPECT_EQ(http_status(LimitKind::max_body_bytes), 413);
  EXPECT_EQ(http_status(LimitKind::concurrent), 429);
  EXPECT_EQ(to_string(LimitKind::tokens_per_day), "tokens_per_day");
}

TEST(Limiter, EffectiveLimitsTakeKeyOverridesAndTheSmallerBodyLimit) {
  ManualClock clock;
  auto lim = make(with_defaults({.requests_per_minute = 60, .tokens_per_day = 1000, .concurrent = 4, .max_body_bytes = 1000}), clock);
  KeyLimits k;
  k.requests_per_minute = 0;  // explicitly unlimited
  k.concurrent = 10;
  k.max_body_bytes = 5000;  // cannot raise the gateway's limit
  const Limits e = lim->effective(k);
  EXPECT_EQ(e, (Limits{.requests_per_minute = 0, .tokens_per_day = 1000, .concurrent = 10, .max_body_bytes = 1000}));
  k.max_body_bytes = 10;
  EXPECT_EQ(lim->effective(k).max_body_bytes, 10u);
  EXPECT_EQ(lim->effective(KeyLimits{}), lim->defaults());
}

TEST(Limiter, BodyTooLarge) {
  ManualClock clock;
  auto lim = make(with_defaults({.max_body_bytes = 100}), clock);
  EXPECT_TRUE(lim->admit("k", {}, {.body_bytes = 100}));
  Admission a = lim->admit("k", {}, {.body_bytes = 101});
  ASSERT_FALSE(a);
  EXPECT_EQ(a.rejection->limit, LimitKind::max_body_bytes);
  EXPECT_EQ(a.rejection->code, "request_too_large");
  EXPECT_EQ(a.rejection->http_status, 413);
  EXPECT_EQ(a.rejection->retry_after_s, 1u);
  EXPECT_EQ(a.rejection->message, "the request body (101 bytes) exceeds the limit of 100 bytes");
  KeyLimits small;
  small.max_body_bytes = 50;
  EXPECT_FALSE(lim->admit("k", small, {.body_bytes = 51}));
}

TEST(Limiter, RequestsPerMinuteBurstThenSteadyRate) {
  ManualClock clock;
  auto lim = make(with_defaults({.requests_per_minute = 5}), clock);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(lim->admit("k", {}, {})) << i;
  Admission a = lim->admit("k", {}, {});
  ASSERT_FALSE(a);
  EXPECT_EQ(a.rejection->code, "rate_limited");
  EXPECT_EQ(a.rejection->http_status, 429);
  EXPECT_EQ(a.rejection->retry_after_s, 12u);  // one request every 60/5 s
  EXPECT_EQ(a.rejection->message, "the key's limit of 5 requests per minute is exceeded");
  clock.advance(11s);
  a = lim->admit("k", {}, {});
  ASSERT_FALSE(a);
  EXPECT_EQ(a.rejection->retry_after_s, 1u);
  clock.advance(1s);
  EXPECT_TRUE(lim->admit("k", {}, {}));
  EXPECT_FALSE(lim->admit("k", {}, {}));
  // Another key is not affected.
  EXPECT_TRUE(lim->admit("other", {}, {}));
  // After a full idle minute the whole burst is back.
  clock.advance(60s);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(lim->admit("k", {}, {})) << i;
  EXPECT_FALSE(lim->admit("k", {}, {}));
}

TEST(Limiter, ConfiguredBurst) {
  ManualClock clock;
  Limiter::Config c = with_defaults({.requests_per_minute = 60});
  c.burst = 2;
  auto lim = make(c, clock);
  EXPECT_TRUE(lim->admit("k", {}, {}));
  EXPECT_TRUE(lim->admit("k", {}, {}));
  Admission a = lim->admit("k", {}, {});
  ASSERT_FALSE(a);
  EXPECT_EQ(a.rejection->retry_after_s, 1u);
  clock.advance(1s);
  EXPECT_TRUE(lim->admit("k", {}, {}));
}

TEST(Limiter, ConcurrencyPermitReleasesOnDestruction) {
  ManualClock clock;
  auto lim = make(with_defaults({.concurrent = 2}), clock);
  Admission a = lim->admit("k", {}, {});
  std::optional<Admission> b = lim->admit("k", {}, {});
  ASSERT_TRUE(a);
  ASSERT_TRUE(*b);
  EXPECT_TRUE(a.permit.valid());
  Admission c = lim->admit("k", {}, {});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.rejection->code, "too_many_concurrent_requests");
  EXPECT_EQ(c.rejection->retry_after_s, 1u);
  EXPECT_EQ(c.rejection->message, "the key already has 2 requests in flight (limit 2)");
  EXPECT_EQ(lim->usage("k")->in_flight, 2u);
  b.reset();  // destroying the permit frees its slot
  EXPECT_EQ(lim->usage("k")->in_flight, 1u);
  Admission d = lim->admit("k", {}, {});
  ASSERT_TRUE(d);
  // Moving a permit moves the slot, it does not double it.
  Permit moved = std::move(d.permit);
  EXPECT_FALSE(d.permit.valid());
  EXPECT_EQ(lim->usage("k")->in_flight, 2u);
  moved.release();
  moved.release();
  EXPECT_EQ(lim->usage("k")->in_flight, 1u);
}

TEST(Limiter, TokenBudgetReservesTheEstimateAndChargesTheActualCount) {
  ManualClock clock;  // steady time 1000 s: hour 0 of the steady clock
  auto lim = make(with_defaults({.tokens_per_day = 1000}), clock);
  Admission a = lim->admit("k", {}, {.estimated_tokens = 600});
  ASSERT_TRUE(a);
  EXPECT_EQ(lim->usage("k")->tokens_reserved, 600u);
  // A second request while the first runs: 600 reserved + 600 > 1000.
  Admission b = lim->admit("k", {}, {.estimated_tokens = 600});
  ASSERT_FALSE(b);
  EXPECT_EQ(b.rejection->code, "token_budget_exceeded");
  EXPECT_EQ(b.rejection->retry_after_s, 1u);  // only reservations stand in the way
  EXPECT_EQ(b.rejection->message,
            "the key's budget of 1000 tokens per day is spent (0 used, 600 reserved by running requests, this "
            "request needs about 600)");
  a.permit.charge_tokens(300);
  EXPECT_EQ(lim->usage("k")->tokens_used, 300u);
  EXPECT_EQ(lim->usage("k")->tokens_reserved, 0u);
  a.permit.charge_tokens(100);  // later charges add (streams)
  EXPECT_EQ(lim->usage("k")->tokens_used, 400u);
  a.permit.release();
  EXPECT_TRUE(lim->admit("k", {}, {.estimated_tokens = 600}));  // released without a charge: nothing spent
  EXPECT_EQ(lim->usage("k")->tokens_used, 400u);
  Admission c = lim->admit("k", {}, {.estimated_tokens = 601});
  ASSERT_FALSE(c);
  // The 400 tokens of hour 0 leave the window at 24 h on the steady clock; now is 1000 s.
  EXPECT_EQ(c.rejection->retry_after_s, 86400u - 1000u);
  clock.advance(std::chrono::seconds(86400 - 1000));
  EXPECT_TRUE(lim->admit("k", {}, {.estimated_tokens = 1000}));
  EXPECT_EQ(lim->usage("k")->tokens_used, 0u);
}

TEST(Limiter, TokenWindowRollsHourByHour) {
  ManualClock clock(0);
  auto lim = make(with_defaults({.tokens_per_day = 100}), clock);
  for (int h = 0; h < 4; ++h) {
    Admission a = lim->admit("k", {}, {.estimated_tokens = 1});
    ASSERT_TRUE(a) << h;
    a.permit.charge_tokens(25);
    clock.advance(1h);
  }
  // 100 used in hours 0..3; at hour 4 the oldest (hour 0) frees at 24 h.
  Admission r = lim->admit("k", {}, {.estimated_tokens = 30});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.rejection->retry_after_s, 20u * 3600u + 3600u);  // hours 0 and 1 must leave: at 25 h, now 4 h
  clock.advance(20h);  // now 24 h: hour 0 left
  EXPECT_TRUE(lim->admit("k", {}, {.estimated_tokens = 25}));
  EXPECT_EQ(lim->usage("k")->tokens_used, 75u);
}

TEST(Limiter, EstimateAboveTheWholeBudget) {
  ManualClock clock;
  auto lim = make(with_defaults({.tokens_per_day = 100}), clock);
  Admission a = lim->admit("k", {}, {.estimated_tokens = 101});
  ASSERT_FALSE(a);
  EXPECT_EQ(a.rejection->retry_after_s, 86400u);
  EXPECT_EQ(a.rejection->message, "the request's token estimate (101) exceeds the key's daily budget of 100 tokens");
}

TEST(Limiter, ARejectedRequestConsumesNothing) {
  ManualClock clock;
  auto lim = make(with_defaults({.requests_per_minute = 2, .tokens_per_day = 100, .concurrent = 1}), clock);
  Admission a = lim->admit("k", {}, {.estimated_tokens = 10});
  ASSERT_TRUE(a);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(lim->admit("k", {}, {.estimated_tokens = 10}).rejection->limit, LimitKind::concurrent);
  a.permit.release();
  Admission big = lim->admit("k", {}, {.estimated_tokens = 200});
  EXPECT_EQ(big.rejection->limit, LimitKind::tokens_per_day);
  Admission b = lim->admit("k", {}, {.estimated_tokens = 10});  // the second of 2 per minute
  ASSERT_TRUE(b);
  b.permit.release();
  Admission c = lim->admit("k", {}, {.estimated_tokens = 10});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.rejection->limit, LimitKind::requests_per_minute);
  // The rate rejection gave back the slot and the reservation it had taken.
  EXPECT_EQ(lim->usage("k")->in_flight, 0u);
  EXPECT_EQ(lim->usage("k")->tokens_reserved, 0u);
  const LimiterStats s = lim->stats();
  EXPECT_EQ(s.admitted, 2u);
  EXPECT_EQ(s.rejected[static_cast<std::size_t>(LimitKind::concurrent)], 5u);
  EXPECT_EQ(s.rejected[static_cast<std::size_t>(LimitKind::tokens_per_day)], 1u);
  EXPECT_EQ(s.rejected[static_cast<std::size_t>(LimitKind::requests_per_minute)], 1u);
  EXPECT_EQ(s.rejected[static_cast<std::size_t>(LimitKind::max_body_bytes)], 0u);
}

TEST(Limiter, UnlimitedKeysKeepNoState) {
  ManualClock clock;
  auto lim = make(with_defaults({}), clock);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(lim->admit("k" + std::to_string(i), {}, {.body_bytes = 1u << 30}));
  EXPECT_EQ(lim->stats().keys, 0u);
  EXPECT_EQ(lim->stats().admitted, 100u);
  EXPECT_FALSE(lim->usage("k1").has_value());
}

TEST(Limiter, SetDefaultsAppliesToLaterRequests) {
  ManualClock clock;
  auto lim = make(with_defaults({.requests_per_minute = 1}), clock);
  EXPECT_TRUE(lim->admit("k", {}, {}));
  EXPECT_FALSE(lim->admit("k", {}, {}));
  lim->set_defaults({.requests_per_minute = 0});
  EXPECT_TRUE(lim->admit("k", {}, {}));
}

TEST(Limiter, IdleKeysAreEvictedOnlyWhenNothingIsLost) {
  ManualClock clock;
  Limiter::Config c = with_defaults({.requests_per_minute = 60, .tokens_per_day = 1000});
  c.idle_ttl = 600s;
  auto lim = make(c, clock);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(lim->admit("k" + std::to_string(i), {}, {}));
  Admission spender = lim->admit("spender", {}, {.estimated_tokens = 10});
  spender.permit.charge_tokens(10);
  spender.permit.release();
  Admission holder = lim->admit("holder", {}, {});
  EXPECT_EQ(lim->stats().keys, 52u);
  clock.advance(599s);
  lim->sweep();
  EXPECT_EQ(lim->stats().keys, 52u);  // not idle long enough
  clock.advance(1s);
  lim->sweep();
  // "spender" has tokens in its window, "holder" a live permit.
  EXPECT_EQ(lim->stats().keys, 2u);
  EXPECT_EQ(lim->stats().evicted, 50u);
  EXPECT_TRUE(lim->usage("spender").has_value());
  holder.permit.release();
  lim->sweep();
  EXPECT_EQ(lim->stats().keys, 1u);
  clock.advance(24h);
  lim->sweep();
  EXPECT_EQ(lim->stats().keys, 0u);
  EXPECT_EQ(lim->stats().evicted_with_state, 0u);
}

TEST(Limiter, MaxKeysBoundsMemory) {
  ManualClock clock;
  Limiter::Config c = with_defaults({.requests_per_minute = 10});
  c.max_keys = 16;  // one per shard
  auto lim = make(c, clock);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(lim->admit("key-" + std::to_string(i), {}, {}));
  EXPECT_LE(lim->stats().keys, 16u);
  EXPECT_GE(lim->stats().evicted_with_state, 1000u - 16u);
}

TEST(Limiter, RateIsExactUnderContention) {
  ManualClock clock;
  auto lim = make(with_defaults({.requests_per_minute = 100, .concurrent = 1000}), clock);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i)
        if (lim->admit("shared", {}, {})) admitted.fetch_add(1);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted.load(), 100);
  EXPECT_EQ(lim->usage("shared")->in_flight, 0u);
  EXPECT_EQ(lim->stats().rejected[static_cast<std::size_t>(LimitKind::requests_per_minute)], 1900u);
}

}  // namespace
}  // namespace dg::gateway
