#include "eval/metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <tuple>

namespace dg::eval {

// Wilson score interval, z = 1.96: for 8/10, p = 0.8, z^2/n = 0.38415, denominator 1.38415,
// centre (0.8 + 0.19207) / 1.38415 = 0.71674, half-width 1.96 * sqrt(0.016 + 0.0096036) / 1.38415
// = 0.22658, so [0.49016, 0.94332].
TEST(EvalWilson, EightOfTen) {
  const Interval i = wilson(8, 10);
  EXPECT_NEAR(i.lo, 0.490162, 1e-6);
  EXPECT_NEAR(i.hi, 0.943318, 1e-6);
}

// 0/10: centre = half-width = 0.19207 / 1.38415 ... the lower bound is exactly 0, the upper
// z^2/n / (1 + z^2/n) = 0.38415 / 1.38415 = 0.27753.
TEST(EvalWilson, NoneOfTen) {
  const Interval i = wilson(0, 10);
  EXPECT_EQ(i.lo, 0.0);
  EXPECT_NEAR(i.hi, 0.277533, 1e-6);
}

TEST(EvalWilson, AllOfTenMirrorsNone) {
  const Interval i = wilson(10, 10);
  EXPECT_NEAR(i.lo, 1.0 - 0.277533, 1e-6);
  EXPECT_EQ(i.hi, 1.0);
}

TEST(EvalWilson, EmptySampleIsUninformative) {
  const Interval i = wilson(0, 0);
  EXPECT_EQ(i.lo, 0.0);
  EXPECT_EQ(i.hi, 1.0);
}

TEST(EvalWilson, NarrowsWithMoreData) {
  const Interval small = wilson(8, 10), big = wilson(800, 1000);
  EXPECT_LT(big.hi - big.lo, small.hi - small.lo);
  EXPECT_LT(big.lo, 0.8);
  EXPECT_GT(big.hi, 0.8);
}

TEST(EvalConfusion, PrecisionRecallF1) {
  Confusion c;
  c.tp = 8;
  c.fp = 2;
  c.tn = 88;
  c.fn = 12;
  EXPECT_DOUBLE_EQ(c.precision(), 0.8);          // 8 / (8 + 2)
  EXPECT_DOUBLE_EQ(c.recall(), 0.4);             // 8 / (8 + 12)
  EXPECT_NEAR(c.f1(), 2 * 0.8 * 0.4 / 1.2, 1e-12);  // 0.5333
  EXPECT_DOUBLE_EQ(c.false_positive_rate(), 2.0 / 90.0);
}

TEST(EvalConfusion, ZeroDenominatorsGiveZero) {
  Confusion c;
  c.tn = 5;
  c.fn = 5;  // nothing flagged
  EXPECT_EQ(c.precision(), 0.0);
  EXPECT_EQ(c.recall(), 0.0);
  EXPECT_EQ(c.f1(), 0.0);
}

// Mann-Whitney by hand, positives {0.9, 0.8, 0.4} against negatives {0.5, 0.4, 0.1}:
// 0.9 beats all three (3), 0.8 beats all three (3), 0.4 loses to 0.5, ties 0.4 (1/2), beats 0.1 (1):
// (3 + 3 + 1.5) / 9 = 0.8333.
TEST(EvalAuroc, TiesCountHalf) {
  EXPECT_NEAR(auroc({0.9, 0.8, 0.4}, {0.5, 0.4, 0.1}), 7.5 / 9.0, 1e-12);
}

TEST(EvalAuroc, PerfectReversedAndTied) {
  EXPECT_DOUBLE_EQ(auroc({0.9, 0.8}, {0.1, 0.2}), 1.0);
  EXPECT_DOUBLE_EQ(auroc({0.1, 0.2}, {0.9, 0.8}), 0.0);
  EXPECT_DOUBLE_EQ(auroc({0.0, 0.0, 0.0}, {0.0, 0.0}), 0.5);  // a detector that never fires
  EXPECT_DOUBLE_EQ(auroc({}, {0.1}), 0.5);
}

TEST(EvalRoc, PointsOfTheHandExample) {
  const Roc r = roc_curve({0.9, 0.8, 0.4}, {0.5, 0.4, 0.1});
  ASSERT_TRUE(r.defined());
  // (0,0) at +inf, then one point per distinct score, highest first.
  const std::vector<std::tuple<double, double, double>> want{
      {0.9, 0.0, 1.0 / 3}, {0.8, 0.0, 2.0 / 3}, {0.5, 1.0 / 3, 2.0 / 3}, {0.4, 2.0 / 3, 1.0}, {0.1, 1.0, 1.0}};
  ASSERT_EQ(r.points.size(), want.size() + 1);
  EXPECT_TRUE(std::isinf(r.points[0].threshold));
  EXPECT_EQ(r.points[0].fpr, 0.0);
  EXPECT_EQ(r.points[0].tpr, 0.0);
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_DOUBLE_EQ(r.points[i + 1].threshold, std::get<0>(want[i])) << i;
    EXPECT_NEAR(r.points[i + 1].fpr, std::get<1>(want[i]), 1e-12) << i;
    EXPECT_NEAR(r.points[i + 1].tpr, std::get<2>(want[i]), 1e-12) << i;
  }
  EXPECT_NEAR(area_under(r.points), r.auroc, 1e-12);
}

