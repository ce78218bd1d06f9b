#include "core/types.h"

#include <gtest/gtest.h>

namespace dg {

TEST(Types, RoundTripEverySpelling) {
  for (auto a : {Action::allow, Action::redact, Action::review, Action::safe_mode, Action::block})
    EXPECT_EQ(parse_action(to_string(a)), a);
  for (auto c : {VerdictClass::clean, VerdictClass::safety, VerdictClass::security, VerdictClass::hybrid})
    EXPECT_EQ(parse_verdict_class(to_string(c)), c);
  for (auto s : {Severity::low, Severity::medium, Severity::high, Severity::critical})
    EXPECT_EQ(parse_severity(to_string(s)), s);
  for (auto r : {Role::prompt, Role::context, Role::response}) EXPECT_EQ(parse_role(to_string(r)), r);
  EXPECT_EQ(parse_domain("safety"), Domain::safety);
  EXPECT_EQ(parse_intent("unknown"), Intent::unknown);
}

TEST(Types, RejectsUnknownSpellings) {
  EXPECT_FALSE(parse_action("Block").has_value());
  EXPECT_FALSE(parse_domain("").has_value());
  EXPECT_FALSE(parse_role("system").has_value());
}

TEST(Types, ActionsAreOrderedByStrength) {
  EXPECT_LT(Action::allow, Action::redact);
  EXPECT_LT(Action::redact, Action::review);
  EXPECT_LT(Action::review, Action::safe_mode);
  EXPECT_LT(Action::safe_mode, Action::block);
}

}  // namespace dg
