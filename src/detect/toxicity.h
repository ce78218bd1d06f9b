// `toxicity`: hateful, offensive or abusive language in prompts and responses (safety). Trained on toxicity/.
// Config keys and behaviour: detect/learned.h.
#pragma once

#include "detect/learned.h"

namespace dg::detect {

class ToxicityDetector {
 public:
  // The defaults of this detector (name, category, label, roles, model path).
  static LearnedDetector::Config defaults();
  // Registry entry: parses `detectors.toxicity`.
  static std::unique_ptr<Detector> load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx);
};

}  // namespace dg::detect
