// The policy: YAML rules that map findings to actions, cross-domain escalation rules, and the verdict
// class and one-line reason (DESIGN.md "Policy"). Immutable once loaded; shared by all threads.
//
// config/policy.yaml:
//   version: 1
//   mode: enforce | monitor          monitor: every action is recorded but the verdict allows
//   default_action: allow
//   classify_min_severity: medium    weaker findings are reported but do not set the verdict class
//   fail_mode: open | closed         a detector error allows (open) or blocks (closed)
//   rules:                           first matching rule decides a finding's action
//     - id: block-prompt-attacks
//       when: {categories: [...], except_categories: [...], domains: [...], intents: [...], roles: [...], detectors: [...],
//              min_score: 0.5, min_severity: high}
//       action: block
//       monitor: false               true: record "would block", do not enforce
//   escalations:                     request-side finding + response-side finding in one exchange
//     - id: injection-then-unsafe-output
//       request:  {domains: [security], intents: [adversarial], min_severity: medium}
//       response: {domains: [safety], except_categories: [refusal]}
//       severity: critical
//       action: block
#pragma once

#include <string>
#include <vector>

#include "core/finding.h"
#include "core/load_result.h"
#include "core/taxonomy.h"

namespace dg::policy {

struct Match {
  std::vector<std::string> categories;         // empty = any
  std::vector<std::string> except_categories;  // never these (e.g. a refusal is no unsafe answer)
  std::vector<Domain> domains;
  std::vector<Intent> intents;
  unsigned roles = 0b111;
  std::vector<std::string> detectors;
  double min_score = 0.0;
  Severity min_severity = Severity::low;

  bool matches(const Finding& f) const noexcept;
};

struct Rule {
  std::string id;
  Match when;
  Action action = Action::allow;
  bool monitor = false;
};

struct Escalation {
  std::string id;
  Match request;
  Match response;
  Severity severity = Severity::critical;
  Action action = Action::block;
};

enum class Mode { enforce, monitor };
enum class FailMode { open, closed };

class Policy {
 public:
  static LoadResult<Policy> load_file(const std::string& path, const Taxonomy& taxonomy);
  static LoadResult<Policy> load_string(const std::string& yaml, const std::string& name, const Taxonomy& taxonomy);

  // Decides a verdict from findings that already carry domain / intent / property. Fills each
  // finding's rule, action and monitor flag; sets action, class, chain, reason. `errors` are
  // detector failures (fail mode applies). Does not redact (the engine does, it owns the text).
  void decide(Verdict& v) const;

  Mode mode() const noexcept { return mode_; }
  FailMode fail_mode() const noexcept { return fail_mode_; }
  const std::vector<Rule>& rules() const noexcept { return rules_; }
  const std::vector<Escalation>& escalations() const noexcept { return escalations_; }

 private:
  Mode mode_ = Mode::enforce;
  FailMode fail_mode_ = FailMode::closed;
  Action default_action_ = Action::allow;
  Severity classify_min_ = Severity::medium;
  std::vector<Rule> rules_;
  std::vector<Escalation> escalations_;
};

}  // namespace dg::policy
