// `eval sweep`: the trade-off between security detection (flagged rate on the positive sets) and
// safety over-blocking (flagged rate on the negative sets) across policy variants. Each variant is
// one engine built from the config with `--set`-style overrides taken from a grid of parameters;
// the report marks the Pareto front (no other variant detects more while over-blocking less) and
// the shipped default (the config with no grid override).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/load_result.h"
#include "eval/report.h"
#include "eval/runner.h"

namespace dg::eval {

inline constexpr std::string_view kSweepSchema = "dualguard-sweep/1";
inline constexpr std::size_t kMaxVariants = 200;

// One swept config key and its values (as override strings).
struct Param {
  std::string key;                  // full key, e.g. "detectors.secrets.min_entropy"
  std::vector<std::string> values;  // e.g. {"3", "3.5", "4"}
};

// Parses "KEY=FROM:TO:STEP" (inclusive numeric range, STEP > 0, at most kMaxVariants values) or
// "KEY=v1,v2,...". A KEY whose first component is one of `detector_names` and is not a top-level
// config key is short for "detectors.KEY" (prompt_attack.threshold -> detectors.prompt_attack.threshold).
// Errors carry code eval_param.
LoadResult<Param> parse_param(std::string_view arg, const std::vector<std::string>& detector_names);

// Every combination of the parameters' values (cartesian product, first parameter slowest), each as
// a list of "key=value" overrides. Errors (eval_param): no parameter, a key given twice, more than
// `max_variants` combinations.
LoadResult<std::vector<std::vector<std::string>>> expand_grid(const std::vector<Param>& params,
                                                              std::size_t max_variants = kMaxVariants);

struct SetRate {
  std::string name;
  bool positive = false;
  std::size_t n = 0, flagged = 0;
};

struct Variant {
  std::vector<std::string> overrides;  // grid overrides (empty for the default)
  bool is_default = false;
  std::size_t pos_n = 0, pos_flagged = 0, neg_n = 0, neg_flagged = 0;
  std::vector<SetRate> sets;
  Confusion overall;
  LatencyStats latency;
  double seconds = 0;  // load + scan wall time
  bool pareto = false;
  std::string error;   // the config of this variant does not load (the variant did not run)

  bool ran() const noexcept { return error.empty(); }

  double detection() const noexcept { return ratio(pos_flagged, pos_n); }
  double overblocking() const noexcept { return ratio(neg_flagged, neg_n); }
};

// Summarises one evaluation as a variant.
Variant variant_of(const EvalReport& r, std::vector<std::string> overrides, bool is_default);

// Sets `pareto` on every variant that ran and that no other variant dominates (detection >= and
// over-blocking <=, one of them strictly). Identical points are all on the front.
void mark_pareto(std::vector<Variant>& variants);

struct SweepReport {
  RunInfo info;                 // config, global overrides, options
  std::vector<Param> params;
  std::vector<SetResult> sets;  // identity of the sets (name, path, sha256, label, n); rates per variant
  std::vector<Variant> variants;  // variants[0] is the default, then the grid in order
  double seconds = 0;
};

// Builds an engine for a variant's full override list (global overrides + grid overrides).
using EngineFactory = std::function<LoadResult<std::shared_ptr<const policy::Engine>>(const std::vector<std::string>&)>;

// Runs the default engine, then every grid variant (each engine loaded, run and dropped in turn),
// and marks the Pareto front. `on_variant` (optional) is called after each variant (index, count).
// A variant whose config does not load (e.g. a review threshold above the block threshold in a
// grid over both) is kept with its `error` and skipped; when no grid variant loads, the sweep fails
// with the first variant's load errors (a misspelt key fails every variant).
LoadResult<std::vector<Variant>> run_sweep(const policy::Engine& default_engine, const EngineFactory& factory,
                                           const std::vector<std::string>& base_overrides,
                                           const std::vector<std::vector<std::string>>& grid, const std::vector<Dataset>& sets,
                                           const RunOptions& opt, const std::function<void(std::size_t, std::size_t)>& on_variant = {});

// sweep.json (schema dualguard-sweep/1), index.html (scatter with the Pareto front and the default
// marked, one row per variant) and the terminal summary.
ojson sweep_to_json(const SweepReport& s);
std::string render_sweep_html(const SweepReport& s);
std::string render_sweep_text(const SweepReport& s);

}  // namespace dg::eval
