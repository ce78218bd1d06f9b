#include "monitor/drift.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace dg::monitor {
namespace {

const DriftStat& stat(const std::vector<DriftStat>& v, const std::string& name) {
  for (const auto& s : v)
    if (s.statistic == name) return s;
  static DriftStat none;
  ADD_FAILURE() << "no statistic " << name;
  return none;
}

// Seeded traffic: prompts of about `mean_bytes` (log-normal), a share of injections, refusals and
// violations, one script. One observation per `step_ms`.
struct Traffic {
  double mean_bytes = 200;
  double injection_share = 0.02;
  double refusal_share = 0.05;
  double violation_share = 0.03;
  std::string language = "latin";
};

void feed(DriftMonitor& m, std::mt19937_64& rng, std::int64_t& t, int n, const Traffic& tr, std::int64_t step_ms = 1000) {
  std::normal_distribution<double> len(std::log(tr.mean_bytes), 0.5);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < n; ++i) {
    DriftObservation o;
    o.ts_ms = t;
    t += step_ms;
    o.prompt_bytes = static_cast<std::size_t>(std::exp(len(rng)));
    o.language = tr.language;
    if (u(rng) < tr.injection_share) {
      o.categories = {"prompt_injection"};
      o.finding_score = 0.9;
    }
    o.has_response = true;
    o.refused = u(rng) < tr.refusal_share;
    o.violation = u(rng) < tr.violation_share;
    m.observe(o);
  }
}

DriftOptions opts() {
  DriftOptions o;
  o.baseline_ms = 1000 * 1000;  // 1,000 observations at one per second
  o.window_ms = 600 * 1000;     // 600 in the window
  o.buckets = 10;
  return o;
}

TEST(Drift, SilentWhenTheTrafficDoesNotChange) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    DriftMonitor m(opts());
    std::mt19937_64 rng(seed);
    std::int64_t t = 0;
    feed(m, rng, t, 1001, Traffic{});
    ASSERT_TRUE(m.baseline_ready());
    feed(m, rng, t, 900, Traffic{});
    for (const auto& s : m.evaluate(t)) {
      EXPECT_TRUE(s.judged) << s.statistic;
      EXPECT_FALSE(s.drifted) << "seed " << seed << " " << s.statistic << " psi " << s.psi << " " << s.detail;
    }
  }
}

TEST(Drift, LongerPromptsAreNamedWithTheirMedians) {
  DriftMonitor m(opts());
  std::mt19937_64 rng(7);
  std::int64_t t = 0;
  feed(m, rng, t, 1001, Traffic{});
  Traffic longer;
  longer.mean_bytes = 1600;
  feed(m, rng, t, 700, longer);
  const auto v = m.evaluate(t);
  const DriftStat& s = stat(v, "prompt_length");
  EXPECT_TRUE(s.drifted);
  EXPECT_GT(s.psi, 0.25);
  ASSERT_TRUE(s.ks_d && s.ks_p);
  EXPECT_GT(*s.ks_d, 0.5);
  EXPECT_LT(*s.ks_p, 1e-6);
  EXPECT_NE(s.detail.find("median "), std::string::npos);
  EXPECT_NE(s.detail.find(" bytes"), std::string::npos);
  EXPECT_FALSE(stat(v, "language").drifted);
  EXPECT_FALSE(stat(v, "violation_rate").drifted);
}

TEST(Drift, CategoryMixLanguageAndRatesDrift) {
  DriftMonitor m(opts());
  std::mt19937_64 rng(9);
  std::int64_t t = 0;
  feed(m, rng, t, 1001, Traffic{});
  Traffic attack;
  attack.injection_share = 0.3;
  attack.refusal_share = 0.4;
  attack.violation_share = 0.3;
  attack.language = "cyrillic";
  feed(m, rng, t, 700, attack);
  const auto v = m.evaluate(t);
  EXPECT_TRUE(stat(v, "category_mix").drifted);
  EXPECT_EQ(stat(v, "category_mix").detail.rfind("prompt_injection ", 0), 0u) << stat(v, "category_mix").detail;
  EXPECT_TRUE(stat(v, "language").drifted);
  EXPECT_EQ(stat(v, "language").detail.rfind("cyrillic 0.0% -> 100.0%", 0), 0u) << stat(v, "language").detail;
  EXPECT_TRUE(stat(v, "refusal_rate").drifted);
  EXPECT_TRUE(stat(v, "violation_rate").drifted);
  EXPECT_TRUE(stat(v, "finding_score").drifted);
  EXPECT_FALSE(stat(v, "prompt_length").drifted);
}

