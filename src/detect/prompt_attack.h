// `prompt_attack`: prompt injection and jailbreak attempts (direct, and indirect in retrieved context), paraphrased or
// templated: the learned complement of the `signatures` rules. Trained on injection/ against benign/,
// borderline/ and harmful/ (plain harmful requests are not attacks on the AI system).
// Config keys and behaviour: detect/learned.h.
#pragma once

#include "detect/learned.h"

namespace dg::detect {

class PromptAttackDetector {
 public:
  // The defaults of this detector (name, category, label, roles, model path).
  static LearnedDetector::Config defaults();
  // Registry entry: parses `detectors.prompt_attack`.
  static std::unique_ptr<Detector> load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx);
};

}  // namespace dg::detect
