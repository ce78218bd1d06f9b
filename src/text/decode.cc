// Payload finders and decoders: base64, hex, percent-encoding, \uXXXX escapes and HTML numeric
// entities embedded in a text. Each finder is a single bounded pass; nothing recurses here (the
// normaliser bounds the depth).
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "text/codec.h"
#include "text/internal.h"

namespace dg::text::detail {
namespace {

constexpr int hexval(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr int b64val(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  std::uint8_t buf[4];
  std::int32_t n = 0;
  UBool err = false;
  U8_APPEND(buf, n, 4, static_cast<UChar32>(cp), err);
  if (err) return;
  out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
}


bool take(std::size_t n, std::size_t& budget) {
  if (n > budget) return false;
  budget -= n;
  return true;
}

// Character classes for the payload finders, one table lookup per byte.
enum : std::uint8_t { kB64 = 1, kHex = 2, kHexRun = 4, kUpper = 8, kLower = 16, kDigit = 32 };
constexpr std::array<std::uint8_t, 256> kClass = [] {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    std::uint8_t v = 0;
    if (b64val(static_cast<char>(c)) >= 0) v |= kB64;
    if (hexval(static_cast<char>(c)) >= 0) v |= kHex | kHexRun;
    // what a hex payload may contain besides digits: "\x" / "0x" prefixes and pair separators
    if (c == '\\' || c == 'x' || c == 'X' || c == ' ' || c == ':' || c == ',') v |= kHexRun;
    if (c >= 'A' && c <= 'Z') v |= kUpper;
    if (c >= 'a' && c <= 'z') v |= kLower;
    if (c >= '0' && c <= '9') v |= kDigit;
    t[static_cast<std::size_t>(c)] = v;
  }
  return t;
}();
inline std::uint8_t cls(char c) noexcept { return kClass[static_cast<unsigned char>(c)]; }

// Calls fn(start, end) for every maximal run of bytes in class `mask` that is at least `min_len`
// long. Such a run covers every min_len-th position, so only those are probed; a probe that lands in
// a run extends it both ways. Prose (short words) costs about one probe per `min_len` bytes.
template <typename Fn>
void for_each_long_run(std::string_view s, std::uint8_t mask, std::size_t min_len, Fn fn) {
  const std::size_t step = std::max<std::size_t>(min_len, 1);
  std::size_t floor = 0;  // no run starts before this
  for (std::size_t i = step - 1; i < s.size();) {
    if (!(cls(s[i]) & mask)) {
      i += step;
      continue;
    }
    std::size_t start = i, end = i + 1;
    while (start > floor && (cls(s[start - 1]) & mask)) --start;
    while (end < s.size() && (cls(s[end]) & mask)) ++end;
    if (end - start >= min_len) fn(start, end);
    floor = end;
    i = end + step;  // the next run starts after s[end], which is outside the class
  }
}

// Runs of base64 alphabet characters (with optional '=' padding).
void find_base64(std::string_view s, std::size_t min_chars, std::size_t& budget, std::vector<Payload>& out) {
  for_each_long_run(s, kB64, min_chars, [&](std::size_t i, std::size_t j) {
    std::uint8_t seen = 0;
    for (std::size_t k = i; k < j; ++k) seen |= cls(s[k]);
    std::size_t end = j;
    while (end < s.size() && s[end] == '=' && end - j < 2) ++end;
    // Natural-language words are long runs of lower-case letters: a payload mixes classes.
    const bool upper = seen & kUpper, lower = seen & kLower, digit = seen & kDigit;
    const bool mixed = (upper && lower) || (digit && (upper || lower));
    if (!mixed) return;
    std::string dec = decode_base64(s.substr(i, j - i));
    if (is_printable_text(dec) && take(dec.size(), budget)) out.push_back({"base64", i, end, std::move(dec)});
  });
}

// Contiguous hex ("49676e6f7265"), "\x49\x67" escapes and space-separated pairs ("49 67 6e").
// A payload lies inside one run of kHexRun characters; runs with fewer than `min_chars` hex digits
// (almost every run of prose) are skipped without decoding.
void find_hex(std::string_view s, std::size_t min_chars, std::size_t& budget, std::vector<Payload>& out) {
  for_each_long_run(s, kHexRun, min_chars, [&](std::size_t run, std::size_t run_end) {
    std::size_t hex_digits = 0;
    for (std::size_t k = run; k < run_end; ++k) hex_digits += (cls(s[k]) & kHex) != 0;
    if (hex_digits < min_chars) return;
    std::size_t i = run;
    while (i < run_end) {
      const std::size_t start = i;
      std::string dec;
      std::size_t digits = 0;
      std::size_t k = i;
      while (k < s.size()) {
        std::size_t p = k;
        if (p + 1 < s.size() && s[p] == '\\' && (s[p + 1] == 'x' || s[p + 1] == 'X')) p += 2;
        else if (p + 1 < s.size() && s[p] == '0' && (s[p + 1] == 'x' || s[p + 1] == 'X') && dec.empty() == false) p += 2;
        if (p + 1 < s.size() && hexval(s[p]) >= 0 && hexval(s[p + 1]) >= 0) {
          dec.push_back(static_cast<char>(hexval(s[p]) * 16 + hexval(s[p + 1])));
          digits += 2;
          k = p + 2;
          // one separator between pairs is allowed when the next pair follows it
          if (k + 2 < s.size() && (s[k] == ' ' || s[k] == ':' || s[k] == ',') && hexval(s[k + 1]) >= 0 &&
              hexval(s[k + 2]) >= 0 && (k + 3 >= s.size() || hexval(s[k + 3]) < 0 || s[k + 3] == ' '))
            ++k;
          continue;
        }
        break;
      }
      if (digits >= min_chars && is_printable_text(dec) && take(dec.size(), budget)) {
        out.push_back({"hex", start, k, std::move(dec)});
        i = k;
        continue;
      }
      // skip the rest of this token
      i = (k > start) ? k : start + 1;
    }
  });
}

// Region decoders: percent-encoding, \u escapes, HTML numeric entities. When at least `min_escapes`
// escapes occur, the region from the first to the last escape is decoded as one payload, so that a
// sentence encoded word by word decodes as the sentence.
// Every escape starts with `lead` ('%', '\\', '&'): the scan jumps from one to the next.
template <typename Matcher>
void find_region(std::string_view s, const char* kind, char lead, std::size_t min_escapes, Matcher match,
                 std::size_t& budget, std::vector<Payload>& out) {
  std::size_t first = std::string_view::npos, last = 0, count = 0;
  for (std::size_t i = s.find(lead); i < s.size(); i = s.find(lead, i)) {
    std::uint32_t cp = 0;
    const std::size_t n = match(s, i, cp);
    if (n) {
      if (first == std::string_view::npos) first = i;
      last = i + n;
      ++count;
      i += n;
    } else {
      ++i;
    }
  }
  if (count < min_escapes) return;
  // Widen to the enclosing tokens: "ignore%20all%20rules" decodes as a whole.
  auto space = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '"' || c == '\''; };
  while (first > 0 && !space(s[first - 1])) --first;
  while (last < s.size() && !space(s[last])) ++last;
  std::string dec;
  for (std::size_t i = first; i < last;) {
    std::uint32_t cp = 0;
    const std::size_t n = match(s, i, cp);
    if (n) {
      append_utf8(dec, cp);
      i += n;
    } else {
      dec.push_back(s[i]);
      ++i;
    }
  }
  if (is_printable_text(dec) && take(dec.size(), budget)) out.push_back({kind, first, last, std::move(dec)});
}

std::size_t match_percent(std::string_view s, std::size_t i, std::uint32_t& cp) {
  // A run of %XX bytes decoding to one UTF-8 character; ASCII bytes are a run of one.
  if (i + 2 >= s.size() + 0 || s[i] != '%' || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) return 0;
  std::array<std::uint8_t, 4> buf{};
  std::size_t n = 0, k = i;
  while (n < 4 && k + 2 < s.size() + 0 && s[k] == '%' && hexval(s[k + 1]) >= 0 && hexval(s[k + 2]) >= 0) {
    buf[n++] = static_cast<std::uint8_t>(hexval(s[k + 1]) * 16 + hexval(s[k + 2]));
    k += 3;
    std::int32_t off = 0;
    UChar32 c = 0;
    U8_NEXT(buf.data(), off, static_cast<std::int32_t>(n), c);
    if (c >= 0 && static_cast<std::size_t>(off) == n) {
      cp = static_cast<std::uint32_t>(c);
      return k - i;
    }
    if (buf[0] < 0x80) break;
  }
  cp = 0xFFFD;
  return 3;
}

std::size_t match_uescape(std::string_view s, std::size_t i, std::uint32_t& cp) {
  if (i + 5 >= s.size() + 0 || s[i] != '\\' || (s[i + 1] != 'u' && s[i + 1] != 'U')) return 0;
  std::uint32_t v = 0;
  for (std::size_t k = 2; k < 6; ++k) {
    const int h = hexval(s[i + k]);
    if (h < 0) return 0;
    v = v * 16 + static_cast<std::uint32_t>(h);
  }
  // UTF-16 surrogate pair: \uD83D\uDE00
  if (v >= 0xD800 && v <= 0xDBFF && i + 11 < s.size() + 0 && s[i + 6] == '\\' && s[i + 7] == 'u') {
    std::uint32_t lo = 0;
    bool ok = true;
    for (std::size_t k = 8; k < 12; ++k) {
      const int h = hexval(s[i + k]);
      if (h < 0) { ok = false; break; }
      lo = lo * 16 + static_cast<std::uint32_t>(h);
    }
    if (ok && lo >= 0xDC00 && lo <= 0xDFFF) {
      cp = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
      return 12;
    }
  }
  cp = v;
  return 6;
}

std::size_t match_entity(std::string_view s, std::size_t i, std::uint32_t& cp) {
  if (i + 3 >= s.size() || s[i] != '&' || s[i + 1] != '#') return 0;
  std::size_t k = i + 2;
  const bool hex = (s[k] == 'x' || s[k] == 'X');
  if (hex) ++k;
  std::uint32_t v = 0;
  std::size_t digits = 0;
  while (k < s.size() && digits < 7) {
    const int h = hex ? hexval(s[k]) : ((s[k] >= '0' && s[k] <= '9') ? s[k] - '0' : -1);
    if (h < 0) break;
    v = v * (hex ? 16 : 10) + static_cast<std::uint32_t>(h);
    ++digits;
    ++k;
  }
  if (digits == 0 || k >= s.size() || s[k] != ';') return 0;
  cp = v;
  return k + 1 - i;
}

}  // namespace

