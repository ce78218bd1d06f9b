// Validators of the pii detector: Luhn, card IIN ranges, IBAN registry lengths and mod-97, SSN rules.
#include "detect/pii.h"

#include <algorithm>
#include <cctype>

namespace dg::detect {

bool luhn_valid(std::string_view digits) noexcept {
  if (digits.empty()) return false;
  unsigned sum = 0;
  bool dbl = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (*it < '0' || *it > '9') return false;
    unsigned d = static_cast<unsigned>(*it - '0');
    if (dbl && (d *= 2) > 9) d -= 9;
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

namespace {
unsigned prefix_num(std::string_view d, std::size_t n) noexcept {
  unsigned v = 0;
  for (std::size_t i = 0; i < n && i < d.size(); ++i) v = v * 10 + static_cast<unsigned>(d[i] - '0');
  return v;
}
}  // namespace

std::string_view card_brand(std::string_view d) noexcept {
  const std::size_t n = d.size();
  if (n < 12 || n > 19 || !std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; })) return {};
  const unsigned p2 = prefix_num(d, 2), p3 = prefix_num(d, 3), p4 = prefix_num(d, 4), p6 = prefix_num(d, 6);
  if (d[0] == '4') return (n == 13 || n == 16 || n == 19) ? "visa" : "";
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n == 16 ? "mastercard" : "";
  if (p2 == 34 || p2 == 37) return n == 15 ? "amex" : "";
  if (p4 >= 2200 && p4 <= 2204) return n >= 16 ? "mir" : "";
  if (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65 || (p6 >= 622126 && p6 <= 622925))
    return n >= 16 ? "discover" : "";
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 ? "jcb" : "";
  if ((p3 >= 300 && p3 <= 305) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39) return n >= 14 ? "diners" : "";
  if (p2 == 62) return n >= 16 ? "unionpay" : "";
  if (p2 == 50 || (p2 >= 56 && p2 <= 58) || p2 == 67 || p4 == 6304 || p4 == 6759 || (p4 >= 6761 && p4 <= 6763))
    return "maestro";
  return {};
}

namespace {
// ISO 13616 registry: IBAN length per country.
struct IbanCountry {
  char cc[3];
  unsigned len;
};
constexpr IbanCountry kIbanCountries[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22}, {"BH", 22},
    {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27},
    {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FK", 18}, {"FO", 18}, {"FR", 27},
    {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22},
    {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32},
    {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19},
    {"MN", 20}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24},
    {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31},
    {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25}, {"SV", 28}, {"TL", 23},
    {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

}  // namespace

unsigned iban_length(std::string_view cc) noexcept {
  for (const auto& c : kIbanCountries)
    if (cc.size() == 2 && cc[0] == c.cc[0] && cc[1] == c.cc[1]) return c.len;
  return 0;
}

bool iban_valid(std::string_view s) noexcept {
  if (s.size() < 15 || s.size() != iban_length(s.substr(0, 2))) return false;
  if (!std::isdigit(static_cast<unsigned char>(s[2])) || !std::isdigit(static_cast<unsigned char>(s[3]))) return false;
  unsigned r = 0;
  for (std::size_t k = 0; k < s.size(); ++k) {
    const char c = s[(k + 4) % s.size()];  // BBAN first, then country code and check digits
    if (c >= '0' && c <= '9') r = (r * 10 + static_cast<unsigned>(c - '0')) % 97;
    else if (c >= 'A' && c <= 'Z') r = (r * 100 + static_cast<unsigned>(c - 'A' + 10)) % 97;
    else return false;
  }
  return r == 1;
}

bool ssn_valid(std::string_view d) noexcept {
  if (d.size() != 9 || !std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  const std::string_view area = d.substr(0, 3), group = d.substr(3, 2), serial = d.substr(5, 4);
  if (area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000") return false;
  // publicised numbers that were never valid (Woolworth wallet card, 1962 ad, the common example)
  return d != "078051120" && d != "219099999" && d != "123456789";
}

}  // namespace dg::detect
