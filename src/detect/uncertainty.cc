#include "detect/uncertainty.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "core/errors.h"

namespace dg::detect {

UncertaintySignals uncertainty_signals(std::span<const TokenLogprob> tokens, double low_probability) {
  UncertaintySignals s;
  s.tokens = tokens.size();
  if (tokens.empty()) return s;
  const double low_lp = std::log(low_probability);
  double sum = 0.0, entropy_sum = 0.0;
  std::size_t low = 0, with_alternatives = 0;
  s.min_logprob = 0.0;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const TokenLogprob& t = tokens[i];
    sum += t.logprob;
    if (t.logprob < s.min_logprob || i == 0) {
      s.min_logprob = t.logprob;
      s.min_index = i;
    }
    if (t.logprob < low_lp) ++low;
    if (t.top.size() >= 2) {
      // Renormalised over the listed alternatives (the sampled token is normally among them).
      const double mx = *std::max_element(t.top.begin(), t.top.end());
      double z = 0.0;
      for (double lp : t.top) z += std::exp(lp - mx);
      double h = 0.0;
      for (double lp : t.top) {
        const double p = std::exp(lp - mx) / z;
        if (p > 0) h -= p * std::log(p);
      }
      entropy_sum += h / std::log(static_cast<double>(t.top.size()));
      ++with_alternatives;
    }
  }
  const double n = static_cast<double>(tokens.size());
  s.mean_logprob = sum / n;
  s.low_share = static_cast<double>(low) / n;
  double total = (1.0 - std::exp(s.mean_logprob)) + s.low_share;
  double parts = 2.0;
  // Entropy counts when most tokens listed alternatives (a server that gives them for a few only
  // would otherwise weigh those few as much as the whole answer).
  if (with_alternatives * 2 >= tokens.size()) {
    s.mean_entropy = entropy_sum / static_cast<double>(with_alternatives);
    total += s.mean_entropy;
    parts += 1.0;
  }
  s.score = std::clamp(total / parts, 0.0, 1.0);
  return s;
}

LoadResult<std::unique_ptr<UncertaintyDetector>> UncertaintyDetector::create(const Config& cfg) {
  using R = LoadResult<std::unique_ptr<UncertaintyDetector>>;
  LoadErrors errors;
  auto bad = [&](std::string msg) {
    errors.push_back(LoadError{"", 0, 0, std::string(errc::kConfigInvalidValue), "detectors.uncertainty: " + std::move(msg)});
  };
  if (!(cfg.threshold > 0.0 && cfg.threshold <= 1.0)) bad("threshold must be in (0, 1]");
  if (!(cfg.review_threshold > 0.0 && cfg.review_threshold <= cfg.threshold))
    bad("review_threshold must be in (0, threshold]");
  if (!(cfg.low_probability > 0.0 && cfg.low_probability < 1.0)) bad("low_probability must be in (0, 1)");
  if (cfg.min_tokens < 1) bad("min_tokens must be at least 1");
  if (!errors.empty()) return R::failure(std::move(errors));
  return R::success(std::unique_ptr<UncertaintyDetector>(new UncertaintyDetector(cfg)));
}

std::unique_ptr<Detector> UncertaintyDetector::load(const YAML::Node& node, yaml::Reader& r, const LoadContext&) {
  if (!r.check_keys(node, {"enabled", "threshold", "review_threshold", "low_probability", "min_tokens"},
                    "detectors.uncertainty"))
    return nullptr;
  Config cfg;
  cfg.threshold = r.number(node, "threshold", cfg.threshold, 0.0, 1.0);
  cfg.review_threshold = r.number(node, "review_threshold", std::min(cfg.review_threshold, cfg.threshold), 0.0, 1.0);
  cfg.low_probability = r.number(node, "low_probability", cfg.low_probability, 0.0, 1.0);
  cfg.min_tokens = static_cast<std::size_t>(r.integer(node, "min_tokens", 8, 1, 1000000));
  auto res = create(cfg);
  for (auto& e : res.errors) {
    if (e.file.empty()) e.file = r.file();
    r.errors().push_back(std::move(e));
  }
  return res.value ? std::move(*res.value) : nullptr;
}

bool UncertaintyDetector::scan(const ScanInput& in, Scratch*, std::vector<Finding>& out) const noexcept {
  counters_.scans.fetch_add(1, std::memory_order_relaxed);
  try {
    if (in.role != Role::response || in.logprobs.size() < cfg_.min_tokens) return true;
    const UncertaintySignals s = uncertainty_signals(in.logprobs, cfg_.low_probability);
    if (s.score < cfg_.review_threshold) return true;
    Finding fd;
    fd.detector = "uncertainty";
    fd.category = "hallucination_risk";
    fd.score = s.score;
    fd.severity = s.score >= cfg_.threshold ? Severity::medium : Severity::low;
    fd.role = in.role;
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "score %.3f over %zu tokens: mean logprob %.2f (geometric-mean token probability %.2f), %.0f%% of "
                  "tokens below p=%.2f, min logprob %.2f at token %zu",
                  s.score, s.tokens, s.mean_logprob, std::exp(s.mean_logprob), 100.0 * s.low_share,
                  cfg_.low_probability, s.min_logprob, s.min_index);
    fd.evidence = buf;
    if (s.mean_entropy >= 0) {
      std::snprintf(buf, sizeof buf, ", mean normalised entropy %.2f", s.mean_entropy);
      fd.evidence += buf;
    }
    // Spans of the least likely tokens, when the token texts line up with the answer in order.
    const std::string_view text = in.text.original;
    std::vector<Span> where(in.logprobs.size());
    std::size_t pos = 0;
    bool aligned = true;
    for (std::size_t i = 0; i < in.logprobs.size() && aligned; ++i) {
      const std::string& tok = in.logprobs[i].token;
      if (tok.empty()) {
        aligned = false;
        break;
      }
      if (text.compare(pos, tok.size(), tok) != 0 || pos + tok.size() > text.size()) {
        aligned = false;
        break;
      }
      // The word without its leading whitespace.
      std::size_t a = pos;
      while (a < pos + tok.size() && (text[a] == ' ' || text[a] == '\n' || text[a] == '\t')) ++a;
      where[i] = Span{static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(pos + tok.size())};
      pos += tok.size();
    }
    if (aligned) {
      std::vector<std::size_t> idx(in.logprobs.size());
      std::iota(idx.begin(), idx.end(), std::size_t{0});
      const auto top = idx.begin() + static_cast<std::ptrdiff_t>(std::min(idx.size(), kExplainTop));
      std::partial_sort(idx.begin(), top, idx.end(), [&](std::size_t a, std::size_t b) {
        return in.logprobs[a].logprob != in.logprobs[b].logprob ? in.logprobs[a].logprob < in.logprobs[b].logprob : a < b;
      });
      std::string words;
      for (auto it = idx.begin(); it != top; ++it) {
        const Span sp = where[*it];
        if (sp.end <= sp.start) continue;
        fd.spans.push_back(sp);
        std::snprintf(buf, sizeof buf, " (p %.2f)", std::exp(in.logprobs[*it].logprob));
        words += (words.empty() ? "\"" : ", \"") + excerpt(text.substr(sp.start, sp.end - sp.start), 40) + "\"" + buf;
      }
      if (!words.empty()) fd.evidence += "; least likely: " + words;
      merge_spans(fd.spans);
    }
    out.push_back(std::move(fd));
    counters_.findings.fetch_add(1, std::memory_order_relaxed);
    return true;
  } catch (...) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
}

}  // namespace dg::detect
