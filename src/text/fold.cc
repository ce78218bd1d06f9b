// Folding steps of the normaliser: NFKC_Casefold with invisible-character reporting, confusable
// skeletons, leetspeak, letter spacing and rot13.
#include <unicode/normalizer2.h>
#include <unicode/uspoof.h>
#include <unicode/utf8.h>
#include <unicode/unistr.h>

#include <array>
#include <cctype>
#include <mutex>

#include "text/internal.h"

namespace dg::text::detail {
namespace {

const icu::Normalizer2* nfkc_cf() {
  static const icu::Normalizer2* inst = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = icu::Normalizer2::getNFKCCasefoldInstance(status);
    return U_SUCCESS(status) ? n : nullptr;
  }();
  return inst;
}

bool all_ascii(std::string_view s) noexcept {
  unsigned char acc = 0;
  for (const char c : s) acc |= static_cast<unsigned char>(c);  // vectorised by the compiler
  return acc < 0x80;
}

bool is_rtl_letter(UChar32 c) noexcept { return (c >= 0x0590 && c <= 0x08FF) || (c >= 0xFB1D && c <= 0xFDFF) || (c >= 0xFE70 && c <= 0xFEFF); }

// Invisible characters we strip and report. Returns the kind, or false when `c` is visible.
bool invisible_kind(UChar32 c, AnomalyKind& kind) noexcept {
  switch (c) {
    case 0x200B: case 0x200C: case 0x200D: case 0x2060: case 0xFEFF: case 0x180E: case 0x00AD:
    case 0x034F: case 0x2061: case 0x2062: case 0x2063: case 0x2064: case 0x115F: case 0x1160:
    case 0x3164: case 0xFFA0:
      kind = AnomalyKind::zero_width;
      return true;
    case 0x200E: case 0x200F: case 0x061C: case 0x202A: case 0x202B: case 0x202C: case 0x202D:
    case 0x202E: case 0x2066: case 0x2067: case 0x2068: case 0x2069:
      kind = AnomalyKind::bidi_control;
      return true;
    default:
      break;
  }
  if (c >= 0xE0000 && c <= 0xE007F) {
    kind = AnomalyKind::tag_character;
    return true;
  }
  if ((c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xE0100 && c <= 0xE01EF) || (c >= 0x180B && c <= 0x180D)) {
    kind = AnomalyKind::variation_selector;
    return true;
  }
  return false;
}

bool benign_invisible(AnomalyKind kind, UChar32 c, UChar32 prev, bool at_start, bool in_flag) noexcept {
  switch (kind) {
    case AnomalyKind::zero_width:
      if (c == 0xFEFF && at_start) return true;  // byte-order mark
      // ZWJ / ZWNJ join emoji sequences and shape Indic and Arabic-script words.
      return (c == 0x200C || c == 0x200D) && prev >= 0x80;
    case AnomalyKind::variation_selector:
      return prev >= 0x80;  // emoji and CJK presentation selectors
    case AnomalyKind::bidi_control:
      return is_rtl_letter(prev);
    case AnomalyKind::tag_character:
      return in_flag;  // subdivision flags: U+1F3F4 followed by tags
    case AnomalyKind::invalid_utf8:
      return false;
  }
  return false;
}

// NFKC_Casefold of one code point standing alone (a segment of one), as UTF-8. Segments of one are
// the common case outside ASCII; a per-thread direct-mapped cache saves ICU calls for repeated
// characters (a Cyrillic or CJK text repeats a few hundred code points).
const std::string& fold_code_point(const icu::Normalizer2* norm, UChar32 c) {
  struct Entry {
    UChar32 cp = -1;
    std::string utf8;
  };
  thread_local std::array<Entry, 1024> cache;
  Entry& e = cache[static_cast<std::size_t>(c) & 1023];
  if (e.cp == c) return e.utf8;
  e.utf8.clear();
  const icu::UnicodeString one(c);
  UErrorCode status = U_ZERO_ERROR;
  if (norm) {
    const icu::UnicodeString n = norm->normalize(one, status);
    if (U_SUCCESS(status)) n.toUTF8String(e.utf8);
    else one.toUTF8String(e.utf8);
  } else {
    one.toUTF8String(e.utf8);
  }
  e.cp = c;
  return e.utf8;
}

// A view whose byte k comes from byte k of `src` (a 1:1 fold: case, leetspeak, rot13). An identity
// source gives an identity view, so the common all-ASCII input needs no per-byte offset tables.
View aligned_view(const View& src, std::string name, std::string text) {
  View v;
  if (src.is_identity()) {
    v = View::identity(std::move(name), {});
    v.text = std::move(text);
  } else {
    v.name = std::move(name);
    v.text.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) v.push(text[i], src.orig_start(i), src.orig_end(i));
  }
  v.depth = src.depth;
  return v;
}

}  // namespace

