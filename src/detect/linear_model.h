// A logistic-regression text classifier over hashed sparse features, trained with Debian's
// liblinear by `dualguard train` and scored here without it.
//
// Features of a text (one function for training and scoring, so there is no skew). The text is split
// at whitespace; each whitespace token into pieces: word runs (ASCII letters, digits, '_', any
// non-ASCII byte) and single punctuation characters; pieces longer than 24 ASCII bytes (keys, hashes,
// base64) are not read (as fastText's model_line). A piece w stands for the vector phi(w): its own
// feature plus the character n-grams (minn..maxn code points) of "<w>", hashed into 2^bits buckets,
// each weighted by the bucket's idf. Adjacent pieces form a word pair (one hashed feature). With k_w
// the number of times piece w occurs and m_w = 1 + ln k_w (sublinear term frequency):
//
//   x = ( sum_w m_w phi(w) + sum_pairs m_p idf_p e_p ) / Z,
//   Z = sqrt( sum_w m_w^2 |phi(w)|^2 + sum_pairs m_p^2 idf_p^2 + smooth )
//   P(positive) = sigmoid(w . x + bias)
//
// Z normalises per term rather than over the summed vector, so the score decomposes by piece: with
// s(w) = w . phi(w) and q(w) = |phi(w)|^2 computed once at load for the vocabulary stored in the
// model, scoring a text is a hash lookup per distinct piece and per word pair (the same trick as
// fastText's precomputed rows). Unknown pieces are computed from the buckets, with the same result.
// `smooth` keeps a two-word text from weighing like a paragraph. Buckets never seen in training
// (idf 0) carry nothing.
//
// The explanation is exact: piece w's occurrences share m_w s(w) / Z, a pair's m_p w_p idf_p / Z
// (reported on the pair's span), the bias is an empty span; they sum to the logit.
//
// File format (little-endian): "DGLINEAR2\n", a JSON header line ({"bits","minn","maxn","smooth",
// "labels","positive","bias","w_scale","idf_scale","vocab"}), 2^bits cells of {int16 w, uint16 idf}
// (w = cell.w * w_scale, idf = cell.idf * idf_scale), then `vocab` pieces as {uint16 length, bytes}.
//
// Thread safety: immutable after load; `score` uses thread-local scratch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/load_result.h"
#include "detect/text_model.h"

namespace dg::detect {

class LinearModel final : public TextModel {
 public:
  static constexpr std::string_view kMagic = "DGLINEAR2\n";

  struct Params {
    int bits = 20;  // 2^bits hash buckets
    int minn = 2, maxn = 6;
    double smooth = 0.0;
  };

  // A piece of the text: byte range, 64-bit hash of its bytes, whether it is a word run (counted as
  // a "known token" when its own feature was seen in training) or punctuation.
  struct Piece {
    std::uint32_t start = 0, end = 0;
    std::uint64_t hash = 0;
    bool word = false;
  };
  static void pieces(std::string_view text, std::vector<Piece>& out);
  // The buckets of phi(piece), with repetition: the piece's own feature first, then its n-grams.
  static void piece_buckets(const Params& p, std::string_view piece, std::uint64_t hash, std::vector<std::uint32_t>& out);
  static std::uint32_t pair_bucket(const Params& p, std::uint64_t a, std::uint64_t b) noexcept;

  // The terms of a text: every distinct piece and every distinct adjacent pair with its count, in
  // order of first appearance. `piece` indexes the first occurrence (of a pair: its second piece).
  // `piece_terms` (optional) receives, per piece i, the term of the piece (2i) and of the pair that
  // ends at it (2i+1; 0 for the first piece).
  struct Term {
    std::uint32_t piece = 0;
    std::uint32_t count = 0;
    bool pair = false;
    std::uint64_t key = 0;  // the piece's hash, or the pair's key (what pair_bucket hashes)
  };
  static void terms(const std::vector<Piece>& pieces, std::vector<Term>& out,
                    std::vector<std::uint32_t>* piece_terms = nullptr);
  // The bucket of a pair term (equal to pair_bucket of its two pieces' hashes).
  static std::uint32_t pair_bucket(const Params& p, const Term& pair) noexcept;

  // What training produces and `write` stores.
  struct Weights {
    Params params;
    std::vector<std::string> labels;  // {positive, negative}
    std::size_t positive = 0;
    double bias = 0.0;
    std::vector<float> w, idf;        // 2^bits each
    std::vector<std::string> vocab;   // pieces whose s and q are precomputed at load (<= 65535 bytes each)
  };
  // Writes the model file (quantising w and idf). Returns "" or an error message.
  static std::string write(const std::string& path, const Weights& weights);

  struct Options {
    std::string path;
    std::string sha256;          // "" skips the check (tests only)
    std::string positive_label;
  };
  static LoadResult<std::shared_ptr<const LinearModel>> load(const Options& opt);

  double score(std::string_view text, std::vector<Contribution>* explain = nullptr,
               std::size_t* known = nullptr) const override;
  const std::string& sha256() const noexcept override { return sha256_; }
  std::string_view kind() const noexcept override { return "linear"; }

  // Scores without the vocabulary cache (every piece computed from the buckets): the reference the
  // unit tests hold `score` to.
  double score_uncached(std::string_view text) const;

  const Params& params() const noexcept { return params_; }
  const std::vector<std::string>& label_names() const noexcept { return labels_; }
  double weight(std::uint32_t bucket) const noexcept { return cells_[bucket].w * w_scale_; }
  double idf(std::uint32_t bucket) const noexcept { return cells_[bucket].idf * idf_scale_; }
  double bias() const noexcept { return bias_; }
  std::size_t vocab_size() const noexcept { return vocab_count_; }

 private:
  LinearModel() = default;
  struct Cell {
    std::int16_t w = 0;
    std::uint16_t idf = 0;
  };
  // A piece's precomputed share: s = w . phi, q = |phi|^2, known = its own feature was seen.
  struct PieceInfo {
    double s = 0.0, q = 0.0;
    bool known = false;
  };
  PieceInfo compute(std::string_view piece, std::uint64_t hash) const;
  const PieceInfo* cached(std::uint64_t hash) const noexcept;
  double score_impl(std::string_view text, std::vector<Contribution>* explain, std::size_t* known, bool use_cache) const;

  Params params_;
  std::vector<std::string> labels_;
  double bias_ = 0.0;  // towards the positive label
  double w_scale_ = 0.0, idf_scale_ = 0.0;
  std::vector<Cell> cells_;
  // Vocabulary cache: open addressing on the piece hash.
  struct Slot {
    std::uint64_t hash = 0;  // 0 = empty (a piece hash of 0 is simply not cached)
    PieceInfo info;
  };
  std::vector<Slot> slots_;
  std::size_t vocab_count_ = 0;
  std::string sha256_;
};

}  // namespace dg::detect
