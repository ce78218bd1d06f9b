#include "monitor/alerts.h"

#include <gtest/gtest.h>

#include "core/load_result.h"

namespace dg::monitor {
namespace {

AlertsConfig load(const std::string& text) {
  auto r = parse_alerts(text, "alerts.yaml");
  EXPECT_TRUE(r.ok()) << format_errors_text(r.errors);
  return r.value.value_or(AlertsConfig{});
}

VerdictEvent ev(std::int64_t t, std::string key, VerdictClass cls, Action a, std::vector<VerdictEvent::Finding> fs = {}) {
  VerdictEvent v;
  v.ts_ms = t;
  v.key_id = std::move(key);
  v.cls = cls;
  v.action = a;
  v.findings = std::move(fs);
  return v;
}

TEST(Alerts, ARateRuleFiresAtItsCountPerKeyAndCoolsDown) {
  AlertEngine e(load(R"(
rules:
  - name: security_blocks
    class: [security]
    action: [block]
    count: 3
    window: 1m
    cooldown: 5m
    severity: high
)"));
  EXPECT_TRUE(e.on_verdict(ev(0, "k1", VerdictClass::security, Action::block), "").empty());
  EXPECT_TRUE(e.on_verdict(ev(1000, "k1", VerdictClass::security, Action::block), "").empty());
  EXPECT_TRUE(e.on_verdict(ev(1500, "k2", VerdictClass::security, Action::block), "").empty());  // another key
  EXPECT_TRUE(e.on_verdict(ev(2000, "k1", VerdictClass::clean, Action::allow), "").empty());
  auto a = e.on_verdict(ev(3000, "k1", VerdictClass::security, Action::block), "inc-1");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].rule, "security_blocks");
  EXPECT_EQ(a[0].severity, Severity::high);
  EXPECT_EQ(a[0].key_id, "k1");
  EXPECT_EQ(a[0].incident_id, "inc-1");
  EXPECT_EQ(a[0].id, "al-1");
  EXPECT_EQ(a[0].summary, "security_blocks: 3 of 4 verdicts (75%) for key k1 in 60 s");
  EXPECT_TRUE(e.on_verdict(ev(4000, "k1", VerdictClass::security, Action::block), "").empty());  // cooling down
  // Out of the window: the count starts again.
  EXPECT_TRUE(e.on_verdict(ev(400000, "k1", VerdictClass::security, Action::block), "").empty());
}

TEST(Alerts, ARatioRuleNeedsItsMinimumOfEvents) {
  AlertEngine e(load(R"(
rules:
  - {name: block_rate, action: [block], ratio: 0.5, min_events: 4, per_key: false, window: 10m}
)"));
  EXPECT_TRUE(e.on_verdict(ev(0, "a", VerdictClass::security, Action::block), "").empty());
  EXPECT_TRUE(e.on_verdict(ev(1, "b", VerdictClass::security, Action::block), "").empty());
  EXPECT_TRUE(e.on_verdict(ev(2, "c", VerdictClass::clean, Action::allow), "").empty());
  auto a = e.on_verdict(ev(3, "d", VerdictClass::safety, Action::block), "");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_NE(a[0].summary.find("3 of 4 verdicts (75%) overall"), std::string::npos) << a[0].summary;
}

TEST(Alerts, ASecurityAndASafetyAlertForOneKeyBecomeOneCriticalAlert) {
  AlertEngine e(load(R"(
cross_domain: {window: 10m}
rules:
  - {name: attacks, domain: security, count: 1, severity: medium}
  - {name: unsafe_output, domain: safety, count: 1, severity: medium}
)"));
  const VerdictEvent::Finding inj{"prompt_injection", Domain::security, Role::prompt, Severity::high};
  const VerdictEvent::Finding pii{"pii_exposure", Domain::safety, Role::response, Severity::medium};
  auto a = e.on_verdict(ev(0, "k1", VerdictClass::security, Action::block, {inj}), "");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].rule, "attacks");
  // Another key's safety alert stays separate.
  auto b = e.on_verdict(ev(1000, "k2", VerdictClass::safety, Action::redact, {pii}), "");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].rule, "unsafe_output");
  auto c = e.on_verdict(ev(2000, "k1", VerdictClass::safety, Action::redact, {pii}), "inc-4");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].rule, "cross_domain_escalation");
  EXPECT_EQ(c[0].severity, Severity::critical);
  EXPECT_EQ(c[0].merged, (std::vector<std::string>{"attacks", "unsafe_output"}));
  EXPECT_EQ(c[0].incident_id, "inc-4");
  EXPECT_FALSE(c[0].domain);
}

