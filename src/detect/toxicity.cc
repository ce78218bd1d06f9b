#include "detect/toxicity.h"

namespace dg::detect {

LearnedDetector::Config ToxicityDetector::defaults() {
  LearnedDetector::Config c;
  c.name = "toxicity";
  c.category = "toxicity";
  c.positive_label = "__label__toxic";
  c.model = "../models/toxicity.ftz";
  c.roles = role_bit(Role::prompt) | role_bit(Role::response);
  c.threshold = 0.9;
  c.review_threshold = 0.7;
  // Abuse is often one word in a short message: a single known token is evidence here.
  c.min_known_tokens = 1;
  return c;
}

std::unique_ptr<Detector> ToxicityDetector::load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx) {
  return load_learned(node, r, ctx, defaults());
}

}  // namespace dg::detect
