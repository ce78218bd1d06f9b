// `eval diff`: compares two eval.json reports metric by metric, as a regression gate.
//
// Every metric is classified by which way is better and by its axis:
//   detection     positive sets: detection rates (set, category, source, per transform), recall;
//                 perturbation drops (lower is better)
//   overblocking  negative sets: false-positive rates (set, category, source), overall FPR
//   mixed         precision, F1, per-detector AUROC
//   speed         latency percentiles (lower is better), throughput (higher is better)
//
// A quality metric (every axis but speed) regresses when it moves the wrong way by more than
// max_regression (an absolute difference: 0.01 = one percentage point). Speed metrics are printed and
// gate only when max_latency_regression >= 0 (a ratio: 0.2 = 20% slower / less throughput).
// A cross-domain regression (the trade the product is about) is reported when one of detection /
// over-blocking improves while the other regresses beyond the margin.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/load_result.h"
#include "core/verdict_json.h"

namespace dg::eval {

enum class Better { higher, lower };
enum class Axis { detection, overblocking, mixed, speed };
std::string_view to_string(Axis a) noexcept;

struct Metric {
  std::string name;  // e.g. "sets.attacks.detection_rate", "sets.attacks.category[jailbreak/dan].detection_rate"
  double value = 0;
  Better better = Better::higher;
  Axis axis = Axis::mixed;
  bool top_level = false;  // a whole set's rate or an overall figure (used to call an axis improved)
};

// Reads and checks an eval.json file (schema dualguard-eval/1). Errors: input_io (unreadable),
// invalid_json, eval_report (not an eval report, other schema version, missing fields).
LoadResult<ojson> load_report_file(const std::string& path);

// Every metric of a report, in a stable order. Errors (eval_report) for missing or mistyped fields.
LoadResult<std::vector<Metric>> flatten_report(const ojson& report, const std::string& file);

struct DiffOptions {
  double max_regression = 0.01;         // absolute, on quality metrics
  double max_latency_regression = -1;   // ratio on speed metrics; < 0: speed never gates
};

struct DiffEntry {
  std::string name;
  std::optional<double> a, b;  // absent when the metric is in one report only
  Better better = Better::higher;
  Axis axis = Axis::mixed;
  bool top_level = false;
  bool regression = false;  // beyond the margin (gates)
  bool improved = false;    // moved the good way (any amount)
  double delta() const noexcept { return a && b ? *b - *a : 0.0; }
};

struct DiffResult {
  std::vector<DiffEntry> moved;  // metrics that changed or exist in one report only, A's order first
  std::size_t compared = 0;      // metrics present in both
  std::size_t regressions = 0;
  std::vector<std::string> cross_domain;  // one line per cross-domain regression
  std::vector<std::string> notes;         // differing inputs, configs, options
  bool failed() const noexcept { return regressions > 0; }
};

DiffResult diff_metrics(const std::vector<Metric>& a, const std::vector<Metric>& b, const DiffOptions& opt);

// Notes about what differs besides the metrics: config / policy / set file hashes, options.
std::vector<std::string> provenance_notes(const ojson& a, const ojson& b);

std::string render_diff_text(const DiffResult& d, const DiffOptions& opt, const std::string& a_path, const std::string& b_path);
ojson diff_to_json(const DiffResult& d, const DiffOptions& opt, const std::string& a_path, const std::string& b_path);

}  // namespace dg::eval
