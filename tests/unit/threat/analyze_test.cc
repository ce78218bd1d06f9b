// Classification, the cross-dependency graph, chokepoints, unprotected mechanisms and coverage on
// small graphs checked by hand.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "threat/analyze.h"
#include "threat/report.h"

namespace dg::threat {
namespace {

Model load(const std::string& yaml) {
  auto r = load_model_string(yaml, "m.yaml");
  EXPECT_TRUE(r.ok()) << format_errors_text(r.errors);
  return r.ok() ? *r.value : Model{};
}

using V = std::vector<std::string>;

// auth <- sign <- filter <- guard;  sign <- mod;  sign protects asset pol, which redact depends on;
// lonely relies on nothing.
const char* kGraph = R"(version: 1
name: graph
assets: [{id: pol, kind: config}]
components: [{id: app}]
mechanisms:
  - {id: auth, layer: security}
  - {id: sign, layer: security, depends_on: [auth], protects: [pol]}
  - {id: filter, layer: security, depends_on: [sign]}
  - {id: mod, layer: safety, depends_on: [sign]}
  - {id: guard, layer: safety, depends_on: [filter]}
  - {id: redact, layer: safety, depends_on: [pol]}
  - {id: lonely, layer: safety}
risks:
  - {id: r1, title: t, cause: c, intent: unintentional, target: app, mitigations: [mod]}
  - {id: r2, title: t, cause: c, intent: adversarial, target: app, mitigations: [guard, auth]}
  - {id: r3, title: t, cause: c, intent: adversarial, target: app}
)";

TEST(ThreatAnalyze, RelianceIncludesProtectedAssets) {
  const Model m = load(kGraph);
  const Analysis a = analyze(m, {});
  EXPECT_EQ(a.relies.at("redact"), V{"sign"});
  EXPECT_EQ(a.relies.at("guard"), V{"filter"});
  EXPECT_EQ(a.relies.at("auth"), V{});
}

TEST(ThreatAnalyze, ChokepointsRankedBySafetyMechanismsThenExposedRisks) {
  const Model m = load(kGraph);
  const Analysis a = analyze(m, {});
  ASSERT_EQ(a.chokepoints.size(), 3u);
  EXPECT_EQ(a.chokepoints[0].control, "auth");
  EXPECT_EQ(a.chokepoints[0].safety, (V{"mod", "guard", "redact"}));
  EXPECT_EQ(a.chokepoints[0].direct_safety, V{});
  EXPECT_EQ(a.chokepoints[0].risks_exposed, (V{"r1", "r2"}));
  EXPECT_EQ(a.chokepoints[1].control, "sign");
  EXPECT_EQ(a.chokepoints[1].safety, (V{"mod", "guard", "redact"}));
  EXPECT_EQ(a.chokepoints[1].direct_safety, (V{"mod", "redact"}));
  EXPECT_EQ(a.chokepoints[1].risks_exposed, V{"r1"});
  EXPECT_EQ(a.chokepoints[1].risks_weakened, V{"r2"});
  EXPECT_EQ(a.chokepoints[2].control, "filter");
  EXPECT_EQ(a.chokepoints[2].safety, V{"guard"});
  EXPECT_EQ(a.chokepoints[2].rank, 3);
  EXPECT_EQ(a.unmitigated, V{"r3"});
  ASSERT_EQ(a.unprotected.size(), 1u);
  EXPECT_EQ(a.unprotected[0].mechanism, "lonely");
}

TEST(ThreatAnalyze, CyclesTerminate) {
  const Model m = load(R"(version: 1
name: cycle
components: [{id: app}]
mechanisms:
  - {id: a, layer: security, depends_on: [b]}
  - {id: b, layer: safety, depends_on: [a]}
  - {id: c, layer: safety, depends_on: [b]}
risks: []
)");
  const Analysis a = analyze(m, {});
  ASSERT_EQ(a.chokepoints.size(), 1u);
  EXPECT_EQ(a.chokepoints[0].safety, (V{"b", "c"}));
  EXPECT_TRUE(a.unprotected.empty());
  EXPECT_FALSE(render_html(a).empty());
}

TEST(ThreatAnalyze, IntentPrinciple) {
  const Model m = load(R"(version: 1
name: classes
components: [{id: app}]
mechanisms:
  - {id: filter, layer: safety}
  - {id: waf, layer: security}
risks:
  - {id: s, title: t, cause: c, intent: unintentional, target: app}
  - {id: s2, title: t, cause: c, intent: unintentional, harm: security, target: app}
  - {id: x, title: t, cause: c, intent: adversarial, target: app}
  - {id: h1, title: t, cause: c, intent: adversarial, harm: safety, target: app}
  - {id: h2, title: t, cause: c, intent: adversarial, target: app, exploits: [s]}
  - {id: h3, title: t, cause: c, intent: adversarial, target: filter}
  - {id: x2, title: t, cause: c, intent: adversarial, target: app, exploits: [x]}
  - {id: cyc, title: t, cause: c, intent: unintentional, target: app, introduced_by: waf}
  - {id: same, title: t, cause: c, intent: unintentional, target: app, introduced_by: filter}
)");
  auto cls = [&](const char* id) { return classify(*m.risk(id), m); };
  EXPECT_EQ(cls("s").cls, VerdictClass::safety);
  EXPECT_EQ(cls("s").rationale, "unintentional cause (no adversary): a safety failure");
  EXPECT_EQ(cls("s2").cls, VerdictClass::safety);
  EXPECT_EQ(cls("x").cls, VerdictClass::security);
  EXPECT_EQ(cls("x").rationale, "deliberate attack (adversarial intent) on the system's data, model or operations: security");
  EXPECT_EQ(cls("h1").cls, VerdictClass::hybrid);
  EXPECT_EQ(cls("h1").rationale, "deliberate attack whose effect is a safety harm: a security-causing-safety failure");
  EXPECT_EQ(cls("h1").signatures, V{"security_causing_safety_failure"});
  EXPECT_EQ(cls("h2").cls, VerdictClass::hybrid);
  EXPECT_EQ(cls("h2").rationale, "deliberate attack that exploits the safety weakness s: a safety flaw turned into an attack surface");
  EXPECT_EQ(cls("h2").signatures, V{"safety_enabling_security_attack"});
  EXPECT_EQ(cls("h3").cls, VerdictClass::hybrid);
  EXPECT_EQ(cls("h3").rationale, "deliberate attack on the safety mechanism filter: a security breach that disables a safeguard");
  EXPECT_EQ(cls("x2").cls, VerdictClass::security);  // exploiting another attack is still an attack
  EXPECT_EQ(cls("cyc").signatures, (V{"safety_only_failure", "adversarial_cycle"}));
  EXPECT_EQ(cls("same").signatures, V{"safety_only_failure"});  // a safety fix with a safety side effect

  const Analysis a = analyze(m, {});
  ASSERT_EQ(a.checklist.size(), 4u);
  EXPECT_EQ(a.checklist[3].signature, "adversarial_cycle");
  EXPECT_EQ(a.checklist[3].risks, V{"cyc"});
  EXPECT_EQ(a.checklist[3].status, "open");
}

TEST(ThreatAnalyze, UnsignedArtifactMakesASafetyMechanismUnprotected) {
  const std::string tmp = (std::filesystem::temp_directory_path() / "dg_threat_artifact.yaml").string();
  { std::ofstream(tmp) << "x: 1\n"; }
  const std::string signed_file = DG_SOURCE_DIR "/config/policy.yaml";
  const Model m = load(std::string(R"(version: 1
name: art
components: [{id: app}]
mechanisms:
  - {id: sign, layer: security}
  - {id: a, layer: safety, depends_on: [sign], artifacts: [)") + tmp + R"(]}
  - {id: b, layer: safety, depends_on: [sign], artifacts: [)" + signed_file + R"(]}
risks: []
)");
  Options opt;
  auto key = sig::load_public_key(DG_SOURCE_DIR "/keys/dev.pub");
  ASSERT_TRUE(key.ok());
  opt.trusted.push_back(*key.value);
  const Analysis a = analyze(m, opt);
  ASSERT_EQ(a.unprotected.size(), 1u);
  EXPECT_EQ(a.unprotected[0].mechanism, "a");
  EXPECT_EQ(a.unprotected[0].reasons, V{"artifact " + tmp + " is not signed by a trusted key"});
  // Without trusted keys nothing is signed.
  const Analysis b = analyze(m, {});
  EXPECT_EQ(b.unprotected.size(), 2u);
  std::remove(tmp.c_str());
}

TEST(ThreatAnalyze, CoverageAgainstLiveControls) {
  const Model m = load(R"(version: 1
name: cov
components: [{id: app}]
mechanisms:
  - {id: mod, layer: safety, detectors: [toxicity]}
risks:
  - {id: inj, title: t, cause: c, intent: adversarial, target: app, categories: [prompt_injection]}
  - {id: tox, title: t, cause: c, intent: unintentional, target: app, categories: [toxicity], mitigations: [mod]}
  - {id: hal, title: t, cause: c, intent: unintentional, target: app, categories: [hallucination_risk]}
  - {id: poi, title: t, cause: c, intent: adversarial, target: app, categories: [data_poisoning]}
)");
  LiveControls live;
  live.enabled = {"signatures", "prompt_attack", "uncertainty"};
  live.acting_rule = {{"prompt_injection", "block-prompt-attacks"}, {"prompt_attack", "block-prompt-attacks"}};
  Options opt;
  opt.live = &live;
  const Analysis a = analyze(m, opt);
  EXPECT_EQ(a.risks[0].coverage.status, "covered");
  EXPECT_EQ(a.risks[0].coverage.controls, (V{"signatures", "prompt_attack"}));
  EXPECT_EQ(a.risks[0].coverage.rules, V{"block-prompt-attacks"});
  EXPECT_EQ(a.risks[1].coverage.status, "disabled");
  EXPECT_EQ(a.risks[1].coverage.disabled, V{"toxicity"});
  EXPECT_EQ(a.risks[2].coverage.status, "monitored");
  EXPECT_EQ(a.risks[3].coverage.status, "not_addressed");
  ASSERT_EQ(a.mechanism_gaps.size(), 1u);
  EXPECT_EQ(a.mechanism_gaps[0], std::make_pair(std::string("mod"), std::string("toxicity")));
}

TEST(ThreatAnalyze, JsonContract) {
  const Model m = load(kGraph);
  const ojson j = to_json(analyze(m, {}));
  EXPECT_EQ(j["schema"], "dualguard.threat/1");
  ASSERT_EQ(j["risks"].size(), 3u);
  EXPECT_EQ(j["risks"][0]["id"], "r1");
  EXPECT_EQ(j["risks"][0]["class"], "safety");
  EXPECT_TRUE(j["risks"][0]["rationale"].is_string());
  EXPECT_EQ(j["chokepoints"][0]["control"], "auth");
  EXPECT_EQ(j["chokepoints"][0]["safety_mechanisms"], ojson::array({"mod", "guard", "redact"}));
  EXPECT_EQ(j["unprotected_safety_mechanisms"][0]["mechanism"], "lonely");
}

}  // namespace
}  // namespace dg::threat
