// The threat-model loader: exact error messages with file:line:col, every problem in one pass.
#include <gtest/gtest.h>

#include "threat/model.h"

namespace dg::threat {
namespace {

std::string errors_of(const std::string& yaml, const LoadOptions& opt = {}) {
  auto r = load_model_string(yaml, "m.yaml", opt);
  EXPECT_FALSE(r.ok());
  return format_errors_text(r.errors);
}

const char* kMinimal = R"(version: 1
name: tiny
components:
  - {id: app}
mechanisms:
  - {id: filter, layer: safety}
risks:
  - {id: r1, title: t, cause: c, intent: unintentional, target: app, mitigations: [filter]}
)";

TEST(ThreatModel, LoadsMinimal) {
  auto r = load_model_string(kMinimal, "m.yaml");
  ASSERT_TRUE(r.ok()) << format_errors_text(r.errors);
  EXPECT_EQ(r.value->name, "tiny");
  ASSERT_EQ(r.value->risks.size(), 1u);
  EXPECT_EQ(r.value->risks[0].intent, Intent::unintentional);
  EXPECT_EQ(r.value->risks[0].harm, Domain::safety);  // default for unintentional
  EXPECT_EQ(r.value->risks[0].line, 8);
}

TEST(ThreatModel, UnknownKeysAreErrors) {
  EXPECT_EQ(errors_of("version: 1\nname: x\nrisks: []\nmechanism: []\n"),
            "m.yaml:4:1: config_unknown_key: unknown key 'mechanism' in threat model (expected one of: version, name, "
            "description, context, assets, components, trust_boundaries, mechanisms, risks)\n");
  EXPECT_EQ(errors_of("version: 1\nname: x\nrisks:\n  - {id: r, title: t, cause: c, intent: adversarial, target: r, mitigation: [a]}\n"),
            "m.yaml:4:62: threat_unknown_ref: 'r' in risk 'r' target is no component, mechanism or asset of this model\n"
            "m.yaml:4:65: config_unknown_key: unknown key 'mitigation' in risk (expected one of: id, title, description, cause, "
            "intent, harm, target, assets, mitigations, exploits, introduced_by, categories, atlas, owasp, severity)\n");
}

TEST(ThreatModel, EveryProblemInOnePass) {
  const std::string yaml = R"(version: 2
name: x
components:
  - {id: app}
  - {id: app}
mechanisms:
  - {id: m1, layer: safty, depends_on: [m9]}
  - {id: m2, layer: security, detectors: [pii, nosuch]}
risks:
  - {id: r1, title: t, cause: c, intent: accidental, target: app}
  - {id: r2, title: t, cause: c, intent: unintentional, target: app, exploits: [r1], categories: [prompt_injektion]}
  - {id: r3, title: t, intent: adversarial, target: app, owasp: [LLM11], atlas: [T0051], mitigations: [app]}
)";
  EXPECT_EQ(errors_of(yaml),
            "m.yaml:1:10: threat_schema: version must be 1\n"
            "m.yaml:5:10: config_duplicate: duplicate id 'app' (first used at line 4)\n"
            "m.yaml:7:21: threat_schema: layer must be one of: safety, security (got 'safty')\n"
            "m.yaml:7:41: threat_unknown_ref: 'm9' in mechanism 'm1' depends_on is no asset or mechanism of this model\n"
            "m.yaml:8:48: threat_schema: unknown detector 'nosuch' in mechanism 'm2' (expected one of: encoding, signatures, "
            "secrets, pii, canary, prompt_leak, prompt_attack, harmful_request, toxicity, harmful_response, ood, uncertainty, "
            "groundedness, refusal, gateway.abuse, gateway.auth, gateway.monitor, integrity)\n"
            "m.yaml:10:42: threat_schema: intent must be one of: adversarial, unintentional (got 'accidental')\n"
            "m.yaml:11:80: threat_schema: risk 'r2': 'exploits' needs intent: adversarial (an attacker exploits a weakness)\n"
            "m.yaml:11:99: unknown_category: unknown category 'prompt_injektion' in risk 'r2' (see docs/threat-model.md)\n"
            "m.yaml:12:5: config_missing_key: missing required key 'cause'\n"
            "m.yaml:12:66: threat_schema: 'LLM11' in risk 'r3' is not an OWASP Top 10 for LLM Applications 2025 id (LLM01..LLM10)\n"
            "m.yaml:12:82: threat_schema: 'T0051' in risk 'r3' is not an ATLAS technique id (AML.T0000 or AML.T0000.000)\n"
            "m.yaml:12:104: threat_unknown_ref: 'app' in risk 'r3' mitigations is no mechanism of this model\n");
}

TEST(ThreatModel, AtlasIdsCheckedAgainstTheCatalog) {
  AtlasCatalog cat;
  cat.file = "ATLAS.yaml";
  cat.techniques["AML.T0051"] = {"AML.T0051", "LLM Prompt Injection", {}};
  LoadOptions opt;
  opt.atlas = &cat;
  const std::string yaml =
      "version: 1\nname: x\ncomponents: [{id: app}]\nrisks:\n"
      "  - {id: r1, title: t, cause: c, intent: adversarial, target: app, atlas: [AML.T0051, AML.T9999]}\n";
  EXPECT_EQ(errors_of(yaml, opt),
            "m.yaml:5:87: atlas_unknown_technique: ATLAS technique 'AML.T9999' in risk 'r1' is not in ATLAS.yaml\n");
  auto ok = load_model_string(yaml, "m.yaml");  // without a catalog only the spelling is checked
  EXPECT_TRUE(ok.ok());
}

TEST(ThreatModel, OwaspSpellingsNormalised) {
  auto r = load_model_string(
      "version: 1\nname: x\ncomponents: [{id: app}]\nrisks:\n"
      "  - {id: r1, title: t, cause: c, intent: adversarial, target: app, owasp: [llm01, LLM07:2025]}\n",
      "m.yaml");
  ASSERT_TRUE(r.ok()) << format_errors_text(r.errors);
  EXPECT_EQ(r.value->risks[0].owasp, (std::vector<std::string>{"LLM01:2025", "LLM07:2025"}));
}

TEST(ThreatModel, SyntaxAndIoErrors) {
  EXPECT_EQ(errors_of("version: 1\nname: [x\n"), "m.yaml:3:1: config_syntax: end of sequence flow not found\n");
  auto r = load_model_file("/nonexistent/threat.yaml");
  EXPECT_EQ(format_errors_text(r.errors), "/nonexistent/threat.yaml: config_io: cannot open file\n");
}

TEST(ThreatModel, ShippedExamplesLoad) {
  for (const char* f : {"healthcare.yaml", "autonomous-vehicle.yaml", "chatbot.yaml"}) {
    auto r = load_model_file(std::string(DG_SOURCE_DIR "/examples/") + f);
    EXPECT_TRUE(r.ok()) << f << "\n" << format_errors_text(r.errors);
  }
}

}  // namespace
}  // namespace dg::threat
