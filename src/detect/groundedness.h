// `groundedness`: an answer whose content the supplied context does not support
// (ungrounded_answer, safety). Runs on responses whose exchange carried context (RAG documents,
// tool results); silent otherwise. A monitor: the default policy records its findings.
//
// Method (lexical, explainable, no model): the answer's content terms are its numbers, its named
// entities (capitalised words not at a sentence start, and acronyms) and its other content words
// (not stop words, at least `min_word_length` letters, lightly stemmed). A term is supported when
// the context holds it (numbers exactly, digit-group commas ignored; words by stem, folded the way
// every detector folds text). Support is the weighted share of supported terms (numbers 3,
// entities 2, words 1: an invented figure or name weighs more than a paraphrased verb), and the
// score is 1 - support. The evidence gives the three shares and names the unsupported numbers and
// entities first; their spans are the finding's spans.
//
// Config (`detectors.groundedness`):
//   enabled: true
//   threshold: 0.7          score (1 - support) for severity medium
//   review_threshold: 0.5   score for severity low
//   min_terms: 8            answers with fewer content terms are not judged
//   min_word_length: 4      shorter words are not content words (numbers and acronyms always are)
//   max_context_bytes: 262144   context read per answer (all documents together)
//
// Thread safety: immutable after load; no scratch.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "detect/detector.h"

namespace dg::detect {

class GroundednessDetector final : public Detector {
 public:
  struct Config {
    double threshold = 0.7;
    double review_threshold = 0.5;
    std::size_t min_terms = 8;
    std::size_t min_word_length = 4;
    std::size_t max_context_bytes = 256 * 1024;
  };
  // `normalizer` folds the context the way the answer was folded; it must outlive the detector.
  static LoadResult<std::unique_ptr<GroundednessDetector>> create(const Config& cfg, const text::Normalizer* normalizer);
  static std::unique_ptr<Detector> load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx);

  std::string_view name() const noexcept override { return "groundedness"; }
  bool applies_to(Role role) const noexcept override { return role == Role::response; }
  bool scan(const ScanInput& in, Scratch* scratch, std::vector<Finding>& out) const noexcept override;
  std::vector<std::string> categories() const override { return {"ungrounded_answer"}; }

  enum class TermKind { number, entity, word };
  struct Term {
    TermKind kind;
    std::string key;  // normalised number or stem
    Span span;        // in the original answer
    bool supported = false;
  };
  struct Judgement {
    std::vector<Term> terms;
    std::size_t supported[3] = {0, 0, 0}, total[3] = {0, 0, 0};  // by TermKind
    double support = 1.0;
  };
  // The answer's terms judged against `context` (pure; exposed for tests and explanations).
  Judgement judge(const text::Normalized& answer, std::span<const std::string_view> context) const;

  static constexpr std::size_t kExplainTop = 8;  // unsupported terms named in the evidence

 private:
  GroundednessDetector(Config cfg, const text::Normalizer* n) : cfg_(cfg), normalizer_(n) {}
  Config cfg_;
  const text::Normalizer* normalizer_;
};

}  // namespace dg::detect
