#include "monitor/correlator.h"

#include <gtest/gtest.h>

namespace dg::monitor {
namespace {

using F = VerdictEvent::Finding;

VerdictEvent ev(std::string id, std::int64_t t, std::string key, std::vector<F> fs, Action a = Action::block) {
  VerdictEvent v;
  v.request_id = std::move(id);
  v.ts_ms = t;
  v.key_id = std::move(key);
  v.action = a;
  v.findings = std::move(fs);
  return v;
}

const F kInjection{"prompt_injection", Domain::security, Role::prompt, Severity::high};
const F kPiiOut{"pii_exposure", Domain::safety, Role::response, Severity::medium};
const F kHarmfulOut{"harmful_output", Domain::safety, Role::response, Severity::high};
const F kRefusal{"refusal", Domain::safety, Role::response, Severity::low};

TEST(Correlator, AnInjectionThenALeakIsOneSecurityCausingSafetyIncident) {
  Correlator c;
  auto u1 = c.observe(ev("r1", 1000, "k1", {kInjection}));
  ASSERT_TRUE(u1);
  EXPECT_TRUE(u1->created);
  EXPECT_EQ(u1->incident.cls, VerdictClass::security);
  EXPECT_EQ(u1->incident.kind, IncidentKind::security);
  auto u2 = c.observe(ev("r2", 5000, "k1", {kPiiOut}, Action::redact));
  ASSERT_TRUE(u2);
  EXPECT_FALSE(u2->created);
  EXPECT_TRUE(u2->escalated);
  EXPECT_EQ(u2->incident.id, u1->incident.id);
  EXPECT_EQ(u2->incident.cls, VerdictClass::hybrid);
  EXPECT_EQ(u2->incident.kind, IncidentKind::security_causing_safety);
  EXPECT_EQ(u2->incident.severity, Severity::critical);
  EXPECT_EQ(u2->incident.title(), "prompt_injection (request) -> pii_exposure (response)");
  EXPECT_EQ(u2->incident.verdicts, 2);
  ASSERT_EQ(u2->incident.chain.size(), 2u);
  EXPECT_EQ(u2->incident.chain[1].request_id, "r2");
}

TEST(Correlator, BothSidesOfOneExchangeOrderRequestBeforeResponse) {
  Correlator c;
  auto u = c.observe(ev("r1", 1000, "k1", {kPiiOut, kInjection}));
  ASSERT_TRUE(u);
  EXPECT_EQ(u->incident.kind, IncidentKind::security_causing_safety);
  EXPECT_EQ(u->incident.title(), "prompt_injection (request) -> pii_exposure (response)");
}

TEST(Correlator, RepeatedProbingOfAFailingSafetyCategoryIsAnExploitedFlaw) {
  Correlator c;
  for (int i = 0; i < 2; ++i) {
    auto u = c.observe(ev("r" + std::to_string(i), 1000 + i, "k1", {kHarmfulOut}, Action::review));
    ASSERT_TRUE(u);
    EXPECT_EQ(u->incident.kind, IncidentKind::safety) << i;
    EXPECT_EQ(u->incident.cls, VerdictClass::safety);
  }
  auto u = c.observe(ev("r3", 1003, "k1", {kHarmfulOut}, Action::review));
  ASSERT_TRUE(u);
  EXPECT_EQ(u->incident.kind, IncidentKind::safety_flaw_exploited);
  EXPECT_EQ(u->incident.cls, VerdictClass::hybrid);
  EXPECT_TRUE(u->escalated);
  EXPECT_EQ(u->incident.title(), "harmful_output (response) x3");
}

TEST(Correlator, ASafetyFailureFollowedByAttacksIsAnExploitedFlaw) {
  Correlator c;
  ASSERT_TRUE(c.observe(ev("r1", 1000, "k1", {kHarmfulOut}, Action::review)));
  auto u = c.observe(ev("r2", 2000, "k1", {kInjection}));
  ASSERT_TRUE(u);
  EXPECT_EQ(u->incident.kind, IncidentKind::safety_flaw_exploited);
}

TEST(Correlator, ActorsAndSessionsAreKeptApart) {
  Correlator c;
  auto a = c.observe(ev("r1", 1000, "k1", {kInjection}));
  auto b = c.observe(ev("r2", 1000, "k2", {kPiiOut}));
  VerdictEvent s = ev("r3", 1000, "k1", {kPiiOut});
  s.session = "conv-9";
  auto d = c.observe(s);
  ASSERT_TRUE(a && b && d);
  EXPECT_NE(a->incident.id, b->incident.id);
  EXPECT_NE(a->incident.id, d->incident.id);
  EXPECT_EQ(b->incident.kind, IncidentKind::safety);
  EXPECT_EQ(d->incident.session, "conv-9");
  EXPECT_EQ(c.active(), 3u);
}

TEST(Correlator, TheWindowAndResolutionEndAnIncident) {
  CorrelatorOptions o;
  o.window_ms = 60000;
  Correlator c(o);
  auto a = c.observe(ev("r1", 0, "k1", {kInjection}));
  auto b = c.observe(ev("r2", 60000, "k1", {kInjection}));
  auto d = c.observe(ev("r3", 120001, "k1", {kInjection}));
  ASSERT_TRUE(a && b && d);
  EXPECT_EQ(a->incident.id, b->incident.id);
  EXPECT_NE(b->incident.id, d->incident.id);
  EXPECT_TRUE(c.set_status(d->incident.id, IncidentStatus::acknowledged));
  auto e = c.observe(ev("r4", 120002, "k1", {kInjection}));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->incident.id, d->incident.id);
  EXPECT_EQ(e->incident.status, IncidentStatus::acknowledged);
  EXPECT_TRUE(c.set_status(d->incident.id, IncidentStatus::resolved));
  auto f = c.observe(ev("r5", 120003, "k1", {kInjection}));
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->created);
  EXPECT_NE(f->incident.id, d->incident.id);
  EXPECT_FALSE(c.set_status("inc-999", IncidentStatus::resolved));
}

