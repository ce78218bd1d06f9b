#include "core/verdict_json.h"

#include <cmath>

namespace dg {

ojson finding_to_json(const Finding& f) {
  ojson spans = ojson::array();
  for (const auto& s : f.spans) spans.push_back(ojson::array({s.start, s.end}));
  // Scores are rounded to 4 decimals: enough to rank, stable in golden files.
  const double score = std::round(f.score * 10000.0) / 10000.0;
  ojson j{{"detector", f.detector},
          {"category", f.category},
          {"domain", to_string(f.domain)},
          {"intent", to_string(f.intent)},
          {"property", f.property},
          {"score", score},
          {"severity", to_string(f.severity)},
          {"spans", std::move(spans)},
          {"view", f.view},
          {"evidence", f.evidence},
          {"role", to_string(f.role)}};
  if (f.context_index >= 0) j["context"] = f.context_index;
  if (!f.rule.empty()) {
    j["rule"] = f.rule;
    j["rule_action"] = to_string(f.action);
    if (f.monitor) j["monitor"] = true;
  }
  return j;
}

ojson verdict_to_json(const ojson& id, const Verdict& v) {
  ojson findings = ojson::array();
  for (const auto& f : v.findings) findings.push_back(finding_to_json(f));
  ojson j{{"id", id},
          {"action", to_string(v.action)},
          {"class", to_string(v.cls)},
          {"reason", v.reason}};
  if (!v.chain.empty()) j["chain"] = v.chain;
  j["findings"] = std::move(findings);
  if (v.has_redacted) j["redacted"] = v.redacted;
  if (!v.errors.empty()) j["errors"] = v.errors;
  j["latency_us"] = v.latency_us;
  return j;
}

ojson input_error_to_json(const ojson& id, std::string_view code, std::string_view message) {
  return ojson{{"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

}  // namespace dg
