// sweep.json, the sweep's index.html and its terminal summary (declared in sweep.h).
#include <algorithm>

#include "eval/report_json.h"
#include "eval/report_text.h"
#include "eval/svg.h"
#include "eval/sweep.h"

namespace dg::eval {
namespace {

using svg::html_escape;

std::string joined(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string variant_name(const Variant& v) { return v.is_default ? std::string("(default)") : joined(v.overrides, " "); }

// A short label for the terminal: each override's key cut to its last component when that is unique
// among the swept keys ("threshold=0.99 review_threshold=0.95").
std::string short_name(const Variant& v, const std::vector<Param>& params) {
  if (v.is_default) return "(default)";
  auto last = [](const std::string& k) { return k.substr(k.rfind('.') + 1); };
  std::string out;
  for (const auto& o : v.overrides) {
    const std::string key = o.substr(0, o.find('='));
    std::size_t same = 0;
    for (const auto& p : params) same += last(p.key) == last(key);
    out += (out.empty() ? "" : " ") + (same == 1 ? last(key) + o.substr(key.size()) : o);
  }
  return out;
}

}  // namespace

ojson sweep_to_json(const SweepReport& s) {
  const RunInfo& in = s.info;
  ojson j;
  j["schema"] = kSweepSchema;
  j["dualguard_version"] = in.version;
  j["created_utc"] = in.created_utc;
  j["config"] = {{"path", in.config_path}, {"sha256", in.config_sha256}, {"policy_path", in.policy_path},
                 {"policy_sha256", in.policy_sha256}, {"overrides", in.overrides}};
  ojson flag_on = ojson::array();
  for (Action a : in.flag_on) flag_on.push_back(to_string(a));
  j["options"] = {{"field", in.field.empty() ? "auto" : in.field}, {"role", to_string(in.role)}, {"flag_on", flag_on},
                  {"limit", in.limit}, {"threads", in.threads}};
  ojson sets = ojson::array();
  for (const auto& st : s.sets)
    sets.push_back({{"name", st.spec.name}, {"path", st.spec.path}, {"sha256", st.sha256},
                    {"label", st.spec.positive ? "positive" : "negative"}, {"n", st.n}});
  j["sets"] = sets;
  ojson params = ojson::array();
  for (const auto& p : s.params) params.push_back({{"key", p.key}, {"values", p.values}});
  j["params"] = params;
  ojson variants = ojson::array(), front = ojson::array();
  for (std::size_t i = 0; i < s.variants.size(); ++i) {
    const Variant& v = s.variants[i];
    if (!v.ran()) {
      variants.push_back({{"index", i}, {"default", false}, {"overrides", v.overrides}, {"error", v.error}, {"pareto", false}});
      continue;
    }
    ojson per_set = ojson::array();
    for (const auto& r : v.sets)
      per_set.push_back({{"name", r.name}, {"n", r.n}, {"flagged", r.flagged}, {r.positive ? "detection_rate" : "false_positive_rate", ratio(r.flagged, r.n)}});
    variants.push_back({{"index", i},
                        {"default", v.is_default},
                        {"overrides", v.overrides},
                        {"detection_rate", v.detection()},
                        {"detection_ci95", interval_json(wilson(v.pos_flagged, v.pos_n))},
                        {"overblocking_rate", v.overblocking()},
                        {"overblocking_ci95", interval_json(wilson(v.neg_flagged, v.neg_n))},
                        {"precision", v.overall.precision()},
                        {"recall", v.overall.recall()},
                        {"f1", v.overall.f1()},
                        {"pareto", v.pareto},
                        {"sets", per_set},
                        {"latency_us", {{"p50", v.latency.p50_us}, {"p99", v.latency.p99_us}}},
                        {"seconds", v.seconds}});
    if (v.pareto) front.push_back(i);
  }
  j["variants"] = variants;
  j["pareto_front"] = front;
  j["seconds"] = s.seconds;
  return j;
}

std::string render_sweep_text(const SweepReport& s) {
  std::string o = "dualguard eval sweep: " + std::to_string(s.variants.size()) + " variants (default + " +
                  std::to_string(s.variants.size() - 1) + " grid), config " + s.info.config_path + "\n";
  o += "detection = flagged rate on positive sets; over-blocking = flagged rate on negative sets; * = Pareto front\n";
  for (const auto& p : s.params) o += "param " + p.key + " = " + joined(p.values, ", ") + "\n";
  o += "\n";
  std::size_t w = 9;
  for (const auto& v : s.variants) w = std::max(w, short_name(v, s.params).size());
  auto pad = [](std::string x, std::size_t n) {
    if (x.size() < n) x.append(n - x.size(), ' ');
    return x;
  };
  o += "   " + pad("variant", w) + "  detection  over-blocking  F1     p50 us\n";
  std::size_t skipped = 0;
  for (const auto& v : s.variants) {
    if (!v.ran()) {
      o += "   " + pad(short_name(v, s.params), w) + "  (skipped: config does not load)\n";
      ++skipped;
      continue;
    }
    o += std::string(v.pareto ? " * " : "   ") + pad(short_name(v, s.params), w) + "  " + pad(pct(v.detection()), 11) + pad(pct(v.overblocking()), 15) +
         pad(fixed(v.overall.f1(), 3), 7) + fixed(v.latency.p50_us, 0) + "\n";
  }
  if (skipped) o += "\n" + std::to_string(skipped) + " variant(s) skipped; their load errors are in sweep.json (\"error\")\n";
  o += "\nsweep time " + fixed(s.seconds, 2) + " s\n";
  return o;
}

std::string render_sweep_html(const SweepReport& s) {
  const RunInfo& in = s.info;
  std::string o = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>dualguard eval sweep</title>";
  o += svg::stylesheet();
  o += "</head><body>\n<h1>dualguard eval sweep</h1>\n<p class=\"muted\">Security detection (flagged rate on positive sets) "
       "against safety over-blocking (flagged rate on negative sets) for each policy variant. Red points form the Pareto front "
       "(no variant detects more while over-blocking less); the diamond is the shipped default. Schema " + std::string(kSweepSchema) +
       ".</p>\n<table class=\"meta\">";
  o += "<tr><td>config</td><td><code>" + html_escape(in.config_path) + "</code> sha256 <code>" + html_escape(in.config_sha256) + "</code></td></tr>";
  if (!in.overrides.empty()) o += "<tr><td>overrides</td><td><code>" + html_escape(joined(in.overrides, " ")) + "</code></td></tr>";
  for (const auto& p : s.params)
    o += "<tr><td>param</td><td><code>" + html_escape(p.key) + "</code> = " + html_escape(joined(p.values, ", ")) + "</td></tr>";
  std::string sets;
  for (const auto& st : s.sets)
    sets += (sets.empty() ? "" : ", ") + html_escape(st.spec.name) + " (" + (st.spec.positive ? "positive" : "negative") + ", " + std::to_string(st.n) + ")";
  o += "<tr><td>sets</td><td>" + sets + "</td></tr>";
  o += "<tr><td>run</td><td>dualguard " + html_escape(in.version) + ", " + html_escape(in.created_utc) + ", " +
       std::to_string(s.variants.size()) + " variants in " + fixed(s.seconds, 1) + " s</td></tr></table>\n";

  std::vector<svg::Dot> dots;
  for (const auto& v : s.variants)
    if (v.ran())
      dots.push_back({v.overblocking(), v.detection(),
                    variant_name(v) + ": detection " + pct(v.detection()) + ", over-blocking " + pct(v.overblocking()), v.pareto, v.is_default});
  o += "<h2>Pareto front</h2>\n" +
       svg::scatter(dots, "over-blocking (flagged rate, negative sets)", "detection (flagged rate, positive sets)", "detection against over-blocking");

  o += "<h2>Variants</h2>\n<table><tr><th></th><th>variant</th><th>detection</th><th>95% CI</th><th>over-blocking</th><th>95% CI</th>"
       "<th>precision</th><th>F1</th><th>p50 &micro;s</th>";
  for (const auto& st : s.sets) o += "<th>" + html_escape(st.spec.name) + "</th>";
  o += "</tr>";
  for (const auto& v : s.variants) {
    if (!v.ran()) {
      o += "<tr><td></td><td><code>" + html_escape(variant_name(v)) + "</code></td><td colspan=\"" + std::to_string(7 + s.sets.size()) +
           "\" class=\"muted\">skipped: " + html_escape(v.error) + "</td></tr>";
      continue;
    }
    const Interval dc = wilson(v.pos_flagged, v.pos_n), oc = wilson(v.neg_flagged, v.neg_n);
    o += "<tr><td>" + std::string(v.pareto ? "<span class=\"bad\">front</span>" : "") + "</td><td><code>" + html_escape(variant_name(v)) +
         "</code></td><td class=\"n\">" + pct(v.detection()) + "</td><td>" + pct(dc.lo) + " &ndash; " + pct(dc.hi) + "</td><td class=\"n\">" +
         pct(v.overblocking()) + "</td><td>" + pct(oc.lo) + " &ndash; " + pct(oc.hi) + "</td><td class=\"n\">" + fixed(v.overall.precision(), 3) +
         "</td><td class=\"n\">" + fixed(v.overall.f1(), 3) + "</td><td class=\"n\">" + fixed(v.latency.p50_us, 0) + "</td>";
    for (const auto& r : v.sets) o += "<td class=\"n\">" + pct(ratio(r.flagged, r.n)) + "</td>";
    o += "</tr>";
  }
  o += "</table>\n</body></html>\n";
  return o;
}

}  // namespace dg::eval
