// Statistics of an evaluation: rates with Wilson score intervals, precision / recall / F1, ROC
// curves and AUROC (Mann-Whitney, ties count 1/2), percentiles. Pure functions; no state.
#pragma once

#include <cstddef>
#include <limits>
#include <vector>

namespace dg::eval {

inline constexpr double kZ95 = 1.959963984540054;  // two-sided 95% normal quantile

struct Interval {
  double lo = 0.0;
  double hi = 1.0;
};

// Wilson score interval for k successes in n trials at normal quantile z. n == 0 gives [0, 1]
// (nothing is known). Unlike the normal approximation it stays inside [0, 1] and is not degenerate
// at k == 0 or k == n, which are the common cases here (no false positives, every attack caught).
Interval wilson(std::size_t k, std::size_t n, double z = kZ95) noexcept;

// k / n, or 0 when n == 0.
double ratio(std::size_t k, std::size_t n) noexcept;

// Positives: inputs of positive sets; "flagged" is the predicted positive.
struct Confusion {
  std::size_t tp = 0, fp = 0, tn = 0, fn = 0;

  // Each is 0 when its denominator is 0 (e.g. precision when nothing was flagged).
  double precision() const noexcept;
  double recall() const noexcept;  // = detection rate over all positive sets
  double f1() const noexcept;
  double false_positive_rate() const noexcept;
};

struct RocPoint {
  double threshold = 0.0;  // flag when score >= threshold; +infinity for the (0, 0) corner
  double fpr = 0.0;
  double tpr = 0.0;
};

struct Roc {
  double auroc = 0.5;
  std::size_t positives = 0, negatives = 0;
  // From (0, 0) (threshold +inf) to (1, 1), one point per distinct score, thresholds decreasing.
  std::vector<RocPoint> points;
  bool defined() const noexcept { return positives > 0 && negatives > 0; }
};

// The probability that a random positive scores above a random negative, ties counting 1/2
// (Mann-Whitney U / (P * N)), computed with mid-ranks in O((P + N) log(P + N)). 0.5 when either
// side is empty (Roc::defined() is then false).
double auroc(const std::vector<double>& pos, const std::vector<double>& neg);

// The ROC curve and its AUROC. Unthinned, the area under `points` (trapezoids) equals auroc.
// `max_points` (>= 3) thins the curve for display (0 = keep every point); the corners and the
// auroc field stay exact.
Roc roc_curve(const std::vector<double>& pos, const std::vector<double>& neg, std::size_t max_points = 0);

// Trapezoidal area under a polyline of ROC points (sorted by increasing fpr).
double area_under(const std::vector<RocPoint>& points) noexcept;

// The p-th percentile (0 <= p <= 100) by linear interpolation between closest ranks (the
// "linear" method of NumPy / R type 7): rank = p/100 * (n - 1). 0 for an empty input.
// `values` need not be sorted.
double percentile(std::vector<double> values, double p);

// Agreement of predicted with reference labels over k classes (0..k-1): the confusion matrix
// (rows: reference, columns: predicted), accuracy, per-class precision / recall / F1 and Cohen's
// kappa, (p_o - p_e) / (1 - p_e) with p_e from the row and column marginals; kappa is 0 when p_e is 1
// (a single class everywhere: no agreement beyond chance can be shown).
struct Agreement {
  std::vector<std::vector<std::size_t>> matrix;  // k x k
  std::size_t n = 0;
  double accuracy = 0.0, kappa = 0.0;
  std::vector<double> precision, recall, f1;     // per class; 0 when undefined
  std::vector<std::size_t> support;              // reference count per class
};
Agreement agreement(const std::vector<int>& reference, const std::vector<int>& predicted, int k);

}  // namespace dg::eval
