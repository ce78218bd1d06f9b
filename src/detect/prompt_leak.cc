#include "detect/prompt_leak.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "core/errors.h"
#include "detect/canary.h"

namespace dg::detect {

std::vector<Span> word_spans(std::string_view s) {
  std::vector<Span> words;
  auto word_char = [](unsigned char c) { return std::isalnum(c) || c >= 0x80; };
  std::size_t i = 0;
  while (i < s.size()) {
    if (!word_char(static_cast<unsigned char>(s[i]))) { ++i; continue; }
    std::size_t j = i;
    while (j < s.size() && word_char(static_cast<unsigned char>(s[j]))) ++j;
    words.push_back({static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(j)});
    i = j;
  }
  return words;
}

std::uint64_t shingle_hash(std::string_view s, const std::vector<Span>& words, std::size_t i, std::size_t k) noexcept {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (std::size_t w = i; w < i + k && w < words.size(); ++w) {
    for (std::uint32_t b = words[w].start; b < words[w].end; ++b) {
      h ^= static_cast<unsigned char>(s[b]);
      h *= 1099511628211ull;
    }
    h ^= 0x20;
    h *= 1099511628211ull;
  }
  return h;
}

ProtectedPrompt prepare_protected(const text::Normalizer& norm, std::string_view system, std::size_t k) {
  ProtectedPrompt p;
  p.text.assign(system);
  p.folded = norm.fold(system);
  const auto words = word_spans(p.folded);
  p.words = words.size();
  const std::size_t kk = std::min(k, words.size());
  if (kk > 0)
    for (std::size_t i = 0; i + kk <= words.size(); ++i) p.shingles.push_back(shingle_hash(p.folded, words, i, kk));
  std::sort(p.shingles.begin(), p.shingles.end());
  p.shingles.erase(std::unique(p.shingles.begin(), p.shingles.end()), p.shingles.end());
  p.canaries = find_canary_tokens(p.folded);
  return p;
}

LoadResult<std::unique_ptr<PromptLeakDetector>> PromptLeakDetector::create(const Config& cfg) {
  LoadErrors errors;
  auto bad = [&](std::string m) { errors.push_back({"", 0, 0, std::string(errc::kConfigInvalidValue), "prompt_leak: " + m}); };
  if (cfg.shingle_words < 2 || cfg.shingle_words > 16) bad("shingle_words must be between 2 and 16");
  if (!(cfg.min_coverage > 0.0 && cfg.min_coverage <= 1.0)) bad("min_coverage must be in (0, 1]");
  if (cfg.min_shingles < 1) bad("min_shingles must be at least 1");
  if (!errors.empty()) return LoadResult<std::unique_ptr<PromptLeakDetector>>::failure(std::move(errors));
  return LoadResult<std::unique_ptr<PromptLeakDetector>>::success(
      std::unique_ptr<PromptLeakDetector>(new PromptLeakDetector(cfg)));
}

std::unique_ptr<Detector> PromptLeakDetector::load(const YAML::Node& node, yaml::Reader& r, const LoadContext&) {
  if (!r.check_keys(node, {"enabled", "shingle_words", "min_coverage", "min_shingles", "min_prompt_words"},
                    "detectors.prompt_leak"))
    return nullptr;
  Config cfg;
  cfg.shingle_words = static_cast<std::size_t>(r.integer(node, "shingle_words", 5, 2, 16));
  cfg.min_coverage = r.number(node, "min_coverage", 0.3, 0.01, 1.0);
  cfg.min_shingles = static_cast<std::size_t>(r.integer(node, "min_shingles", 12, 1, 100000));
  cfg.min_prompt_words = static_cast<std::size_t>(r.integer(node, "min_prompt_words", 4, 1, 100000));
  auto res = create(cfg);
  for (auto& e : res.errors) r.errors().push_back(std::move(e));
  return res.value ? std::move(*res.value) : nullptr;
}

bool PromptLeakDetector::scan(const ScanInput& in, Scratch*, std::vector<Finding>& out) const noexcept {
  if (!in.system || in.system->shingles.empty() || in.system->words < cfg_.min_prompt_words) return true;
  counters_.scans.fetch_add(1, std::memory_order_relaxed);
  try {
    const std::size_t k = std::min(cfg_.shingle_words, in.system->words);
    double best = 0.0;
    Finding bestf;
    for (std::size_t vi = 0; vi < in.text.views.size(); ++vi) {
      if (!is_folded_view(in.text, vi)) continue;
      const text::View& v = in.text.views[vi];
      const auto words = word_spans(v.text);
      if (words.size() < k) continue;
      std::vector<std::uint64_t> hit;
      std::vector<Span> spans;
      for (std::size_t i = 0; i + k <= words.size(); ++i) {
        const std::uint64_t h = shingle_hash(v.text, words, i, k);
        if (std::binary_search(in.system->shingles.begin(), in.system->shingles.end(), h)) {
          hit.push_back(h);
          spans.push_back(v.to_original(words[i].start, words[i + k - 1].end));
        }
      }
      std::sort(hit.begin(), hit.end());
      hit.erase(std::unique(hit.begin(), hit.end()), hit.end());
      const double coverage = static_cast<double>(hit.size()) / static_cast<double>(in.system->shingles.size());
      if (coverage <= best) continue;
      if (coverage < cfg_.min_coverage && hit.size() < cfg_.min_shingles) continue;
      best = coverage;
      bestf = Finding{};
      bestf.detector = "prompt_leak";
      bestf.category = "system_prompt_leak";
      bestf.role = in.role;
      bestf.view = v.name;
      bestf.score = std::min(1.0, 0.5 + coverage);
      bestf.severity = coverage >= 0.5 ? Severity::high : Severity::medium;
      bestf.spans = std::move(spans);
      merge_spans(bestf.spans);
      char buf[96];
      std::snprintf(buf, sizeof buf, "%zu of %zu system-prompt %zu-word shingles (%.0f%%)", hit.size(),
                    in.system->shingles.size(), k, coverage * 100.0);
      bestf.evidence = buf;
    }
    if (best > 0.0) {
      out.push_back(std::move(bestf));
      counters_.findings.fetch_add(1, std::memory_order_relaxed);
    }
  } catch (...) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

}  // namespace dg::detect
