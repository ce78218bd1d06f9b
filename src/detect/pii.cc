#include "detect/pii.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <optional>

#include "core/errors.h"

namespace dg::detect {

// Candidates come from one Hyperscan database; the exact boundaries and the decision come from the
// hand-written scanners below (the validators live in pii_validate.cc). Phones, cards and SSNs share
// one number scanner so that a digit run is claimed by at most one type.

namespace {

using Type = PiiDetector::Type;

unsigned prefix_num(std::string_view d, std::size_t n) noexcept {
  unsigned v = 0;
  for (std::size_t i = 0; i < n && i < d.size(); ++i) v = v * 10 + static_cast<unsigned>(d[i] - '0');
  return v;
}

constexpr std::size_t kTypeCount = static_cast<std::size_t>(Type::count);
constexpr std::array<std::string_view, kTypeCount> kTypeNames{"email", "phone", "card", "iban", "ssn", "ip"};
constexpr std::array<std::string_view, kTypeCount> kLabels{"EMAIL", "PHONE", "CARD", "IBAN", "SSN", "IP"};

enum PatternId : unsigned { kEmail, kNumeric, kIpv4, kIpv6, kIban };

class PiiScratch final : public Scratch {
 public:
  explicit PiiScratch(const HsDatabase* db) : hs({db}) {}
  HsScratch hs;
  std::vector<HsMatch> matches;
};

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) noexcept { return is_digit(c) || is_alpha(c); }
bool is_hex(char c) noexcept { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_word(char c) noexcept { return is_alnum(c) || c == '_'; }
char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

struct Item {
  Span span;
  std::string note;  // brand, country, "IPv4"... (never the value)
  bool context = false;
  double score = 0.0;
};

// Up to `n` ASCII words (lower case) nearest to `pos`, on the same line, within `window` bytes.
std::vector<std::string> words_near(std::string_view t, std::size_t pos, bool before, std::size_t n,
                                    std::size_t window) {
  std::vector<std::string> words;
  if (before) {
    std::size_t i = pos;
    const std::size_t lo = pos > window ? pos - window : 0;
    while (i > lo && words.size() < n && t[i - 1] != '\n') {
      if (!is_alpha(t[i - 1])) { --i; continue; }
      std::size_t e = i;
      while (i > 0 && is_alpha(t[i - 1])) --i;
      std::string w;
      for (std::size_t k = i; k < e; ++k) w.push_back(lower(t[k]));
      words.push_back(std::move(w));
    }
  } else {
    std::size_t i = pos;
    const std::size_t hi = std::min(t.size(), pos + window);
    while (i < hi && words.size() < n && t[i] != '\n') {
      if (!is_alpha(t[i])) { ++i; continue; }
      std::string w;
      while (i < t.size() && is_alpha(t[i])) w.push_back(lower(t[i++]));
      words.push_back(std::move(w));
    }
  }
  return words;
}

bool any_word(const std::vector<std::string>& words, std::initializer_list<std::string_view> set) {
  for (const auto& w : words)
    for (const auto s : set)
      if (w == s) return true;
  return false;
}

// --- numbers: cards, SSNs, phones ---------------------------------------------------------------

struct Group {
  std::uint32_t start, end;            // the digits
  std::uint32_t item_start, item_end;  // including parentheses
  char sep;                            // separator before this group: ' ', '-', '.', ')' / '(' (adjacent), 0
  bool paren;
};

struct Run {
  std::uint32_t start = 0, end = 0;  // including a leading '+'
  bool plus = false;
  std::vector<Group> groups;
};

bool is_run_char(char c) noexcept {
  return is_digit(c) || c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+';
}

class NumberScanner {
 public:
  NumberScanner(std::string_view t, std::array<std::vector<Item>, kTypeCount>& out) : t_(t), out_(out) {}

  // Handles the run around the digit at `d`; returns the end of what was consumed.
  std::size_t at_digit(std::size_t d) {
    std::size_t k = d;
    while (k > 0 && d - k < 64 && is_run_char(t_[k - 1])) --k;
    while (k < d && !is_digit(t_[k]) && !(t_[k] == '+' && is_digit(at(k + 1))) &&
           !(t_[k] == '(' && (is_digit(at(k + 1)) || (at(k + 1) == '+' && is_digit(at(k + 2))))))
      ++k;
    Run run;
    if (!parse(k, run) || run.end <= d) {
      k = (d > 0 && t_[d - 1] == '(') ? d - 1 : d;
      if (!parse(k, run)) return d + 1;
    }
    const char before = run.start > 0 ? t_[run.start - 1] : ' ';
    const char before2 = run.start > 1 ? t_[run.start - 2] : ' ';
    // glued to a word, a path, an amount or an address: not a number of ours
    const bool glued_left = is_word(before) || before == '@' || before == '/' || before == '\\' || before == '$' ||
                            (static_cast<unsigned char>(before) >= 0x80 && is_currency_before(run.start)) ||
                            ((before == '.' || before == '-' || before == ',') && is_alnum(before2));
    classify_run(run, glued_left ? 1 : 0);  // a glued first segment is skipped, not the whole run
    return run.end;
  }

 private:
  char at(std::size_t i) const noexcept { return i < t_.size() ? t_[i] : '\0'; }

  bool is_currency_before(std::size_t pos) const noexcept {
    // U+20AC euro, U+00A3 pound, U+00A5 yen, U+20B9 rupee (UTF-8 tails)
    const auto ends_with = [&](std::string_view s) {
      return pos >= s.size() && t_.substr(pos - s.size(), s.size()) == s;
    };
    return ends_with("\xE2\x82\xAC") || ends_with("\xC2\xA3") || ends_with("\xC2\xA5") || ends_with("\xE2\x82\xB9");
  }

  bool parse(std::size_t i, Run& run) const {
    run = Run{};
    run.start = static_cast<std::uint32_t>(i);
    if (at(i) == '+') {
      run.plus = true;
      ++i;
    }
    char sep = 0;
    while (run.groups.size() < 24) {
      std::size_t j = i;
      const bool paren = at(j) == '(';
      if (paren) ++j;
      if (paren && run.groups.empty() && !run.plus && at(j) == '+') {  // "(+44) 20 ..."
        run.plus = true;
        ++j;
      }
      if (!is_digit(at(j))) break;
      const std::size_t gs = j;
      while (is_digit(at(j)) && j - gs < 24) ++j;
      const std::size_t ge = j;
      if (paren) {
        if (at(j) != ')') break;
        ++j;
      }
      run.groups.push_back({static_cast<std::uint32_t>(gs), static_cast<std::uint32_t>(ge),
                            static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(j), sep, paren});
      i = j;
      const char c = at(i);
      if ((c == ' ' || c == '-' || c == '.') && (is_digit(at(i + 1)) || (at(i + 1) == '(' && is_digit(at(i + 2))))) {
        sep = c;
        ++i;
      } else if (paren && is_digit(c)) {
        sep = ')';
      } else if (c == '(' && is_digit(at(i + 1))) {
        sep = '(';
      } else {
        break;
      }
    }
    if (run.groups.empty()) return false;
    run.end = run.groups.back().item_end;
    return true;
  }

  struct Range {
    const Run* run;
    std::size_t g0, g1;  // groups [g0, g1]
    std::uint32_t start, end;
    std::string digits;
    bool plus, paren;
  };

  void classify_run(const Run& run, std::size_t first_seg) {
    // Segments: groups joined by anything but a space. A candidate is a span of whole segments, so a
    // date or a code joined by dashes is never cut in half.
    std::vector<std::pair<std::size_t, std::size_t>> segs;
    for (std::size_t g = 0; g < run.groups.size(); ++g) {
      if (g == 0 || run.groups[g].sep == ' ') segs.push_back({g, g});
      else segs.back().second = g;
    }
    // glued on the right ("12345abc", "555-1234@host") spoils only the last segment
    std::size_t last_seg = segs.size();
    const char after = at(run.end);
    if ((is_alpha(after) && !extension_at(run.end)) || is_digit(after) || after == '_' || after == '@' ||
        after == '/' || after == '%' || (after == ':' && is_digit(at(run.end + 1))))
      --last_seg;
    for (std::size_t a = first_seg; a < last_seg;) {
      std::size_t taken = 0;
      for (std::size_t b = std::min(last_seg, a + 8); b-- > a;) {
        Range r{&run, segs[a].first, segs[b].second, 0, 0, {}, a == 0 && run.plus, false};
        r.start = a == 0 ? run.start : run.groups[r.g0].item_start;
        r.end = run.groups[r.g1].item_end;
        for (std::size_t g = r.g0; g <= r.g1; ++g) {
          r.digits.append(t_.substr(run.groups[g].start, run.groups[g].end - run.groups[g].start));
          r.paren |= run.groups[g].paren;
        }
        if (classify(r)) {
          taken = b - a + 1;
          break;
        }
      }
      a += taken ? taken : 1;
    }
  }

  // Separators used inside the range (between its groups).
  std::string seps(const Range& r) const {
    std::string s;
    for (std::size_t g = r.g0 + 1; g <= r.g1; ++g)
      if (s.find(r.run->groups[g].sep) == std::string::npos) s.push_back(r.run->groups[g].sep);
    return s;
  }
  std::size_t glen(const Range& r, std::size_t g) const { return r.run->groups[g].end - r.run->groups[g].start; }
  unsigned gval(const Range& r, std::size_t g) const {
    return prefix_num(t_.substr(r.run->groups[g].start, glen(r, g)), 9);
  }

  bool classify(const Range& r) {
    const std::size_t ng = r.g1 - r.g0 + 1;
    const std::string sp = seps(r);
    // card: 13..19 digits, plain or in card-style groups, Luhn and IIN
    if (!r.plus && !r.paren && r.digits.size() >= 13 && r.digits.size() <= 19 && sp.size() <= 1 &&
        (sp.empty() || sp == " " || sp == "-")) {
      bool grouped = ng == 1;
      if (!grouped) {
        std::vector<std::size_t> lens;
        for (std::size_t g = r.g0; g <= r.g1; ++g) lens.push_back(glen(r, g));
        const bool fours = ng >= 4 && std::all_of(lens.begin(), lens.end() - 1, [](std::size_t l) { return l == 4; }) &&
                           lens.back() >= 1 && lens.back() <= 4;
        grouped = fours || lens == std::vector<std::size_t>{4, 6, 5} || lens == std::vector<std::size_t>{4, 6, 4};
      }
      const std::string_view brand = card_brand(r.digits);
      if (grouped && !brand.empty() && luhn_valid(r.digits)) {
        emit(Type::card, r.start, r.end, std::string(brand), false, 0.95);
        return true;
      }
    }
    // SSN: AAA-GG-SSSS (dashes or spaces), or nine plain digits after an SSN word
    if (!r.plus && !r.paren) {
      const bool shaped = ng == 3 && sp.size() == 1 && (sp == "-" || sp == " ") && glen(r, r.g0) == 3 &&
                          glen(r, r.g0 + 1) == 2 && glen(r, r.g0 + 2) == 4;
      const bool nine = ng == 1 && r.digits.size() == 9;
      const bool ssn_word =
          (shaped || nine) && any_word(words_near(t_, r.start, true, 4, 48), {"ssn", "ssns", "social", "ss"});
      if (shaped || (nine && ssn_word)) {
        if (ssn_valid(r.digits)) emit(Type::ssn, r.start, r.end, {}, ssn_word, ssn_word ? 0.95 : 0.85);
        return true;  // SSN-shaped: never a phone, valid or not
      }
    }
    return phone(r, ng, sp);
  }

  // "x123", " ext. 123", "#123" after a phone; returns its length (0 if none).
  std::size_t extension_at(std::size_t i) const {
    std::size_t j = i;
    if (at(j) == ' ') ++j;
    if (lower(at(j)) == 'x') {
      ++j;
    } else if (lower(at(j)) == 'e' && lower(at(j + 1)) == 'x' && lower(at(j + 2)) == 't') {
      j += 3;
      if (t_.substr(j, 6) == "ension") j += 6;
      if (at(j) == '.') ++j;
    } else if (at(j) == '#') {
      ++j;
    } else {
      return 0;
    }
    if (at(j) == ' ') ++j;
    const std::size_t ds = j;
    while (is_digit(at(j)) && j - ds < 7) ++j;
    if (j == ds || j - ds > 6 || is_word(at(j))) return 0;
    return j - i;
  }

  bool is_date(const Range& r) const {
    for (std::size_t g = r.g0; g + 2 <= r.g1; ++g) {
      const char s1 = r.run->groups[g + 1].sep, s2 = r.run->groups[g + 2].sep;
      if (s1 != s2 || (s1 != '-' && s1 != '.' && s1 != ' ')) continue;
      const std::size_t l0 = glen(r, g), l1 = glen(r, g + 1), l2 = glen(r, g + 2);
      const unsigned v0 = gval(r, g), v1 = gval(r, g + 1), v2 = gval(r, g + 2);
      auto year = [](unsigned y) { return y >= 1900 && y <= 2099; };
      auto md = [](unsigned m, unsigned d) { return m >= 1 && m <= 12 && d >= 1 && d <= 31; };
      // with '-' or '.' the shape alone decides ("04-0-2040" is a bad date, not a phone)
      const bool loose = s1 != ' ';
      if (l0 == 4 && l1 <= 2 && l2 <= 2 && year(v0) && (loose || md(v1, v2))) return true;
      if (l0 <= 2 && l1 <= 2 && l2 == 4 && year(v2) && (loose || md(v0, v1) || md(v1, v0))) return true;
    }
    return false;
  }

  bool phone(const Range& r, std::size_t ng, const std::string& sp) {
    const std::size_t nd = r.digits.size();
    if (nd < 7 || nd > 15) return false;
    if (ng == 1 && !r.plus) return false;  // a plain digit run is not a phone without a '+'
    std::size_t ext = r.end == r.run->end ? extension_at(r.end) : 0;
    const std::size_t end = r.end + ext;
    const auto before = words_near(t_, r.start, true, 4, 40);
    const auto after = words_near(t_, end, false, 2, 20);
    static const std::initializer_list<std::string_view> kPhoneWords = {
        "phone", "phones", "telephone", "tel", "call", "calls", "calling", "mobile", "mob", "cell", "cellphone",
        "fax", "desk", "office", "contact", "whatsapp", "sms", "text", "dial", "reach", "ring", "landline", "ph",
        "hotline", "home", "work", "direct", "helpline"};
    const bool context = any_word(before, kPhoneWords) || any_word(after, kPhoneWords);
    static const std::initializer_list<std::string_view> kOtherNumberWords = {
        "order", "invoice", "isbn", "issn", "ref", "reference", "tracking", "serial", "sku", "version", "ver",
        "build", "id", "ticket", "case", "po", "receipt", "transaction", "confirmation", "booking", "policy",
        "patent", "doi", "card", "account", "acct", "iban", "routing", "zip", "postcode", "lot", "batch"};
    if (!context &&
        any_word(std::vector<std::string>(before.begin(), before.begin() + std::min<std::size_t>(before.size(), 2)),
                 kOtherNumberWords))
      return false;
    // group shapes; "555-1234 555-9876" is two numbers: groups joined by '-' or '.' come last, after any spaces
    for (std::size_t g = r.g0 + 1, joint = 0; g <= r.g1; ++g) {
      const char sep = r.run->groups[g].sep;
      if (sep == '-' || sep == '.') joint = 1;
      else if (sep == ' ' && joint) return false;
    }
    for (std::size_t g = r.g0; g <= r.g1; ++g) {
      if (glen(r, g) > (ng == 1 ? 15u : 8u)) return false;
      // parentheses hold an area code: first, or right after a country code ("+44 (0) 20", "1 (800)")
      if (r.run->groups[g].paren && g != r.g0 && !(g == r.g0 + 1 && glen(r, r.g0) <= 3)) return false;
    }
    if (glen(r, r.g1) < 2) return false;                            // "0-306-40615-7" (ISBN), "10.0.19041.1"
    if (r.plus && ng > 1 && glen(r, r.g0) > 3) return false;        // +CC is 1..3 digits
    if (is_date(r)) return false;
    for (std::size_t g = r.g0, chain = 1; g <= r.g1; ++g) {
      const bool dotted_next = g < r.g1 && r.run->groups[g + 1].sep == '.';
      if (dotted_next) { ++chain; continue; }
      if (chain == 2) return false;  // "3.14159": a decimal number, not part of a phone
      chain = 1;
    }
    if (sp == "." && !r.paren) {
      bool all_short = true;
      for (std::size_t g = r.g0; g <= r.g1; ++g) all_short &= glen(r, g) <= 3;
      if (all_short) return false;  // versions, IPs
    }
    if ((sp == " " || sp == ".") && !r.plus && !r.paren && ng >= 2 && glen(r, r.g0) <= 3) {
      bool thousands = true;  // "1 250 000", "12.345.678"
      for (std::size_t g = r.g0 + 1; g <= r.g1; ++g) thousands &= glen(r, g) == 3;
      if (thousands) return false;
    }
    auto year_like = [&](std::size_t g) { return glen(r, g) == 4 && gval(r, g) >= 1900 && gval(r, g) <= 2099; };
    std::size_t years = 0;
    for (std::size_t g = r.g0; g <= r.g1; ++g) years += year_like(g) ? 1 : 0;
    if (years >= 2 && !context) return false;  // "2019 2020", "1990-2005", "2010 (2011)"
    const bool weak_prefix = !r.plus && !r.paren;
    // a trunk prefix ("06-12345678", "07911 123456") marks a national number
    const bool trunk = r.digits[0] == '0' && nd >= 9;
    if (weak_prefix && !context) {
      bool tiny = true;
      for (std::size_t g = r.g0; g <= r.g1; ++g) tiny &= glen(r, g) <= 2;
      if (tiny && r.digits[0] != '0') return false;  // "10 20 30 40", golf scores "70-72-70-68"
      // two groups ("500-1000", "1251-1265", "2019 1500") are ranges and counts more often than
      // local numbers; those need a phone word or a trunk prefix
      if (ng == 2 && !trunk) return false;
      // space-separated groups inside a longer list of numbers are a table row, not a phone
      if (sp == " " && (r.g0 != 0 || r.g1 + 1 != r.run->groups.size())) return false;
    }
    double score = 0.6;
    if (context) score += 0.2;
    if (r.plus || r.paren || ext) score += 0.1;
    emit(Type::phone, r.start, end, {}, context, std::min(score, 0.9));
    return true;
  }

  void emit(Type type, std::size_t start, std::size_t end, std::string note, bool context, double score) {
    out_[static_cast<std::size_t>(type)].push_back(
        {{static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(end)}, std::move(note), context, score});
  }

  std::string_view t_;
  std::array<std::vector<Item>, kTypeCount>& out_;
};

// --- e-mail, IP, IBAN ---------------------------------------------------------------------------

bool email_local_char(char c) noexcept {
  return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

std::optional<Item> email_at(std::string_view t, std::size_t at) {
  std::size_t s = at;
  while (s > 0 && email_local_char(t[s - 1]) && at - s < 64) --s;
  if (s > 0 && email_local_char(t[s - 1])) return std::nullopt;  // local part too long
  while (s < at && (t[s] == '.' || t[s] == '-')) ++s;
  const std::string_view local = t.substr(s, at - s);
  if (local.empty() || local.back() == '.' || local.find("..") != std::string_view::npos) return std::nullopt;
  std::size_t e = at + 1;
  while (e < t.size() && (is_alnum(t[e]) || t[e] == '.' || t[e] == '-') && e - at < 254) ++e;
  while (e > at + 1 && (t[e - 1] == '.' || t[e - 1] == '-')) --e;
  if (e < t.size() && (is_word(t[e]) || t[e] == '@')) return std::nullopt;
  const std::string_view domain = t.substr(at + 1, e - at - 1);
  std::size_t labels = 0, pos = 0;
  std::string_view tld;
  while (pos <= domain.size()) {
    std::size_t dot = domain.find('.', pos);
    if (dot == std::string_view::npos) dot = domain.size();
    const std::string_view label = domain.substr(pos, dot - pos);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return std::nullopt;
    tld = label;
    ++labels;
    pos = dot + 1;
  }
  if (labels < 2 || tld.size() < 2 || tld.size() > 24 || !std::all_of(tld.begin(), tld.end(), is_alpha))
    return std::nullopt;
  std::string l;
  for (const char c : tld) l.push_back(lower(c));
  static constexpr std::string_view kFileExt[] = {"png",  "jpg", "jpeg", "gif", "svg",
                                                  "webp", "bmp", "ico",  "tif", "tiff"};
  for (const auto x : kFileExt)
    if (l == x) return std::nullopt;  // "icon@2x.png"
  return Item{{static_cast<std::uint32_t>(s), static_cast<std::uint32_t>(e)}, {}, false, 0.95};
}

std::optional<Item> ipv4_at(std::string_view t, std::size_t s) {
  auto at = [&](std::size_t i) { return i < t.size() ? t[i] : '\0'; };
  const char b = s > 0 ? t[s - 1] : ' ';
  // glued to a word ("python-3.4.2.4", "v1.2.3.4") or to a longer dotted number
  if (is_word(b) || (b == '.' && s > 1 && is_alnum(t[s - 2])) || (b == '-' && s > 1 && is_alpha(t[s - 2])))
    return std::nullopt;
  std::size_t i = s;
  std::array<unsigned, 4> oct{};
  for (int k = 0; k < 4; ++k) {
    if (k > 0) {
      if (at(i) != '.') return std::nullopt;
      ++i;
    }
    const std::size_t os = i;
    unsigned v = 0;
    while (is_digit(at(i)) && i - os < 4) v = v * 10 + static_cast<unsigned>(t[i++] - '0');
    const std::size_t len = i - os;
    if (len == 0 || len > 3 || v > 255 || (len > 1 && t[os] == '0')) return std::nullopt;
    oct[static_cast<std::size_t>(k)] = v;
  }
  if (is_word(at(i)) || (at(i) == '.' && is_alnum(at(i + 1)))) return std::nullopt;
  if (oct[0] == 0) return std::nullopt;  // 0.0.0.0 and "this network"
  auto mask_octet = [](unsigned v) {
    return v == 0 || v == 128 || v == 192 || v == 224 || v == 240 || v == 248 || v == 252 || v == 254 || v == 255;
  };
  if (oct[0] == 255 && std::all_of(oct.begin(), oct.end(), mask_octet)) return std::nullopt;  // netmask
  const auto before = words_near(t, s, true, 1, 24);
  if (any_word(before, {"version", "ver", "v", "release", "build", "firmware", "rev", "revision", "kernel"}))
    return std::nullopt;
  return Item{{static_cast<std::uint32_t>(s), static_cast<std::uint32_t>(i)}, "IPv4", false, 0.85};
}

std::optional<Item> ipv6_around(std::string_view t, std::size_t p) {
  auto v6 = [](char c) { return is_hex(c) || c == ':'; };
  std::size_t s = p;
  while (s > 0 && v6(t[s - 1]) && p - s < 45) --s;
  std::size_t e = p;
  while (e < t.size() && (v6(t[e]) || t[e] == '.') && e - s < 46) ++e;
  while (e > s && t[e - 1] == '.') --e;
  if (e - s >= 2 && t[e - 1] == ':' && t[e - 2] != ':') --e;  // "at fe80::1: ..."
  if (e - s >= 2 && t[s] == ':' && t[s + 1] != ':') {
    ++s;  // "ip:2001:db8::1" (a label and a colon)
  } else if (s > 0 && (is_word(t[s - 1]) || t[s - 1] == '.')) {
    return std::nullopt;
  }
  if (e < t.size() && (is_word(t[e]) || t[e] == ':')) return std::nullopt;
  const std::string_view cand = t.substr(s, e - s);
  if (cand.size() < 3 || cand.size() > 45 || std::count(cand.begin(), cand.end(), ':') < 2) return std::nullopt;
  if (!std::any_of(cand.begin(), cand.end(), is_digit)) return std::nullopt;
  std::size_t groups = 0;
  for (std::size_t i = 0; i < cand.size(); ++i)
    if (is_hex(cand[i]) && (i == 0 || !is_hex(cand[i - 1]))) ++groups;
  if (groups < 2) return std::nullopt;  // "::", "::1"
  char buf[64];
  std::memcpy(buf, cand.data(), cand.size());
  buf[cand.size()] = '\0';
  in6_addr addr{};
  if (inet_pton(AF_INET6, buf, &addr) != 1) return std::nullopt;
  return Item{{static_cast<std::uint32_t>(s), static_cast<std::uint32_t>(e)}, "IPv6", false, 0.85};
}

std::optional<Item> iban_at(std::string_view t, std::size_t s) {
  if (s > 0 && is_word(t[s - 1])) return std::nullopt;
  const unsigned len = iban_length(t.substr(s, 2));
  if (!len) return std::nullopt;
  auto ok = [](char c) { return is_digit(c) || (c >= 'A' && c <= 'Z'); };
  std::string compact;
  std::size_t i = s;
  if (s + 4 < t.size() && t[s + 4] == ' ') {
    // groups of four, the last one shorter
    while (compact.size() < len) {
      if (!compact.empty()) {
        if (i >= t.size() || t[i] != ' ') return std::nullopt;
        ++i;
      }
      const std::size_t gs = i;
      while (i < t.size() && ok(t[i]) && i - gs < 4 && compact.size() < len) compact.push_back(t[i++]);
      if (i - gs < 4 && compact.size() < len) return std::nullopt;
    }
  } else {
    while (i < t.size() && ok(t[i]) && compact.size() <= len) compact.push_back(t[i++]);
  }
  if (compact.size() != len || (i < t.size() && is_word(t[i])) || !iban_valid(compact)) return std::nullopt;
  return Item{{static_cast<std::uint32_t>(s), static_cast<std::uint32_t>(i)}, compact.substr(0, 2), false, 0.98};
}

bool overlaps(const Span& a, const Span& b) noexcept { return a.start < b.end && b.start < a.end; }

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// "visa, mastercard" from the notes, unique, in order of appearance.
std::string notes_list(const std::vector<Item>& items) {
  std::vector<std::string> seen;
  for (const auto& i : items)
    if (!i.note.empty() && std::find(seen.begin(), seen.end(), i.note) == seen.end()) seen.push_back(i.note);
  std::string s;
  for (const auto& n : seen) s += (s.empty() ? "" : ", ") + n;
  return s;
}

std::string evidence(Type type, const std::vector<Item>& items) {
  const std::size_t n = items.size();
  switch (type) {
    case Type::email: return plural(n, "email address", "email addresses");
    case Type::phone: {
      const auto ctx =
          static_cast<std::size_t>(std::count_if(items.begin(), items.end(), [](const Item& i) { return i.context; }));
      if (n == 1) return ctx ? "phone number (with phone context)" : "phone number";
      return plural(n, "phone number", "phone numbers") +
             (ctx ? " (" + std::to_string(ctx) + " with phone context)" : "");
    }
    case Type::card: return (n == 1 ? std::string("card") : plural(n, "card", "cards")) + " (Luhn valid" +
                            (n == 1 ? ", " : "; ") + notes_list(items) + ")";
    case Type::iban: return (n == 1 ? std::string("iban") : plural(n, "IBAN", "IBANs")) + " (mod-97 valid" +
                            (n == 1 ? ", " : "; ") + notes_list(items) + ")";
    case Type::ssn: return (n == 1 ? std::string("ssn") : plural(n, "SSN", "SSNs")) + " (valid area/group/serial)";
    case Type::ip: {
      const auto v4 = static_cast<std::size_t>(
          std::count_if(items.begin(), items.end(), [](const Item& i) { return i.note == "IPv4"; }));
      if (n == 1) return "ip (" + items.front().note + ")";
      std::string s = plural(n, "IP address", "IP addresses") + " (";
      if (v4) s += std::to_string(v4) + " IPv4";
      if (v4 && v4 < n) s += ", ";
      if (v4 < n) s += std::to_string(n - v4) + " IPv6";
      return s + ")";
    }
    case Type::count: break;
  }
  return {};
}

constexpr std::array<Severity, kTypeCount> kSeverity{Severity::low, Severity::low, Severity::medium,
                                                     Severity::medium, Severity::medium, Severity::low};

}  // namespace

LoadResult<std::unique_ptr<PiiDetector>> PiiDetector::create(const Config& cfg) {
  using R = LoadResult<std::unique_ptr<PiiDetector>>;
  LoadErrors errors;
  auto err = [&](std::string msg) {
    errors.push_back({"", 0, 0, std::string(errc::kConfigInvalidValue), "pii: " + std::move(msg)});
  };
  unsigned bits = 0;
  for (const auto& name : cfg.types) {
    const auto it = std::find(kTypeNames.begin(), kTypeNames.end(), name);
    if (it == kTypeNames.end()) {
      err("unknown type '" + name + "' (known: email, phone, card, iban, ssn, ip)");
      continue;
    }
    const unsigned bit = 1u << static_cast<unsigned>(it - kTypeNames.begin());
    if (bits & bit) err("type '" + name + "' is listed twice");
    bits |= bit;
  }
  if (cfg.types.empty()) err("types must list at least one of email, phone, card, iban, ssn, ip");
  if (cfg.max_scan_bytes < 1024) err("max_scan_bytes must be at least 1024");
  if (cfg.max_candidates < 16) err("max_candidates must be at least 16");
  if (!errors.empty()) return R::failure(std::move(errors));

  auto det = std::unique_ptr<PiiDetector>(new PiiDetector(cfg));
  det->types_ = bits;
  auto on = [&](Type t) { return (bits >> static_cast<unsigned>(t)) & 1u; };
  std::vector<HsPattern> patterns;
  if (on(Type::email)) patterns.push_back({"[A-Za-z0-9_%+.-]@[A-Za-z0-9]", 0, kEmail});
  // every start of a digit group (phones, cards and SSNs share the number scanner)
  if (on(Type::phone) || on(Type::card) || on(Type::ssn))
    patterns.push_back({"(^|[^0-9A-Za-z_])[+(]?[0-9]", 0, kNumeric});
  if (on(Type::ip)) {
    patterns.push_back({"[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}", 0, kIpv4});
    patterns.push_back({"[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{0,4}:", 0, kIpv6});
    patterns.push_back({"::[0-9A-Fa-f]{1,4}", 0, kIpv6});
  }
  if (on(Type::iban)) patterns.push_back({"[A-Z]{2}[0-9]{2} ?[A-Z0-9]{4}", 0, kIban});
  int bad = -1;
  std::string msg;
  det->db_ = HsDatabase::compile_cached(patterns, default_cache_dir(), bad, msg);
  if (!det->db_) {
    err("pattern " + std::to_string(bad) + " does not compile: " + msg);
    return R::failure(std::move(errors));
  }
  return R::success(std::move(det));
}

std::unique_ptr<Detector> PiiDetector::load(const YAML::Node& node, yaml::Reader& r, const LoadContext&) {
  const std::size_t errors_before = r.errors().size();
  if (!r.check_keys(node, {"enabled", "types", "max_scan_bytes"}, "detectors.pii")) return nullptr;
  Config cfg;
  if (const YAML::Node types = node["types"]; types.IsDefined() && !types.IsNull()) {
    // Checked here, item by item, so that each error carries the item's line.
    if (!types.IsSequence()) {
      r.error(types, errc::kConfigInvalidValue, "'types' must be a list of: email, phone, card, iban, ssn, ip");
    } else {
      cfg.types.clear();
      for (const auto& item : types) {
        const bool known = item.IsScalar() &&
                           std::find(kTypeNames.begin(), kTypeNames.end(), item.Scalar()) != kTypeNames.end();
        if (!known) {
          r.error(item, errc::kConfigInvalidValue,
                  "unknown pii type '" + (item.IsScalar() ? item.Scalar() : std::string("?")) +
                      "' (known: email, phone, card, iban, ssn, ip)");
          continue;
        }
        cfg.types.push_back(item.Scalar());
      }
    }
  }
  cfg.max_scan_bytes = static_cast<std::size_t>(r.integer(node, "max_scan_bytes", 256 * 1024, 1024, 64ll << 20));
  if (r.errors().size() > errors_before) return nullptr;  // every problem reported; no half-configured detector
  auto res = create(cfg);
  for (auto& e : res.errors) r.errors().push_back(std::move(e));
  return res.value ? std::move(*res.value) : nullptr;
}

std::unique_ptr<Scratch> PiiDetector::make_scratch() const { return std::make_unique<PiiScratch>(db_.get()); }

bool PiiDetector::scan(const ScanInput& in, Scratch* scratch, std::vector<Finding>& out) const noexcept {
  auto* s = dynamic_cast<PiiScratch*>(scratch);
  if (!s || !s->hs.get()) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  counters_.scans.fetch_add(1, std::memory_order_relaxed);
  try {
    if (in.text.views.empty()) return true;
    const text::View& raw = in.text.views[0];
    const std::string_view t = std::string_view(raw.text).substr(0, cfg_.max_scan_bytes);
    counters_.bytes.fetch_add(t.size(), std::memory_order_relaxed);
    auto& ms = s->matches;
    ms.clear();
    const bool ok = db_->scan(t, s->hs.get(), ms, cfg_.max_candidates);
    std::sort(ms.begin(), ms.end(), [](const HsMatch& a, const HsMatch& b) {
      return a.id != b.id ? a.id < b.id : a.from != b.from ? a.from < b.from : a.to > b.to;
    });
    std::array<std::vector<Item>, kTypeCount> items;
    auto& ips = items[static_cast<std::size_t>(Type::ip)];
    // IPv6 first so that an IPv4-mapped address is not reported twice
    std::size_t done = 0;
    for (const auto& m : ms) {
      if (m.id != kIpv6 || m.from < done) continue;
      if (auto it = ipv6_around(t, m.from)) {
        done = it->span.end;
        ips.push_back(std::move(*it));
      }
    }
    NumberScanner numbers(t, items);
    done = 0;
    std::uint32_t last_from = UINT32_MAX;
    unsigned last_id = UINT32_MAX;
    for (const auto& m : ms) {
      if (m.from == last_from && m.id == last_id) continue;  // one try per start
      last_from = m.from;
      last_id = m.id;
      switch (m.id) {
        case kEmail: {
          const std::size_t at = m.to - 2;
          auto& list = items[static_cast<std::size_t>(Type::email)];
          if (!list.empty() && list.back().span.end > at) break;
          if (auto it = email_at(t, at)) list.push_back(std::move(*it));
          break;
        }
        case kNumeric: {
          const std::size_t d = m.to - 1;
          if (d < done) break;
          done = numbers.at_digit(d);
          break;
        }
        case kIpv4:
          if (std::any_of(ips.begin(), ips.end(),
                          [&](const Item& i) { return i.span.start <= m.from && m.from < i.span.end; }))
            break;
          if (auto it = ipv4_at(t, m.from)) ips.push_back(std::move(*it));
          break;
        case kIban:
          if (auto it = iban_at(t, m.from)) items[static_cast<std::size_t>(Type::iban)].push_back(std::move(*it));
          break;
        default: break;
      }
    }
    // A phone candidate inside another type's span (digits of an IBAN, an address) is not a phone.
    auto& phones = items[static_cast<std::size_t>(Type::phone)];
    std::erase_if(phones, [&](const Item& p) {
      for (std::size_t k = 0; k < kTypeCount; ++k) {
        if (k == static_cast<std::size_t>(Type::phone)) continue;
        for (const auto& o : items[k])
          if (overlaps(o.span, p.span)) return true;
      }
      return false;
    });
    for (std::size_t k = 0; k < kTypeCount; ++k) {
      auto& list = items[k];
      if (list.empty() || !enabled(static_cast<Type>(k))) continue;
      std::sort(list.begin(), list.end(), [](const Item& a, const Item& b) { return a.span.start < b.span.start; });
      Finding f;
      f.detector = "pii";
      f.category = "pii_exposure";
      f.role = in.role;
      f.view = raw.name;
      f.severity = kSeverity[k];
      f.redactable = true;
      f.redact_label = std::string(kLabels[k]);
      for (const auto& i : list) {
        f.spans.push_back(raw.to_original(i.span.start, i.span.end));
        f.score = std::max(f.score, i.score);
      }
      merge_spans(f.spans);
      f.evidence = evidence(static_cast<Type>(k), list);
      out.push_back(std::move(f));
      counters_.findings.fetch_add(1, std::memory_order_relaxed);
    }
    if (!ok) counters_.errors.fetch_add(1, std::memory_order_relaxed);
    return ok;
  } catch (...) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
}

}  // namespace dg::detect
