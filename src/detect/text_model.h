// The interface of a learned detector's model: a binary text classifier whose score decomposes
// exactly into per-token contributions (so a finding can say which words moved it). Two kinds:
//   fasttext  FastTextModel (fasttext_model.h): libfasttext's supervised classifier, averaged embeddings
//   linear    LinearModel (linear_model.h): logistic regression (liblinear) over hashed, TF-IDF weighted
//             word, word-pair and character n-gram features
// `load_text_model` tells them apart by the file's first bytes.
//
// Thread safety: models are immutable after load; `score` is const and safe to call concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/load_result.h"

namespace dg::detect {

// One token's share of the positive class's logit (positive pushes towards the class).
struct Contribution {
  std::uint32_t start = 0, end = 0;  // byte range of the token (or word pair) in the scored text
  double weight = 0.0;               // contribution to the logit
};

class TextModel {
 public:
  virtual ~TextModel() = default;
  // Probability of the positive class for `text` scored as one line (newlines count as spaces).
  // When `explain` is non-null it receives every token's contribution (unsorted); a model's constant
  // term (fastText's end-of-line row, the linear model's bias) comes as an empty span. The
  // contributions sum to the logit of the result. `known` (optional) receives the number of tokens
  // the model saw in training.
  virtual double score(std::string_view text, std::vector<Contribution>* explain = nullptr,
                       std::size_t* known = nullptr) const = 0;
  virtual const std::string& sha256() const noexcept = 0;
  virtual std::string_view kind() const noexcept = 0;  // "fasttext" | "linear"
};

// Loads either kind (by the file's magic bytes), checks the digest against `sha256` ("" skips the
// check: tests only). Errors: config_io, tampered_artifact, model_invalid.
LoadResult<std::shared_ptr<const TextModel>> load_text_model(const std::string& path, const std::string& sha256,
                                                             const std::string& positive_label);

}  // namespace dg::detect
