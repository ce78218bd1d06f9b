// Internal pieces of the normaliser, shared by its .cc files and their unit tests. Not a public API.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "text/normalizer.h"

namespace dg::text::detail {

// NFKC_Casefold of `src`, dropping invisible characters. When `anomalies` is non-null, invisible,
// bidi, tag and invalid sequences are reported there (with original offsets) and non-benign tag runs
// are decoded into `tag_payloads` (ASCII text + original span).
struct TagPayload {
  std::string text;
  Span span;
};
View fold_nfkc(const View& src, std::string name, std::vector<Anomaly>* anomalies,
               std::vector<TagPayload>* tag_payloads);

// Non-ASCII confusables replaced by their ASCII skeleton. Returns false (and leaves `out` alone)
// when nothing changes.
bool fold_skeleton(const View& src, View& out);
bool fold_leet(const View& src, View& out);
bool fold_despace(const View& src, View& out);
bool looks_rot13(std::string_view folded) noexcept;
View rot13(const View& src);

struct Payload {
  std::string kind;     // "base64", "hex", "url", "unicode_escape", "html_entity"
  std::size_t start = 0;  // byte range in the scanned text
  std::size_t end = 0;
  std::string decoded;
};
// Finds embedded encoded payloads in `s` whose decoding is printable text. Decodes at most
// `budget` bytes in total (decremented).
std::vector<Payload> find_payloads(std::string_view s, std::size_t min_chars, std::size_t& budget);

// True if `s` is valid UTF-8 and mostly printable text (the test for "a payload decoded to text").
bool is_printable_text(std::string_view s) noexcept;

}  // namespace dg::text::detail