View fold_nfkc(const View& src, std::string name, std::vector<Anomaly>* anomalies,
               std::vector<TagPayload>* tag_payloads) {
  const std::string& s = src.text;
  if (all_ascii(s)) {
    // Nothing for ICU to do and nothing invisible or malformed to report: NFKC_Casefold of ASCII is
    // ASCII lower-casing (what the per-character fast path below does, without offset tables).
    std::string lower(s);
    for (auto& c : lower)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    return aligned_view(src, std::move(name), std::move(lower));
  }
  View out;
  out.name = std::move(name);
  out.depth = src.depth;
  out.text.reserve(s.size());
  const icu::Normalizer2* norm = nfkc_cf();

  // The current segment: most hold one code point (`seg_first`), whose fold comes from a cache;
  // `seg` is filled only when a second code point joins (combining marks, Hangul jamo, ...).
  icu::UnicodeString seg;
  UChar32 seg_first = 0;
  int seg_count = 0;
  std::int32_t seg_from = -1, seg_to = 0;  // byte range of the segment in `s`
  std::string utf8;
  auto add = [&](UChar32 c) {
    if (seg_count == 0) {
      seg_first = c;
    } else {
      if (seg_count == 1) seg.append(seg_first);
      seg.append(c);
    }
    ++seg_count;
  };
  auto flush = [&] {
    if (seg_from < 0) return;
    const std::uint32_t o_start = src.orig_start(static_cast<std::size_t>(seg_from));
    const std::uint32_t o_end = src.orig_end(static_cast<std::size_t>(seg_to - 1));
    if (seg_count == 1) {
      out.push(fold_code_point(norm, seg_first), o_start, o_end);
    } else {
      utf8.clear();
      if (norm) {
        UErrorCode status = U_ZERO_ERROR;
        icu::UnicodeString n = norm->normalize(seg, status);
        if (U_SUCCESS(status)) n.toUTF8String(utf8);
        else seg.toUTF8String(utf8);
      } else {
        seg.toUTF8String(utf8);
      }
      out.push(utf8, o_start, o_end);
      seg.remove();
    }
    seg_count = 0;
    seg_from = -1;
  };

  const std::int32_t len = static_cast<std::int32_t>(s.size());
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(s.data());
  UChar32 prev = 0;
  bool in_flag = false;
  TagPayload tags;
  auto end_tag_run = [&] {
    if (!tags.text.empty() && tag_payloads) tag_payloads->push_back(tags);
    tags = TagPayload{};
  };
  std::int32_t i = 0;
  while (i < len) {
    const std::uint8_t b = bytes[i];
    // ASCII fast path: an ASCII character followed by ASCII (or the end) is its own segment.
    if (b < 0x80 && (i + 1 >= len || bytes[i + 1] < 0x80)) {
      flush();
      if (tag_payloads) end_tag_run();
      in_flag = false;
      const char c = (b >= 'A' && b <= 'Z') ? static_cast<char>(b + 32) : static_cast<char>(b);
      out.push(c, src.orig_start(i), src.orig_end(i));
      prev = b;
      ++i;
      continue;
    }
    const std::int32_t start = i;
    UChar32 c = 0;
    U8_NEXT(bytes, i, len, c);
    if (c < 0) {
      flush();
      if (anomalies)
        anomalies->push_back({AnomalyKind::invalid_utf8, {src.orig_start(start), src.orig_end(i - 1)}, 0, false});
      out.push("\xEF\xBF\xBD", src.orig_start(start), src.orig_end(i - 1));
      prev = 0xFFFD;
      continue;
    }
    AnomalyKind kind{};
    if (invisible_kind(c, kind)) {
      if (anomalies) {
        const bool benign = benign_invisible(kind, c, prev, start == 0, in_flag);
        anomalies->push_back({kind, {src.orig_start(start), src.orig_end(i - 1)},
                              static_cast<std::uint32_t>(c), benign});
        if (kind == AnomalyKind::tag_character && !benign && tag_payloads) {
          if (c >= 0xE0020 && c <= 0xE007E) {
            if (tags.text.empty()) tags.span.start = src.orig_start(start);
            tags.text.push_back(static_cast<char>(c - 0xE0000));
            tags.span.end = src.orig_end(i - 1);
          }
        }
      }
      if (c == 0xE007F) in_flag = false;  // cancel tag ends a flag sequence
      continue;  // dropped from the view; `prev` keeps the visible neighbour
    }
    if (tag_payloads) end_tag_run();
    in_flag = (c == 0x1F3F4);
    if (seg_from >= 0 && (!norm || norm->hasBoundaryBefore(c))) flush();
    if (seg_from < 0) seg_from = start;
    seg_to = i;
    add(c);
    prev = c;
  }
  flush();
  if (tag_payloads) end_tag_run();
  return out;
}

