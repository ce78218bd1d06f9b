// Canary detection measured on ../shared/corpora/leak/dev.jsonl (Tensor Trust): the defended secret
// is used as the canary token; a row is a leak when the model output reveals it. Prints precision
// and recall; skips when the corpora are absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "detect/canary.h"

namespace dg::detect {

TEST(LeakCorpus, CanaryDetectorOnTensorTrustLeaks) {
  const std::string path = DG_CORPORA_DIR "/leak/dev.jsonl";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "corpus absent: " << path << " (set up ../shared/corpora to measure)";
  auto norm = *text::Normalizer::create({}).value;
  std::ifstream in(path);
  std::string line;
  std::size_t tp = 0, fp = 0, fn = 0, tn = 0, skipped = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    const std::string secret = j.value("secret", "");
    const bool leak = j.value("label", "") == "leak";
    CanaryDetector::Config cfg;
    cfg.tokens = {secret};
    cfg.min_length = 1;
    auto det = CanaryDetector::create(cfg, *norm);
    if (!det.ok()) {
      ++skipped;
      continue;
    }
    const std::string text = j.value("text", "");
    const auto normalized = norm->normalize(text);
    std::vector<Finding> out;
    ASSERT_TRUE((*det.value)->scan(ScanInput{Role::response, normalized, nullptr, {}, {}}, nullptr, out));
    const bool predicted = !out.empty();
    if (predicted && leak) ++tp;
    else if (predicted) ++fp;
    else if (leak) ++fn;
    else ++tn;
  }
  const double precision = tp + fp ? static_cast<double>(tp) / static_cast<double>(tp + fp) : 0.0;
  const double recall = tp + fn ? static_cast<double>(tp) / static_cast<double>(tp + fn) : 0.0;
  std::printf("leak/dev.jsonl canary: tp=%zu fp=%zu fn=%zu tn=%zu skipped=%zu precision=%.3f recall=%.3f\n", tp, fp, fn,
              tn, skipped, precision, recall);
  // Many Tensor Trust "leaks" reveal the secret only in paraphrase (instructions that describe it
  // rather than quote it): out of reach for a token match. The floor pins what the folded views add
  // over a verbatim substring match (precision 1.00, recall 0.42 on this file).
  EXPECT_GE(precision, 0.95);
  EXPECT_GE(recall, 0.42);
}

}  // namespace dg::detect
