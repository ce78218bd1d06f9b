#include "threat/analyze.h"

#include <algorithm>
#include <deque>
#include <filesystem>

#include "policy/config.h"
#include "policy/policy.h"
#include "threat/catalog.h"

namespace dg::threat {
namespace {

template <typename C, typename V>
bool contains(const C& c, const V& v) {
  return std::find(c.begin(), c.end(), v) != c.end();
}

void add_unique(std::vector<std::string>& v, const std::string& s) {
  if (!contains(v, s)) v.push_back(s);
}

const Asset* find_asset(const Model& m, const std::string& id) {
  for (const auto& a : m.assets)
    if (a.id == id) return &a;
  return nullptr;
}

// relies[a] = the mechanisms a needs intact: named in its depends_on, protecting it, or protecting an
// asset it depends on.
std::map<std::string, std::vector<std::string>> reliance(const Model& m) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& a : m.mechanisms) {
    auto& r = out[a.id];
    for (const auto& d : a.depends_on)
      if (m.mechanism(d)) add_unique(r, d);
    for (const auto& b : m.mechanisms) {
      if (b.id == a.id) continue;
      for (const auto& p : b.protects) {
        if (p == a.id) add_unique(r, b.id);
        else if (find_asset(m, p) && contains(a.depends_on, p)) add_unique(r, b.id);
      }
    }
  }
  return out;
}

RiskCoverage coverage_of(const Risk& r, const Model& m, const LiveControls& live) {
  RiskCoverage cov;
  std::vector<std::string> named;  // controls named by the risk's mitigations
  for (const auto& id : r.mitigations)
    if (const Mechanism* x = m.mechanism(id))
      for (const auto& d : x->detectors) add_unique(named, d);
  bool any = false;
  for (const auto& c : controls()) {
    std::vector<std::string> hit;
    for (const auto& cat : r.categories)
      if (contains(c.emits, cat) || contains(c.addresses, cat)) hit.push_back(cat);
    const bool by_name = contains(named, std::string(c.name));
    if (hit.empty() && !by_name) continue;
    any = true;
    const std::string name(c.name);
    if (!live.enabled.count(name)) {
      cov.disabled.push_back(name);
      continue;
    }
    cov.controls.push_back(name);
    if (c.enforced_without_policy) {
      add_unique(cov.rules, name + " (enforced without a rule)");
      continue;
    }
    // The categories the control reports this risk under: the risk's own ones it emits, its own
    // category when it addresses the risk under another name (prompt_attack for prompt_injection),
    // and all it emits when only a mitigation names it.
    std::vector<std::string> cats;
    bool aliased = hit.empty();
    for (const auto& h : hit) {
      if (contains(c.emits, h)) add_unique(cats, h);
      else aliased = true;
    }
    if (aliased)
      for (auto e : c.emits) add_unique(cats, std::string(e));
    for (const auto& cat : cats)
      if (auto it = live.acting_rule.find(cat); it != live.acting_rule.end()) add_unique(cov.rules, it->second);
  }
  if (!any) {
    cov.status = "not_addressed";
    cov.note = "no dualguard detector addresses its categories: it needs a design-time or out-of-band control";
  } else if (cov.controls.empty()) {
    cov.status = "disabled";
    cov.note = "the controls that address it are switched off in the config";
  } else if (cov.rules.empty()) {
    cov.status = "monitored";
    cov.note = "an enabled detector sees it, but no policy rule acts on it (recorded only)";
  } else {
    cov.status = "covered";
  }
  return cov;
}

std::vector<std::string> in_model_order(const Model& m, const std::set<std::string>& ids) {
  std::vector<std::string> out;
  for (const auto& x : m.mechanisms)
    if (ids.count(x.id)) out.push_back(x.id);
  return out;
}

}  // namespace

std::string_view class_name(VerdictClass c) noexcept { return to_string(c); }

