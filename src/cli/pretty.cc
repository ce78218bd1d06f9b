#include "cli/pretty.h"

#include <algorithm>
#include <cstdio>

namespace dg::cli {
namespace {

struct Style {
  bool on;
  std::string operator()(const char* code, std::string_view s) const {
    if (!on) return std::string(s);
    return std::string("\x1b[") + code + "m" + std::string(s) + "\x1b[0m";
  }
};

const char* action_color(Action a) {
  switch (a) {
    case Action::block: return "1;31";
    case Action::review:
    case Action::safe_mode: return "1;33";
    case Action::redact: return "1;36";
    case Action::allow: return "1;32";
  }
  return "0";
}

// The text with the spans of findings on `role` highlighted, on one line, shortened around them.
std::string highlight(std::string_view text, const Verdict& v, Role shown, const Style& st) {
  std::vector<Span> spans;
  for (const auto& f : v.findings)
    if (f.context_index < 0 && f.role == shown)
      for (const auto& s : f.spans)
        if (s.end <= text.size() && s.end > s.start) spans.push_back(s);
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.start < b.start; });
  std::string out;
  std::size_t pos = 0;
  auto plain = [&](std::string_view s) {
    std::string t;
    for (char c : s) t.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
    if (t.size() > 160) t = t.substr(0, 70) + " ... " + t.substr(t.size() - 70);
    return t;
  };
  for (const auto& s : spans) {
    if (s.start < pos) continue;
    out += plain(text.substr(pos, s.start - pos));
    out += st.on ? st("7", plain(text.substr(s.start, s.end - s.start))) : "[" + plain(text.substr(s.start, s.end - s.start)) + "]";
    pos = s.end;
  }
  out += plain(text.substr(pos));
  return out;
}

}  // namespace

std::string pretty_verdict(const ojson& id, const Verdict& v, std::string_view text, Role shown, bool color) {
  const Style st{color};
  std::string action(to_string(v.action));
  for (auto& c : action) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string out = "[" + id.dump() + "] " + st(action_color(v.action), action) + "  " + std::string(to_string(v.cls));
  if (!v.chain.empty()) out += "  (" + v.chain + ")";
  out += "  " + std::to_string(v.latency_us) + " us\n";
  out += "    " + highlight(text, v, shown, st) + "\n";
  out += "    " + st("2", "reason: ") + v.reason + "\n";
  for (const auto& f : v.findings) {
    char score[16];
    std::snprintf(score, sizeof score, "%.2f", f.score);
    out += "    - " + st("1", f.category) + "  " + std::string(to_string(f.domain)) + "/" + std::string(to_string(f.intent)) +
           "  " + std::string(to_string(f.severity)) + " " + score + "  on " + std::string(to_string(f.role));
    if (f.context_index >= 0) out += "[" + std::to_string(f.context_index) + "]";
    out += "  view " + f.view + "\n";
    out += "      " + f.detector + ": " + f.evidence;
    if (!f.rule.empty()) out += st("2", "  -> rule " + f.rule + " (" + std::string(to_string(f.action)) + (f.monitor ? ", monitor" : "") + ")");
    out += "\n";
  }
  if (v.has_redacted) out += "    " + st("2", "redacted: ") + v.redacted + "\n";
  for (const auto& e : v.errors) out += "    " + st("1;31", "error: ") + e + "\n";
  return out;
}

std::string pretty_error(const ojson& id, std::string_view code, std::string_view message, bool color) {
  const Style st{color};
  return "[" + id.dump() + "] " + st("1;31", "ERROR") + "  " + std::string(code) + ": " + std::string(message) + "\n";
}

}  // namespace dg::cli
