#include "policy/policy.h"

#include <gtest/gtest.h>

namespace dg::policy {
namespace {

const Taxonomy& taxonomy() {
  static Taxonomy t = *Taxonomy::load_file(DG_SOURCE_DIR "/config/taxonomy.yaml").value;
  return t;
}

Policy shipped() {
  auto p = Policy::load_file(DG_SOURCE_DIR "/config/policy.yaml", taxonomy());
  EXPECT_TRUE(p.ok()) << format_errors_text(p.errors);
  return *p.value;
}

Finding finding(std::string category, Role role, Severity sev, double score = 0.9) {
  Finding f;
  f.detector = "test";
  f.category = std::move(category);
  const CategoryInfo* c = taxonomy().find(f.category);
  EXPECT_NE(c, nullptr) << f.category;
  f.domain = c->domain;
  f.intent = c->intent;
  f.property = c->property;
  f.role = role;
  f.severity = sev;
  f.score = score;
  return f;
}

Verdict decide(const Policy& p, std::vector<Finding> findings) {
  Verdict v;
  v.findings = std::move(findings);
  p.decide(v);
  return v;
}

}  // namespace

TEST(Policy, NoFindingsIsCleanAllow) {
  auto v = decide(shipped(), {});
  EXPECT_EQ(v.action, Action::allow);
  EXPECT_EQ(v.cls, VerdictClass::clean);
  EXPECT_EQ(v.reason, "allow; clean: no findings");
}

TEST(Policy, HighInjectionIsBlockedAsSecurity) {
  auto v = decide(shipped(), {finding("prompt_injection", Role::prompt, Severity::high)});
  EXPECT_EQ(v.action, Action::block);
  EXPECT_EQ(v.cls, VerdictClass::security);
  EXPECT_EQ(v.findings[0].rule, "block-prompt-attacks");
  EXPECT_EQ(v.reason,
            "block by rule block-prompt-attacks: prompt_injection on prompt (security, high, 0.90); security: deliberate "
            "attack on the AI system");
}

TEST(Policy, MediumInjectionIsReviewed) {
  auto v = decide(shipped(), {finding("jailbreak", Role::prompt, Severity::medium)});
  EXPECT_EQ(v.action, Action::review);
  EXPECT_EQ(v.findings[0].rule, "review-prompt-attacks");
}

TEST(Policy, PiiInResponseIsRedactedAsSafety) {
  auto v = decide(shipped(), {finding("pii_exposure", Role::response, Severity::low)});
  EXPECT_EQ(v.action, Action::redact);
  EXPECT_EQ(v.cls, VerdictClass::safety);  // acted upon, so it counts although low
}

TEST(Policy, LowPiiInPromptIsRecordedButClean) {
  auto v = decide(shipped(), {finding("pii_exposure", Role::prompt, Severity::low)});
  EXPECT_EQ(v.action, Action::allow);
  EXPECT_EQ(v.cls, VerdictClass::clean);
  EXPECT_EQ(v.findings[0].rule, "record-pii-in-prompts");
}

TEST(Policy, InjectionThenPiiInResponseIsHybridAndCritical) {
  auto v = decide(shipped(), {finding("prompt_injection", Role::context, Severity::medium),
                              finding("pii_exposure", Role::response, Severity::low)});
  EXPECT_EQ(v.action, Action::block);
  EXPECT_EQ(v.cls, VerdictClass::hybrid);
  EXPECT_EQ(v.chain, "prompt_injection -> pii_exposure");
  EXPECT_EQ(v.findings[1].severity, Severity::critical);
  EXPECT_EQ(v.findings[1].rule, "attack-then-unsafe-response");
  EXPECT_NE(v.reason.find("security-causing-safety failure"), std::string::npos) << v.reason;
}

TEST(Policy, BothDomainsWithoutChainFollowTheDecidingFinding) {
  auto v = decide(shipped(), {finding("secret_exposure", Role::prompt, Severity::high),
                              finding("prompt_injection", Role::prompt, Severity::high)});
  EXPECT_EQ(v.action, Action::block);
  EXPECT_EQ(v.cls, VerdictClass::security);
  EXPECT_NE(v.reason.find("no causal chain"), std::string::npos) << v.reason;
}

TEST(Policy, MonitorModeRecordsButAllows) {
  auto p = Policy::load_string(
      "mode: monitor\nrules:\n  - id: r\n    when: {categories: [prompt_injection]}\n    action: block\n", "p.yaml",
      taxonomy());
  ASSERT_TRUE(p.ok()) << format_errors_text(p.errors);
  auto v = decide(*p.value, {finding("prompt_injection", Role::prompt, Severity::high)});
  EXPECT_EQ(v.action, Action::allow);
  EXPECT_TRUE(v.findings[0].monitor);
  EXPECT_EQ(v.findings[0].action, Action::block);
  EXPECT_NE(v.reason.find("monitor: rule r would block"), std::string::npos) << v.reason;
  EXPECT_EQ(v.cls, VerdictClass::security);
}

TEST(Policy, PerRuleMonitorDoesNotEnforce) {
  auto p = Policy::load_string(
      "rules:\n  - id: trial\n    when: {categories: [jailbreak]}\n    action: block\n    monitor: true\n", "p.yaml",
      taxonomy());
  ASSERT_TRUE(p.ok());
  auto v = decide(*p.value, {finding("jailbreak", Role::prompt, Severity::high)});
  EXPECT_EQ(v.action, Action::allow);
}

TEST(Policy, FailClosedBlocksOnDetectorError) {
  Verdict v;
  v.errors.push_back("signatures: detector_error");
  shipped().decide(v);
  EXPECT_EQ(v.action, Action::block);
  EXPECT_NE(v.reason.find("fail-closed"), std::string::npos);
  auto open = Policy::load_string("fail_mode: open\n", "p.yaml", taxonomy());
  ASSERT_TRUE(open.ok());
  Verdict w;
  w.errors.push_back("signatures: detector_error");
  open.value->decide(w);
  EXPECT_EQ(w.action, Action::allow);
  EXPECT_NE(w.reason.find("fail-open"), std::string::npos);
}

TEST(Policy, ScoreAndRoleConditions) {
  auto p = Policy::load_string(
      "rules:\n"
      "  - id: confident\n    when: {categories: [prompt_injection], min_score: 0.8, roles: [context]}\n    action: block\n"
      "  - id: rest\n    when: {categories: [prompt_injection]}\n    action: review\n",
      "p.yaml", taxonomy());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(decide(*p.value, {finding("prompt_injection", Role::context, Severity::low, 0.85)}).action, Action::block);
  EXPECT_EQ(decide(*p.value, {finding("prompt_injection", Role::context, Severity::low, 0.5)}).action, Action::review);
  EXPECT_EQ(decide(*p.value, {finding("prompt_injection", Role::prompt, Severity::low, 0.9)}).action, Action::review);
}

TEST(Policy, EveryErrorIsReportedWithItsLocation) {
  const std::string yaml =
      "mode: enforcing\n"
      "rules:\n"
      "  - id: a\n"
      "    when: {categories: [prompt_injektion]}\n"
      "    action: blok\n"
      "  - id: a\n"
      "    whenn: {}\n"
      "    action: block\n";
  auto p = Policy::load_string(yaml, "p.yaml", taxonomy());
  ASSERT_FALSE(p.ok());
  ASSERT_EQ(p.errors.size(), 5u) << format_errors_text(p.errors);
  EXPECT_EQ(p.errors[0].format(), "p.yaml:1:7: config_invalid_value: mode must be enforce or monitor");
  EXPECT_EQ(p.errors[1].format(), "p.yaml:4:24: unknown_category: category 'prompt_injektion' is not in the taxonomy");
  EXPECT_EQ(p.errors[2].format(),
            "p.yaml:5:13: config_invalid_value: action must be allow, redact, review, safe_mode or block, not 'blok'");
  EXPECT_EQ(p.errors[3].format(),
            "p.yaml:7:5: config_unknown_key: unknown key 'whenn' in policy rule (expected one of: id, when, action, monitor)");
  EXPECT_EQ(p.errors[4].format(), "p.yaml:6:9: config_duplicate: rule id 'a' used twice");
}

}  // namespace dg::policy