namespace {

struct Spoof {
  USpoofChecker* checker = nullptr;
  Spoof() {
    UErrorCode status = U_ZERO_ERROR;
    checker = uspoof_open(&status);
    if (U_FAILURE(status)) checker = nullptr;
  }
  ~Spoof() {
    if (checker) uspoof_close(checker);
  }
};

// The ASCII skeleton of one non-ASCII code point, or "" when it has none. ICU's spoof checker is
// thread-safe for skeleton queries once opened; the per-thread cache keeps the hot path lock-free.
const std::string& ascii_skeleton(UChar32 c) {
  static Spoof spoof;
  // Direct-mapped per-thread cache (like fold_code_point): bounded memory, no hashing, no locks.
  struct Entry {
    UChar32 cp = -1;
    std::string skeleton;
  };
  thread_local std::array<Entry, 2048> cache;
  Entry& e = cache[static_cast<std::size_t>(c) & 2047];
  if (e.cp == c) return e.skeleton;
  std::string result;
  if (spoof.checker) {
    char in[5];
    std::int32_t n = 0;
    UBool err = false;
    U8_APPEND(reinterpret_cast<std::uint8_t*>(in), n, 4, c, err);
    if (!err) {
      char buf[64];
      UErrorCode status = U_ZERO_ERROR;
      const std::int32_t k = uspoof_getSkeletonUTF8(spoof.checker, 0, in, n, buf, sizeof buf, &status);
      if (U_SUCCESS(status) && k > 0 && k < static_cast<std::int32_t>(sizeof buf)) {
        bool ascii = true, alnum = false;
        for (std::int32_t j = 0; j < k; ++j) {
          const auto ch = static_cast<unsigned char>(buf[j]);
          if (ch >= 0x80 || ch < 0x20) ascii = false;
          if (std::isalnum(ch)) alnum = true;
        }
        if (ascii && alnum) {
          result.assign(buf, static_cast<std::size_t>(k));
          for (auto& ch : result) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        }
      }
    }
  }
  e.cp = c;
  e.skeleton = std::move(result);
  return e.skeleton;
}

}  // namespace

bool fold_skeleton(const View& src, View& out) {
  const std::string& s = src.text;
  if (all_ascii(s)) return false;  // only non-ASCII characters have a skeleton
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(s.data());
  const std::int32_t len = static_cast<std::int32_t>(s.size());
  bool changed = false;
  View v;
  v.name = "skeleton";
  v.depth = src.depth;
  v.text.reserve(s.size());
  std::int32_t i = 0;
  while (i < len) {
    if (bytes[i] < 0x80) {
      v.push(static_cast<char>(bytes[i]), src.orig_start(i), src.orig_end(i));
      ++i;
      continue;
    }
    const std::int32_t start = i;
    UChar32 c = 0;
    U8_NEXT(bytes, i, len, c);
    const std::uint32_t o_start = src.orig_start(start), o_end = src.orig_end(i - 1);
    if (c >= 0) {
      const std::string& sk = ascii_skeleton(c);
      if (!sk.empty()) {
        v.push(sk, o_start, o_end);
        changed = true;
        continue;
      }
    }
    v.push(std::string_view(s.data() + start, static_cast<std::size_t>(i - start)), o_start, o_end);
  }
  if (changed) out = std::move(v);
  return changed;
}

