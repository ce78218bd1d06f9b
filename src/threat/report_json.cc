#include "threat/report.h"

namespace dg::threat {
namespace {

ojson strings(const std::vector<std::string>& v) {
  ojson a = ojson::array();
  for (const auto& s : v) a.push_back(s);
  return a;
}

}  // namespace

ojson to_json(const Analysis& a) {
  const Model& m = *a.model;
  ojson o;
  o["schema"] = kThreatSchemaVersion;
  ojson model{{"name", m.name}, {"file", m.file}, {"description", m.description}};
  model["context"] = {{"sector", m.context.sector},         {"exposure", m.context.exposure},
                      {"autonomy", m.context.autonomy},     {"data_sensitivity", m.context.data_sensitivity},
                      {"users", strings(m.context.users)},  {"regulations", strings(m.context.regulations)},
                      {"notes", m.context.notes}};
  o["model"] = std::move(model);
  o["summary"] = {{"risks", m.risks.size()},
                  {"safety", a.count(VerdictClass::safety)},
                  {"security", a.count(VerdictClass::security)},
                  {"hybrid", a.count(VerdictClass::hybrid)},
                  {"mechanisms", m.mechanisms.size()},
                  {"chokepoints", a.chokepoints.size()},
                  {"unprotected_safety_mechanisms", a.unprotected.size()},
                  {"unmitigated_risks", a.unmitigated.size()}};

  ojson risks = ojson::array();
  for (const auto& rr : a.risks) {
    const Risk& r = *rr.risk;
    ojson x{{"id", r.id},
            {"title", r.title},
            {"class", class_name(rr.c.cls)},
            {"rationale", rr.c.rationale},
            {"intent", to_string(r.intent)},
            {"harm", to_string(r.harm)},
            {"severity", to_string(r.severity)},
            {"cause", r.cause},
            {"target", r.target},
            {"assets", strings(r.assets)},
            {"mitigations", strings(r.mitigations)},
            {"exploits", strings(r.exploits)},
            {"introduced_by", r.introduced_by},
            {"categories", strings(r.categories)},
            {"signatures", strings(rr.c.signatures)}};
    ojson atlas = ojson::array();
    for (const auto& t : rr.atlas) {
      ojson tj{{"id", t.id}, {"source", t.source}};
      if (!a.atlas_file.empty()) {
        tj["name"] = t.name;
        tj["tactics"] = strings(t.tactics);
        tj["in_catalog"] = t.in_catalog;
      }
      atlas.push_back(std::move(tj));
    }
    x["atlas"] = std::move(atlas);
    ojson owasp = ojson::array();
    for (const auto& [id, name] : rr.owasp) owasp.push_back({{"id", id}, {"name", name}});
    x["owasp"] = std::move(owasp);
    x["coverage"] = {{"status", rr.coverage.status},
                     {"controls", strings(rr.coverage.controls)},
                     {"disabled", strings(rr.coverage.disabled)},
                     {"rules", strings(rr.coverage.rules)},
                     {"note", rr.coverage.note}};
    risks.push_back(std::move(x));
  }
  o["risks"] = std::move(risks);

  ojson mechs = ojson::array();
  for (const auto& x : m.mechanisms) {
    auto it = a.relies.find(x.id);
    mechs.push_back({{"id", x.id},
                     {"title", x.title},
                     {"layer", to_string(x.layer)},
                     {"component", x.component},
                     {"relies_on", strings(it == a.relies.end() ? std::vector<std::string>{} : it->second)},
                     {"detectors", strings(x.detectors)},
                     {"artifacts", strings(x.artifacts)}});
  }
  o["mechanisms"] = std::move(mechs);

  auto impact = [](const ControlImpact& c) {
    return ojson{{"control", c.control},
                 {"rank", c.rank},
                 {"safety_mechanisms", strings(c.safety)},
                 {"direct_safety_mechanisms", strings(c.direct_safety)},
                 {"mechanisms_disabled", strings(c.disabled)},
                 {"risks_exposed", strings(c.risks_exposed)},
                 {"risks_weakened", strings(c.risks_weakened)}};
  };
  ojson deps = ojson::array();
  for (const auto& c : a.controls) deps.push_back(impact(c));
  o["dependencies"] = std::move(deps);
  ojson chokes = ojson::array();
  for (const auto& c : a.chokepoints) chokes.push_back(impact(c));
  o["chokepoints"] = std::move(chokes);

  ojson unprot = ojson::array();
  for (const auto& u : a.unprotected) unprot.push_back({{"mechanism", u.mechanism}, {"reasons", strings(u.reasons)}});
  o["unprotected_safety_mechanisms"] = std::move(unprot);
  o["unmitigated_risks"] = strings(a.unmitigated);

  if (a.has_live) {
    ojson cov{{"config", a.config}, {"policy", a.policy}};
    ojson by = ojson::object();
    for (const char* s : {"covered", "monitored", "disabled", "not_addressed"}) {
      ojson ids = ojson::array();
      for (const auto& rr : a.risks)
        if (rr.coverage.status == s) ids.push_back(rr.risk->id);
      by[s] = std::move(ids);
    }
    cov["risks"] = std::move(by);
    ojson gaps = ojson::array();
    for (const auto& [mech, det] : a.mechanism_gaps) gaps.push_back({{"mechanism", mech}, {"detector", det}});
    cov["mechanism_gaps"] = std::move(gaps);
    o["coverage"] = std::move(cov);
  } else {
    o["coverage"] = nullptr;
  }
  o["atlas"] = a.atlas_file.empty() ? ojson(nullptr) : ojson{{"file", a.atlas_file}, {"version", a.atlas_version}};

  ojson check = ojson::array();
  for (const auto& c : a.checklist)
    check.push_back({{"signature", c.signature},
                     {"title", c.title},
                     {"status", c.status},
                     {"risks", strings(c.risks)},
                     {"unmitigated", strings(c.unmitigated)},
                     {"question", c.question}});
  o["checklist"] = std::move(check);
  return o;
}

std::string render_json(const Analysis& a) { return to_json(a).dump(2) + "\n"; }

}  // namespace dg::threat
