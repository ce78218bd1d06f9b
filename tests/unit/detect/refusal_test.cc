#include "detect/refusal.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace dg::detect {
namespace {

std::unique_ptr<RefusalDetector> make(RefusalDetector::Config cfg = {}) {
  auto r = RefusalDetector::create(cfg);
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].message);
  return r.ok() ? std::move(*r.value) : nullptr;
}

TEST(Refusal, CommonRefusalPhrasings) {
  auto d = make();
  ASSERT_TRUE(d);
  for (const char* s : {
           "I'm sorry, but I can't help with that.",
           "I\xE2\x80\x99m sorry, but I cannot assist with creating malware.",  // typographic apostrophe
           "I cannot provide instructions for making explosives.",
           "As an AI language model, I cannot browse the internet.",
           "I'm unable to help with that request.",
           "I must respectfully decline.",
           "[ChatGPT]: I apologize, but I won't write that.",
           "That request is against my guidelines.",
           "It would not be appropriate for me to share personal data.",
           "Sorry, I can't fulfill this request.",
       }) {
    const auto f = testing::scan(*d, s, Role::response);
    ASSERT_EQ(f.size(), 1u) << s;
    EXPECT_EQ(f[0].category, "refusal") << s;
    EXPECT_EQ(f[0].score, RefusalDetector::kOpeningScore) << s;
    EXPECT_EQ(f[0].severity, Severity::low);
    EXPECT_FALSE(f[0].spans.empty());
  }
}

TEST(Refusal, AnswersThatHelpAreNotRefusals) {
  auto d = make();
  for (const char* s : {
           "Paris is the capital of France.",
           "Sure! Here is a Python function that sorts a list.",
           "You can't go wrong with a cast-iron pan: it lasts decades.",
           "If the printer cannot connect, restart the router and try again.",
           "I can help with that: first, open the settings page.",
           "The contract says the tenant cannot sublet without consent.",
       }) {
    EXPECT_TRUE(testing::scan(*d, s, Role::response).empty()) << s;
  }
}

TEST(Refusal, ALateRefusalIsPartialAndOptional) {
  const std::string answer = std::string(500, 'x') + " ... but I can't provide the exact dosage.";
  auto d = make();
  const auto f = testing::scan(*d, answer, Role::response);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].score, RefusalDetector::kPartialScore);
  EXPECT_NE(f[0].evidence.find("partial refusal (i-cannot-act at byte 509)"), std::string::npos) << f[0].evidence;
  RefusalDetector::Config c;
  c.report_partial = false;
  auto quiet = make(c);
  EXPECT_TRUE(testing::scan(*quiet, answer, Role::response).empty());
}

TEST(Refusal, OnlyResponsesAndConfigErrors) {
  auto d = make();
  EXPECT_FALSE(d->applies_to(Role::prompt));
  RefusalDetector::Config c;
  c.max_scan_bytes = 10;
  c.lead_bytes = 0;
  auto r = RefusalDetector::create(c);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].message, "detectors.refusal: max_scan_bytes must be at least 64");
  EXPECT_EQ(r.errors[1].message, "detectors.refusal: lead_bytes must be in [1, max_scan_bytes]");
}

}  // namespace
}  // namespace dg::detect