bool is_printable_text(std::string_view s) noexcept {
  if (s.size() < 4) return false;
  const auto* b = reinterpret_cast<const std::uint8_t*>(s.data());
  const std::int32_t len = static_cast<std::int32_t>(s.size());
  std::size_t printable = 0, total = 0, letters = 0;
  std::int32_t i = 0;
  while (i < len) {
    UChar32 c = 0;
    U8_NEXT(b, i, len, c);
    if (c < 0) return false;
    ++total;
    if (c == '\n' || c == '\r' || c == '\t' || (c >= 0x20 && c != 0x7F && !(c >= 0x80 && c < 0xA0))) ++printable;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0xC0) ++letters;
  }
  return total > 0 && printable * 100 >= total * 95 && letters * 2 >= total;
}

std::vector<Payload> find_payloads(std::string_view s, std::size_t min_chars, std::size_t& budget) {
  std::vector<Payload> out;
  find_base64(s, min_chars, budget, out);
  find_hex(s, min_chars, budget, out);
  find_region(s, "url", '%', 3, match_percent, budget, out);
  find_region(s, "unicode_escape", '\\', 2, match_uescape, budget, out);
  find_region(s, "html_entity", '&', 3, match_entity, budget, out);
  return out;
}

}  // namespace dg::text::detail

namespace dg::text {

std::string decode_base64(std::string_view s, std::size_t max_out) {
  std::string out;
  out.reserve(std::min(s.size() * 3 / 4, max_out));
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : s) {
    const int v = detail::b64val(c);
    if (v < 0) break;  // '=' padding or the end of the payload
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
      if (out.size() >= max_out) break;
    }
  }
  return out;
}

}  // namespace dg::text
