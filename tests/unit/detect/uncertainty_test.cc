#include "detect/uncertainty.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "test_util.h"

namespace dg::detect {
namespace {

std::unique_ptr<UncertaintyDetector> make(UncertaintyDetector::Config cfg = {}) {
  auto r = UncertaintyDetector::create(cfg);
  EXPECT_TRUE(r.ok());
  return r.ok() ? std::move(*r.value) : nullptr;
}

std::vector<Finding> scan(const Detector& d, std::string_view answer, const std::vector<TokenLogprob>& lp) {
  auto n = testing::normalizer().normalize(answer);
  std::vector<Finding> out;
  EXPECT_TRUE(d.scan(ScanInput{Role::response, n, nullptr, {}, lp}, nullptr, out));
  return out;
}

TEST(Uncertainty, SignalsAgainstHandComputedValues) {
  // Two tokens: p = 0.5 and p = 0.05; alternatives of the first uniform over 2 (entropy 1), of the
  // second {0.05, 0.95}.
  std::vector<TokenLogprob> t{{"", std::log(0.5), {std::log(0.5), std::log(0.5)}},
                              {"", std::log(0.05), {std::log(0.05), std::log(0.95)}}};
  const auto s = uncertainty_signals(t, 0.1);
  EXPECT_EQ(s.tokens, 2u);
  EXPECT_NEAR(s.mean_logprob, (std::log(0.5) + std::log(0.05)) / 2, 1e-12);
  EXPECT_NEAR(s.min_logprob, std::log(0.05), 1e-12);
  EXPECT_EQ(s.min_index, 1u);
  EXPECT_DOUBLE_EQ(s.low_share, 0.5);
  const double h2 = -(0.05 * std::log(0.05) + 0.95 * std::log(0.95)) / std::log(2.0);
  EXPECT_NEAR(s.mean_entropy, (1.0 + h2) / 2, 1e-12);
  const double geo = std::sqrt(0.5 * 0.05);
  EXPECT_NEAR(s.score, ((1 - geo) + 0.5 + (1.0 + h2) / 2) / 3, 1e-12);
}

TEST(Uncertainty, EntropyLeftOutWhenFewTokensListAlternatives) {
  std::vector<TokenLogprob> t(4, TokenLogprob{"", std::log(0.9), {}});
  t[0].top = {std::log(0.5), std::log(0.5)};
  const auto s = uncertainty_signals(t, 0.1);
  EXPECT_LT(s.mean_entropy, 0.0);
  EXPECT_NEAR(s.score, ((1 - 0.9) + 0.0) / 2, 1e-12);
}

TEST(Uncertainty, ConfidentAnswerIsSilentUnsureOneIsFlaggedWithItsLeastLikelyTokens) {
  auto d = make();
  ASSERT_TRUE(d);
  const std::string answer = "The bridge opened in 1883 and was designed by John Roebling.";
  std::vector<TokenLogprob> sure, unsure;
  for (const char* tok : {"The", " bridge", " opened", " in", " 1883", " and", " was", " designed", " by", " John",
                          " Roebling", "."}) {
    sure.push_back({tok, -0.02, {-0.02, -4.5}});
    unsure.push_back({tok, -0.4, {-0.4, -1.2}});
  }
  unsure[4].logprob = -4.0;   // " 1883"
  unsure[10].logprob = -3.5;  // " Roebling"
  for (auto i : {1, 2, 3, 5, 6, 7, 8, 9}) unsure[static_cast<std::size_t>(i)].logprob = -2.6;
  EXPECT_TRUE(scan(*d, answer, sure).empty());
  const auto f = scan(*d, answer, unsure);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].category, "hallucination_risk");
  EXPECT_GE(f[0].score, 0.45);
  ASSERT_FALSE(f[0].spans.empty());
  // The least likely tokens' spans are the words alone, without their leading space.
  std::vector<std::string> words;
  for (const auto& sp : f[0].spans) words.push_back(answer.substr(sp.start, sp.end - sp.start));
  EXPECT_NE(std::find(words.begin(), words.end(), "1883"), words.end());
  EXPECT_NE(std::find(words.begin(), words.end(), "Roebling"), words.end());
  EXPECT_EQ(words.size(), UncertaintyDetector::kExplainTop);
  EXPECT_NE(f[0].evidence.find("least likely: \"1883\" (p 0.02)"), std::string::npos) << f[0].evidence;
}

TEST(Uncertainty, TokensThatDoNotLineUpGiveNoSpansButStillAScore) {
  auto d = make();
  std::vector<TokenLogprob> t(10, TokenLogprob{"zzz", -3.0, {}});
  const auto f = scan(*d, "an answer whose text does not match the tokens", t);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_TRUE(f[0].spans.empty());
  EXPECT_EQ(f[0].severity, Severity::medium);
}

TEST(Uncertainty, ShortAnswersAndPromptsAreNotScored) {
  auto d = make();
  std::vector<TokenLogprob> t(7, TokenLogprob{"", -5.0, {}});
  EXPECT_TRUE(scan(*d, "short", t).empty());
  auto n = testing::normalizer().normalize("a prompt");
  std::vector<Finding> out;
  std::vector<TokenLogprob> many(20, TokenLogprob{"", -5.0, {}});
  EXPECT_TRUE(d->scan(ScanInput{Role::prompt, n, nullptr, {}, many}, nullptr, out));
  EXPECT_TRUE(out.empty());
}

TEST(Uncertainty, ConfigErrorsAreReportedTogether) {
  UncertaintyDetector::Config c;
  c.threshold = 0.3;
  c.review_threshold = 0.5;
  c.low_probability = 1.5;
  c.min_tokens = 0;
  auto r = UncertaintyDetector::create(c);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_EQ(r.errors[0].message, "detectors.uncertainty: review_threshold must be in (0, threshold]");
  EXPECT_EQ(r.errors[1].message, "detectors.uncertainty: low_probability must be in (0, 1)");
  EXPECT_EQ(r.errors[2].message, "detectors.uncertainty: min_tokens must be at least 1");
}

}  // namespace
}  // namespace dg::detect