TEST(EvalRoc, TrapezoidAreaEqualsMannWhitneyOnRandomScoresWithTies) {
  std::uint64_t s = 42;
  auto next = [&] {  // LCG: scores on a coarse grid so that ties are frequent
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>((s >> 33) % 11) / 10.0;
  };
  for (int round = 0; round < 20; ++round) {
    std::vector<double> pos, neg;
    for (int i = 0; i < 37; ++i) pos.push_back(std::min(1.0, next() + 0.2));
    for (int i = 0; i < 53; ++i) neg.push_back(next());
    // Brute force Mann-Whitney over every pair.
    double u = 0;
    for (double p : pos)
      for (double n : neg) u += p > n ? 1.0 : p == n ? 0.5 : 0.0;
    const Roc r = roc_curve(pos, neg);
    EXPECT_NEAR(r.auroc, u / (37.0 * 53.0), 1e-12);
    EXPECT_NEAR(area_under(r.points), r.auroc, 1e-12);
    EXPECT_EQ(r.points.back().fpr, 1.0);
    EXPECT_EQ(r.points.back().tpr, 1.0);
  }
}

TEST(EvalRoc, ThinningKeepsCornersAndExactAuroc) {
  std::vector<double> pos, neg;
  for (int i = 0; i < 1000; ++i) {
    pos.push_back(0.5 + i / 2000.0);
    neg.push_back(i / 1000.0);
  }
  const Roc full = roc_curve(pos, neg), thin = roc_curve(pos, neg, 50);
  EXPECT_EQ(thin.points.size(), 50u);
  EXPECT_EQ(thin.auroc, full.auroc);
  EXPECT_EQ(thin.points.front().tpr, 0.0);
  EXPECT_EQ(thin.points.back().tpr, 1.0);
  EXPECT_EQ(thin.points.back().fpr, 1.0);
}

// Linear interpolation between closest ranks (NumPy's default): rank = p/100 * (n - 1).
TEST(EvalPercentile, LinearBetweenRanks) {
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 50), 2.5);    // rank 1.5
  EXPECT_NEAR(percentile({4, 1, 3, 2}, 99), 3.97, 1e-12);  // rank 2.97: 3 + 0.97
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 0), 1.0);
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 100), 4.0);
  EXPECT_DOUBLE_EQ(percentile({10, 20, 30, 40, 50}, 25), 20.0);  // rank 1 exactly
  EXPECT_DOUBLE_EQ(percentile({7}, 99), 7.0);
  EXPECT_DOUBLE_EQ(percentile({}, 50), 0.0);
}

}  // namespace dg::eval
