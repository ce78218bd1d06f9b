#include "detect/ood.h"

#include <cstdio>
#include <filesystem>

#include "core/errors.h"

namespace dg::detect {

std::size_t ood_view(const text::Normalized& n) noexcept {
  for (std::size_t vi = 0; vi < n.views.size(); ++vi)
    if (n.views[vi].depth == 0 && is_folded_view(n, vi)) return vi;
  return 0;
}

LoadResult<std::unique_ptr<OodDetector>> OodDetector::create(const Config& cfg,
                                                             std::shared_ptr<const OodProfile> profile) {
  using R = LoadResult<std::unique_ptr<OodDetector>>;
  LoadErrors errors;
  auto bad = [&](std::string msg) {
    errors.push_back(LoadError{"", 0, 0, std::string(errc::kConfigInvalidValue), "detectors.ood: " + std::move(msg)});
  };
  if (!(cfg.threshold > 0.0 && cfg.threshold <= 1.0)) bad("threshold must be in (0, 1]");
  if (!(cfg.review_threshold > 0.0 && cfg.review_threshold <= cfg.threshold))
    bad("review_threshold must be in (0, threshold]");
  if (cfg.roles == 0) bad("roles must not be empty");
  if (cfg.max_scan_bytes < 64) bad("max_scan_bytes must be at least 64");
  if (!profile) bad("profile is required");
  if (!errors.empty()) return R::failure(std::move(errors));
  return R::success(std::unique_ptr<OodDetector>(new OodDetector(cfg, std::move(profile))));
}

LoadResult<std::unique_ptr<OodDetector>> OodDetector::create(const Config& cfg) {
  using R = LoadResult<std::unique_ptr<OodDetector>>;
  if (cfg.profile.empty())
    return R::failure({LoadError{"", 0, 0, std::string(errc::kConfigMissingKey),
                                 "detectors.ood.profile is required (build one with `dualguard profile build`)"}});
  auto p = OodProfile::load(cfg.profile, cfg.sha256);
  if (!p.ok()) return R::failure(std::move(p.errors));
  return create(cfg, std::move(*p.value));
}

std::unique_ptr<Detector> OodDetector::load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx) {
  // Runs only when configured: without a section (older configs, fixtures) there is no profile.
  if (node.IsMap() && node.size() == 0) return nullptr;
  if (!r.check_keys(node, {"enabled", "profile", "sha256", "threshold", "review_threshold", "roles", "max_scan_bytes",
                           "min_words"},
                    "detectors.ood"))
    return nullptr;
  namespace fs = std::filesystem;
  Config cfg;
  const std::string profile = r.str_or(node, "profile", "");
  if (profile.empty()) {
    r.error(node, errc::kConfigMissingKey, "detectors.ood.profile is required (build one with `dualguard profile build`)");
    return nullptr;
  }
  cfg.profile = fs::path(profile).is_absolute() ? profile : (fs::path(ctx.config_dir) / profile).lexically_normal().string();
  cfg.sha256 = r.str_or(node, "sha256", "");
  cfg.threshold = r.number(node, "threshold", cfg.threshold, 0.0, 1.0);
  cfg.review_threshold = r.number(node, "review_threshold", std::min(cfg.review_threshold, cfg.threshold), 0.0, 1.0);
  cfg.roles = parse_roles(r, node, "roles", cfg.roles);
  cfg.max_scan_bytes = static_cast<std::size_t>(r.integer(node, "max_scan_bytes", 16 * 1024, 64, 16ll << 20));
  cfg.min_words = static_cast<std::size_t>(r.integer(node, "min_words", 3, 0, 10000));
  ctx.check_artifact(cfg.profile, r.errors());
  auto res = create(cfg);
  for (auto& e : res.errors) {
    if (e.file.empty()) e.file = r.file();
    r.errors().push_back(std::move(e));
  }
  return res.value ? std::move(*res.value) : nullptr;
}

double OodDetector::score(const text::Normalized& n, double* novelty, std::vector<OodProfile::Feature>* feats) const {
  thread_local std::vector<OodProfile::Feature> local;
  std::vector<OodProfile::Feature>& f = feats ? *feats : local;
  const text::View& v = n.views[ood_view(n)];
  const std::size_t words = OodProfile::features(std::string_view(v.text).substr(0, cfg_.max_scan_bytes), f);
  if (words < cfg_.min_words || words == 0) return 0.0;
  const double nov = profile_->novelty(f);
  if (novelty) *novelty = nov;
  return profile_->score_of_novelty(nov);
}

bool OodDetector::scan(const ScanInput& in, Scratch*, std::vector<Finding>& out) const noexcept {
  counters_.scans.fetch_add(1, std::memory_order_relaxed);
  try {
    if (in.text.views.empty()) return true;
    double nov = 0.0;
    thread_local std::vector<OodProfile::Feature> f;
    const double s = score(in.text, &nov, &f);
    if (s < cfg_.review_threshold) return true;
    const std::size_t vi = ood_view(in.text);
    const text::View& v = in.text.views[vi];
    Finding fd;
    fd.detector = "ood";
    fd.category = "out_of_distribution";
    fd.score = s;
    fd.severity = s >= cfg_.threshold ? Severity::medium : Severity::low;
    fd.view = v.name;
    fd.role = in.role;
    const auto& m = profile_->meta();
    char head[160];
    std::snprintf(head, sizeof head, "score %.3f: novelty %.2f (profiled traffic: median %.2f, 99th percentile %.2f)", s,
                  nov, m.q50, m.q99);
    fd.evidence = head;
    // The explanation: the words of this text that the profiled traffic has seen least (and less
    // than the text's features on average: the ones that raised its novelty).
    std::erase_if(f, [&](const OodProfile::Feature& x) { return x.end <= x.start || profile_->idf(x.hash) <= nov; });
    const auto top = f.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(f.size(), kExplainTop));
    std::partial_sort(f.begin(), top, f.end(), [&](const auto& x, const auto& y) {
      const float ix = profile_->idf(x.hash), iy = profile_->idf(y.hash);
      return ix != iy ? ix > iy : x.start < y.start;
    });
    std::string words;
    for (auto it = f.begin(); it != top; ++it) {
      char w[24];
      std::snprintf(w, sizeof w, " (idf %.1f)", profile_->idf(it->hash));
      words += (words.empty() ? "\"" : ", \"") + excerpt(std::string_view(v.text).substr(it->start, it->end - it->start), 40) +
               "\"" + w;
      fd.spans.push_back(v.to_original(it->start, it->end));
    }
    if (!words.empty()) fd.evidence += "; rarest words: " + words;
    if (fd.spans.empty() && !v.text.empty())
      fd.spans.push_back(v.to_original(0, static_cast<std::uint32_t>(std::min(v.text.size(), cfg_.max_scan_bytes))));
    merge_spans(fd.spans);
    out.push_back(std::move(fd));
    counters_.findings.fetch_add(1, std::memory_order_relaxed);
    return true;
  } catch (...) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
}

}  // namespace dg::detect
