#include "detect/harmful_request.h"

namespace dg::detect {

LearnedDetector::Config HarmfulRequestDetector::defaults() {
  LearnedDetector::Config c;
  c.name = "harmful_request";
  c.category = "harmful_request";
  c.positive_label = "__label__harmful";
  c.model = "../models/harmful_request.dglm";
  c.roles = role_bit(Role::prompt);
  c.threshold = 0.9;
  c.review_threshold = 0.7;
  c.min_known_tokens = 3;  // as prompt_attack: the linear model reads every word's n-grams
  return c;
}

std::unique_ptr<Detector> HarmfulRequestDetector::load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx) {
  return load_learned(node, r, ctx, defaults());
}

}  // namespace dg::detect
