// `harmful_response`: a model response that complies with a harmful request (safety: the model's safeguard failed).
// Trained on responses/.
// Config keys and behaviour: detect/learned.h.
#pragma once

#include "detect/learned.h"

namespace dg::detect {

class HarmfulResponseDetector {
 public:
  // The defaults of this detector (name, category, label, roles, model path).
  static LearnedDetector::Config defaults();
  // Registry entry: parses `detectors.harmful_response`.
  static std::unique_ptr<Detector> load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx);
};

}  // namespace dg::detect
