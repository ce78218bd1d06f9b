#include "eval/report_text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dg::eval {
namespace {

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}
std::string lpad(std::string s, std::size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}
std::string ci_text(std::size_t k, std::size_t n) {
  const Interval ci = wilson(k, n);
  return "[" + pct(ci.lo) + ", " + pct(ci.hi) + "]";
}
}  // namespace

std::string drop_points(double drop_fraction) {
  char buf[32];
  const double pp = -100.0 * drop_fraction;
  std::snprintf(buf, sizeof buf, "%+.1f pp", std::fabs(pp) < 0.05 ? 0.0 : pp);  // no "-0.0"
  return buf;
}

std::string pct(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * fraction);
  return buf;
}

std::string fixed(double v, int decimals) {
  if (v == 0.0) v = 0.0;  // -0.0 prints as "-0"
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string render_summary_text(const EvalReport& r) {
  const RunInfo& in = r.info;
  std::string o;
  std::string flag;
  for (Action a : in.flag_on) flag += (flag.empty() ? "" : ", ") + std::string(to_string(a));
  o += "dualguard eval: " + std::to_string(r.sets.size()) + " sets, " + std::to_string(r.texts) + " inputs; config " +
       in.config_path + " (sha256 " + in.config_sha256.substr(0, 12) + ")\n";
  o += "flagged = verdict action in {" + flag + "}\n\n";

  std::size_t w = 4;
  for (const auto& s : r.sets) w = std::max(w, s.spec.name.size());
  o += pad("set", w) + "  label     " + lpad("n", 7) + lpad("flagged", 9) + lpad("rate", 8) + "  95% CI            metric\n";
  for (const auto& s : r.sets) {
    o += pad(s.spec.name, w) + "  " + pad(s.spec.positive ? "positive" : "negative", 8) + lpad(std::to_string(s.n), 7) +
         lpad(std::to_string(s.flagged), 9) + lpad(pct(s.rate()), 8) + "  " + pad(ci_text(s.flagged, s.n), 18) +
         (s.spec.positive ? "detection" : "false positives") + (s.limited ? " (limited)" : "") +
         (s.errors ? ", " + std::to_string(s.errors) + " detector errors" : "") + "\n";
  }
  const Confusion& c = r.overall;
  o += "\noverall: precision " + fixed(c.precision(), 3) + "  recall " + fixed(c.recall(), 3) + "  F1 " + fixed(c.f1(), 3) +
       "  (tp " + std::to_string(c.tp) + ", fp " + std::to_string(c.fp) + ", tn " + std::to_string(c.tn) + ", fn " +
       std::to_string(c.fn) + ")\n";
  if (!r.detectors.empty()) {
    o += "AUROC per detector (max finding score per input, positives vs negatives):";
    for (const auto& d : r.detectors) o += "  " + d.name + " " + (d.roc.defined() ? fixed(d.roc.auroc, 3) : std::string("n/a"));
    o += "\n";
  }

  // The categories that most need work: lowest detection (positive sets), highest false positives.
  struct Weak {
    std::string set, name;
    std::size_t n, flagged;
    bool positive;
  };
  std::vector<Weak> weak;
  for (const auto& s : r.sets)
    for (const auto& g : s.categories)
      if (g.n >= 5 && (s.spec.positive ? g.flagged < g.n : g.flagged > 0)) weak.push_back({s.spec.name, g.name, g.n, g.flagged, s.spec.positive});
  std::sort(weak.begin(), weak.end(), [](const Weak& a, const Weak& b) {
    const double ea = a.positive ? 1.0 - ratio(a.flagged, a.n) : ratio(a.flagged, a.n);
    const double eb = b.positive ? 1.0 - ratio(b.flagged, b.n) : ratio(b.flagged, b.n);
    return ea != eb ? ea > eb : a.n > b.n;
  });
  if (!weak.empty()) {
    o += "\nweakest categories (n >= 5):\n";
    for (std::size_t i = 0; i < weak.size() && i < 8; ++i) {
      const Weak& k = weak[i];
      o += "  " + pad(k.set + " / " + k.name, 48) + lpad(std::to_string(k.flagged) + "/" + std::to_string(k.n), 10) + lpad(pct(ratio(k.flagged, k.n)), 8) +
           (k.positive ? " detected" : " false positives") + "\n";
    }
  }

  if (!r.transforms_run().empty()) {
    const TransformStats clean = r.clean_positive();
    o += "\nrobustness (positive sets, clean detection " + pct(ratio(clean.flagged, clean.n)) + "):\n";
    o += "  " + pad("transform", 12) + lpad("detected", 12) + lpad("rate", 8) + lpad("vs clean", 11) + "\n";
    for (Transform t : r.transforms_run()) {
      const TransformStats p = r.pooled(t);
      o += "  " + pad(std::string(to_string(t)), 12) + lpad(std::to_string(p.flagged) + "/" + std::to_string(p.n), 12) +
           lpad(pct(ratio(p.flagged, p.n)), 8) + lpad(drop_points(ratio(clean.flagged, clean.n) - ratio(p.flagged, p.n)), 11) + "\n";
    }
  }

  o += "\nverdict classes:\n";
  for (const auto& s : r.sets) {
    o += "  " + pad(s.spec.name, w);
    for (VerdictClass vc : {VerdictClass::clean, VerdictClass::safety, VerdictClass::security, VerdictClass::hybrid})
      o += "  " + std::string(to_string(vc)) + " " + std::to_string(s.classes[static_cast<std::size_t>(vc)]);
    o += "\n";
  }
  o += "\nlatency (engine, per input): p50 " + fixed(r.latency.p50_us, 0) + " us, p99 " + fixed(r.latency.p99_us, 0) + " us, max " +
       fixed(r.latency.max_us, 0) + " us\n";
  o += "throughput (wall clock, " + std::to_string(in.threads) + " threads): " + fixed(r.texts_per_s(), 0) + " texts/s, " +
       fixed(r.mb_per_s(), 2) + " MB/s\n";
  o += "timings: engine load " + fixed(r.timing.load_engine_s, 2) + " s, sets " + fixed(r.timing.load_sets_s, 2) + " s, clean pass " +
       fixed(r.timing.clean_s, 2) + " s, perturbations " + fixed(r.timing.perturb_s, 2) + " s\n";
  return o;
}

}  // namespace dg::eval
