// `ood`: prompts far from the deployment's own traffic (out_of_distribution, safety). A monitor,
// not a gate: the default policy only reports its findings. Needs a reference profile built from
// the deployment's traffic with `dualguard profile build` (detect/ood_profile.h); off until one is
// configured.
//
// Config (`detectors.ood`):
//   enabled: false
//   profile: ../profiles/traffic.dgood   relative to the config file
//   sha256: <hex>                       optional pin of the profile file (a different file is refused)
//   threshold: 0.99                     score at which the finding is severity medium (rarer than
//                                       1 in 100 of the profiled traffic)
//   review_threshold: 0.95              score at which a finding is reported at severity low
//   roles: [prompt]
//   max_scan_bytes: 16384               prefix of the folded text that is embedded
//   min_words: 3                        shorter texts are not scored (a greeting is no evidence)
//
// The score comes from the folded view of the input itself (not decoded payloads: an encoded blob is
// the encoding detector's business, and decoding it would hide how unusual the prompt looked). The
// evidence names the novelty, the calibration it was measured against and the rarest words (their
// spans are the finding's spans).
//
// Thread safety: immutable after load; no scratch.
#pragma once

#include <memory>
#include <string>

#include "detect/detector.h"
#include "detect/ood_profile.h"

namespace dg::detect {

// The view the ood detector (and the profile builder) embeds: the first folded view of the input
// itself (depth 0); views[0] ("raw") when nothing was folded.
std::size_t ood_view(const text::Normalized& n) noexcept;

class OodDetector final : public Detector {
 public:
  struct Config {
    std::string profile;  // resolved path
    std::string sha256;   // optional pin
    double threshold = 0.99;
    double review_threshold = 0.95;
    unsigned roles = role_bit(Role::prompt);
    std::size_t max_scan_bytes = 16 * 1024;
    std::size_t min_words = 3;
  };
  static LoadResult<std::unique_ptr<OodDetector>> create(const Config& cfg);
  // Builds the detector over an already loaded profile (tests, `profile build --check`).
  static LoadResult<std::unique_ptr<OodDetector>> create(const Config& cfg, std::shared_ptr<const OodProfile> profile);
  static std::unique_ptr<Detector> load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx);

  std::string_view name() const noexcept override { return "ood"; }
  bool applies_to(Role role) const noexcept override { return (cfg_.roles & role_bit(role)) != 0; }
  bool scan(const ScanInput& in, Scratch* scratch, std::vector<Finding>& out) const noexcept override;
  std::vector<std::string> categories() const override { return {"out_of_distribution"}; }

  static constexpr std::size_t kExplainTop = 5;  // rarest words named in the evidence

  // The calibrated score of `n` (0 when it has fewer than min_words words); `novelty` gets the raw
  // novelty, `features` the text's features.
  double score(const text::Normalized& n, double* novelty = nullptr,
               std::vector<OodProfile::Feature>* features = nullptr) const;
  const OodProfile& profile() const noexcept { return *profile_; }

 private:
  OodDetector(Config cfg, std::shared_ptr<const OodProfile> p) : cfg_(std::move(cfg)), profile_(std::move(p)) {}
  Config cfg_;
  std::shared_ptr<const OodProfile> profile_;
};

}  // namespace dg::detect
