// The analysis of one threat model (docs/threat-model.md): each risk classified by the intent
// principle with a one-line rationale; the cross-dependency graph (which safety mechanisms rely on
// which security controls, directly or transitively); chokepoints; unprotected safety mechanisms
// (no security control behind them, or an artifact that is not signed by a trusted key); unmitigated
// risks; coverage against a live config + policy; ATLAS / OWASP mapping; the seeds' failure
// signatures as a checklist. Pure function of its inputs (plus the artifact files it verifies).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/signature.h"
#include "core/taxonomy.h"
#include "core/types.h"
#include "threat/model.h"

namespace dg::policy {
struct Config;
class Policy;
}  // namespace dg::policy

namespace dg::threat {

// The run-time controls of a live dualguard deployment, reduced to what coverage needs.
struct LiveControls {
  std::string config, policy;                        // paths, for the report
  std::set<std::string> enabled;                     // control names (catalog.h controls()) switched on
  std::map<std::string, std::string> acting_rule;    // category -> first policy rule that acts (above allow)
  std::map<std::string, std::string> recording_rule; // category -> a rule that only records (allow / monitor)
};
// Enabled detectors from cfg.detectors, gateway.abuse / gateway.monitor from the config tree,
// integrity from integrity.mode; rules from the policy (severity and score thresholds are ignored:
// coverage asks whether a rule can act on the category at all).
LiveControls live_controls(const policy::Config& cfg, const policy::Policy& pol, const Taxonomy& tax);

struct Options {
  const AtlasCatalog* atlas = nullptr;  // names and tactics for technique ids
  const LiveControls* live = nullptr;   // coverage is skipped when null
  std::vector<sig::PublicKey> trusted;  // keys that make a mechanism's artifact "signed"
};

// One line on why a risk got its class.
struct Classification {
  VerdictClass cls = VerdictClass::safety;  // safety | security | hybrid
  std::string rationale;
  std::vector<std::string> signatures;      // failure signatures this risk is an instance of
};
Classification classify(const Risk& r, const Model& m);

struct TechniqueRef {
  std::string id, name;
  std::vector<std::string> tactics;
  std::string source;     // explicit | category
  bool in_catalog = false;
};

struct RiskCoverage {
  std::string status;  // covered | monitored | disabled | not_addressed | unknown (no live config)
  std::vector<std::string> controls;  // enabled controls that address it
  std::vector<std::string> disabled;  // addressing controls switched off
  std::vector<std::string> rules;     // policy rules that act on it
  std::string note;
};

struct RiskResult {
  const Risk* risk = nullptr;
  Classification c;
  std::vector<TechniqueRef> atlas;
  std::vector<std::pair<std::string, std::string>> owasp;  // id, name
  RiskCoverage coverage;
};

struct ControlImpact {
  std::string control;                        // a security-layer mechanism
  std::vector<std::string> direct_safety;     // safety mechanisms that rely on it directly
  std::vector<std::string> safety;            // ... directly or transitively (model order)
  std::vector<std::string> disabled;          // every mechanism a compromise disables (it included)
  std::vector<std::string> risks_exposed;     // risks left with no working mitigation
  std::vector<std::string> risks_weakened;    // risks that lose some of their mitigations
  int rank = 0;                               // 1 = worst chokepoint; 0 = protects no safety mechanism
};

struct Unprotected {
  std::string mechanism;
  std::vector<std::string> reasons;
};

struct ChecklistItem {
  std::string signature;  // safety_only_failure | security_causing_safety_failure | safety_enabling_security_attack | adversarial_cycle
  std::string title, question;
  std::vector<std::string> risks;
  std::vector<std::string> unmitigated;
  std::string status;     // open (an instance lacks mitigation) | mitigated | not_modelled
};

struct Analysis {
  const Model* model = nullptr;
  std::vector<RiskResult> risks;                          // model order
  std::map<std::string, std::vector<std::string>> relies; // mechanism -> mechanisms it relies on directly
  std::vector<ControlImpact> controls;                    // every security control, model order
  std::vector<ControlImpact> chokepoints;                 // controls with rank > 0, ranked
  std::vector<Unprotected> unprotected;                   // safety mechanisms, model order
  std::vector<std::string> unmitigated;                   // risk ids
  std::vector<std::pair<std::string, std::string>> mechanism_gaps;  // (mechanism, detector) switched off in the config
  std::vector<ChecklistItem> checklist;
  bool has_live = false;
  std::string config, policy;                             // of the live controls
  std::string atlas_file, atlas_version;
  std::size_t count(VerdictClass c) const;
};

Analysis analyze(const Model& m, const Options& opt);

std::string_view class_name(VerdictClass c) noexcept;

}  // namespace dg::threat
