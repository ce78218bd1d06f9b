// `harmful_request`: a person asking for harmful content (misuse: security domain, adversarial intent). Trained on
// harmful/ against benign/ and borderline/ (safe prompts that look risky).
// Config keys and behaviour: detect/learned.h.
#pragma once

#include "detect/learned.h"

namespace dg::detect {

class HarmfulRequestDetector {
 public:
  // The defaults of this detector (name, category, label, roles, model path).
  static LearnedDetector::Config defaults();
  // Registry entry: parses `detectors.harmful_request`.
  static std::unique_ptr<Detector> load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx);
};

}  // namespace dg::detect
