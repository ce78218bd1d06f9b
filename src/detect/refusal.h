// `refusal`: responses in which the model declines (category `refusal`, safety, severity low).
// Not a harm on its own: refusals are counted so that over-refusal of benign requests and
// compliance with harmful ones can both be measured (the drift monitor watches the refusal rate;
// `dualguard eval` reports it per set), and a policy may act on them.
//
// Method: refusal phrasing patterns ("I can't help with that", "I'm unable to provide", "as an AI
// language model, I cannot", "against my guidelines", ...) compiled into one Hyperscan database,
// matched case-insensitively on the folded answer (both apostrophes). A match in the opening
// `lead_bytes` is a refusal (score 0.9); a later one is a partial refusal (score 0.6: the model
// answered, then declined part of it), reported only when `report_partial` is set.
//
// Config (`detectors.refusal`):
//   enabled: true
//   lead_bytes: 400        where an opening refusal must start
//   report_partial: true
//   max_scan_bytes: 4096   prefix of the answer that is matched
//
// Known gap: phrasing only (English); a learned refusal model needs refusal-labelled answers, which
// the corpora do not have (GPTFuzz's "not harmful" answers include non-refusals).
//
// Thread safety: immutable after load; per-thread Hyperscan scratch.
#pragma once

#include <memory>

#include "detect/detector.h"
#include "detect/hyperscan.h"

namespace dg::detect {

class RefusalDetector final : public Detector {
 public:
  struct Config {
    std::size_t lead_bytes = 400;
    bool report_partial = true;
    std::size_t max_scan_bytes = 4096;
  };
  static LoadResult<std::unique_ptr<RefusalDetector>> create(const Config& cfg);
  static std::unique_ptr<Detector> load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx);

  std::string_view name() const noexcept override { return "refusal"; }
  bool applies_to(Role role) const noexcept override { return role == Role::response; }
  std::unique_ptr<Scratch> make_scratch() const override;
  bool scan(const ScanInput& in, Scratch* scratch, std::vector<Finding>& out) const noexcept override;
  std::vector<std::string> categories() const override { return {"refusal"}; }

  static constexpr double kOpeningScore = 0.9, kPartialScore = 0.6;

 private:
  RefusalDetector(Config cfg, std::shared_ptr<const HsDatabase> db) : cfg_(cfg), db_(std::move(db)) {}
  Config cfg_;
  std::shared_ptr<const HsDatabase> db_;
};

}  // namespace dg::detect
