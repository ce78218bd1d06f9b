// The normaliser: one pass that turns an input text into the VIEWS every detector scans, so that
// obfuscation does not hide an attack (DESIGN.md "Normalise once"). Training and serving use the same
// code: no train/serve skew.
//
// Views, each produced only when it differs from what is already there:
//   raw             the input bytes as given
//   nfkc            NFKC + case folding (ICU's NFKC_Casefold), invisible / bidi / tag characters
//                   removed, invalid UTF-8 replaced by U+FFFD
//   skeleton        nfkc with non-ASCII confusables folded to their Latin prototype (UTS #39 skeleton
//                   via ICU's spoof checker), e.g. Cyrillic "іgnоrе" -> "ignore"
//   leet            skeleton (or nfkc) with leetspeak folded inside words that mix letters and digits
//   despaced        leet (or its base) with letter-by-letter spacing joined ("i g n o r e" -> "ignore")
//   rot13           nfkc rotated by 13 when its letter statistics look rotated
//   base64 / hex / url / unicode_escape / tags
//                   embedded payloads decoded (bounded depth and size), then folded like nfkc
//
// Every view maps each of its bytes back to a byte range of the ORIGINAL input; decoded views map
// every byte to the encoded blob they came from.
//
// Thread safety: a Normalizer is immutable after create() and may be shared by any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/finding.h"
#include "core/load_result.h"

namespace dg::text {

struct NormalizerConfig {
  bool skeleton = true;           // confusable (homoglyph) folding view
  bool leetspeak = true;          // leetspeak folding view
  bool despace = true;            // letter-spacing view
  bool rot13 = true;              // rot13 view when letter statistics suggest it
  bool decode = true;             // base64 / hex / url / \uXXXX / tag payload views
  int max_decode_depth = 2;       // payload inside payload inside input: depth 2
  std::size_t min_encoded_chars = 16;       // shortest base64 / hex run considered a payload
  std::size_t max_decoded_bytes = 65536;    // total decoded bytes per input
  std::size_t max_views = 16;               // hard cap on views per input
  std::size_t max_view_bytes = 1u << 20;    // views are built from at most this many input bytes
};

// Validates the config; every problem is reported.
LoadErrors validate(const NormalizerConfig& cfg);

enum class AnomalyKind { zero_width, bidi_control, tag_character, variation_selector, invalid_utf8 };
std::string_view to_string(AnomalyKind k) noexcept;

// An invisible or malformed sequence in the original input. `benign_context` marks uses with a
// legitimate reading (a zero-width joiner inside an emoji sequence, ZWNJ in Persian, a flag's tag
// sequence) that should not count as smuggling.
struct Anomaly {
  AnomalyKind kind;
  Span span;
  std::uint32_t codepoint = 0;
  bool benign_context = false;
};

class View {
 public:
  std::string name;
  std::string text;
  int depth = 0;  // 0 for views of the input itself, n for payloads decoded n levels deep

  // Maps [start, end) of `text` to a byte range of the original input.
  Span to_original(std::uint32_t start, std::uint32_t end) const noexcept;

  // Construction helpers (used by the normaliser; public for tests and for decoders).
  static View identity(std::string name, std::string_view text);
  static View whole(std::string name, std::string text, Span origin, int depth);
  // push / orig_start / orig_end run once per byte in every fold: defined inline below.
  void push(char c, std::uint32_t orig_start, std::uint32_t orig_end);
  void push(std::string_view s, std::uint32_t orig_start, std::uint32_t orig_end);
  bool is_identity() const noexcept { return mode_ == Mode::identity; }
  std::uint32_t orig_start(std::size_t i) const noexcept;
  std::uint32_t orig_end(std::size_t i) const noexcept;

 private:
  enum class Mode { identity, whole, per_byte };
  Mode mode_ = Mode::per_byte;
  Span origin_;
  std::vector<std::uint32_t> start_, end_;
};

inline void View::push(char c, std::uint32_t orig_start, std::uint32_t orig_end) {
  // Folds reserve `text` for the expected size before pushing; size the offset tables alike instead
  // of growing them by doubling.
  if (start_.capacity() < text.capacity()) {
    start_.reserve(text.capacity());
    end_.reserve(text.capacity());
  }
  text.push_back(c);
  start_.push_back(orig_start);
  end_.push_back(orig_end);
}

inline void View::push(std::string_view s, std::uint32_t orig_start, std::uint32_t orig_end) {
  text.append(s);
  start_.insert(start_.end(), s.size(), orig_start);
  end_.insert(end_.end(), s.size(), orig_end);
}

inline std::uint32_t View::orig_start(std::size_t i) const noexcept {
  switch (mode_) {
    case Mode::identity: return static_cast<std::uint32_t>(i);
    case Mode::whole: return origin_.start;
    case Mode::per_byte: return i < start_.size() ? start_[i] : (end_.empty() ? 0 : end_.back());
  }
  return 0;
}

inline std::uint32_t View::orig_end(std::size_t i) const noexcept {
  switch (mode_) {
    case Mode::identity: return static_cast<std::uint32_t>(i + 1);
    case Mode::whole: return origin_.end;
    case Mode::per_byte: return i < end_.size() ? end_[i] : (end_.empty() ? 0 : end_.back());
  }
  return 0;
}

struct Normalized {
  std::string_view original;   // not owned: the caller keeps the input alive
  std::vector<View> views;     // views[0] is "raw"
  std::vector<Anomaly> anomalies;
  bool truncated = false;      // the input exceeded max_view_bytes; views cover a prefix
  bool decode_budget_exhausted = false;

  const View* find(std::string_view name) const noexcept;
};

class Normalizer {
 public:
  static LoadResult<std::shared_ptr<const Normalizer>> create(const NormalizerConfig& cfg);

  // Never throws for any input bytes; bounded in time and memory by the config.
  Normalized normalize(std::string_view input) const;

  const NormalizerConfig& config() const noexcept { return cfg_; }

  // The folding step alone (nfkc view of `s`), for callers that need to compare texts the way the
  // detectors see them (e.g. system-prompt leak detection). Offsets are not tracked.
  std::string fold(std::string_view s) const;

 private:
  explicit Normalizer(NormalizerConfig cfg) : cfg_(cfg) {}
  NormalizerConfig cfg_;
};

}  // namespace dg::text
