// The reference profile of a deployment's own traffic, and the text features both its builder
// (`dualguard profile build`, src/monitor/profile_builder.h) and the `ood` detector use, so that
// profile and detector can never disagree about what a text is made of.
//
// Features: the normaliser's folded text, split into words (runs of letters, digits and non-ASCII
// bytes) and symbols (every other non-space byte); each word, word pair, word shape (letters → a,
// digits → 0), character trigram of a word, symbol, and two global tokens (log2 of the word count
// and of the line count) is a feature, weighing its kind's weight × (1 + log tf).
//
// Profile: the document frequency of every feature in the profiled traffic, hashed into
// kIdfBuckets buckets and kept as idf = 1 + ln((N + 1) / (df + 1)), plus a calibration.
//
// Novelty of a text: the weighted mean idf of its features — how rare, in the deployment's own
// traffic, the words, word pairs, shapes, symbols and sizes of this text are. A mean, so a long
// text is not more or less novel for being long (its size is one feature among the others).
// Measured against the alternative the issue suggests (nearest-neighbour cosine distance over
// hashed TF-IDF vectors, 4,096 references or 256 k-means centroids): those ranked long texts as
// *closer* to the traffic (AUROC 0.27-0.40 on ood/dev vs benign/dev: the more features a text
// has, the more of them any reference shares); the mean idf ranks them 0.97.
//
// Score: the novelty mapped through a logistic calibrated on held-out traffic (texts whose features
// were not counted in the idf): score(q50) = 0.5 and score(q99) = 0.99, q50 / q99 being the median
// and 99th percentile of held-out novelty. A score ≥ 0.99 is rarer than 1 in 100 of the
// deployment's own prompts, and the score stays continuous beyond the most novel reference.
//
// File format (little-endian): "DGOOD1\n", uint32 length of a JSON header, the header (see Meta),
// then kIdfBuckets float32 idf weights.
//
// Thread safety: a loaded profile is immutable; features / novelty are reentrant.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/load_result.h"

namespace dg::detect {

class OodProfile {
 public:
  static constexpr int kIdfBuckets = 1 << 16;
  static constexpr std::string_view kMagic = "DGOOD1\n";
  static constexpr int kFeatureVersion = 1;  // bump when features() changes: old profiles are refused

  struct Feature {
    std::uint64_t hash;
    float weight;              // kind weight × (1 + log tf)
    std::uint32_t start = 0;   // first occurrence in the text, for word features (end > start)
    std::uint32_t end = 0;     // 0 for the other kinds
  };
  static std::size_t bucket(std::uint64_t hash) noexcept { return static_cast<std::size_t>(hash >> 48); }

  struct Meta {
    int feature_version = kFeatureVersion;
    std::size_t texts = 0;    // texts the profile was built from (idf + calibration)
    std::size_t holdout = 0;  // of which held out for the calibration
    double q50 = 0.0, q90 = 0.0, q99 = 0.0, q999 = 0.0;  // held-out novelty
    std::string source;       // where the traffic came from (file name or audit log)
    std::string created;      // UTC, ISO 8601
    std::uint64_t seed = 0;
  };

  // The distinct features of folded text (see above); `out` is cleared first. Returns the number of
  // words.
  static std::size_t features(std::string_view folded, std::vector<Feature>& out);

  // Loads and validates a profile; a non-empty sha256 pins the file's digest. Errors (file named):
  // config_io (unreadable), model_invalid (bad magic, header, sizes, version), tampered_artifact.
  static LoadResult<std::shared_ptr<const OodProfile>> load(const std::string& path, const std::string& sha256 = "");

  // A profile in memory (the builder's output); `idf` has kIdfBuckets entries.
  static std::shared_ptr<const OodProfile> make(Meta meta, std::vector<float> idf);

  // Writes the file; returns an error message, empty on success.
  std::string save(const std::string& path) const;

  // The weighted mean idf of `f` under `idf` (0 for no features).
  static double novelty(const std::vector<Feature>& f, const std::vector<float>& idf) noexcept;
  double novelty(const std::vector<Feature>& f) const noexcept { return novelty(f, idf_); }
  // The calibrated score of a novelty (above).
  double score_of_novelty(double n) const noexcept;
  float idf(std::uint64_t hash) const noexcept { return idf_[bucket(hash)]; }

  const Meta& meta() const noexcept { return meta_; }

 private:
  OodProfile(Meta meta, std::vector<float> idf) : meta_(std::move(meta)), idf_(std::move(idf)) {}
  Meta meta_;
  std::vector<float> idf_;
};

}  // namespace dg::detect
