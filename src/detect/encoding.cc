#include "detect/encoding.h"

#include <array>
#include <cctype>

#include "core/errors.h"

namespace dg::detect {

LoadResult<std::unique_ptr<EncodingDetector>> EncodingDetector::create(const Config& cfg) {
  if (cfg.min_invisible < 1)
    return LoadResult<std::unique_ptr<EncodingDetector>>::failure(
        {{"", 0, 0, std::string(errc::kConfigInvalidValue), "encoding: min_invisible must be at least 1"}});
  return LoadResult<std::unique_ptr<EncodingDetector>>::success(
      std::unique_ptr<EncodingDetector>(new EncodingDetector(cfg)));
}

std::unique_ptr<Detector> EncodingDetector::load(const YAML::Node& node, yaml::Reader& r, const LoadContext&) {
  if (!r.check_keys(node, {"enabled", "min_invisible", "report_invalid_utf8", "min_encoded_words"},
                    "detectors.encoding"))
    return nullptr;
  Config cfg;
  cfg.min_invisible = static_cast<std::size_t>(r.integer(node, "min_invisible", 1, 1, 1000000));
  cfg.report_invalid_utf8 = r.boolean(node, "report_invalid_utf8", true);
  cfg.min_encoded_words = static_cast<std::size_t>(r.integer(node, "min_encoded_words", 2, 0, 1000));
  auto res = create(cfg);
  for (auto& e : res.errors) r.errors().push_back(std::move(e));
  return res.value ? std::move(*res.value) : nullptr;
}

namespace {

// Words of natural-language text in a decoded payload: runs of two or more letters (ASCII, or the bytes
// of non-ASCII characters; a CJK sentence without spaces is one word). The payload
// must also be mostly letters and spaces, so that decoded binary that happens to be printable, or a
// decoded identifier ("user_id=1234&ts=..."), does not count as text.
std::size_t text_words(std::string_view s) {
  std::size_t words = 0, run = 0, letters = 0, other = 0;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalpha(c) || c >= 0x80) {  // UTF-8 bytes of non-ASCII letters count as letters
      ++letters;
      ++run;
      continue;
    }
    if (run >= 2) ++words;
    run = 0;
    if (!std::isspace(c) && c != '.' && c != ',' && c != '\'' && c != '?' && c != '!') ++other;
  }
  if (run >= 2) ++words;
  return letters >= 4 * other ? words : 0;
}

// Only decoded payloads: the rot13 view is a guess from letter statistics (it also appears for some
// ordinary English, "trarengr n erpvcr" from "generate a recipe"), so it is scanned but not reported.
bool is_encoding_view(std::string_view name) { return name == "base64" || name == "hex"; }

}  // namespace

bool EncodingDetector::scan(const ScanInput& in, Scratch*, std::vector<Finding>& out) const noexcept {
  counters_.scans.fetch_add(1, std::memory_order_relaxed);
  try {
    std::array<std::size_t, 5> count{};
    std::array<std::vector<Span>, 5> spans;
    // Invisible characters that split a word ("ig<ZWSP>nore") hide it from filters; ones beside
    // spaces or punctuation are usually copy-paste debris (Wikipedia's coordinates carry U+FEFF).
    const std::string_view orig = in.text.original;
    auto wordish = [](unsigned char c) { return std::isalnum(c) || c >= 0x80; };
    std::size_t in_word = 0;
    const auto& an = in.text.anomalies;
    for (std::size_t i = 0; i < an.size(); ++i) {
      const auto& a = an[i];
      if (a.benign_context) continue;
      const auto k = static_cast<std::size_t>(a.kind);
      ++count[k];
      spans[k].push_back(a.span);
      if (a.kind == text::AnomalyKind::invalid_utf8) continue;
      // the visible neighbours: skip adjacent invisible characters on both sides
      std::size_t lo = i, hi = i;
      while (lo > 0 && an[lo - 1].span.end == an[lo].span.start) --lo;
      while (hi + 1 < an.size() && an[hi + 1].span.start == an[hi].span.end) ++hi;
      const std::uint32_t before = an[lo].span.start, after = an[hi].span.end;
      if (before > 0 && after < orig.size() && wordish(static_cast<unsigned char>(orig[before - 1])) &&
          wordish(static_cast<unsigned char>(orig[after])))
        ++in_word;
    }
    const std::size_t invisible = count[0] + count[1] + count[2] + count[3];
    const bool hidden_text = in.text.find("tags") != nullptr;
    if (invisible >= cfg_.min_invisible) {
      Finding f;
      f.detector = "encoding";
      f.category = "encoding_smuggling";
      f.role = in.role;
      f.view = "raw";
      std::string ev;
      for (std::size_t k = 0; k < 4; ++k) {
        if (!count[k]) continue;
        if (!ev.empty()) ev += ", ";
        ev += std::to_string(count[k]) + " " + std::string(text::to_string(static_cast<text::AnomalyKind>(k)));
        f.spans.insert(f.spans.end(), spans[k].begin(), spans[k].end());
      }
      merge_spans(f.spans);
      // Tag characters that decode to text are ASCII smuggling: a hidden instruction. Many invisible
      // characters inside words are deliberate splitting; one or two may be copy-paste debris.
      if (hidden_text) {
        f.severity = Severity::high;
        f.score = 0.95;
        const auto* tags = in.text.find("tags");
        ev += "; hidden text \"" + excerpt(tags->text, 60) + "\"";
      } else if (in_word >= 3 || count[1] > 0) {
        f.severity = Severity::medium;
        f.score = in_word >= 8 ? 0.8 : 0.6;
      } else {
        f.severity = Severity::low;
        f.score = 0.3;
      }
      f.evidence = ev;
      out.push_back(std::move(f));
    }
    if (cfg_.report_invalid_utf8 && count[4] > 0) {
      Finding f;
      f.detector = "encoding";
      f.category = "encoding_smuggling";
      f.role = in.role;
      f.view = "raw";
      f.severity = Severity::low;
      f.score = 0.3;
      f.spans = spans[4];
      merge_spans(f.spans);
      f.evidence = std::to_string(count[4]) + " invalid UTF-8 sequence(s), replaced by U+FFFD";
      out.push_back(std::move(f));
    }
    if (cfg_.min_encoded_words > 0) {
      Finding f;
      std::size_t payloads = 0;
      for (const auto& v : in.text.views) {
        if (!is_encoding_view(v.name) || text_words(v.text) < cfg_.min_encoded_words) continue;
        if (payloads++ == 0) {
          f.evidence = v.name + " payload decodes to text \"" + excerpt(v.text, 60) + "\"";
          f.view = v.name;
        }
        f.spans.push_back(v.to_original(0, static_cast<std::uint32_t>(v.text.size())));
      }
      if (payloads > 0) {
        f.detector = "encoding";
        f.category = "encoding_smuggling";
        f.role = in.role;
        f.severity = in.role == Role::response ? Severity::low : Severity::medium;
        f.score = in.role == Role::response ? 0.3 : 0.6;
        if (payloads > 1) f.evidence += " (+" + std::to_string(payloads - 1) + " more)";
        merge_spans(f.spans);
        out.push_back(std::move(f));
      }
    }
  } catch (...) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

}  // namespace dg::detect