TEST(Drift, NothingIsJudgedBeforeTheBaselineOrOnASmallWindow) {
  DriftMonitor m(opts());
  std::mt19937_64 rng(3);
  std::int64_t t = 0;
  feed(m, rng, t, 500, Traffic{});
  EXPECT_FALSE(m.baseline_ready());
  for (const auto& s : m.evaluate(t)) EXPECT_FALSE(s.judged);
  feed(m, rng, t, 501, Traffic{});
  Traffic longer;
  longer.mean_bytes = 5000;
  feed(m, rng, t, 50, longer);  // under min_samples
  for (const auto& s : m.evaluate(t)) EXPECT_FALSE(s.judged) << s.statistic;
}

TEST(Drift, TheWindowForgetsOldTrafficAndRebaseAcceptsTheNew) {
  DriftMonitor m(opts());
  std::mt19937_64 rng(5);
  std::int64_t t = 0;
  feed(m, rng, t, 1001, Traffic{});
  Traffic longer;
  longer.mean_bytes = 2000;
  feed(m, rng, t, 600, longer);
  EXPECT_TRUE(stat(m.evaluate(t), "prompt_length").drifted);
  feed(m, rng, t, 700, Traffic{});  // the long prompts leave the 600 s window
  EXPECT_FALSE(stat(m.evaluate(t), "prompt_length").drifted);

  m.rebase(t);
  EXPECT_FALSE(m.baseline_ready());
  feed(m, rng, t, 1001, longer);
  feed(m, rng, t, 600, longer);
  EXPECT_FALSE(stat(m.evaluate(t), "prompt_length").drifted);
}

TEST(Drift, PsiAndKsAgainstHandComputedValues) {
  // Counts 50/50 vs 80/20 (smoothing 0.5): p = (50.5/101, 50.5/101), q = (80.5/101, 20.5/101).
  const double p1 = 50.5 / 101, q1 = 80.5 / 101, q2 = 20.5 / 101;
  const double expect = (q1 - p1) * std::log(q1 / p1) + (q2 - p1) * std::log(q2 / p1);
  EXPECT_NEAR(psi({50, 50}, {80, 20}), expect, 1e-12);
  EXPECT_NEAR(psi({10, 20, 30}, {10, 20, 30}), 0.0, 1e-12);
  std::vector<double> a{1, 2, 3, 4}, b{3, 4, 5, 6};
  const KsResult k = ks_two_sample(a, b);
  EXPECT_DOUBLE_EQ(k.d, 0.5);
  std::vector<double> c{1, 2, 3}, d{1, 2, 3};
  EXPECT_DOUBLE_EQ(ks_two_sample(c, d).d, 0.0);
  EXPECT_DOUBLE_EQ(ks_two_sample(c, d).p, 1.0);
}

TEST(Drift, ATinyShiftOfNearConstantValuesIsNotADrift) {
  // Every prompt 43 bytes, then every prompt 44: PSI and KS both see a different distribution, the
  // effect (0.03 of an octave) is far below min_length_shift.
  DriftMonitor m(opts());
  std::int64_t t = 0;
  auto feed_len = [&](int n, std::size_t bytes) {
    for (int i = 0; i < n; ++i) {
      DriftObservation o;
      o.ts_ms = t;
      t += 1000;
      o.prompt_bytes = bytes + static_cast<std::size_t>(i % 3);
      o.language = "latin";
      m.observe(o);
    }
  };
  feed_len(1001, 43);
  feed_len(600, 44);
  const DriftStat s = stat(m.evaluate(t), "prompt_length");
  EXPECT_TRUE(s.judged);
  ASSERT_TRUE(s.shift);
  EXPECT_LT(*s.shift, 0.1);
  EXPECT_FALSE(s.drifted) << s.psi << " " << *s.ks_p;
  std::vector<double> a{0, 1, 2, 3}, b{1, 2, 3, 4};
  EXPECT_NEAR(wasserstein(a, b), 1.0, 1e-12);
}

TEST(Drift, DominantScript) {
  EXPECT_EQ(dominant_script("hello world"), "latin");
  EXPECT_EQ(dominant_script("привет, как дела? ok"), "cyrillic");
  EXPECT_EQ(dominant_script("你好世界 hi"), "cjk");
  EXPECT_EQ(dominant_script("مرحبا"), "arabic");
  EXPECT_EQ(dominant_script("1234 !!"), "none");
  EXPECT_EQ(dominant_script("\xff\xfe abc"), "latin");
}

}  // namespace
}  // namespace dg::monitor