namespace {
char leet_letter(char c) noexcept {
  switch (c) {
    case '0': return 'o';
    case '1': return 'i';
    case '!': return 'i';
    case '|': return 'l';
    case '3': return 'e';
    case '4': return 'a';
    case '@': return 'a';
    case '5': return 's';
    case '$': return 's';
    case '7': return 't';
    case '+': return 't';
    case '8': return 'b';
    case '9': return 'g';
    default: return 0;
  }
}
bool is_lower_alpha(char c) noexcept { return c >= 'a' && c <= 'z'; }
bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
// One table lookup per byte for the word scan of fold_leet.
enum : std::uint8_t { kSpaceChar = 1, kLowerChar = 2, kLeetChar = 4 };
const std::array<std::uint8_t, 256> kLeetClass = [] {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    t[static_cast<std::size_t>(c)] = static_cast<std::uint8_t>((is_space(ch) ? kSpaceChar : 0) |
                                                               (is_lower_alpha(ch) ? kLowerChar : 0) |
                                                               (leet_letter(ch) ? kLeetChar : 0));
  }
  return t;
}();
}  // namespace

bool fold_leet(const View& src, View& out) {
  const std::string& s = src.text;
  bool changed = false;
  std::string text;  // built only once a word needs folding
  auto cls = [&](std::size_t k) { return kLeetClass[static_cast<unsigned char>(s[k])]; };
  std::size_t i = 0;
  while (i < s.size()) {
    // Only tokens holding a leet character can change: jump to the next one, then to its token.
    std::size_t probe = i;
    while (probe < s.size() && !(cls(probe) & kLeetChar)) ++probe;
    if (probe == s.size()) break;
    i = probe;
    while (i > 0 && !(cls(i - 1) & kSpaceChar)) --i;
    std::size_t j = i;
    std::uint8_t seen = 0;
    for (std::uint8_t k; j < s.size() && !((k = cls(j)) & kSpaceChar); ++j) seen |= k;
    if ((seen & kLowerChar) && (seen & kLeetChar) && j - i <= 64) {
      // Only word-like tokens: some letters, and
      // neither a long token (keys, hashes, URLs), an e-mail address nor code like "++i". Trailing punctuation
      // ("hello!!!") and a leading '@' / '$' (handles, prices) stay as they are.
      std::size_t end = j;
      auto trailing = [](char c) {
        return c == '!' || c == '|' || c == '.' || c == ',' || c == '?' || c == ';' || c == ':' || c == ')' ||
               c == '"' || c == '\'';
      };
      while (end > i && trailing(s[end - 1])) --end;
      std::size_t letters = 0, leet = 0;
      bool at = false, dot = false, doubled_symbol = false;
      for (std::size_t k = i; k < end; ++k) {
        const char c = s[k];
        if (c >= 'a' && c <= 'z') ++letters;
        else if (leet_letter(c) && !(k == i && (c == '@' || c == '$'))) ++leet;
        at |= c == '@';
        dot |= c == '.';
        // "++i", "$$", "||": code and markup, not words
        if (k > i && c == s[k - 1] && (c == '+' || c == '$' || c == '|' || c == '!' || c == '@')) doubled_symbol = true;
      }
      if (letters >= 1 && leet > 0 && !(at && dot) && !doubled_symbol) {
        for (std::size_t k = i; k < end; ++k) {
          const char c = s[k];
          if (k == i && (c == '@' || c == '$')) continue;
          if (const char l = leet_letter(c)) {
            if (!changed) {
              text.assign(s);
              changed = true;
            }
            text[k] = l;
          }
        }
      }
    }
    i = j;
  }
  if (changed) out = aligned_view(src, "leet", std::move(text));
  return changed;
}

namespace {
enum : std::uint8_t { kAlnumChar = 1, kSepChar = 2 };
const std::array<std::uint8_t, 256> kDespaceClass = [] {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) t[static_cast<std::size_t>(c)] = kAlnumChar;
    if (c == ' ' || c == '.' || c == '-' || c == '_' || c == '*' || c == '|' || c == '/' || c == ',')
      t[static_cast<std::size_t>(c)] = kSepChar;
  }
  return t;
}();

