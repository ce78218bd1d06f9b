// eval.json: the evaluation report as versioned JSON (schema "dualguard-eval/1", docs/eval.md).
// Everything in it comes from the report (no git state); `eval diff` compares two of them.
#pragma once

#include "core/verdict_json.h"
#include "eval/report.h"

namespace dg::eval {

// The whole report. `with_curves` = false leaves out the ROC points (terminal JSON summary).
ojson report_to_json(const EvalReport& r, bool with_curves = true);

// [lo, hi] of a Wilson interval, for JSON.
ojson interval_json(const Interval& i);

// Current UTC time as "YYYY-MM-DDTHH:MM:SSZ".
std::string utc_now_iso8601();

}  // namespace dg::eval
