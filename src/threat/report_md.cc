#include "threat/report.h"

namespace dg::threat {
namespace {

std::string cell(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '|') o += "\\|";
    else if (c == '\n') o += ' ';
    else o += c;
  }
  return o;
}

std::string list(const std::vector<std::string>& v, const char* none = "—") {
  if (v.empty()) return none;
  std::string o;
  for (const auto& s : v) o += (o.empty() ? "" : ", ") + s;
  return cell(o);
}

}  // namespace

std::string render_markdown(const Analysis& a) {
  const Model& m = *a.model;
  std::string o = "# Threat analysis: " + m.name + "\n\n";
  if (!m.description.empty()) o += m.description + "\n\n";
  o += "Model `" + m.file + "`";
  if (!m.context.sector.empty()) o += "; sector " + m.context.sector;
  if (!m.context.exposure.empty()) o += ", exposure " + m.context.exposure;
  if (!m.context.autonomy.empty()) o += ", autonomy " + m.context.autonomy;
  if (!m.context.data_sensitivity.empty()) o += ", data sensitivity " + m.context.data_sensitivity;
  o += ".\n\n";
  o += "**" + std::to_string(m.risks.size()) + " risks**: " + std::to_string(a.count(VerdictClass::safety)) + " safety, " +
       std::to_string(a.count(VerdictClass::security)) + " security, " + std::to_string(a.count(VerdictClass::hybrid)) +
       " hybrid. " + std::to_string(a.chokepoints.size()) + " chokepoint(s), " + std::to_string(a.unprotected.size()) +
       " unprotected safety mechanism(s), " + std::to_string(a.unmitigated.size()) + " unmitigated risk(s).\n\n";

  o += "## Risks\n\n| id | risk | class | rationale | severity | mitigations |\n|---|---|---|---|---|---|\n";
  for (const auto& rr : a.risks)
    o += "| " + rr.risk->id + " | " + cell(rr.risk->title) + " | **" + std::string(class_name(rr.c.cls)) + "** | " +
         cell(rr.c.rationale) + " | " + std::string(to_string(rr.risk->severity)) + " | " + list(rr.risk->mitigations, "**none**") + " |\n";

  o += "\n## Chokepoints\n\nSecurity controls ranked by how many safety mechanisms one compromise disables "
       "(directly or through what relies on them).\n\n";
  if (a.chokepoints.empty()) {
    o += "No security control protects a safety mechanism.\n";
  } else {
    o += "| rank | control | safety mechanisms disabled | risks left unmitigated | risks weakened |\n|---|---|---|---|---|\n";
    for (const auto& c : a.chokepoints)
      o += "| " + std::to_string(c.rank) + " | " + c.control + " | " + std::to_string(c.safety.size()) + ": " + list(c.safety) + " | " +
           list(c.risks_exposed) + " | " + list(c.risks_weakened) + " |\n";
  }

  o += "\n## Cross-dependencies\n\n| security control | safety mechanisms relying on it (direct) | ... directly or transitively |\n|---|---|---|\n";
  for (const auto& c : a.controls) o += "| " + c.control + " | " + list(c.direct_safety) + " | " + list(c.safety) + " |\n";

  o += "\n## Unprotected safety mechanisms\n\n";
  if (a.unprotected.empty()) o += "None.\n";
  for (const auto& u : a.unprotected) {
    const Mechanism* x = m.mechanism(u.mechanism);
    o += "* **" + u.mechanism + "** (" + cell(x ? x->title : "") + "): " + list(u.reasons) + "\n";
  }

  o += "\n## Unmitigated risks\n\n";
  if (a.unmitigated.empty()) o += "None.\n";
  for (const auto& id : a.unmitigated) o += "* **" + id + "** " + cell(m.risk(id)->title) + "\n";

  o += "\n## Coverage by the live policy\n\n";
  if (!a.has_live) {
    o += "Not computed (no config).\n";
  } else {
    o += "Config `" + a.config + "`, policy `" + a.policy + "`.\n\n| risk | status | enabled controls | policy rules | switched off |\n|---|---|---|---|---|\n";
    for (const auto& rr : a.risks)
      o += "| " + rr.risk->id + " | " + rr.coverage.status + " | " + list(rr.coverage.controls) + " | " + list(rr.coverage.rules) +
           " | " + list(rr.coverage.disabled) + " |\n";
    if (!a.mechanism_gaps.empty()) {
      o += "\nMechanisms implemented by a detector the config switches off:\n\n";
      for (const auto& [mech, det] : a.mechanism_gaps) o += "* " + mech + ": `" + det + "`\n";
    }
  }

  o += "\n## MITRE ATLAS and OWASP LLM Top 10 (2025)\n\n";
  if (!a.atlas_file.empty()) o += "ATLAS " + a.atlas_version + " from `" + a.atlas_file + "`.\n\n";
  o += "| risk | ATLAS techniques | OWASP |\n|---|---|---|\n";
  for (const auto& rr : a.risks) {
    std::vector<std::string> t, w;
    for (const auto& x : rr.atlas) t.push_back(x.id + (x.name.empty() ? "" : " " + x.name));
    for (const auto& [id, name] : rr.owasp) w.push_back(id + " " + name);
    o += "| " + rr.risk->id + " | " + list(t) + " | " + list(w) + " |\n";
  }

  o += "\n## Failure signatures\n\n";
  for (const auto& c : a.checklist) {
    const char* box = c.status == "mitigated" ? "[x]" : "[ ]";
    o += "- " + std::string(box) + " **" + c.title + "** — " + c.status;
    if (!c.risks.empty()) o += ": " + list(c.risks);
    if (!c.unmitigated.empty()) o += " (unmitigated: " + list(c.unmitigated) + ")";
    o += "  \n  " + c.question + "\n";
  }
  return o;
}

}  // namespace dg::threat
