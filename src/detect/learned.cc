#include "detect/learned.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/errors.h"
#include "detect/linear_model.h"

namespace dg::detect {

std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (const char c : s) {
    const bool ws = c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' || c == '\0';
    if (ws) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

LoadResult<std::shared_ptr<const TextModel>> load_text_model(const std::string& path, const std::string& sha256,
                                                             const std::string& positive_label) {
  using R = LoadResult<std::shared_ptr<const TextModel>>;
  std::string head(LinearModel::kMagic.size(), '\0');
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) return R::failure({LoadError{path, 0, 0, std::string(errc::kConfigIo), "cannot read the model file"}});
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
  }
  auto widen = [](auto r) {
    R out;
    out.errors = std::move(r.errors);
    if (r.value) out.value = std::shared_ptr<const TextModel>(std::move(*r.value));
    return out;
  };
  if (head == LinearModel::kMagic) return widen(LinearModel::load({path, sha256, positive_label}));
  return widen(FastTextModel::load({path, sha256, positive_label}));
}

LoadResult<std::unique_ptr<LearnedDetector>> LearnedDetector::create(const Config& cfg) {
  using R = LoadResult<std::unique_ptr<LearnedDetector>>;
  LoadErrors errors;
  auto bad = [&](std::string msg) {
    errors.push_back({"", 0, 0, std::string(errc::kConfigInvalidValue), cfg.name + ": " + std::move(msg)});
  };
  if (!(cfg.threshold > 0.0 && cfg.threshold <= 1.0)) bad("threshold must be in (0, 1]");
  if (!(cfg.review_threshold > 0.0 && cfg.review_threshold <= cfg.threshold))
    bad("review_threshold must be in (0, threshold]");
  if (cfg.roles == 0) bad("roles must not be empty");
  if (cfg.model.empty()) bad("model is required");
  if (!errors.empty()) return R::failure(std::move(errors));
  auto m = load_text_model(cfg.model, cfg.sha256, cfg.positive_label);
  if (!m.ok()) return R::failure(std::move(m.errors));
  return R::success(std::unique_ptr<LearnedDetector>(new LearnedDetector(cfg, std::move(*m.value))));
}

double LearnedDetector::best_score(const text::Normalized& n, std::size_t* view, std::size_t* window_start,
                                   std::size_t* window_end) const {
  double best = -1.0;
  for (std::size_t vi = 0; vi < n.views.size(); ++vi) {
    if (!is_folded_view(n, vi)) continue;
    const std::string_view t = std::string_view(n.views[vi].text).substr(0, cfg_.max_scan_bytes);
    auto consider = [&](std::size_t a, std::size_t b) {
      std::size_t known = 0;
      double s = model_->score(t.substr(a, b - a), nullptr, &known);
      if (known < cfg_.min_known_tokens) s = 0.0;
      if (s > best) {
        best = s;
        if (view) *view = vi;
        if (window_start) *window_start = a;
        if (window_end) *window_end = b;
      }
    };
    consider(0, t.size());
    if (t.size() <= kWindowBytes) continue;
    // Overlapping windows (half a window apart), cut at whitespace.
    for (std::size_t a = 0; a < t.size();) {
      std::size_t b = std::min(t.size(), a + kWindowBytes);
      while (b < t.size() && b > a + kWindowBytes / 2 && t[b] != ' ' && t[b] != '\n') --b;
      consider(a, b);
      if (b >= t.size()) break;
      std::size_t next = a + kWindowBytes / 2;
      while (next < t.size() && t[next] != ' ' && t[next] != '\n') ++next;
      a = next;
    }
  }
  return best;
}

