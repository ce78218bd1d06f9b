// Drift: windowed statistics of the deployment's traffic compared with a baseline window by the
// population stability index (PSI, every statistic) and the two-sample Kolmogorov-Smirnov test
// (numeric statistics). docs/monitors.md "Drift" has the method and the thresholds.
//
//   statistic        type         one value per verdict
//   prompt_length    numeric      log2(1 + prompt bytes)
//   language         categorical  the prompt's dominant script (latin, cyrillic, cjk, arabic, ...)
//   category_mix     categorical  each category the verdict found, or "none"
//   finding_score    numeric      the highest finding score (0 when nothing was found)
//   refusal_rate     rate         the answer contains a refusal (verdicts with an answer only)
//   violation_rate   rate         the action is not allow
//
// Baseline: the first `baseline_ms` of traffic after start (or after rebase()), frozen once it holds
// `min_samples`. Current: the last `window_ms`, kept as `buckets` time buckets so old traffic leaves
// the window in steps. A statistic drifts when PSI >= psi_threshold, or KS rejects at ks_alpha with
// D >= ks_min_d — and, for numeric statistics, the windows are at least min_*_shift apart; both windows need min_samples values of that statistic to be judged at all.
//
// No clock of its own: every call passes the time. Not thread-safe: one thread owns a monitor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace dg::monitor {

struct DriftOptions {
  std::int64_t baseline_ms = 60 * 60 * 1000;
  std::int64_t window_ms = 15 * 60 * 1000;
  int buckets = 15;
  std::size_t min_samples = 200;  // PSI's noise floor is about (bins - 1) * (1/n + 1/m)
  double psi_threshold = 0.25;  // the usual "significant shift" level
  double ks_alpha = 0.01;
  double ks_min_d = 0.1;        // a KS rejection alone on huge windows is not a drift
  std::size_t reservoir = 2048; // values kept per window for KS (reservoir sampling)
  // Effect size a numeric statistic must also show (Wasserstein-1 distance between the windows, in
  // the statistic's units): on near-constant data PSI and KS flag shifts too small to matter (every
  // prompt one byte longer moves every value past a decile edge).
  double min_length_shift = 0.5;  // log2(1 + bytes): a typical prompt about 1.4 times longer or shorter
  double min_score_shift = 0.1;
  std::uint64_t seed = 42;
};

struct DriftObservation {
  std::int64_t ts_ms = 0;
  std::size_t prompt_bytes = 0;
  bool has_prompt = true;
  std::string language;                 // dominant_script() of the prompt
  std::vector<std::string> categories;  // empty = "none"
  double finding_score = 0.0;
  bool has_response = false;
  bool refused = false;
  bool violation = false;
};

struct DriftStat {
  std::string statistic;
  std::string type;  // numeric | categorical | rate
  double psi = 0.0;
  std::optional<double> ks_d;  // numeric statistics
  std::optional<double> ks_p;
  std::optional<double> shift;  // numeric: Wasserstein-1 distance between the windows
  bool judged = false;   // both windows had min_samples
  bool drifted = false;
  std::size_t baseline_n = 0;
  std::size_t current_n = 0;
  std::string detail;  // what moved, e.g. "median 120 -> 903 bytes", "prompt_injection 1.0% -> 22.0%"
};

// The dominant Unicode script of a text's letters: latin, cyrillic, greek, arabic, hebrew,
// devanagari, cjk (Han, kana, hangul), thai, other; "none" without letters.
std::string dominant_script(std::string_view utf8);

// Population stability index of two count vectors over the same bins (each bin smoothed by 0.5).
double psi(const std::vector<double>& baseline, const std::vector<double>& current);
// PSI of two samples over ten bins at the baseline sample's deciles (ties merged). Non-empty baseline.
double decile_psi(const std::vector<double>& baseline, const std::vector<double>& current);

struct KsResult {
  double d = 0.0;
  double p = 1.0;
};
// Wasserstein-1 distance of two samples (mean absolute difference of their quantile functions at
// 100 points). Sorts its arguments.
double wasserstein(std::vector<double>& a, std::vector<double>& b);

// Two-sample Kolmogorov-Smirnov statistic and its asymptotic p-value. Sorts its arguments.
KsResult ks_two_sample(std::vector<double>& a, std::vector<double>& b);

class DriftMonitor {
 public:
  explicit DriftMonitor(DriftOptions options = {});

  void observe(const DriftObservation& o);
  // Every statistic, judged or not, in the order of the table above.
  std::vector<DriftStat> evaluate(std::int64_t now_ms);
  // Starts a new baseline from now (an operator accepted the new traffic as normal).
  void rebase(std::int64_t now_ms);
  bool baseline_ready() const noexcept { return frozen_; }

 private:
  // One window's worth of one statistic.
  struct Numeric {
    std::vector<double> sample;  // reservoir: PSI over the baseline's deciles, KS, medians
    std::size_t seen = 0;
  };
  struct Counts {
    std::map<std::string, double> n;
    double total = 0.0;
  };
  struct Window {
    std::int64_t start_ms = 0;
    Numeric length, score;
    Counts language, categories, refusal, violation;
  };
  void add(Window& w, const DriftObservation& o, std::size_t cap);
  Window current(std::int64_t now_ms) const;

  DriftOptions opt_;
  std::mt19937_64 rng_;
  std::int64_t base_start_ = -1;  // -1: the first observation starts it
  bool frozen_ = false;
  Window base_;
  std::deque<Window> buckets_;  // current window, oldest first
};

}  // namespace dg::monitor