std::size_t Analysis::count(VerdictClass c) const {
  return static_cast<std::size_t>(std::count_if(risks.begin(), risks.end(), [&](const RiskResult& r) { return r.c.cls == c; }));
}

Classification classify(const Risk& r, const Model& m) {
  Classification c;
  if (r.intent == Intent::unintentional) {
    c.cls = VerdictClass::safety;
    c.rationale = r.harm == Domain::security
                      ? "unintentional cause (no adversary), though confidentiality or integrity suffers: safety by the intent principle"
                      : "unintentional cause (no adversary): a safety failure";
    c.signatures.push_back("safety_only_failure");
  } else {
    std::vector<std::string> weak;  // exploited safety weaknesses
    for (const auto& e : r.exploits)
      if (const Risk* x = m.risk(e); x && x->intent == Intent::unintentional) weak.push_back(e);
    const Mechanism* target = m.mechanism(r.target);
    const bool hits_safety_mechanism = target && target->layer == Layer::safety;
    if (!weak.empty()) {
      c.cls = VerdictClass::hybrid;
      std::string list;
      for (const auto& w : weak) list += (list.empty() ? "" : ", ") + w;
      c.rationale = "deliberate attack that exploits the safety weakness " + list + ": a safety flaw turned into an attack surface";
      c.signatures.push_back("safety_enabling_security_attack");
    }
    if (r.harm == Domain::safety || hits_safety_mechanism) {
      if (c.cls != VerdictClass::hybrid) {
        c.cls = VerdictClass::hybrid;
        c.rationale = hits_safety_mechanism
                          ? "deliberate attack on the safety mechanism " + target->id + ": a security breach that disables a safeguard"
                          : "deliberate attack whose effect is a safety harm: a security-causing-safety failure";
      }
      c.signatures.push_back("security_causing_safety_failure");
    }
    if (c.cls != VerdictClass::hybrid) {
      c.cls = VerdictClass::security;
      c.rationale = "deliberate attack (adversarial intent) on the system's data, model or operations: security";
    }
  }
  if (!r.introduced_by.empty())
    if (const Mechanism* fix = m.mechanism(r.introduced_by)) {
      const bool other = fix->layer == Layer::safety ? c.cls != VerdictClass::safety : c.cls != VerdictClass::security;
      if (other) c.signatures.push_back("adversarial_cycle");
    }
  return c;
}

LiveControls live_controls(const policy::Config& cfg, const policy::Policy& pol, const Taxonomy& tax) {
  LiveControls live;
  live.config = cfg.path;
  live.policy = cfg.policy_path;
  for (const auto& d : cfg.detectors)
    if (d.enabled) live.enabled.insert(d.name);
  live.enabled.insert("gateway.auth");  // API keys are always required on the proxy routes
  const YAML::Node gw = cfg.root["gateway"];
  auto on = [&](const char* section) {
    if (!gw.IsMap() || !gw[section].IsMap()) return true;  // the gateway's defaults are on
    const YAML::Node e = gw[section]["enabled"];
    return !e.IsDefined() || e.IsNull() || e.as<std::string>() != "false";
  };
  if (on("abuse")) live.enabled.insert("gateway.abuse");
  if (on("monitor")) live.enabled.insert("gateway.monitor");
  if (cfg.integrity.mode == sig::Mode::enforce) live.enabled.insert("integrity");
  std::set<std::string> cats;
  for (const auto& c : tax.categories()) cats.insert(c.name);
  for (const auto& c : categories()) cats.insert(std::string(c.name));
  for (const auto& cat : cats) {
    const CategoryInfo* info = tax.find(cat);
    for (const auto& rule : pol.rules()) {
      const auto& w = rule.when;
      if (!w.categories.empty() && !contains(w.categories, cat)) continue;
      if (contains(w.except_categories, cat)) continue;
      if (!w.domains.empty() && (!info || !contains(w.domains, info->domain))) continue;
      if (!w.intents.empty() && (!info || !contains(w.intents, info->intent))) continue;
      const bool acts = rule.action != Action::allow && !rule.monitor && pol.mode() == policy::Mode::enforce;
      if (acts) {
        live.acting_rule.emplace(cat, rule.id);
        break;
      }
      live.recording_rule.emplace(cat, rule.id);
    }
  }
  return live;
}

