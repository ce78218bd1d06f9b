// The ood detector and its profile (src/detect/ood.h, ood_profile.h): features, novelty against a
// hand-made idf table, the calibration, the file format and its errors, findings and explanations.
#include "detect/ood.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>

#include "core/errors.h"
#include "test_util.h"

#include <unistd.h>

namespace dg::detect {
namespace {

using testing::normalizer;

std::string temp_file(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("dg_ood_" + std::to_string(::getpid()) + "_" + name)).string();
}

// A profile whose idf is 1 everywhere except for the buckets of the given words (idf `high`).
std::shared_ptr<const OodProfile> profile_with_rare(const std::vector<std::string>& rare, float high, double q50,
                                                    double q99) {
  std::vector<float> idf(OodProfile::kIdfBuckets, 1.0f);
  std::vector<OodProfile::Feature> f;
  for (const auto& w : rare) {
    OodProfile::features(w, f);
    for (const auto& x : f)
      if (x.end > x.start) idf[OodProfile::bucket(x.hash)] = high;  // the word feature only
  }
  OodProfile::Meta m;
  m.q50 = q50;
  m.q90 = q50;
  m.q99 = q99;
  m.q999 = q99;
  m.texts = 100;
  m.holdout = 20;
  return OodProfile::make(m, std::move(idf));
}

TEST(OodProfile, FeaturesAreDistinctWithSublinearCountsAndWordSpans) {
  std::vector<OodProfile::Feature> f;
  EXPECT_EQ(OodProfile::features("tax tax tax form", f), 4u);
  std::size_t word_features = 0;
  for (std::size_t i = 1; i < f.size(); ++i) EXPECT_LT(f[i - 1].hash, f[i].hash);  // sorted, distinct
  for (const auto& x : f) {
    if (x.end <= x.start) continue;
    ++word_features;
    const std::string w = std::string("tax tax tax form").substr(x.start, x.end - x.start);
    if (w == "tax") {
      EXPECT_EQ(x.start, 0u);  // first occurrence
      EXPECT_NEAR(x.weight, 1.0f + std::log(3.0f), 1e-5);
    } else {
      EXPECT_EQ(w, "form");
      EXPECT_NEAR(x.weight, 1.0f, 1e-6);
    }
  }
  EXPECT_EQ(word_features, 2u);
  EXPECT_EQ(OodProfile::features("   \n ", f), 0u);
  EXPECT_TRUE(f.empty());
}

TEST(OodProfile, NoveltyIsTheWeightedMeanIdf) {
  std::vector<float> idf(OodProfile::kIdfBuckets, 2.0f);
  std::vector<OodProfile::Feature> f = {{0, 1.0f}, {1ull << 48, 3.0f}};
  idf[1] = 6.0f;  // bucket of the second feature
  EXPECT_DOUBLE_EQ(OodProfile::novelty(f, idf), (1.0 * 2.0 + 3.0 * 6.0) / 4.0);
  EXPECT_DOUBLE_EQ(OodProfile::novelty({}, idf), 0.0);
}

TEST(OodProfile, CalibrationMapsTheMedianToHalfAndThe99thPercentileTo099) {
  auto p = profile_with_rare({}, 1.0f, 4.0, 6.0);
  EXPECT_NEAR(p->score_of_novelty(4.0), 0.5, 1e-12);
  EXPECT_NEAR(p->score_of_novelty(6.0), 0.99, 1e-12);
  EXPECT_LT(p->score_of_novelty(3.0), 0.5);
  EXPECT_GT(p->score_of_novelty(9.0), p->score_of_novelty(8.0));  // still ranks beyond q99
}

TEST(OodProfile, SaveLoadRoundTrip) {
  auto p = profile_with_rare({"hereinafter"}, 9.0f, 3.5, 5.25);
  const auto path = temp_file("rt.dgood");
  ASSERT_EQ(p->save(path), "");
  auto q = OodProfile::load(path);
  ASSERT_TRUE(q.ok()) << format_errors_text(q.errors);
  EXPECT_DOUBLE_EQ((*q.value)->meta().q50, 3.5);
  EXPECT_DOUBLE_EQ((*q.value)->meta().q99, 5.25);
  std::vector<OodProfile::Feature> f;
  OodProfile::features("hereinafter the party", f);
  EXPECT_DOUBLE_EQ((*q.value)->novelty(f), p->novelty(f));
  std::filesystem::remove(path);
}

struct BadCase {
  const char* name;
  std::function<void(std::string&)> mutate;
  const char* code;
  const char* message;
};

TEST(OodProfile, LoadRejectsBadFilesWithTheirReason) {
  auto p = profile_with_rare({}, 1.0f, 3.0, 5.0);
  const auto good = temp_file("good.dgood");
  ASSERT_EQ(p->save(good), "");
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::vector<BadCase> cases = {
      {"magic", [](std::string& b) { b[0] = 'X'; }, "model_invalid", "not a dualguard ood profile"},
      {"truncated body", [](std::string& b) { b.resize(b.size() - 4); }, "model_invalid", "body size does not match"},
      {"trailing bytes", [](std::string& b) { b += "xx"; }, "model_invalid", "body size does not match"},
      {"header length", [](std::string& b) { b[7] = b[8] = b[9] = b[10] = '\xff'; }, "model_invalid", "bad profile header length"},
      {"calibration", [](std::string& b) { b.replace(b.find("\"q50\":3.0"), 9, "\"q50\":9.0"); }, "model_invalid",
       "calibration out of order"},
      {"version", [](std::string& b) { b.replace(b.find("\"feature_version\":1"), 19, "\"feature_version\":7"); },
       "model_invalid", "rebuild it"},
      {"idf value", [](std::string& b) { std::memset(b.data() + b.size() - 4, 0xff, 4); }, "model_invalid",
       "idf weight out of range"},
  };
  for (const auto& c : cases) {
    std::string b = bytes;
    c.mutate(b);
    const auto path = temp_file(std::string("bad_") + c.name);
    std::ofstream(path, std::ios::binary) << b;
    auto r = OodProfile::load(path);
    ASSERT_FALSE(r.ok()) << c.name;
    ASSERT_EQ(r.errors.size(), 1u) << c.name;
    EXPECT_EQ(r.errors[0].code, c.code) << c.name;
    EXPECT_NE(r.errors[0].message.find(c.message), std::string::npos) << c.name << ": " << r.errors[0].message;
    EXPECT_EQ(r.errors[0].file, path) << c.name;
    std::filesystem::remove(path);
  }
  auto pinned = OodProfile::load(good, std::string(64, '0'));
  ASSERT_FALSE(pinned.ok());
  EXPECT_EQ(pinned.errors[0].code, errc::kTamperedArtifact);
  auto missing = OodProfile::load(temp_file("absent"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.errors[0].code, errc::kConfigIo);
  std::filesystem::remove(good);
}

TEST(OodDetector, FlagsTextMadeOfRareWordsAndNamesThem) {
  // Rare words carry idf 9, every other feature 1; the three rare words of the first text lift its
  // novelty (weighted mean idf) to about 1.9, far above this profile's 99th percentile of 1.5.
  auto p = profile_with_rare({"indemnify", "licensee", "hereunder"}, 9.0f, 1.0, 1.5);
  OodDetector::Config cfg;
  auto d = OodDetector::create(cfg, p);
  ASSERT_TRUE(d.value) << format_errors_text(d.errors);
  const auto hits = testing::scan(**d.value, "The licensee shall indemnify the licensor hereunder.");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].category, "out_of_distribution");
  EXPECT_EQ(hits[0].severity, Severity::medium);  // score >= 0.99
  EXPECT_GE(hits[0].score, 0.99);
  // The rare words only, in text order among equals; the common ones did not raise the novelty.
  EXPECT_NE(hits[0].evidence.find("; rarest words: \"licensee\" (idf 9.0), \"indemnify\" (idf 9.0), \"hereunder\" (idf 9.0)"),
            std::string::npos)
      << hits[0].evidence;
  EXPECT_EQ(hits[0].evidence.find("\"the\""), std::string::npos) << hits[0].evidence;
  // The spans point at the rare words in the original text (here unchanged by the normaliser).
  ASSERT_EQ(hits[0].spans.size(), 3u);
  const std::string text = "The licensee shall indemnify the licensor hereunder.";
  EXPECT_EQ(text.substr(hits[0].spans[0].start, hits[0].spans[0].end - hits[0].spans[0].start), "licensee");
  // Ordinary words: novelty 1, the median: score 0.5, no finding.
  EXPECT_TRUE(testing::scan(**d.value, "Give me three tips for staying healthy.").empty());
  // Too short to judge, and prompts only by default.
  EXPECT_TRUE(testing::scan(**d.value, "licensee hereunder").empty());
  EXPECT_TRUE((*d.value)->applies_to(Role::prompt));
  EXPECT_FALSE((*d.value)->applies_to(Role::response));
}

TEST(OodDetector, ConfigErrorsAreReportedTogether) {
  OodDetector::Config cfg;
  cfg.threshold = 0.0;
  cfg.review_threshold = 0.5;
  cfg.roles = 0;
  auto d = OodDetector::create(cfg, nullptr);
  ASSERT_FALSE(d.value);
  ASSERT_EQ(d.errors.size(), 4u);
  EXPECT_EQ(d.errors[0].message, "detectors.ood: threshold must be in (0, 1]");
  EXPECT_EQ(d.errors[1].message, "detectors.ood: review_threshold must be in (0, threshold]");
  EXPECT_EQ(d.errors[2].message, "detectors.ood: roles must not be empty");
  EXPECT_EQ(d.errors[3].message, "detectors.ood: profile is required");
}

}  // namespace
}  // namespace dg::detect
