#include "detect/detector.h"

#include <algorithm>

#include "core/errors.h"

namespace dg::detect {

bool is_folded_view(const text::Normalized& n, std::size_t view_index) noexcept {
  if (view_index > 0) return true;
  return n.views.size() < 2 || n.views[1].name != "nfkc";
}

void merge_spans(std::vector<Span>& spans) {
  if (spans.size() < 2) return;
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.start < b.start || (a.start == b.start && a.end > b.end); });
  std::size_t w = 0;
  for (std::size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].start <= spans[w].end) {
      spans[w].end = std::max(spans[w].end, spans[i].end);
    } else {
      spans[++w] = spans[i];
    }
  }
  spans.resize(w + 1);
}

std::string excerpt(std::string_view s, std::size_t max) {
  std::string out;
  out.reserve(std::min(s.size(), max) + 3);
  for (std::size_t i = 0; i < s.size() && out.size() < max; ++i) {
    const char c = s[i];
    out.push_back((c == '\n' || c == '\r' || c == '\t') ? ' ' : c);
  }
  if (out.size() < s.size()) {
    // do not cut a UTF-8 sequence in half
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
    out += "...";
  }
  return out;
}

unsigned parse_roles(yaml::Reader& r, const YAML::Node& map, std::string_view key, unsigned fallback) {
  const YAML::Node n = map[std::string(key)];
  if (!n.IsDefined() || n.IsNull()) return fallback;
  unsigned bits = 0;
  for (const auto& s : r.str_list(map, key)) {
    if (auto role = parse_role(s)) bits |= role_bit(*role);
    else r.error(n, errc::kConfigInvalidValue, "role must be prompt, context or response, not '" + s + "'");
  }
  return bits ? bits : fallback;
}

}  // namespace dg::detect