Analysis analyze(const Model& m, const Options& opt) {
  Analysis a;
  a.model = &m;
  if (opt.atlas) {
    a.atlas_file = opt.atlas->file;
    a.atlas_version = opt.atlas->version;
  }
  if (opt.live) {
    a.has_live = true;
    a.config = opt.live->config;
    a.policy = opt.live->policy;
  }
  a.relies = reliance(m);

  // Reverse edges: who relies on b.
  std::map<std::string, std::vector<std::string>> dependents;
  for (const auto& [x, rs] : a.relies)
    for (const auto& b : rs) dependents[b].push_back(x);

  // Transitive reliance closure of every mechanism (iterative: the graph may have cycles).
  auto closure = [&](const std::string& start, const std::map<std::string, std::vector<std::string>>& edges) {
    std::set<std::string> seen;
    std::deque<std::string> q{start};
    while (!q.empty()) {
      const std::string x = q.front();
      q.pop_front();
      auto it = edges.find(x);
      if (it == edges.end()) continue;
      for (const auto& y : it->second)
        if (y != start && seen.insert(y).second) q.push_back(y);
    }
    return seen;
  };

  for (const auto& x : m.mechanisms) {
    if (x.layer != Layer::security) continue;
    ControlImpact ci;
    ci.control = x.id;
    const auto down = closure(x.id, dependents);
    std::set<std::string> disabled = down;
    disabled.insert(x.id);
    ci.disabled = in_model_order(m, disabled);
    for (const auto& id : ci.disabled)
      if (const Mechanism* y = m.mechanism(id); y && y->layer == Layer::safety) ci.safety.push_back(id);
    if (auto it = dependents.find(x.id); it != dependents.end())
      for (const auto& id : in_model_order(m, std::set<std::string>(it->second.begin(), it->second.end())))
        if (m.mechanism(id)->layer == Layer::safety) ci.direct_safety.push_back(id);
    for (const auto& r : m.risks) {
      if (r.mitigations.empty()) continue;
      const auto n = std::count_if(r.mitigations.begin(), r.mitigations.end(), [&](const std::string& id) { return disabled.count(id) > 0; });
      if (n == static_cast<long>(r.mitigations.size())) ci.risks_exposed.push_back(r.id);
      else if (n > 0) ci.risks_weakened.push_back(r.id);
    }
    a.controls.push_back(std::move(ci));
  }
  for (const auto& ci : a.controls)
    if (!ci.safety.empty()) a.chokepoints.push_back(ci);
  std::stable_sort(a.chokepoints.begin(), a.chokepoints.end(), [](const ControlImpact& x, const ControlImpact& y) {
    return std::make_tuple(x.safety.size(), x.risks_exposed.size(), x.risks_weakened.size(), x.disabled.size()) >
           std::make_tuple(y.safety.size(), y.risks_exposed.size(), y.risks_weakened.size(), y.disabled.size());
  });
  for (std::size_t i = 0; i < a.chokepoints.size(); ++i) {
    a.chokepoints[i].rank = static_cast<int>(i + 1);
    for (auto& ci : a.controls)
      if (ci.control == a.chokepoints[i].control) ci.rank = a.chokepoints[i].rank;
  }

  // Unprotected safety mechanisms.
  for (const auto& x : m.mechanisms) {
    if (x.layer != Layer::safety) continue;
    Unprotected u;
    u.mechanism = x.id;
    const auto up = closure(x.id, a.relies);
    const bool guarded = std::any_of(up.begin(), up.end(), [&](const std::string& id) {
      const Mechanism* y = m.mechanism(id);
      return y && y->layer == Layer::security;
    });
    if (!guarded) u.reasons.push_back("no security control protects it (nothing it relies on is in the security layer)");
    for (const auto& art : x.artifacts) {
      const std::filesystem::path p = std::filesystem::path(art).is_absolute() || m.dir.empty()
                                          ? std::filesystem::path(art)
                                          : std::filesystem::path(m.dir) / art;
      std::error_code ec;
      if (!std::filesystem::exists(p, ec)) u.reasons.push_back("artifact " + art + " does not exist");
      else if (!sig::is_signed(p.string(), opt.trusted)) u.reasons.push_back("artifact " + art + " is not signed by a trusted key");
    }
    if (!u.reasons.empty()) a.unprotected.push_back(std::move(u));
  }
  // Mechanisms implemented by a detector that the live config switches off.
  if (opt.live)
    for (const auto& x : m.mechanisms)
      for (const auto& d : x.detectors)
        if (!opt.live->enabled.count(d)) a.mechanism_gaps.emplace_back(x.id, d);

  // Risks.
  for (const auto& r : m.risks) {
    RiskResult rr;
    rr.risk = &r;
    rr.c = classify(r, m);
    auto add_tech = [&](const std::string& id, const char* source) {
      for (const auto& t : rr.atlas)
        if (t.id == id) return;
      TechniqueRef t;
      t.id = id;
      t.source = source;
      if (opt.atlas)
        if (const AtlasTechnique* at = opt.atlas->find(id)) {
          t.name = at->name;
          t.tactics = at->tactics;
          t.in_catalog = true;
        }
      rr.atlas.push_back(std::move(t));
    };
    for (const auto& id : r.atlas) add_tech(id, "explicit");
    std::vector<std::string> owasp = r.owasp;
    for (const auto& cat : r.categories)
      if (const CategoryEntry* ce = find_category(cat)) {
        for (auto id : ce->atlas) add_tech(std::string(id), "category");
        for (auto id : ce->owasp) add_unique(owasp, std::string(id));
      }
    std::sort(owasp.begin(), owasp.end());
    for (const auto& id : owasp) rr.owasp.emplace_back(id, std::string(owasp_name(id)));
    if (opt.live) rr.coverage = coverage_of(r, m, *opt.live);
    else rr.coverage.status = "unknown";
    if (r.mitigations.empty()) a.unmitigated.push_back(r.id);
    a.risks.push_back(std::move(rr));
  }

  // The seeds' failure signatures as a checklist.
  struct Sig {
    const char* id;
    const char* title;
    const char* question;
  };
  const Sig sigs[] = {
      {"safety_only_failure", "Safety-only failure",
       "Can the model fail under normal use with no adversary (hallucination, distribution shift, misalignment)?"},
      {"security_causing_safety_failure", "Security-causing-safety failure",
       "Can an attack (injection, tampering, spoofing) switch off a safeguard or cause a safety harm?"},
      {"safety_enabling_security_attack", "Safety-enabling-security attack",
       "Can an attacker exploit a known safety weakness (bias, blind spot, hallucination) on purpose?"},
      {"adversarial_cycle", "Adversarial cycle",
       "Did a fix in one domain open a risk in the other (a safety patch that adds a bypass, a security control that harms safety)?"},
  };
  for (const auto& s : sigs) {
    ChecklistItem it;
    it.signature = s.id;
    it.title = s.title;
    it.question = s.question;
    for (const auto& rr : a.risks)
      if (contains(rr.c.signatures, std::string(s.id))) {
        it.risks.push_back(rr.risk->id);
        if (rr.risk->mitigations.empty()) it.unmitigated.push_back(rr.risk->id);
      }
    it.status = it.risks.empty() ? "not_modelled" : it.unmitigated.empty() ? "mitigated" : "open";
    a.checklist.push_back(std::move(it));
  }
  return a;
}

}  // namespace dg::threat
