#include "eval/report_html.h"

#include "eval/report_text.h"
#include "eval/svg.h"

namespace dg::eval {
namespace {

using svg::html_escape;

std::string td(const std::string& s, bool numeric = false) { return numeric ? "<td class=\"n\">" + s + "</td>" : "<td>" + s + "</td>"; }
std::string ci_text(std::size_t k, std::size_t n) {
  const Interval ci = wilson(k, n);
  return pct(ci.lo) + " &ndash; " + pct(ci.hi);
}

const char* kPositive = "#1f77b4";
const char* kNegative = "#ff7f0e";

std::string group_bars(const std::vector<GroupStats>& gs, bool positive, const std::string& title) {
  std::vector<svg::Bar> bars;
  for (const auto& g : gs)
    bars.push_back({g.name, ratio(g.flagged, g.n), wilson(g.flagged, g.n), true,
                    std::to_string(g.flagged) + "/" + std::to_string(g.n), positive ? kPositive : kNegative});
  return svg::hbars(bars, title);
}

}  // namespace

std::string render_report_html(const EvalReport& r) {
  const RunInfo& in = r.info;
  std::string o = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>dualguard eval</title>";
  o += svg::stylesheet();
  o += "</head><body>\n<h1>dualguard eval</h1>\n";
  o += "<p class=\"muted\">Joint evaluation of one policy: detection on positive sets (security), over-blocking on negative "
       "sets (safety), robustness under obfuscation, latency. Schema " + std::string(kEvalSchema) + ".</p>\n";

  std::string flag, perturb, overrides, detectors;
  for (Action a : in.flag_on) flag += (flag.empty() ? "" : ", ") + std::string(to_string(a));
  for (Transform t : in.perturb) perturb += (perturb.empty() ? "" : ", ") + std::string(to_string(t));
  for (const auto& s : in.overrides) overrides += (overrides.empty() ? "" : " ") + s;
  for (const auto& d : in.detectors) detectors += (detectors.empty() ? "" : ", ") + d;
  o += "<table class=\"meta\">";
  o += "<tr><td>config</td><td><code>" + html_escape(in.config_path) + "</code> sha256 <code>" + html_escape(in.config_sha256) + "</code></td></tr>";
  o += "<tr><td>policy</td><td><code>" + html_escape(in.policy_path) + "</code> sha256 <code>" + html_escape(in.policy_sha256) + "</code></td></tr>";
  if (!overrides.empty()) o += "<tr><td>overrides</td><td><code>" + html_escape(overrides) + "</code></td></tr>";
  o += "<tr><td>detectors</td><td>" + html_escape(detectors) + "</td></tr>";
  o += "<tr><td>flagged</td><td>verdict action in {" + html_escape(flag) + "}</td></tr>";
  o += "<tr><td>inputs</td><td>field " + html_escape(in.field.empty() ? "auto" : in.field) + ", role " + std::string(to_string(in.role)) +
       (in.limit ? ", at most " + std::to_string(in.limit) + " per set" : "") + "</td></tr>";
  o += "<tr><td>perturbations</td><td>" + (perturb.empty() ? std::string("none") : html_escape(perturb) + " (seed " + std::to_string(in.seed) + ")") + "</td></tr>";
  o += "<tr><td>run</td><td>dualguard " + html_escape(in.version) + ", " + html_escape(in.created_utc) + ", " + std::to_string(in.threads) +
       " threads</td></tr></table>\n";

  // Sets.
  o += "<h2>Sets</h2>\n<table><tr><th>set</th><th>label</th><th>n</th><th>flagged</th><th>rate</th><th>95% CI</th><th>metric</th><th>file</th></tr>";
  for (const auto& s : r.sets) {
    o += "<tr>" + td(html_escape(s.spec.name)) + td(s.spec.positive ? "positive" : "negative") + td(std::to_string(s.n), true) +
         td(std::to_string(s.flagged), true) + td(pct(s.rate()), true) + td(ci_text(s.flagged, s.n)) +
         td(std::string(s.spec.positive ? "detection rate" : "false-positive rate") + (s.limited ? " (limited)" : "") +
            (s.errors ? ", <span class=\"bad\">" + std::to_string(s.errors) + " detector errors</span>" : "")) +
         td("<code>" + html_escape(s.spec.path) + "</code>") + "</tr>";
  }
  o += "</table>\n";
  std::vector<svg::Bar> set_bars;
  for (const auto& s : r.sets)
    set_bars.push_back({s.spec.name + (s.spec.positive ? " (detection)" : " (false positives)"), s.rate(), wilson(s.flagged, s.n), true,
                        std::to_string(s.flagged) + "/" + std::to_string(s.n), s.spec.positive ? kPositive : kNegative});
  o += svg::hbars(set_bars, "flagged rate per set with 95% intervals");
  const Confusion& c = r.overall;
  o += "<p>Overall (positives = inputs of positive sets): precision <b>" + fixed(c.precision(), 3) + "</b>, recall <b>" + fixed(c.recall(), 3) +
       "</b>, F1 <b>" + fixed(c.f1(), 3) + "</b> &mdash; tp " + std::to_string(c.tp) + ", fp " + std::to_string(c.fp) + ", tn " +
       std::to_string(c.tn) + ", fn " + std::to_string(c.fn) + ".</p>\n";

  // Detectors.
  o += "<h2>Detectors: ROC</h2>\n";
  if (r.detectors.empty()) {
    o += "<p class=\"muted\">No detector reported a finding.</p>\n";
  } else {
    o += "<p class=\"muted\">Score per input = the highest score of the detector's findings (0 when it has none); positives are the "
         "inputs of positive sets, negatives those of negative sets. AUROC counts ties as one half.</p>\n";
    std::vector<svg::Series> series;
    o += "<table><tr><th>detector</th><th>AUROC</th><th>positives</th><th>negatives</th></tr>";
    for (const auto& d : r.detectors) {
      o += "<tr>" + td(html_escape(d.name)) + td(d.roc.defined() ? fixed(d.roc.auroc, 3) : "n/a", true) + td(std::to_string(d.roc.positives), true) +
           td(std::to_string(d.roc.negatives), true) + "</tr>";
      if (!d.roc.defined()) continue;
      svg::Series s{d.name + " (AUROC " + fixed(d.roc.auroc, 3) + ")", {}};
      for (const auto& p : d.roc.points) s.points.emplace_back(p.fpr, p.tpr);
      series.push_back(std::move(s));
    }
    o += "</table>\n";
    if (!series.empty()) o += svg::roc_chart(series, "ROC curves per detector");
  }

  // Robustness.
  if (!r.transforms_run().empty()) {
    o += "<h2>Robustness under obfuscation</h2>\n<p class=\"muted\">Each positive set re-scanned with every input transformed; "
         "the drop is in percentage points versus the clean text.</p>\n";
    const TransformStats clean = r.clean_positive();
    const double clean_rate = ratio(clean.flagged, clean.n);
    std::vector<svg::Bar> bars{{"clean", clean_rate, wilson(clean.flagged, clean.n), true,
                                std::to_string(clean.flagged) + "/" + std::to_string(clean.n), "#2ca02c"}};
    o += "<table><tr><th>transform</th><th>what it does</th><th>detected</th><th>rate</th><th>vs clean</th></tr>";
    for (Transform t : r.transforms_run()) {
      const TransformStats p = r.pooled(t);
      const double rate = ratio(p.flagged, p.n), drop = clean_rate - rate;
      std::string desc;
      for (const auto& ti : transforms())
        if (ti.transform == t) desc = std::string(ti.description);
      o += "<tr>" + td(std::string(to_string(t))) + td(html_escape(desc)) + td(std::to_string(p.flagged) + "/" + std::to_string(p.n), true) +
           td(pct(rate), true) + td("<span class=\"" + std::string(drop > 0.005 ? "bad" : "good") + "\">" + drop_points(drop) + "</span>", true) +
           "</tr>";
      bars.push_back({std::string(to_string(t)), rate, wilson(p.flagged, p.n), true, drop_points(drop), drop > 0.005 ? "#d62728" : kPositive});
    }
    o += "</table>\n" + svg::hbars(bars, "detection per transform (positive sets pooled)");
    for (const auto& s : r.sets) {
      if (s.perturbations.empty() || r.sets.size() < 2) continue;
      std::vector<svg::Bar> sb{{"clean", s.rate(), wilson(s.flagged, s.n), true, std::to_string(s.flagged) + "/" + std::to_string(s.n), "#2ca02c"}};
      for (const auto& p : s.perturbations)
        sb.push_back({std::string(to_string(p.transform)), ratio(p.flagged, p.n), wilson(p.flagged, p.n), true,
                      std::to_string(p.flagged) + "/" + std::to_string(p.n), kPositive});
      o += "<h3>" + html_escape(s.spec.name) + "</h3>\n" + svg::hbars(sb, "detection per transform: " + s.spec.name);
    }
  }

  // Verdict classes.
  o += "<h2>Verdict classes</h2>\n";
  std::vector<svg::Stack> rows;
  for (const auto& s : r.sets) rows.push_back({s.spec.name, {s.classes[0], s.classes[1], s.classes[2], s.classes[3]}});
  o += svg::stacked(rows, {"clean", "safety", "security", "hybrid"}, {"#c7c7c7", "#ff7f0e", "#1f77b4", "#9467bd"}, "verdict classes per set");
  o += "<table><tr><th>set</th><th>clean</th><th>safety</th><th>security</th><th>hybrid</th><th>allow</th><th>redact</th><th>review</th>"
       "<th>safe_mode</th><th>block</th></tr>";
  for (const auto& s : r.sets) {
    o += "<tr>" + td(html_escape(s.spec.name));
    for (auto n : s.classes) o += td(std::to_string(n), true);
    for (auto n : s.actions) o += td(std::to_string(n), true);
    o += "</tr>";
  }
  o += "</table>\n";

  // Per set: categories and sources.
  for (const auto& s : r.sets) {
    if (s.categories.empty() && s.sources.empty()) continue;
    o += "<h2>" + html_escape(s.spec.name) + ": " + (s.spec.positive ? "detection" : "false positives") + " by category and source</h2>\n";
    if (!s.categories.empty()) o += "<h3>categories</h3>\n" + group_bars(s.categories, s.spec.positive, s.spec.name + " by category");
    if (!s.sources.empty()) o += "<h3>sources</h3>\n" + group_bars(s.sources, s.spec.positive, s.spec.name + " by source");
  }

  // Speed.
  o += "<h2>Latency and throughput</h2>\n<table><tr><th></th><th>p50</th><th>p99</th><th>mean</th><th>max</th></tr>";
  auto lat_row = [&](const std::string& name, const LatencyStats& l) {
    o += "<tr>" + td(html_escape(name)) + td(fixed(l.p50_us, 0) + " &micro;s", true) + td(fixed(l.p99_us, 0) + " &micro;s", true) +
         td(fixed(l.mean_us, 1) + " &micro;s", true) + td(fixed(l.max_us, 0) + " &micro;s", true) + "</tr>";
  };
  lat_row("all sets", r.latency);
  for (const auto& s : r.sets) lat_row(s.spec.name, s.latency);
  o += "</table>\n<p>Engine time per input (verdict latency). Throughput of the clean pass, wall clock on " + std::to_string(in.threads) +
       " threads: <b>" + fixed(r.texts_per_s(), 0) + "</b> texts/s, <b>" + fixed(r.mb_per_s(), 2) + "</b> MB/s of text (" +
       std::to_string(r.texts) + " inputs, " + std::to_string(r.bytes) + " bytes in " + fixed(r.timing.clean_s, 2) + " s). Engine load " +
       fixed(r.timing.load_engine_s, 2) + " s, sets " + fixed(r.timing.load_sets_s, 2) + " s, perturbations " + fixed(r.timing.perturb_s, 2) + " s.</p>\n";
  o += "</body></html>\n";
  return o;
}

}  // namespace dg::eval
