// `pii`: personal data in text (`pii_exposure`): e-mail addresses, phone numbers, payment card
// numbers, IBANs, US social security numbers and IP addresses.
//
// How: one Hyperscan database (compiled once, case-sensitive, RAW view) finds candidate positions;
// validators then fix the exact boundaries and decide:
//   email  local@domain.tld with RFC-shaped labels (not "icon@2x.png")
//   phone  7..15 digits in groups (international +CC, national (0xx), dots, dashes, spaces, extensions
//          x123 / ext. 123); rejects dates, times, versions, thousands-grouped amounts and plain digit runs
//          without separators (unless prefixed by +); weak shapes need a phone word nearby
//   card   13..19 digits, plain or grouped 4-4-4-4 / 4-6-5, Luhn-valid, known IIN range and length
//   iban   country code + check digits + BBAN of the country's registered length, mod-97 valid,
//          compact or in groups of four
//   ssn    AAA-GG-SSSS (dashes or spaces; nine plain digits only after an SSN word), area not 000,
//          666 or 9xx, group not 00, serial not 0000, never-issued numbers excluded
//   ip     IPv4 (octets <= 255, no leading zeros, not 0.x.x.x, not a netmask, not after "version")
//          and IPv6 (full, compressed, IPv4-mapped; validated by inet_pton)
// One finding per type with all its spans (label EMAIL, PHONE, CARD, IBAN, SSN, IP). Evidence counts and
// names the validator; it never contains a value.
//
// Thread safety: immutable after create(); per-thread Hyperscan scratch from make_scratch().
#pragma once

#include "detect/hyperscan.h"

namespace dg::detect {

// Validators, exposed for tests and for other detectors.
bool luhn_valid(std::string_view digits) noexcept;
// The card brand for a digit string of a known IIN range and length ("visa", "mastercard", "amex",
// "discover", "jcb", "diners", "unionpay", "maestro", "mir"), or empty.
std::string_view card_brand(std::string_view digits) noexcept;
// The registered IBAN length for a two-letter country code, or 0 for a country without IBANs.
unsigned iban_length(std::string_view country) noexcept;
// `compact` without spaces, upper case: registered country length and mod-97 == 1.
bool iban_valid(std::string_view compact) noexcept;
// Nine digits: the SSA's rules for numbers that can have been issued.
bool ssn_valid(std::string_view nine_digits) noexcept;

class PiiDetector final : public Detector {
 public:
  enum class Type : unsigned { email, phone, card, iban, ssn, ip, count };

  struct Config {
    std::vector<std::string> types{"email", "phone", "card", "iban", "ssn", "ip"};
    std::size_t max_scan_bytes = 256 * 1024;  // bytes of the raw view scanned
    std::size_t max_candidates = 65536;       // Hyperscan candidate positions kept per scan
  };

  // Validates `cfg` (every problem reported: unknown or duplicate types, bounds).
  static LoadResult<std::unique_ptr<PiiDetector>> create(const Config& cfg);
  // Registry entry: parses `detectors.pii` (keys: enabled, types, max_scan_bytes).
  static std::unique_ptr<Detector> load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx);

  std::string_view name() const noexcept override { return "pii"; }
  bool applies_to(Role) const noexcept override { return true; }
  std::vector<std::string> categories() const override { return {"pii_exposure"}; }
  std::unique_ptr<Scratch> make_scratch() const override;
  bool scan(const ScanInput& in, Scratch* scratch, std::vector<Finding>& out) const noexcept override;

 private:
  explicit PiiDetector(Config cfg) : cfg_(std::move(cfg)) {}
  bool enabled(Type t) const noexcept { return (types_ >> static_cast<unsigned>(t)) & 1u; }
  Config cfg_;
  unsigned types_ = 0;
  std::shared_ptr<const HsDatabase> db_;
};

}  // namespace dg::detect