TEST(Correlator, CleanAllowedAndRefusalOnlyVerdictsOpenNothing) {
  Correlator c;
  EXPECT_FALSE(c.observe(ev("r1", 0, "k1", {}, Action::allow)));
  EXPECT_FALSE(c.observe(ev("r2", 0, "k1", {{"pii_exposure", Domain::safety, Role::response, Severity::low}}, Action::allow)));
  EXPECT_FALSE(c.observe(ev("r3", 0, "k1", {kRefusal}, Action::review)));
  // An allowed verdict with a medium finding is notable (monitor-only policies allow everything).
  EXPECT_TRUE(c.observe(ev("r4", 0, "k1", {kPiiOut}, Action::allow)));
  // A refusal never joins a chain.
  auto u = c.observe(ev("r5", 1, "k1", {kInjection, kRefusal}));
  ASSERT_TRUE(u);
  EXPECT_EQ(u->incident.title(), "pii_exposure (response) -> prompt_injection (request)");
}

TEST(Correlator, EvictsTheOldestWhenFullAndRestoresAfterARestart) {
  CorrelatorOptions o;
  o.max_incidents = 2;
  Correlator c(o);
  auto a = c.observe(ev("r1", 0, "k1", {kInjection}));
  c.observe(ev("r2", 0, "k2", {kInjection}));
  c.observe(ev("r3", 0, "k3", {kInjection}));
  EXPECT_EQ(c.active(), 2u);
  EXPECT_FALSE(c.set_status(a->incident.id, IncidentStatus::resolved));

  Correlator r;
  Incident inc = a->incident;
  inc.id = "inc-41";
  r.restore(inc);
  auto j = r.observe(ev("r9", 10, "k1", {kPiiOut}));
  ASSERT_TRUE(j);
  EXPECT_EQ(j->incident.id, "inc-41");
  EXPECT_EQ(j->incident.kind, IncidentKind::security_causing_safety);
  auto n = r.observe(ev("r10", 10, "k7", {kPiiOut}));
  EXPECT_EQ(n->incident.id, "inc-42");
}

}  // namespace
}  // namespace dg::monitor
