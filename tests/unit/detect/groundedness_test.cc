#include "detect/groundedness.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "test_util.h"

namespace dg::detect {
namespace {

std::unique_ptr<GroundednessDetector> make(GroundednessDetector::Config cfg = {}) {
  auto r = GroundednessDetector::create(cfg, &testing::normalizer());
  EXPECT_TRUE(r.ok());
  return r.ok() ? std::move(*r.value) : nullptr;
}

std::vector<Finding> scan(const Detector& d, std::string_view answer, const std::vector<std::string_view>& ctx) {
  auto n = testing::normalizer().normalize(answer);
  std::vector<Finding> out;
  EXPECT_TRUE(d.scan(ScanInput{Role::response, n, nullptr, ctx, {}}, nullptr, out));
  return out;
}

constexpr std::string_view kDoc =
    "The Golden Gate Bridge opened on May 27, 1937. Its main span is 1,280 metres long, and it was designed "
    "by Joseph Strauss with Charles Ellis and Leon Moisseiff.";

TEST(Groundedness, TermsAndSupportAgainstHandCountedValues) {
  auto d = make();
  const std::string answer = "The bridge opened in 1937 and its span is 1280 metres; Othmar Ammann designed it in 1931.";
  auto n = testing::normalizer().normalize(answer);
  const std::vector<std::string_view> ctx{kDoc};
  const auto j = d->judge(n, ctx);
  using K = GroundednessDetector::TermKind;
  // numbers 1937, 1280 (the context's "1,280"), 1931: 2 of 3; entities Othmar, Ammann: 0 of 2;
  // words bridge, opened, span, metres, designed: all 5 (the sentence-initial "The" is a stop word).
  EXPECT_EQ(j.total[static_cast<int>(K::number)], 3u);
  EXPECT_EQ(j.supported[static_cast<int>(K::number)], 2u);
  EXPECT_EQ(j.total[static_cast<int>(K::entity)], 2u);
  EXPECT_EQ(j.supported[static_cast<int>(K::entity)], 0u);
  EXPECT_EQ(j.total[static_cast<int>(K::word)], 5u);
  EXPECT_EQ(j.supported[static_cast<int>(K::word)], 5u);
  EXPECT_NEAR(j.support, (3.0 * 2 + 2.0 * 0 + 1.0 * 5) / (3.0 * 3 + 2.0 * 2 + 1.0 * 5), 1e-12);
}

TEST(Groundedness, GroundedAnswerIsSilentInventedOneIsFlaggedWithWhatIsMissing) {
  auto d = make();
  const std::vector<std::string_view> ctx{kDoc};
  EXPECT_TRUE(scan(*d, "It opened on May 27, 1937; the main span is 1,280 metres long and Joseph Strauss designed it.",
                   ctx)
                  .empty());
  const std::string invented =
      "The bridge was completed in 1931 by Othmar Ammann, costing 35 million dollars and carrying 112,000 vehicles "
      "daily across Puget Sound.";
  const auto f = scan(*d, invented, ctx);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].category, "ungrounded_answer");
  EXPECT_EQ(f[0].severity, Severity::medium);
  // Numbers first, then entities, in answer order.
  EXPECT_NE(f[0].evidence.find("unsupported: \"1931\", \"35\", \"112,000\", \"Othmar\""), std::string::npos)
      << f[0].evidence;
  ASSERT_FALSE(f[0].spans.empty());
  std::vector<std::string> words;
  for (const auto& sp : f[0].spans) words.push_back(invented.substr(sp.start, sp.end - sp.start));
  EXPECT_NE(std::find(words.begin(), words.end(), "1931"), words.end());
  EXPECT_NE(std::find(words.begin(), words.end(), "112,000"), words.end());
}

TEST(Groundedness, NoContextOrTooFewTermsIsNotJudged) {
  auto d = make();
  EXPECT_TRUE(scan(*d, "Othmar Ammann built it in 1931 for 35 million dollars across Puget Sound.", {}).empty());
  const std::vector<std::string_view> ctx{kDoc};
  EXPECT_TRUE(scan(*d, "Yes, in 1931.", ctx).empty());
}

TEST(Groundedness, ContextIsFoldedLikeTheAnswer) {
  auto d = make();
  // Full-width digits and letters in the context fold to the answer's ASCII.
  const std::vector<std::string_view> ctx{
      "\xEF\xBC\xB2\xEF\xBD\x85\xEF\xBD\x86\xEF\xBD\x95\xEF\xBD\x8E\xEF\xBD\x84\xEF\xBD\x93 take "
      "\xEF\xBC\x91\xEF\xBC\x94 days; the warehouse ships parcels quickly from Leeds to customers everywhere."};
  EXPECT_TRUE(scan(*d, "Refunds take 14 days and the warehouse ships parcels quickly from Leeds to customers.", ctx).empty());
}

TEST(Groundedness, ConfigErrorsAreReportedTogether) {
  GroundednessDetector::Config c;
  c.threshold = 1.5;
  c.min_terms = 0;
  c.max_context_bytes = 1;
  auto r = GroundednessDetector::create(c, nullptr);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 4u);
  EXPECT_EQ(r.errors[0].message, "detectors.groundedness: threshold must be in (0, 1]");
  EXPECT_EQ(r.errors[1].message, "detectors.groundedness: min_terms must be at least 1");
  EXPECT_EQ(r.errors[2].message, "detectors.groundedness: max_context_bytes must be at least 64");
  EXPECT_EQ(r.errors[3].message, "detectors.groundedness: a normaliser is required");
}

}  // namespace
}  // namespace dg::detect