TEST(Alerts, OutsideTheCrossDomainWindowAlertsStaySeparate) {
  AlertEngine e(load(R"(
cross_domain: {window: 1m}
rules:
  - {name: attacks, domain: security, count: 1, cooldown: 1s}
  - {name: unsafe_output, domain: safety, count: 1, cooldown: 1s}
)"));
  const VerdictEvent::Finding inj{"prompt_injection", Domain::security, Role::prompt, Severity::high};
  const VerdictEvent::Finding pii{"pii_exposure", Domain::safety, Role::response, Severity::medium};
  ASSERT_EQ(e.on_verdict(ev(0, "k1", VerdictClass::security, Action::block, {inj}), "").size(), 1u);
  auto c = e.on_verdict(ev(120000, "k1", VerdictClass::safety, Action::redact, {pii}), "");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].rule, "unsafe_output");
}

TEST(Alerts, IncidentAndDriftRules) {
  AlertEngine e(load(R"(
rules:
  - {name: hybrid_incident, kind: incident, class: [hybrid]}
  - {name: any_security_incident, kind: incident, class: [security], min_severity: high, severity: medium}
  - {name: length_drift, kind: drift, statistic: [prompt_length], severity: low}
)"));
  Incident inc;
  inc.id = "inc-1";
  inc.key_id = "k1";
  inc.cls = VerdictClass::security;
  inc.kind = IncidentKind::security;
  inc.severity = Severity::medium;
  EXPECT_TRUE(e.on_incident(inc, true, false, 0).empty());  // below min_severity
  inc.severity = Severity::high;
  auto a = e.on_incident(inc, true, false, 0);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].rule, "any_security_incident");
  EXPECT_TRUE(e.on_incident(inc, false, false, 10).empty());  // an unchanged update
  inc.cls = VerdictClass::hybrid;
  inc.kind = IncidentKind::security_causing_safety;
  auto b = e.on_incident(inc, false, true, 20);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].rule, "hybrid_incident");
  EXPECT_EQ(b[0].severity, Severity::critical);

  DriftStat s;
  s.statistic = "prompt_length";
  s.drifted = true;
  s.psi = 1.234;
  s.detail = "median 200 -> 1600 bytes";
  DriftStat o = s;
  o.statistic = "language";
  auto d = e.on_drift({s, o}, 30);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].summary, "drift in prompt_length: median 200 -> 1600 bytes (PSI 1.23)");
  EXPECT_TRUE(e.on_drift({s}, 40).empty());  // cooling down
}

TEST(Alerts, LoadErrorsNameTheLine) {
  auto r = parse_alerts(R"(rules:
  - name: x
    kind: rated
    count: 1
  - name: y
    window: 5 minutes
    count: 1
  - name: z
  - name: x
    count: 2
    colour: red
sinks:
  webhook: {url: "https://example.com/hook"}
)",
                        "alerts.yaml");
  ASSERT_FALSE(r.ok());
  const std::string text = format_errors_text(r.errors);
  EXPECT_NE(text.find("alerts.yaml:3:11: config_invalid_value: kind must be rate, incident or drift, got 'rated'"), std::string::npos) << text;
  EXPECT_NE(text.find("alerts.yaml:6:13: config_invalid_value: window must be a positive duration such as 30s, 5m or 1h, got '5 minutes'"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("config_missing_key: rule 'z': a rate rule needs count or ratio"), std::string::npos) << text;
  EXPECT_NE(text.find("colour"), std::string::npos) << text;
  EXPECT_NE(text.find("sinks.webhook.url must be an http:// URL"), std::string::npos) << text;
}

}  // namespace
}  // namespace dg::monitor
