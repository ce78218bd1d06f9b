// `prompt_leak`: a response reproduces a substantial part of the protected system prompt. Both are
// compared after folding (case, Unicode, homoglyphs, leetspeak, spacing, decoded payloads) as sets of
// word k-gram shingles; a finding reports the share of the prompt's shingles the response contains
// and the response spans that carry them. Paraphrase and translation are not caught (known gap).
#pragma once

#include "detect/detector.h"

namespace dg::detect {

// Prepares a system prompt once for leak and canary detection.
ProtectedPrompt prepare_protected(const text::Normalizer& norm, std::string_view system, std::size_t shingle_words = 5);

class PromptLeakDetector final : public Detector {
 public:
  struct Config {
    std::size_t shingle_words = 5;  // k of the word k-grams; must match prepare_protected()
    double min_coverage = 0.3;      // share of the prompt's shingles in the response
    std::size_t min_shingles = 12;  // or this many shingles (long prompts, partial leaks)
    std::size_t min_prompt_words = 4;
  };
  static LoadResult<std::unique_ptr<PromptLeakDetector>> create(const Config& cfg);
  static std::unique_ptr<Detector> load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx);

  std::string_view name() const noexcept override { return "prompt_leak"; }
  bool applies_to(Role role) const noexcept override { return role == Role::response; }
  bool scan(const ScanInput& in, Scratch* scratch, std::vector<Finding>& out) const noexcept override;
  std::vector<std::string> categories() const override { return {"system_prompt_leak"}; }
  const Config& config() const noexcept { return cfg_; }

 private:
  explicit PromptLeakDetector(Config cfg) : cfg_(cfg) {}
  Config cfg_;
};

// Word boundaries of folded text: [start, end) byte ranges of alphanumeric (or non-ASCII) runs.
std::vector<Span> word_spans(std::string_view folded);
// Hash of words [i, i+k) of `s`.
std::uint64_t shingle_hash(std::string_view s, const std::vector<Span>& words, std::size_t i, std::size_t k) noexcept;

}  // namespace dg::detect
