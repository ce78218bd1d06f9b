// libFuzzer target: Normalizer::normalize and Normalizer::fold on arbitrary bytes, under two configs
// (the defaults, and tight limits with deep decoding), checking the normaliser's contract:
//   * views[0] is "raw" and holds the input; at most max_views views; no view is empty-named;
//   * every view maps every byte range [i, j) of its text to a span of the ORIGINAL input with
//     start <= end <= input size; decoded views (depth > 0) never exceed max_decode_depth;
//   * every anomaly span lies inside the input;
//   * decoded views stay within a generous multiple of max_decoded_bytes (no unbounded blow-up).
// A violation prints what broke and aborts, so libFuzzer records the input as a crash.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "text/normalizer.h"

namespace {

using dg::text::Normalized;
using dg::text::Normalizer;
using dg::text::NormalizerConfig;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_normalizer: invariant violated: %s (%s)\n", what, detail.c_str());
  std::abort();
}

std::shared_ptr<const Normalizer> make(const NormalizerConfig& cfg) {
  auto r = Normalizer::create(cfg);
  if (!r.ok()) {
    std::fprintf(stderr, "fuzz_normalizer: config rejected\n");
    std::abort();
  }
  return *r.value;
}

void check_span(const dg::Span& s, std::size_t input_size, const char* what, const std::string& where) {
  if (s.start > s.end || s.end > input_size)
    fail(what, where + ": span [" + std::to_string(s.start) + ", " + std::to_string(s.end) + ") of input size " +
                   std::to_string(input_size));
}

void check(const Normalizer& norm, std::string_view input) {
  const NormalizerConfig& cfg = norm.config();
  const Normalized n = norm.normalize(input);
  if (n.views.empty() || n.views[0].name != "raw" || n.views[0].text != input) fail("views[0] is the raw input", "");
  if (n.views.size() > cfg.max_views) fail("max_views", std::to_string(n.views.size()) + " views");
  if (n.original.data() != input.data() || n.original.size() != input.size()) fail("original is the input", "");
  if (n.truncated != (input.size() > cfg.max_view_bytes)) fail("truncated flag", "");

  std::size_t decoded_bytes = 0;
  for (std::size_t vi = 0; vi < n.views.size(); ++vi) {
    const dg::text::View& v = n.views[vi];
    const std::string where = "view " + std::to_string(vi) + " '" + v.name + "'";
    if (v.name.empty()) fail("view has a name", where);
    if (v.depth < 0 || v.depth > cfg.max_decode_depth) fail("view depth within max_decode_depth", where);
    if (v.depth > 0) decoded_bytes += v.text.size();
    const auto len = static_cast<std::uint32_t>(v.text.size());
    check_span(v.to_original(0, len), input.size(), "whole-view span", where);
    // Every byte, and a spread of ranges (quadratic over all pairs would be too slow for 4 KB views).
    for (std::uint32_t i = 0; i < len; ++i) {
      check_span(v.to_original(i, i + 1), input.size(), "byte span", where + " byte " + std::to_string(i));
      const std::uint32_t j = i + 1 + (i * 7919u) % (len - i);
      check_span(v.to_original(i, j), input.size(), "range span", where + " [" + std::to_string(i) + ", " + std::to_string(j) + ")");
    }
    // Degenerate ranges callers may pass (empty, reversed, past the end) stay inside the input too.
    check_span(v.to_original(len, len), input.size(), "empty range at end", where);
    check_span(v.to_original(len / 2, len / 2), input.size(), "empty range", where);
    check_span(v.to_original(len + 5, len + 9), input.size(), "range past the end", where);
  }
  // The budget counts decoded bytes before folding, and folding may expand them (NFKC_Casefold turns one
  // code point into up to 18, U+FFFD replaces single bytes): this is a guard against unbounded
  // blow-up, not an exact accounting.
  if (decoded_bytes > 64 * cfg.max_decoded_bytes) fail("decoded bytes bounded", std::to_string(decoded_bytes));

  for (std::size_t ai = 0; ai < n.anomalies.size(); ++ai)
    check_span(n.anomalies[ai].span, input.size(), "anomaly span", "anomaly " + std::to_string(ai));

  (void)norm.fold(input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto defaults = make(NormalizerConfig{});
  static const auto tight = [] {
    NormalizerConfig c;
    c.max_decode_depth = 4;
    c.min_encoded_chars = 8;
    c.max_decoded_bytes = 512;
    c.max_views = 64;
    c.max_view_bytes = 1024;  // inputs longer than this exercise truncation
    return make(c);
  }();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check(*defaults, input);
  check(*tight, input);
  return 0;
}
