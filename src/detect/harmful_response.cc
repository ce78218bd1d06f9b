#include "detect/harmful_response.h"

namespace dg::detect {

LearnedDetector::Config HarmfulResponseDetector::defaults() {
  LearnedDetector::Config c;
  c.name = "harmful_response";
  c.category = "harmful_output";
  c.positive_label = "__label__harmful";
  c.model = "../models/harmful_response.ftz";
  c.roles = role_bit(Role::response);
  c.threshold = 0.9;
  c.review_threshold = 0.7;
  return c;
}

std::unique_ptr<Detector> HarmfulResponseDetector::load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx) {
  return load_learned(node, r, ctx, defaults());
}

}  // namespace dg::detect