bool LearnedDetector::scan(const ScanInput& in, Scratch*, std::vector<Finding>& out) const noexcept {
  counters_.scans.fetch_add(1, std::memory_order_relaxed);
  try {
    std::size_t vi = 0, a = 0, b = 0;
    const double s = best_score(in.text, &vi, &a, &b);
    if (s < cfg_.review_threshold) return true;
    const text::View& view = in.text.views[vi];
    const std::string_view t = std::string_view(view.text).substr(0, cfg_.max_scan_bytes).substr(a, b - a);
    std::vector<Contribution> contrib;
    model_->score(t, &contrib);
    // Only the top tokens are named: drop what cannot be listed, then order just those.
    std::erase_if(contrib, [](const Contribution& c) { return c.end <= c.start || c.weight <= 0; });
    const auto top = contrib.begin() + static_cast<std::ptrdiff_t>(std::min(contrib.size(), cfg_.explain_top));
    std::partial_sort(contrib.begin(), top, contrib.end(), [](const auto& x, const auto& y) { return x.weight > y.weight; });
    Finding f;
    f.detector = cfg_.name;
    f.category = cfg_.category;
    f.score = s;
    f.severity = s >= cfg_.threshold ? Severity::high : Severity::medium;
    f.view = view.name;
    f.role = in.role;
    char head[64];
    std::snprintf(head, sizeof head, "score %.3f", s);
    f.evidence = head;
    std::string tokens;
    std::size_t listed = 0;
    for (const auto& c : contrib) {
      if (listed >= cfg_.explain_top || c.weight <= 0) break;
      if (c.end <= c.start) continue;  // the end-of-line row
      const auto tok = t.substr(c.start, c.end - c.start);
      char w[32];
      std::snprintf(w, sizeof w, " %+.2f", c.weight);
      tokens += (listed ? ", \"" : "\"") + excerpt(tok, 40) + "\"" + w;
      f.spans.push_back(view.to_original(static_cast<std::uint32_t>(a + c.start), static_cast<std::uint32_t>(a + c.end)));
      ++listed;
    }
    if (!tokens.empty()) f.evidence += "; top tokens: " + tokens;
    if (f.spans.empty()) f.spans.push_back(view.to_original(static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(b)));
    merge_spans(f.spans);
    out.push_back(std::move(f));
    counters_.findings.fetch_add(1, std::memory_order_relaxed);
    return true;
  } catch (...) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
}

std::unique_ptr<Detector> load_learned(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx,
                                       LearnedDetector::Config cfg) {
  // A learned detector runs when its section is configured: a config without the section (an older
  // file, a test fixture) has no model to pin.
  if (node.IsMap() && node.size() == 0) return nullptr;
  if (!r.check_keys(node, {"enabled", "model", "sha256", "threshold", "review_threshold", "roles", "max_scan_bytes",
                           "explain_top", "min_known_tokens"},
                    "detectors." + cfg.name))
    return nullptr;
  namespace fs = std::filesystem;
  const std::string model = r.str_or(node, "model", cfg.model);
  cfg.model = fs::path(model).is_absolute() ? model : (fs::path(ctx.config_dir) / model).lexically_normal().string();
  cfg.sha256 = r.str_or(node, "sha256", "");
  if (cfg.sha256.empty())
    r.error(node, errc::kConfigMissingKey, "detectors." + cfg.name + ".sha256 is required: a model is a pinned artifact");
  cfg.threshold = r.number(node, "threshold", cfg.threshold, 0.0, 1.0);
  cfg.review_threshold = r.number(node, "review_threshold", std::min(cfg.review_threshold, cfg.threshold), 0.0, 1.0);
  cfg.roles = parse_roles(r, node, "roles", cfg.roles);
  cfg.max_scan_bytes = static_cast<std::size_t>(r.integer(node, "max_scan_bytes", 64 * 1024, 256, 16ll << 20));
  cfg.explain_top = static_cast<std::size_t>(r.integer(node, "explain_top", 5, 0, 50));
  cfg.min_known_tokens = static_cast<std::size_t>(r.integer(node, "min_known_tokens", static_cast<long long>(cfg.min_known_tokens), 0, 1000));
  if (cfg.sha256.empty()) return nullptr;
  ctx.check_artifact(cfg.model, r.errors());
  auto res = LearnedDetector::create(cfg);
  for (auto& e : res.errors) {
    if (e.file.empty()) e.file = r.file();
    r.errors().push_back(std::move(e));
  }
  return res.value ? std::move(*res.value) : nullptr;
}

}  // namespace dg::detect
