#include "eval/metrics.h"

#include <algorithm>
#include <cmath>

namespace dg::eval {

Interval wilson(std::size_t k, std::size_t n, double z) noexcept {
  if (n == 0) return {0.0, 1.0};
  const double nn = static_cast<double>(n);
  const double p = static_cast<double>(std::min(k, n)) / nn;
  const double z2 = z * z;
  const double denom = 1.0 + z2 / nn;
  const double center = (p + z2 / (2.0 * nn)) / denom;
  const double half = z * std::sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn)) / denom;
  // At k == 0 (k == n) the lower (upper) bound is exactly 0 (1); rounding would leave ~1e-18.
  return {k == 0 ? 0.0 : std::max(0.0, center - half), k >= n ? 1.0 : std::min(1.0, center + half)};
}

double ratio(std::size_t k, std::size_t n) noexcept { return n ? static_cast<double>(k) / static_cast<double>(n) : 0.0; }

double Confusion::precision() const noexcept { return ratio(tp, tp + fp); }
double Confusion::recall() const noexcept { return ratio(tp, tp + fn); }
double Confusion::false_positive_rate() const noexcept { return ratio(fp, fp + tn); }
double Confusion::f1() const noexcept {
  const double p = precision(), r = recall();
  return p + r > 0 ? 2.0 * p * r / (p + r) : 0.0;
}

double auroc(const std::vector<double>& pos, const std::vector<double>& neg) {
  if (pos.empty() || neg.empty()) return 0.5;
  struct Item {
    double score;
    bool positive;
  };
  std::vector<Item> all;
  all.reserve(pos.size() + neg.size());
  for (double s : pos) all.push_back({s, true});
  for (double s : neg) all.push_back({s, false});
  std::sort(all.begin(), all.end(), [](const Item& a, const Item& b) { return a.score < b.score; });
  // Sum of the positives' mid-ranks (1-based); tied scores share the mean of their ranks.
  double rank_sum = 0.0;
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    std::size_t tied_pos = 0;
    while (j < all.size() && all[j].score == all[i].score) tied_pos += all[j++].positive;
    const double mid = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    rank_sum += mid * static_cast<double>(tied_pos);
    i = j;
  }
  const double np = static_cast<double>(pos.size()), nn = static_cast<double>(neg.size());
  const double u = rank_sum - np * (np + 1.0) / 2.0;
  return u / (np * nn);
}

double area_under(const std::vector<RocPoint>& points) noexcept {
  double a = 0.0;
  for (std::size_t i = 1; i < points.size(); ++i)
    a += (points[i].fpr - points[i - 1].fpr) * (points[i].tpr + points[i - 1].tpr) / 2.0;
  return a;
}

Roc roc_curve(const std::vector<double>& pos, const std::vector<double>& neg, std::size_t max_points) {
  Roc r;
  r.positives = pos.size();
  r.negatives = neg.size();
  r.auroc = auroc(pos, neg);
  if (!r.defined()) return r;
  std::vector<double> p = pos, n = neg;
  std::sort(p.begin(), p.end(), std::greater<>());
  std::sort(n.begin(), n.end(), std::greater<>());
  const double np = static_cast<double>(p.size()), nn = static_cast<double>(n.size());
  r.points.push_back({std::numeric_limits<double>::infinity(), 0.0, 0.0});
  // Walk thresholds from the highest score down; each distinct score adds one point.
  std::size_t i = 0, j = 0;
  while (i < p.size() || j < n.size()) {
    const double t = std::max(i < p.size() ? p[i] : -std::numeric_limits<double>::infinity(),
                              j < n.size() ? n[j] : -std::numeric_limits<double>::infinity());
    while (i < p.size() && p[i] >= t) ++i;
    while (j < n.size() && n[j] >= t) ++j;
    r.points.push_back({t, static_cast<double>(j) / nn, static_cast<double>(i) / np});
  }
  if (max_points >= 3 && r.points.size() > max_points) {
    // Keep evenly spaced points and both ends; thinning only straightens the drawn curve.
    std::vector<RocPoint> thin;
    const std::size_t last = r.points.size() - 1;
    for (std::size_t k = 0; k < max_points; ++k) thin.push_back(r.points[k * last / (max_points - 1)]);
    r.points = std::move(thin);
  }
  return r;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0.0;
  p = std::clamp(p, 0.0, 100.0);
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(lo), values.end());
  const double a = values[lo];
  double b = a;
  if (hi != lo) b = *std::min_element(values.begin() + static_cast<std::ptrdiff_t>(lo) + 1, values.end());
  return a + (b - a) * (rank - static_cast<double>(lo));
}

Agreement agreement(const std::vector<int>& reference, const std::vector<int>& predicted, int k) {
  Agreement a;
  const auto K = static_cast<std::size_t>(std::max(k, 0));
  a.matrix.assign(K, std::vector<std::size_t>(K, 0));
  a.precision.assign(K, 0.0);
  a.recall.assign(K, 0.0);
  a.f1.assign(K, 0.0);
  a.support.assign(K, 0);
  const std::size_t n = std::min(reference.size(), predicted.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (reference[i] < 0 || predicted[i] < 0 || reference[i] >= k || predicted[i] >= k) continue;
    ++a.matrix[static_cast<std::size_t>(reference[i])][static_cast<std::size_t>(predicted[i])];
    ++a.n;
  }
  if (a.n == 0) return a;
  std::size_t diag = 0;
  std::vector<std::size_t> col(K, 0);
  for (std::size_t r = 0; r < K; ++r)
    for (std::size_t c = 0; c < K; ++c) {
      a.support[r] += a.matrix[r][c];
      col[c] += a.matrix[r][c];
      if (r == c) diag += a.matrix[r][c];
    }
  const double N = static_cast<double>(a.n);
  a.accuracy = static_cast<double>(diag) / N;
  double pe = 0.0;
  for (std::size_t c = 0; c < K; ++c) {
    pe += (static_cast<double>(a.support[c]) / N) * (static_cast<double>(col[c]) / N);
    a.precision[c] = ratio(a.matrix[c][c], col[c]);
    a.recall[c] = ratio(a.matrix[c][c], a.support[c]);
    const double pr = a.precision[c] + a.recall[c];
    a.f1[c] = pr > 0 ? 2.0 * a.precision[c] * a.recall[c] / pr : 0.0;
  }
  a.kappa = pe < 1.0 ? (a.accuracy - pe) / (1.0 - pe) : 0.0;
  return a;
}

}  // namespace dg::eval
