// index.html of an evaluation: one self-contained page (inline CSS and SVG, no scripts, no external
// assets) readable from disk. Every text taken from the data (set, category and source names, paths,
// overrides) is HTML-escaped.
#pragma once

#include <string>

#include "eval/report.h"

namespace dg::eval {

// Sections: run details, per-set rates with 95% intervals, overall precision / recall / F1, ROC
// curves per scored detector, robustness under perturbation, verdict classes, per-category and
// per-source bars with interval whiskers, latency and throughput.
std::string render_report_html(const EvalReport& r);

}  // namespace dg::eval
