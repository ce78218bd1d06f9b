// `uncertainty`: low model confidence in an answer, from the token log-probabilities the upstream
// returned (hallucination_risk, safety). A monitor: the default policy records its findings.
//
// Three signals over the answer's tokens, each in [0, 1] and averaged into the score:
//   1 - exp(mean logprob)     one minus the geometric-mean token probability (1 - 1/perplexity)
//   low-confidence share      the share of tokens whose probability is below `low_probability`
//   mean normalised entropy   of the alternatives the server listed (top_logprobs renormalised,
//                             divided by log k); left out when no alternatives were given
// Hallucinated spans are where a model guesses: many uncertain tokens, flat alternatives. The
// evidence gives all three signals and the minimum, and the spans are the least likely tokens
// when the token texts can be found in the answer in order.
//
// Config (`detectors.uncertainty`):
//   enabled: true
//   threshold: 0.6          score for severity medium
//   review_threshold: 0.45  score for severity low
//   low_probability: 0.1    a token below this probability counts as low-confidence
//   min_tokens: 8           shorter answers are not scored
//
// Thread safety: immutable after load; no scratch.
#pragma once

#include <memory>

#include "detect/detector.h"

namespace dg::detect {

struct UncertaintySignals {
  std::size_t tokens = 0;
  double mean_logprob = 0.0, min_logprob = 0.0;
  std::size_t min_index = 0;       // the least likely token
  double low_share = 0.0;          // share of tokens below low_probability
  double mean_entropy = -1.0;      // normalised to [0, 1]; -1 when no alternatives were given
  double score = 0.0;
};

// The signals of a token list (no minimum length applied). Pure; exposed for tests.
UncertaintySignals uncertainty_signals(std::span<const TokenLogprob> tokens, double low_probability);

class UncertaintyDetector final : public Detector {
 public:
  struct Config {
    double threshold = 0.6;
    double review_threshold = 0.45;
    double low_probability = 0.1;
    std::size_t min_tokens = 8;
  };
  static LoadResult<std::unique_ptr<UncertaintyDetector>> create(const Config& cfg);
  static std::unique_ptr<Detector> load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx);

  std::string_view name() const noexcept override { return "uncertainty"; }
  bool applies_to(Role role) const noexcept override { return role == Role::response; }
  bool scan(const ScanInput& in, Scratch* scratch, std::vector<Finding>& out) const noexcept override;
  std::vector<std::string> categories() const override { return {"hallucination_risk"}; }

  static constexpr std::size_t kExplainTop = 5;  // least likely tokens given as spans

 private:
  explicit UncertaintyDetector(Config cfg) : cfg_(cfg) {}
  Config cfg_;
};

}  // namespace dg::detect
