// The result of one evaluation: plain value types filled by the runner (runner.h), written as
// eval.json (report_json.h), index.html (report_html.h) and a terminal summary (report_text.h).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/types.h"
#include "eval/dataset.h"
#include "eval/metrics.h"
#include "eval/perturb.h"

namespace dg::eval {

inline constexpr std::string_view kEvalSchema = "dualguard-eval/1";

// Inputs grouped by a field ("category" or "source"). Lines without the field form the group "(none)".
struct GroupStats {
  std::string name;
  std::size_t n = 0, flagged = 0;
};

struct TransformStats {
  Transform transform = Transform::base64;
  std::size_t n = 0, flagged = 0;
};

struct LatencyStats {
  double p50_us = 0, p99_us = 0, mean_us = 0, max_us = 0;
};

struct SetResult {
  SetSpec spec;
  std::string sha256;      // of the set's file
  bool limited = false;    // --limit cut the set short
  std::size_t n = 0;       // inputs scanned
  std::size_t flagged = 0; // verdict action in the flag-on set
  std::size_t errors = 0;  // verdicts with a detector error (decided by the policy's fail mode)
  std::uint64_t bytes = 0; // scanned text bytes
  std::array<std::size_t, 4> classes{};  // by VerdictClass (clean, safety, security, hybrid)
  std::array<std::size_t, 5> actions{};  // by Action (allow, redact, review, safe_mode, block)
  std::vector<GroupStats> categories;    // sorted by name; empty when no line has a category
  std::vector<GroupStats> sources;       // sorted by name; empty when no line has a source
  std::vector<TransformStats> perturbations;  // positive sets only, in the order asked
  LatencyStats latency;

  // Detection rate (positive set) or false-positive rate (negative set).
  double rate() const noexcept { return ratio(flagged, n); }
};

struct DetectorResult {
  std::string name;  // a detector that reported at least one finding
  Roc roc;           // max score of its findings per input (0 when none), positives vs negatives
};

// What was asked, recorded in the report so that a reader (and `eval diff`) can tell runs apart.
struct RunInfo {
  std::string config_path, config_sha256;
  std::string policy_path, policy_sha256;
  std::vector<std::string> overrides;  // global --set key=value
  std::vector<std::string> detectors;  // enabled detectors, in order
  std::string field;                   // "" = auto
  Role role = Role::prompt;
  std::vector<Action> flag_on;
  std::size_t limit = 0;               // 0 = none
  unsigned threads = 0;
  std::uint64_t seed = 0;
  std::vector<Transform> perturb;
  std::string version;                 // dualguard version
  std::string created_utc;             // ISO 8601
};

struct Timing {
  double load_engine_s = 0, load_sets_s = 0, clean_s = 0, perturb_s = 0;
};

struct EvalReport {
  RunInfo info;
  std::vector<SetResult> sets;
  Confusion overall;                    // positives = inputs of positive sets
  std::vector<DetectorResult> detectors;  // sorted by name
  LatencyStats latency;                 // clean pass, every set
  std::size_t texts = 0;                // clean pass inputs
  std::uint64_t bytes = 0;              // clean pass scanned bytes
  Timing timing;

  double texts_per_s() const noexcept { return timing.clean_s > 0 ? static_cast<double>(texts) / timing.clean_s : 0; }
  double mb_per_s() const noexcept { return timing.clean_s > 0 ? static_cast<double>(bytes) / 1e6 / timing.clean_s : 0; }
  // Pooled over positive sets: clean detection, and detection under one transform.
  TransformStats clean_positive() const noexcept;
  TransformStats pooled(Transform t) const noexcept;
  // The transforms the positive sets were re-scanned under, in run order.
  std::vector<Transform> transforms_run() const;
};

}  // namespace dg::eval
