// A supervised fastText model (Debian's libfasttext), loaded once and precomputed for exact, fast,
// explainable scoring.
//
// fastText's classifier is linear over an average: hidden = (1/N) * sum of the input rows of the
// line's tokens (each word's own row and its character n-gram rows, word n-gram rows, the end-of-line
// row); logits = W * hidden; probabilities = softmax(logits). A detector model has two labels, so
// P(positive) = sigmoid(margin) with margin = (1/N) * sum_i (W_pos - W_neg) . e_i: every input row
// contributes a fixed amount. At load the model computes that amount for every row (and sums it per
// vocabulary word), after which scoring a text is a hash lookup per token and an addition -- no
// vector arithmetic -- and the explanation (how much each token moved the margin) is exact.
//
// Tokenisation replicates fastText's Dictionary::getLine for one line (whitespace-separated tokens,
// then the end-of-sentence token), so `score(t)` equals libfasttext's own predict() on
// `model_line(t)`; the unit tests check this on every token shape.
//
// Thread safety: immutable after load; `score` is const and safe to call concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/load_result.h"
#include "detect/text_model.h"

namespace dg::detect {

class FastTextModel final : public TextModel {
 public:
  struct Options {
    std::string path;             // .ftz / .bin written by `dualguard train`
    std::string sha256;           // expected hex digest of the file; "" skips the check (tests only)
    std::string positive_label;   // e.g. "__label__attack"
  };

  // Loads, checks the digest, precomputes row contributions. Errors: config_io (unreadable),
  // tampered_artifact (digest mismatch), model_invalid (not a supervised model, missing label,
  // pruned dictionary).
  static LoadResult<std::shared_ptr<const FastTextModel>> load(const Options& opt);

  // One token's share of the positive label's logit margin (already divided by N).
  using Contribution = detect::Contribution;

  // Probability of the positive label for `text` scored as one line (newlines count as spaces).
  // When `explain` is non-null it receives every token's contribution (unsorted); the end-of-line
  // row comes as an empty span at the end. The contributions sum to the logit of the result.
  // `known` (optional) receives the number of in-vocabulary tokens: how much of the text the model
  // has actually seen in training.
  double score(std::string_view text, std::vector<Contribution>* explain = nullptr,
               std::size_t* known = nullptr) const override;

  std::size_t labels() const noexcept { return labels_.size(); }
  const std::vector<std::string>& label_names() const noexcept { return labels_; }
  const std::string& sha256() const noexcept override { return sha256_; }
  std::string_view kind() const noexcept override { return "fasttext"; }
  std::size_t dim() const noexcept { return dim_; }
  std::size_t rows() const noexcept { return rows_; }

  // SHA-256 of a file as lowercase hex, "" when unreadable.
  static std::string file_sha256(const std::string& path);

 private:
  FastTextModel() = default;
  struct WordInfo {
    std::uint32_t rows = 0;  // rows the word contributes (itself and its character n-grams)
    float margin = 0.0f;     // summed over those rows
  };

  std::vector<std::string> labels_;
  std::size_t positive_ = 0;
  std::size_t dim_ = 0, rows_ = 0;
  std::int32_t nwords_ = 0, bucket_ = 0, minn_ = 0, maxn_ = 0, word_ngrams_ = 1;
  // (W_positive - W_other) . e_i for every input row i: the row's share of the logit margin.
  std::vector<float> row_margin_;
  // Vocabulary as an open-addressing table keyed by fastText's own token hash (computed once per
  // token for the word n-grams anyway): slot -> index into words_, or -1.
  struct VocabEntry {
    std::uint32_t hash;
    std::string word;
    WordInfo info;
  };
  std::vector<VocabEntry> words_;
  std::vector<std::int32_t> slots_;
  const WordInfo* find_word(std::string_view w, std::uint32_t h) const noexcept;
  WordInfo eos_;
  std::string sha256_;
};

// fastText's string hash (FNV-1a over signed bytes), exposed for tests.
std::uint32_t fasttext_hash(std::string_view s) noexcept;

// Long ASCII tokens (keys, hashes, base64, URLs, identifiers: longer than kLongTokenBytes) are not
// read at all, in training and in scoring alike: their character n-grams are random, and a model
// trained on attacks that quote passwords learns to read randomness -- or, with a placeholder word,
// the mere presence of a long token -- as attack (measured: stack traces and configs scored 0.99).
// Tokens with non-ASCII bytes (unspaced CJK text) are kept.
inline constexpr std::size_t kLongTokenBytes = 24;
bool is_long_token(std::string_view token) noexcept;
// The text as the model reads it: whitespace folded to single spaces, long tokens dropped.
std::string model_line(std::string_view text);

}  // namespace dg::detect
