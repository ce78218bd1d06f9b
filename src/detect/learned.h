// The shared machinery of the learned detectors (prompt_attack, harmful_request, toxicity,
// harmful_response): a text model (fastText or linear, text_model.h) scored on every folded view of the input, the highest score
// wins, and the finding explains itself with the tokens that moved the score most.
//
// Config (per detector, `detectors.<name>` in dualguard.yaml):
//   enabled: true
//   model: ../models/prompt_attack.dglm  relative to the config file (.ftz: fastText; the kind is read from the file)
//   sha256: <hex>                         pinned digest; a different file is refused (tampered_artifact)
//   threshold: 0.9                        score at which the finding is severity high (policy: block)
//   review_threshold: 0.7                 score at which a finding is reported at severity medium
//   max_scan_bytes: 65536                 per view; longer texts are scored in overlapping windows
//   explain_top: 5                        tokens listed in the evidence
//   min_known_tokens: 5                   texts with fewer in-vocabulary tokens are not scored
//
// Texts longer than `kWindowBytes` are scored as overlapping windows (and the whole text), the
// maximum counting: an injection buried in a long document must not be averaged away.
//
// Thread safety: immutable after load; no scratch.
#pragma once

#include <memory>
#include <string>

#include "detect/detector.h"
#include "detect/fasttext_model.h"
#include "detect/text_model.h"

namespace dg::detect {

class LearnedDetector : public Detector {
 public:
  struct Config {
    std::string name;            // detector name, e.g. "prompt_attack"
    std::string category;        // taxonomy category of its findings
    std::string positive_label;  // fastText label of the positive class
    std::string model;           // resolved path
    std::string sha256;
    double threshold = 0.9;
    double review_threshold = 0.7;
    unsigned roles = 0;
    std::size_t max_scan_bytes = 64 * 1024;
    std::size_t explain_top = 5;
    // Texts with fewer in-vocabulary tokens than this are not scored: a score made of unseen
    // character n-grams alone (a key, a hash, a greeting with emoji) is noise, not evidence.
    std::size_t min_known_tokens = 5;
  };
  static constexpr std::size_t kWindowBytes = 2048;

  static LoadResult<std::unique_ptr<LearnedDetector>> create(const Config& cfg);

  std::string_view name() const noexcept override { return cfg_.name; }
  bool applies_to(Role role) const noexcept override { return (cfg_.roles & role_bit(role)) != 0; }
  bool scan(const ScanInput& in, Scratch* scratch, std::vector<Finding>& out) const noexcept override;
  std::vector<std::string> categories() const override { return {cfg_.category}; }

  const Config& config() const noexcept { return cfg_; }
  const TextModel& model() const noexcept { return *model_; }

  // The highest score over the folded views of `n` (and windows of long views): what `scan`
  // compares with the thresholds. `view` receives the index of the winning view.
  double best_score(const text::Normalized& n, std::size_t* view = nullptr, std::size_t* window_start = nullptr,
                    std::size_t* window_end = nullptr) const;

 protected:
  explicit LearnedDetector(Config cfg, std::shared_ptr<const TextModel> model)
      : cfg_(std::move(cfg)), model_(std::move(model)) {}

 private:
  Config cfg_;
  std::shared_ptr<const TextModel> model_;
};

// The text a model is trained on and scores: whitespace (newlines, tabs) folded to single spaces,
// trimmed. `dualguard train` applies it to the normaliser's folded text; the detectors to each view.
std::string one_line(std::string_view s);

// Parses a learned detector's config section (keys listed above) over the given defaults and
// creates the detector; errors go to `r`.
std::unique_ptr<Detector> load_learned(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx,
                                       LearnedDetector::Config defaults);

}  // namespace dg::detect