// Is there a run of at least 4 "singles" (alphanumerics without alphanumeric neighbours) separated
// by 1 to 3 separator characters, as in "i g n o r e" or "i.g.n.o.r.e"? One pass over tokens.
bool has_spaced_run(std::string_view s) noexcept {
  auto cls = [&](std::size_t k) { return kDespaceClass[static_cast<unsigned char>(s[k])]; };
  std::size_t count = 0, prev_end = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    if (!(cls(i) & kAlnumChar)) {
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    while (j < s.size() && (cls(j) & kAlnumChar)) ++j;
    if (j - i == 1) {
      const std::size_t gap = i - prev_end;
      bool joined = count > 0 && gap >= 1 && gap <= 3;
      for (std::size_t k = prev_end; joined && k < i; ++k) joined = (cls(k) & kSepChar) != 0;
      count = joined ? count + 1 : 1;
      if (count >= 4) return true;
      prev_end = j;
    } else {
      count = 0;
    }
    i = j;
  }
  return false;
}
}  // namespace

bool fold_despace(const View& src, View& out) {
  const std::string& s = src.text;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  auto sep = [](char c) { return c == ' ' || c == '.' || c == '-' || c == '_' || c == '*' || c == '|' || c == '/' || c == ','; };
  // A "single" is an alphanumeric character with no alphanumeric neighbour.
  auto single = [&](std::size_t k) {
    return alnum(s[k]) && (k == 0 || !alnum(s[k - 1])) && (k + 1 >= s.size() || !alnum(s[k + 1]));
  };
  if (!has_spaced_run(s)) return false;  // most texts have none: one cheap pass
  bool changed = false;
  View v;
  v.name = "despaced";
  v.depth = src.depth;
  v.text.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    if (single(i)) {
      // Collect a run: single, (sep{1,3} single)*; a run of at least 4 letters is joined.
      std::vector<std::size_t> letters{i};
      std::vector<bool> word_break;
      std::size_t k = i + 1;
      while (k < s.size()) {
        std::size_t g = k;
        while (g < s.size() && sep(s[g]) && g - k < 3) ++g;
        if (g == k || g >= s.size() || !single(g)) break;
        word_break.push_back(g - k >= 2);  // a wider gap separates words
        letters.push_back(g);
        k = g + 1;
      }
      if (letters.size() >= 4) {
        for (std::size_t n = 0; n < letters.size(); ++n) {
          if (n > 0 && word_break[n - 1]) {
            const std::size_t p = letters[n - 1] + 1;
            v.push(' ', src.orig_start(p), src.orig_end(p));
          }
          v.push(s[letters[n]], src.orig_start(letters[n]), src.orig_end(letters[n]));
        }
        changed = true;
        i = letters.back() + 1;
        // the gap after a run becomes one space
        const std::size_t gap = i;
        while (i < s.size() && sep(s[i]) && i - gap < 3) ++i;
        if (i > gap) v.push(' ', src.orig_start(gap), src.orig_end(gap));
        continue;
      }
    }
    v.push(s[i], src.orig_start(i), src.orig_end(i));
    ++i;
  }
  if (changed) out = std::move(v);
  return changed;
}

bool looks_rot13(std::string_view folded) noexcept {
  // "rot13", "rot-13", "rot 13" (one search for "rot": 'r' is too common a letter to search three times)
  for (std::size_t p = folded.find("rot"); p != std::string_view::npos; p = folded.find("rot", p + 3)) {
    const std::string_view rest = folded.substr(p + 3, 3);
    if (rest.starts_with("13") || rest == "-13" || rest == " 13") return true;
  }
  if (folded.find("caesar") != std::string_view::npos) return true;
  // Byte histogram first (no data-dependent branch per byte), letters from it.
  std::array<std::uint32_t, 256> bytes{};
  for (char c : folded) ++bytes[static_cast<unsigned char>(c)];
  std::array<std::size_t, 26> freq{};
  std::size_t letters = 0;
  for (std::size_t k = 0; k < 26; ++k) {
    freq[k] = bytes['a' + k];
    letters += freq[k];
  }
  if (letters < 24) return false;
  // e, t, a, o are the most frequent letters of English and most Latin-script languages; rot13 moves
  // them to r, g, n, b.
  const std::size_t plain = freq['e' - 'a'] + freq['t' - 'a'] + freq['a' - 'a'] + freq['o' - 'a'];
  const std::size_t rotated = freq['r' - 'a'] + freq['g' - 'a'] + freq['n' - 'a'] + freq['b' - 'a'];
  return rotated > plain + letters / 20;
}

View rot13(const View& src) {
  std::string text(src.text);
  for (auto& c : text)
    if (c >= 'a' && c <= 'z') c = static_cast<char>('a' + (c - 'a' + 13) % 26);
  return aligned_view(src, "rot13", std::move(text));
}

}  // namespace dg::text::detail
