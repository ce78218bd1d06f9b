#include "eval/report_json.h"

#include <cmath>
#include <ctime>

namespace dg::eval {
namespace {

ojson rate_json(std::size_t k, std::size_t n) {
  return {{"n", n}, {"flagged", k}, {"rate", ratio(k, n)}, {"ci95", interval_json(wilson(k, n))}};
}

ojson groups_json(const std::vector<GroupStats>& gs) {
  ojson a = ojson::array();
  for (const auto& g : gs) {
    ojson o{{"name", g.name}};
    o.update(rate_json(g.flagged, g.n));
    a.push_back(std::move(o));
  }
  return a;
}

ojson latency_json(const LatencyStats& l) {
  return {{"p50", l.p50_us}, {"p99", l.p99_us}, {"mean", l.mean_us}, {"max", l.max_us}};
}

}  // namespace

ojson interval_json(const Interval& i) { return ojson::array({i.lo, i.hi}); }

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

ojson report_to_json(const EvalReport& r, bool with_curves) {
  const RunInfo& in = r.info;
  ojson j;
  j["schema"] = kEvalSchema;
  j["dualguard_version"] = in.version;
  j["created_utc"] = in.created_utc;
  j["config"] = {{"path", in.config_path},       {"sha256", in.config_sha256}, {"policy_path", in.policy_path},
                 {"policy_sha256", in.policy_sha256}, {"overrides", in.overrides},  {"detectors", in.detectors}};
  ojson flag_on = ojson::array();
  for (Action a : in.flag_on) flag_on.push_back(to_string(a));
  ojson perturb = ojson::array();
  for (Transform t : in.perturb) perturb.push_back(to_string(t));
  j["options"] = {{"field", in.field.empty() ? "auto" : in.field},
                  {"role", to_string(in.role)},
                  {"flag_on", flag_on},
                  {"limit", in.limit},
                  {"threads", in.threads},
                  {"perturb", perturb},
                  {"seed", in.seed}};

  ojson sets = ojson::array();
  for (const auto& s : r.sets) {
    ojson o{{"name", s.spec.name}, {"path", s.spec.path}, {"sha256", s.sha256}, {"label", s.spec.positive ? "positive" : "negative"},
            {"limited", s.limited}, {"n", s.n}, {"flagged", s.flagged}, {"errors", s.errors}, {"bytes", s.bytes}};
    o[s.spec.positive ? "detection_rate" : "false_positive_rate"] = s.rate();
    o["ci95"] = interval_json(wilson(s.flagged, s.n));
    ojson classes, actions;
    for (VerdictClass c : {VerdictClass::clean, VerdictClass::safety, VerdictClass::security, VerdictClass::hybrid})
      classes[std::string(to_string(c))] = s.classes[static_cast<std::size_t>(c)];
    for (Action a : {Action::allow, Action::redact, Action::review, Action::safe_mode, Action::block})
      actions[std::string(to_string(a))] = s.actions[static_cast<std::size_t>(a)];
    o["classes"] = classes;
    o["actions"] = actions;
    o["categories"] = groups_json(s.categories);
    o["sources"] = groups_json(s.sources);
    ojson pert = ojson::array();
    for (const auto& p : s.perturbations) {
      ojson po{{"transform", to_string(p.transform)}};
      po.update(rate_json(p.flagged, p.n));
      po["drop"] = s.rate() - ratio(p.flagged, p.n);
      pert.push_back(std::move(po));
    }
    o["perturbations"] = pert;
    o["latency_us"] = latency_json(s.latency);
    sets.push_back(std::move(o));
  }
  j["sets"] = sets;

  const Confusion& c = r.overall;
  j["overall"] = {{"positives", c.tp + c.fn}, {"negatives", c.fp + c.tn}, {"tp", c.tp}, {"fp", c.fp}, {"tn", c.tn}, {"fn", c.fn},
                  {"precision", c.precision()}, {"recall", c.recall()}, {"f1", c.f1()}, {"false_positive_rate", c.false_positive_rate()}};

  ojson dets = ojson::array();
  for (const auto& d : r.detectors) {
    ojson o{{"name", d.name}, {"positives", d.roc.positives}, {"negatives", d.roc.negatives}};
    o["auroc"] = d.roc.defined() ? ojson(d.roc.auroc) : ojson(nullptr);
    if (with_curves) {
      ojson pts = ojson::array();
      for (const auto& p : d.roc.points)
        pts.push_back(ojson::array({p.fpr, p.tpr, std::isinf(p.threshold) ? ojson(nullptr) : ojson(p.threshold)}));
      o["roc"] = pts;  // [fpr, tpr, threshold]; threshold null for the (0, 0) corner
    }
    dets.push_back(std::move(o));
  }
  j["detectors"] = dets;

  ojson pert = ojson::array();
  const TransformStats clean = r.clean_positive();
  for (Transform t : r.transforms_run()) {
    const TransformStats p = r.pooled(t);
    ojson o{{"transform", to_string(t)}};
    for (const auto& ti : transforms())
      if (ti.transform == t) o["description"] = ti.description;
    o.update(rate_json(p.flagged, p.n));
    o["clean_rate"] = ratio(clean.flagged, clean.n);
    o["drop"] = ratio(clean.flagged, clean.n) - ratio(p.flagged, p.n);
    pert.push_back(std::move(o));
  }
  j["perturbations"] = pert;
  j["latency_us"] = latency_json(r.latency);
  j["throughput"] = {{"texts", r.texts},           {"bytes", r.bytes},         {"seconds", r.timing.clean_s},
                     {"texts_per_s", r.texts_per_s()}, {"mb_per_s", r.mb_per_s()}, {"threads", in.threads}};
  j["timing_s"] = {{"load_engine", r.timing.load_engine_s},
                   {"load_sets", r.timing.load_sets_s},
                   {"clean", r.timing.clean_s},
                   {"perturb", r.timing.perturb_s}};
  return j;
}

}  // namespace dg::eval
