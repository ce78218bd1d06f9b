#include "detect/prompt_attack.h"

namespace dg::detect {

LearnedDetector::Config PromptAttackDetector::defaults() {
  LearnedDetector::Config c;
  c.name = "prompt_attack";
  c.category = "prompt_attack";
  c.positive_label = "__label__attack";
  c.model = "../models/prompt_attack.dglm";
  c.roles = role_bit(Role::prompt) | role_bit(Role::context);
  c.threshold = 0.9;
  c.review_threshold = 0.7;
  // The linear model reads punctuation and character n-grams of every word: two known words are
  // enough evidence (measured: 96.5% of injection/dev at 1% benign FPR with 2, 94.7% with 5, where
  // short Tensor Trust and BIPIA attacks went unscored).
  c.min_known_tokens = 3;
  return c;
}

std::unique_ptr<Detector> PromptAttackDetector::load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx) {
  return load_learned(node, r, ctx, defaults());
}

}  // namespace dg::detect
