// The terminal summary of an evaluation (`dualguard eval --format text`): per-set rates with 95%
// intervals, precision / recall / F1, per-detector AUROC, the weakest categories, robustness per
// transform, verdict classes, latency, throughput and timings.
#pragma once

#include <string>

#include "eval/report.h"

namespace dg::eval {

std::string render_summary_text(const EvalReport& r);

// "61.2%" (one decimal).
std::string pct(double fraction);
// A drop (clean rate - perturbed rate, as a fraction) as signed percentage points: 0.12 -> "-12.0 pp".
std::string drop_points(double drop_fraction);
// Fixed-point with `decimals` digits.
std::string fixed(double v, int decimals);

}  // namespace dg::eval
