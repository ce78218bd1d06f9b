// Helpers shared by detector unit tests: a default normaliser and a one-call scan.
#pragma once

#include <gtest/gtest.h>

#include "detect/detector.h"

namespace dg::detect::testing {

inline const text::Normalizer& normalizer() {
  static std::shared_ptr<const text::Normalizer> n = *text::Normalizer::create({}).value;
  return *n;
}

inline std::vector<Finding> scan(const Detector& d, std::string_view input, Role role = Role::prompt,
                                 const ProtectedPrompt* system = nullptr) {
  auto normalized = normalizer().normalize(input);
  auto scratch = d.make_scratch();
  std::vector<Finding> out;
  EXPECT_TRUE(d.scan(ScanInput{role, normalized, system, {}, {}}, scratch.get(), out));
  return out;
}

}  // namespace dg::detect::testing
