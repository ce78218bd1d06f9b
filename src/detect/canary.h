// `canary`: per-deployment canary tokens. A canary is embedded in a protected prompt; if it shows up
// in a response (verbatim, re-cased, spaced out, encoded), the prompt leaked: a `canary_leak` finding.
// Tokens come from the config and from the protected system prompt of the exchange (any token of the
// form `dg-canary-<hex>`; make one with `dualguard canary new`).
#pragma once

#include "detect/detector.h"

namespace dg::detect {

// Finds `dg-canary-<8+ hex>` tokens in folded text.
std::vector<std::string> find_canary_tokens(std::string_view folded);
// A fresh random canary token, `dg-canary-` followed by 16 hex digits.
std::string new_canary_token();

class CanaryDetector final : public Detector {
 public:
  struct Config {
    std::vector<std::string> tokens;  // configured canaries (folded at creation)
    std::size_t min_length = 6;       // shorter tokens would match by chance
  };
  static LoadResult<std::unique_ptr<CanaryDetector>> create(const Config& cfg, const text::Normalizer& norm);
  static std::unique_ptr<Detector> load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx);

  std::string_view name() const noexcept override { return "canary"; }
  bool applies_to(Role role) const noexcept override { return role != Role::prompt; }
  bool scan(const ScanInput& in, Scratch* scratch, std::vector<Finding>& out) const noexcept override;
  std::vector<std::string> categories() const override { return {"canary_leak"}; }

 private:
  CanaryDetector() = default;
  std::vector<std::string> tokens_;  // folded
};

}  // namespace dg::detect
