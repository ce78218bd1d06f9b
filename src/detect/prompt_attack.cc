#include "detect/prompt_attack.h"

namespace dg::detect {

LearnedDetector::Config PromptAttackDetector::defaults() {
  LearnedDetector::Config c;
  c.name = "prompt_attack";
  c.category = "prompt_attack";
  c.positive_label = "__label__attack";
  c.model = "../models/prompt_attack.ftz";
  c.roles = role_bit(Role::prompt) | role_bit(Role::context);
  c.threshold = 0.9;
  c.review_threshold = 0.7;
  return c;
}

std::unique_ptr<Detector> PromptAttackDetector::load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx) {
  return load_learned(node, r, ctx, defaults());
}

}  // namespace dg::detect
