// Runs an evaluation: every set through one engine on a pool of threads (one ThreadState each),
// then every positive set again under each requested perturbation, and aggregates the report.
//
// Results are identical for any number of threads: every input's outcome is stored in its own slot
// and aggregated in file order afterwards; perturbations are seeded per text (perturb.h). Only
// latency and throughput vary from run to run.
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "eval/dataset.h"
#include "eval/report.h"
#include "policy/engine.h"

namespace dg::eval {

// Which verdict actions count as "flagged": a bit per dg::Action.
using ActionMask = unsigned;
inline constexpr ActionMask action_bit(Action a) noexcept { return 1u << static_cast<unsigned>(a); }
// Every action but allow: redact, review, safe_mode, block.
inline constexpr ActionMask kFlagNotAllow = action_bit(Action::redact) | action_bit(Action::review) |
                                            action_bit(Action::safe_mode) | action_bit(Action::block);

// "any" (= every action but allow) or a comma list of redact, review, safe_mode, block. "allow" is
// rejected (everything would be flagged). Errors carry code eval_param.
LoadResult<ActionMask> parse_flag_on(std::string_view list);
std::vector<Action> actions_of(ActionMask m);

struct RunOptions {
  Role role = Role::prompt;        // role of single-text inputs
  unsigned threads = 1;            // worker threads (>= 1)
  ActionMask flag_on = kFlagNotAllow;
  std::vector<Transform> perturb;  // re-scan positive sets under these
  std::uint64_t seed = 1;          // perturbation seed
  std::size_t roc_points = 256;    // ROC points kept per detector for the report (AUROC stays exact)
  bool detector_roc = true;        // compute per-detector ROC (sweeps turn it off)
  // Called from the calling thread between chunks of work: (inputs done, inputs in total).
  std::function<void(std::size_t, std::size_t)> progress;
};

// Scans `sets` with `engine`. Fills everything but report.info and the load timings (the caller
// knows them). Never throws for any input text (the engine does not).
EvalReport evaluate(const policy::Engine& engine, const std::vector<Dataset>& sets, const RunOptions& opt);

// The verdict for one record, as `dualguard scan` would give it: an exchange through
// scan_exchange, a single text in `role` with the line's own "system" prompt when it has one.
Verdict scan_record(const policy::Engine& engine, policy::Engine::ThreadState& ts, const InputRecord& rec, Role role);

// The record with its request-side text perturbed: the text of a single-text record; the prompt and
// every context document of an exchange (or its response when it has neither). "system" is kept.
InputRecord perturb_record(const InputRecord& rec, Transform t, std::uint64_t seed);

}  // namespace dg::eval
