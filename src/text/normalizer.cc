#include "text/normalizer.h"

#include <algorithm>

#include "core/errors.h"
#include "text/internal.h"

namespace dg::text {

std::string_view to_string(AnomalyKind k) noexcept {
  switch (k) {
    case AnomalyKind::zero_width: return "zero_width";
    case AnomalyKind::bidi_control: return "bidi_control";
    case AnomalyKind::tag_character: return "tag_character";
    case AnomalyKind::variation_selector: return "variation_selector";
    case AnomalyKind::invalid_utf8: return "invalid_utf8";
  }
  return "unknown";
}

// ---- View -----------------------------------------------------------------------------------

View View::identity(std::string name, std::string_view text) {
  View v;
  v.name = std::move(name);
  v.text.assign(text);
  v.mode_ = Mode::identity;
  return v;
}

View View::whole(std::string name, std::string text, Span origin, int depth) {
  View v;
  v.name = std::move(name);
  v.text = std::move(text);
  v.depth = depth;
  v.mode_ = Mode::whole;
  v.origin_ = origin;
  return v;
}

Span View::to_original(std::uint32_t start, std::uint32_t end) const noexcept {
  if (text.empty()) return mode_ == Mode::whole ? origin_ : Span{0, 0};
  if (end <= start) end = start + 1;
  const std::size_t last = std::min<std::size_t>(end, text.size()) - 1;
  const std::size_t first = std::min<std::size_t>(start, text.size() - 1);
  return Span{orig_start(first), orig_end(last)};
}

const View* Normalized::find(std::string_view name) const noexcept {
  for (const auto& v : views)
    if (v.name == name) return &v;
  return nullptr;
}

// ---- Normalizer -----------------------------------------------------------------------------

LoadErrors validate(const NormalizerConfig& cfg) {
  LoadErrors errors;
  auto bad = [&](std::string msg) {
    errors.push_back(LoadError{"", 0, 0, std::string(errc::kConfigInvalidValue), "normalizer: " + std::move(msg)});
  };
  if (cfg.max_decode_depth < 0 || cfg.max_decode_depth > 4) bad("max_decode_depth must be between 0 and 4");
  if (cfg.min_encoded_chars < 8) bad("min_encoded_chars must be at least 8");
  if (cfg.max_views < 2 || cfg.max_views > 64) bad("max_views must be between 2 and 64");
  if (cfg.max_view_bytes < 1024) bad("max_view_bytes must be at least 1024");
  return errors;
}

LoadResult<std::shared_ptr<const Normalizer>> Normalizer::create(const NormalizerConfig& cfg) {
  LoadErrors errors = validate(cfg);
  if (!errors.empty()) return LoadResult<std::shared_ptr<const Normalizer>>::failure(std::move(errors));
  return LoadResult<std::shared_ptr<const Normalizer>>::success(
      std::shared_ptr<const Normalizer>(new Normalizer(cfg)));
}

std::string Normalizer::fold(std::string_view s) const {
  const View raw = View::identity("raw", s.substr(0, std::min(s.size(), cfg_.max_view_bytes)));
  View v = detail::fold_nfkc(raw, "nfkc", nullptr, nullptr);
  if (cfg_.skeleton) {
    View sk;
    if (detail::fold_skeleton(v, sk)) return std::move(sk.text);
  }
  return std::move(v.text);
}

Normalized Normalizer::normalize(std::string_view input) const {
  Normalized out;
  out.original = input;
  out.views.reserve(8);
  out.views.push_back(View::identity("raw", input));
  const std::string_view head = input.substr(0, std::min(input.size(), cfg_.max_view_bytes));
  out.truncated = head.size() < input.size();
  const View head_view = out.truncated ? View::identity("raw", head) : View();
  const View& base_raw = out.truncated ? head_view : out.views[0];

  std::vector<detail::TagPayload> tags;
  auto room = [&] { return out.views.size() < cfg_.max_views; };

  // Folded views of the input itself.
  View nfkc = detail::fold_nfkc(base_raw, "nfkc", &out.anomalies, cfg_.decode ? &tags : nullptr);
  const bool nfkc_differs = nfkc.text != input;
  std::size_t base_index = 0;
  if (nfkc_differs && room()) {
    out.views.push_back(std::move(nfkc));
    base_index = out.views.size() - 1;
  }
  auto derive = [&](bool enabled, bool (*fn)(const View&, View&)) {
    if (!enabled || !room()) return;
    View v;
    if (fn(out.views[base_index], v)) {
      out.views.push_back(std::move(v));
      base_index = out.views.size() - 1;
    }
  };
  const std::size_t nfkc_index = base_index;
  derive(cfg_.skeleton, detail::fold_skeleton);
  derive(cfg_.leetspeak, detail::fold_leet);
  derive(cfg_.despace, detail::fold_despace);
  if (cfg_.rot13 && room() && detail::looks_rot13(out.views[nfkc_index].text))
    out.views.push_back(detail::rot13(out.views[nfkc_index]));

  if (!cfg_.decode) return out;

  // Decoded payloads, breadth first, bounded by depth, views and bytes.
  std::size_t budget = cfg_.max_decoded_bytes;
  struct Pending {
    std::string raw;  // decoded bytes before folding: what deeper payloads are searched in
    std::string name;
    Span origin;
    int depth;
  };
  std::vector<Pending> queue;
  for (auto& t : tags) {
    if (!detail::is_printable_text(t.text)) continue;
    if (t.text.size() > budget) { out.decode_budget_exhausted = true; break; }
    budget -= t.text.size();
    queue.push_back({std::move(t.text), "tags", t.span, 1});
  }
  if (cfg_.max_decode_depth > 0) {
    for (auto& p : detail::find_payloads(head, cfg_.min_encoded_chars, budget)) {
      const Span origin{static_cast<std::uint32_t>(p.start), static_cast<std::uint32_t>(p.end)};
      queue.push_back({std::move(p.decoded), std::move(p.kind), origin, 1});
    }
  }
  for (std::size_t qi = 0; qi < queue.size() && room(); ++qi) {
    Pending p = std::move(queue[qi]);
    const View decoded = View::whole(p.name, p.raw, p.origin, p.depth);
    View folded = detail::fold_nfkc(decoded, p.name, nullptr, nullptr);
    View sk;
    const bool has_skeleton = cfg_.skeleton && detail::fold_skeleton(folded, sk);
    // The skeleton folds homoglyphs into Latin, and so it also turns Cyrillic, Greek or Arabic text
    // into Latin look-alikes: a payload keeps its folded text and gets the skeleton beside it.
    out.views.push_back(std::move(folded));
    if (has_skeleton && room()) {
      sk.name = p.name;
      out.views.push_back(std::move(sk));
    }
    if (p.depth < cfg_.max_decode_depth) {
      for (auto& inner : detail::find_payloads(p.raw, cfg_.min_encoded_chars, budget))
        queue.push_back({std::move(inner.decoded), std::move(inner.kind), p.origin, p.depth + 1});
    }
  }
  if (budget == 0) out.decode_budget_exhausted = true;
  return out;
}

}  // namespace dg::text
