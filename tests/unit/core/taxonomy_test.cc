#include "core/taxonomy.h"

#include <gtest/gtest.h>

namespace dg {

TEST(Taxonomy, ShippedFileLoadsAndFollowsTheIntentPrinciple) {
  auto t = Taxonomy::load_file(DG_SOURCE_DIR "/config/taxonomy.yaml");
  ASSERT_TRUE(t.ok()) << format_errors_text(t.errors);
  for (const char* c : {"prompt_injection", "jailbreak", "system_prompt_extraction", "encoding_smuggling",
                        "canary_leak", "model_extraction", "rate_abuse", "tampered_artifact", "harmful_request"}) {
    const CategoryInfo* info = t.value->find(c);
    ASSERT_NE(info, nullptr) << c;
    EXPECT_EQ(info->domain, Domain::security) << c;
    EXPECT_EQ(info->intent, Intent::adversarial) << c;
  }
  for (const char* c : {"harmful_output", "toxicity", "hallucination_risk", "ungrounded_answer", "out_of_distribution",
                        "drift", "over_refusal", "pii_exposure", "format_violation"}) {
    const CategoryInfo* info = t.value->find(c);
    ASSERT_NE(info, nullptr) << c;
    EXPECT_EQ(info->domain, Domain::safety) << c;
    EXPECT_EQ(info->intent, Intent::unintentional) << c;
  }
  EXPECT_EQ(t.value->find("no_such_category"), nullptr);
}

TEST(Taxonomy, ReportsEveryErrorWithItsLocation) {
  const std::string yaml =
      "version: 1\n"
      "categories:\n"
      "  a:\n"
      "    domain: saftey\n"
      "    intent: adversarial\n"
      "  b:\n"
      "    domain: security\n"
      "    intent: adversarial\n"
      "    colour: red\n"
      "  c:\n"
      "    domain: safety\n";
  auto t = Taxonomy::load_string(yaml, "tax.yaml");
  ASSERT_FALSE(t.ok());
  ASSERT_EQ(t.errors.size(), 3u) << format_errors_text(t.errors);
  EXPECT_EQ(t.errors[0].format(), "tax.yaml:4:13: config_invalid_value: domain must be safety or security, not 'saftey'");
  EXPECT_EQ(t.errors[1].format(),
            "tax.yaml:9:5: config_unknown_key: unknown key 'colour' in category 'b' (expected one of: domain, intent, "
            "property, severity, description, atlas, owasp)");
  EXPECT_EQ(t.errors[2].code, "config_missing_key");
  EXPECT_EQ(t.errors[2].line, 11);
}

TEST(Taxonomy, SyntaxErrorIsLocated) {
  auto t = Taxonomy::load_string("categories: [\n", "bad.yaml");
  ASSERT_FALSE(t.ok());
  ASSERT_EQ(t.errors.size(), 1u);
  EXPECT_EQ(t.errors[0].code, "config_syntax");
  EXPECT_EQ(t.errors[0].file, "bad.yaml");
  EXPECT_GT(t.errors[0].line, 0);
}

TEST(Taxonomy, MissingFileIsAnIoError) {
  auto t = Taxonomy::load_file("/nonexistent/taxonomy.yaml");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.errors[0].code, "config_io");
}

}  // namespace dg
