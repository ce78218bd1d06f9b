#include "detect/canary.h"

#include <cctype>
#include <random>

#include "core/errors.h"

namespace dg::detect {

std::vector<std::string> find_canary_tokens(std::string_view folded) {
  std::vector<std::string> out;
  constexpr std::string_view kPrefix = "dg-canary-";
  std::size_t pos = 0;
  while ((pos = folded.find(kPrefix, pos)) != std::string_view::npos) {
    std::size_t end = pos + kPrefix.size();
    while (end < folded.size() && std::isxdigit(static_cast<unsigned char>(folded[end]))) ++end;
    if (end - pos - kPrefix.size() >= 8) out.emplace_back(folded.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

std::string new_canary_token() {
  std::random_device rd;
  std::uniform_int_distribution<int> hex(0, 15);
  std::string t = "dg-canary-";
  for (int i = 0; i < 16; ++i) t.push_back("0123456789abcdef"[hex(rd)]);
  return t;
}

LoadResult<std::unique_ptr<CanaryDetector>> CanaryDetector::create(const Config& cfg, const text::Normalizer& norm) {
  LoadErrors errors;
  auto det = std::unique_ptr<CanaryDetector>(new CanaryDetector());
  for (const auto& t : cfg.tokens) {
    std::string folded = norm.fold(t);
    if (folded.size() < cfg.min_length) {
      errors.push_back({"", 0, 0, std::string(errc::kConfigInvalidValue),
                        "canary: token is shorter than min_length (" + std::to_string(cfg.min_length) +
                            " bytes); short tokens match by chance"});
      continue;
    }
    det->tokens_.push_back(std::move(folded));
  }
  if (!errors.empty()) return LoadResult<std::unique_ptr<CanaryDetector>>::failure(std::move(errors));
  return LoadResult<std::unique_ptr<CanaryDetector>>::success(std::move(det));
}

std::unique_ptr<Detector> CanaryDetector::load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx) {
  if (!r.check_keys(node, {"enabled", "tokens", "min_length"}, "detectors.canary")) return nullptr;
  Config cfg;
  cfg.tokens = r.str_list(node, "tokens");
  cfg.min_length = static_cast<std::size_t>(r.integer(node, "min_length", 6, 1, 4096));
  if (!ctx.normalizer) return nullptr;
  auto res = create(cfg, *ctx.normalizer);
  for (auto& e : res.errors) r.errors().push_back(std::move(e));
  return res.value ? std::move(*res.value) : nullptr;
}

bool CanaryDetector::scan(const ScanInput& in, Scratch*, std::vector<Finding>& out) const noexcept {
  counters_.scans.fetch_add(1, std::memory_order_relaxed);
  try {
    std::vector<const std::string*> tokens;
    for (const auto& t : tokens_) tokens.push_back(&t);
    if (in.system)
      for (const auto& t : in.system->canaries) tokens.push_back(&t);
    for (const std::string* tok : tokens) {
      for (std::size_t vi = 0; vi < in.text.views.size(); ++vi) {
        if (!is_folded_view(in.text, vi)) continue;
        const text::View& v = in.text.views[vi];
        std::vector<Span> spans;
        for (std::size_t pos = v.text.find(*tok); pos != std::string::npos; pos = v.text.find(*tok, pos + 1)) {
          spans.push_back(v.to_original(static_cast<std::uint32_t>(pos), static_cast<std::uint32_t>(pos + tok->size())));
          if (spans.size() >= 64) break;
        }
        if (spans.empty()) continue;
        Finding f;
        f.detector = "canary";
        f.category = "canary_leak";
        f.role = in.role;
        f.view = v.name;
        f.score = 1.0;
        f.severity = Severity::critical;
        f.spans = std::move(spans);
        merge_spans(f.spans);
        // Never print the canary itself: evidence names it by length and prefix only.
        f.evidence = "canary token (" + std::to_string(tok->size()) + " bytes, \"" + tok->substr(0, 3) + "...\") in " + v.name + " view";
        f.redactable = true;
        f.redact_label = "CANARY";
        out.push_back(std::move(f));
        counters_.findings.fetch_add(1, std::memory_order_relaxed);
        break;  // one finding per token: the least folded view that shows it
      }
    }
  } catch (...) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

}  // namespace dg::detect
