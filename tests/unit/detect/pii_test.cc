#include "detect/pii.h"

#include "detect/registry.h"
#include "test_util.h"

namespace dg::detect {
using testing::scan;

namespace {

std::unique_ptr<PiiDetector> make(std::vector<std::string> types = {"email", "phone", "card", "iban", "ssn", "ip"}) {
  PiiDetector::Config cfg;
  cfg.types = std::move(types);
  auto r = PiiDetector::create(cfg);
  EXPECT_TRUE(r.ok()) << format_errors_text(r.errors);
  return std::move(*r.value);
}

// Appends the Luhn check digit to `payload` (digits only).
std::string with_luhn(std::string payload) {
  for (char d = '0'; d <= '9'; ++d)
    if (luhn_valid(payload + d)) return payload + d;
  return payload;
}

// Groups `digits` as 4-4-4-4... with `sep`.
std::string grouped(std::string_view digits, char sep) {
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && i % 4 == 0) out.push_back(sep);
    out.push_back(digits[i]);
  }
  return out;
}

std::string labels(const std::vector<Finding>& f) {
  std::string s;
  for (const auto& x : f) s += x.redact_label + " [" + x.evidence + "] ";
  return s;
}

// The one finding of `input` must carry `label` and cover exactly `value` (found in `input`).
void expect_exact(const PiiDetector& det, const std::string& input, const std::string& value, std::string_view label) {
  SCOPED_TRACE(input);
  const auto f = scan(det, input);
  ASSERT_EQ(f.size(), 1u) << labels(f);
  EXPECT_EQ(f[0].redact_label, label);
  EXPECT_EQ(f[0].category, "pii_exposure");
  EXPECT_TRUE(f[0].redactable);
  const auto start = static_cast<std::uint32_t>(input.find(value));
  ASSERT_NE(input.find(value), std::string::npos);
  EXPECT_EQ(f[0].spans, (std::vector<Span>{{start, start + static_cast<std::uint32_t>(value.size())}}));
  // evidence never contains the value, nor its digits
  EXPECT_EQ(f[0].evidence.find(value), std::string::npos) << f[0].evidence;
  std::string digits;
  for (const char c : value)
    if (c >= '0' && c <= '9') digits.push_back(c);
  if (digits.size() >= 4) {
    EXPECT_EQ(f[0].evidence.find(digits.substr(digits.size() - 4)), std::string::npos) << f[0].evidence;
  }
}

void expect_clean(const PiiDetector& det, const std::string& input) {
  const auto f = scan(det, input);
  EXPECT_TRUE(f.empty()) << input << " -> " << labels(f);
}

}  // namespace

// --- validators -----------------------------------------------------------------------------------

TEST(PiiValidators, Luhn) {
  EXPECT_TRUE(luhn_valid("4111111111111111"));
  EXPECT_FALSE(luhn_valid("4111111111111112"));
  EXPECT_TRUE(luhn_valid(with_luhn("510510510510510")));
  EXPECT_FALSE(luhn_valid(""));
  EXPECT_FALSE(luhn_valid("4111-1111"));
}

TEST(PiiValidators, CardBrands) {
  EXPECT_EQ(card_brand("4111111111111111"), "visa");
  EXPECT_EQ(card_brand(with_luhn("555555555555444")), "mastercard");
  EXPECT_EQ(card_brand(with_luhn("222100000000000")), "mastercard");
  EXPECT_EQ(card_brand("378282246310005"), "amex");
  EXPECT_EQ(card_brand("6011000990139424"), "discover");
  EXPECT_EQ(card_brand(with_luhn("353011133330000")), "jcb");
  EXPECT_EQ(card_brand("30569309025904"), "diners");
  EXPECT_EQ(card_brand("411111111111111"), "");   // visa has no 15-digit numbers
  EXPECT_EQ(card_brand("1234567890123456"), "");  // no issuer starts with 1
}

TEST(PiiValidators, IbanMod97) {
  EXPECT_TRUE(iban_valid("DE89370400440532013000"));
  EXPECT_TRUE(iban_valid("GB82WEST12345698765432"));
  EXPECT_TRUE(iban_valid("FR1420041010050500013M02606"));
  EXPECT_FALSE(iban_valid("DE89370400440532013001"));  // checksum
  EXPECT_FALSE(iban_valid("DE8937040044053201300"));   // length for DE is 22
  EXPECT_FALSE(iban_valid("XX89370400440532013000"));  // no such country
}

TEST(PiiValidators, SsnRules) {
  EXPECT_TRUE(ssn_valid("536221234"));
  EXPECT_FALSE(ssn_valid("000123456"));
  EXPECT_FALSE(ssn_valid("666123456"));
  EXPECT_FALSE(ssn_valid("912345678"));
  EXPECT_FALSE(ssn_valid("536001234"));
  EXPECT_FALSE(ssn_valid("536220000"));
  EXPECT_FALSE(ssn_valid("078051120"));
}

// --- detector: positives with exact spans ---------------------------------------------------------

TEST(Pii, Email) {
  auto det = make();
  expect_exact(*det, "Contact jane.doe+news@mail.example.co.uk today.", "jane.doe+news@mail.example.co.uk", "EMAIL");
  expect_exact(*det, "<a href=\"mailto:ops@example.org\">", "ops@example.org", "EMAIL");
  const auto f = scan(*det, "a@example.com, b_2@example.net");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].spans.size(), 2u);
  EXPECT_EQ(f[0].evidence, "2 email addresses");
  EXPECT_EQ(f[0].severity, Severity::low);
}

TEST(Pii, Phone) {
  auto det = make();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Call +1 (415) 555-0132 now", "+1 (415) 555-0132"},
      {"London office: +44 20 7946 0958.", "+44 20 7946 0958"},
      {"Can someone call me on (07) 5331 0577?", "(07) 5331 0577"},
      {"Desk: 415.555.0132 x204", "415.555.0132 x204"},
      {"Fax: 001-420-335-7509x38548", "001-420-335-7509x38548"},
      {"text me at +14155550132", "+14155550132"},
      {"mon numéro: 06 12 34 56 78", "06 12 34 56 78"},
      {"Mobile: 041-412-293", "041-412-293"},
      {"reach me at 555-0132 ext. 12 after six", "555-0132 ext. 12"},
      {"07911 123456", "07911 123456"},
      {"Rufnummer (0151) 12345678", "(0151) 12345678"},
      {"1-800-273-8255", "1-800-273-8255"},
      {"(555)555-5555", "(555)555-5555"},
      {"(+44) 20 7946 0958", "(+44) 20 7946 0958"},
      {"+7 (495) 123-45-67", "+7 (495) 123-45-67"},
      {"Please have the manager call me at (96) 627-277 thanks", "(96) 627-277"},
  };
  for (const auto& [input, value] : cases) expect_exact(*det, input, value, "PHONE");
  const auto two = scan(*det, "Phones: 555-1234 555-9876");
  ASSERT_EQ(two.size(), 1u);
  EXPECT_EQ(two[0].spans, (std::vector<Span>{{8, 16}, {17, 25}}));
  EXPECT_EQ(two[0].evidence, "2 phone numbers (2 with phone context)");
  const auto f = scan(*det, "Call 415-555-0132");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].evidence, "phone number (with phone context)");
  EXPECT_EQ(f[0].severity, Severity::low);
}

TEST(Pii, Card) {
  auto det = make();
  const std::string visa = "4111111111111111";
  expect_exact(*det, "my card # " + visa + " expires soon", visa, "CARD");
  expect_exact(*det, "card: " + grouped(visa, ' ') + ".", grouped(visa, ' '), "CARD");
  const std::string mc = with_luhn("555555555555444");
  expect_exact(*det, "charge " + grouped(mc, '-') + " please", grouped(mc, '-'), "CARD");
  expect_exact(*det, "amex 3782 822463 10005 ok", "3782 822463 10005", "CARD");
  const auto f = scan(*det, "card 4111111111111111");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].evidence, "card (Luhn valid, visa)");
  EXPECT_EQ(f[0].severity, Severity::medium);
  const auto two = scan(*det, "4111111111111111 and 6011000990139424");
  ASSERT_EQ(two.size(), 1u);
  EXPECT_EQ(two[0].evidence, "2 cards (Luhn valid; visa, discover)");
}

TEST(Pii, Iban) {
  auto det = make();
  expect_exact(*det, "IBAN: DE89 3704 0044 0532 0130 00, thanks", "DE89 3704 0044 0532 0130 00", "IBAN");
  expect_exact(*det, "pay to GB82WEST12345698765432.", "GB82WEST12345698765432", "IBAN");
  expect_exact(*det, "FR14 2004 1010 0505 0001 3M02 606 is mine", "FR14 2004 1010 0505 0001 3M02 606", "IBAN");
  const auto f = scan(*det, "DE89370400440532013000");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].evidence, "iban (mod-97 valid, DE)");
}

TEST(Pii, Ssn) {
  auto det = make();
  expect_exact(*det, "His social security number is 536-22-1234", "536-22-1234", "SSN");
  expect_exact(*det, "ssn 536 22 1234.", "536 22 1234", "SSN");
  expect_exact(*det, "SSN: 536221234", "536221234", "SSN");
  const auto f = scan(*det, "id 536-22-1234");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].evidence, "ssn (valid area/group/serial)");
  EXPECT_EQ(f[0].severity, Severity::medium);
}

TEST(Pii, Ip) {
  auto det = make();
  expect_exact(*det, "keep getting address 58.74.121.78 blocked", "58.74.121.78", "IP");
  expect_exact(*det, "client_ip = ?%//!%20\\|98.85.59.159|%20/", "98.85.59.159", "IP");
  expect_exact(*det, "server 2001:db8:85a3::8a2e:370:7334 is down", "2001:db8:85a3::8a2e:370:7334", "IP");
  expect_exact(*det, "link-local fe80::1ff:fe23:4567:890a%eth0", "fe80::1ff:fe23:4567:890a", "IP");
  expect_exact(*det, "mapped ::ffff:192.0.2.128 here", "::ffff:192.0.2.128", "IP");
  expect_exact(*det, "ip:2001:db8::1", "2001:db8::1", "IP");
  const auto range = scan(*det, "allow 10.0.0.1-10.0.0.255");
  ASSERT_EQ(range.size(), 1u);
  EXPECT_EQ(range[0].spans.size(), 2u);
  expect_exact(*det, "full 2001:0db8:0000:0000:0000:ff00:0042:8329.", "2001:0db8:0000:0000:0000:ff00:0042:8329", "IP");
  const auto f = scan(*det, "10.0.0.1 and fe80::1");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].evidence, "2 IP addresses (1 IPv4, 1 IPv6)");
  EXPECT_EQ(f[0].severity, Severity::low);
}

// --- negatives -------------------------------------------------------------------------------------

TEST(Pii, NegativesAreClean) {
  auto det = make();
  const std::vector<std::string> clean = {
      // cards: Luhn, IIN
      "card 4111 1111 1111 1112",
      "ref 1234 5678 9012 3456",
      // IBAN checksum
      "IBAN DE89 3704 0044 0532 0130 01",
      // SSN rules (and not a phone either)
      "SSN 000-12-3456",
      "SSN 666-12-3456",
      "SSN 912-34-5678",
      "SSN 536-00-1234",
      "SSN 536-22-0000",
      "nine digits 536221234 without an ssn word",
      // versions, dates, times, timestamps
      "version 1.2.3.4",
      "upgrade to v2.10.3 or 10.0.19041.1",
      "on 2023-10-15 at 14:30:00",
      "2024-01-15T10:30:00Z",
      "born on 12/27/1986",
      "1998-06-28 14:48:14",
      "dated 15.10.2023 and 2023.10.15",
      "epoch 1697040000123",
      "from 1990-2005",
      // order numbers, amounts, counts, ISBNs
      "order number 2023-1015-4471",
      "invoice 555-123-4567",
      "ISBN 978-0-306-40615-7",
      "in 2019 1500 people attended",
      "population 1 250 000",
      "price $1 234 567",
      "scores 10 20 30 40 50",
      "pi 3.14159 2.71828",
      "a limit of 500-1000 words",
      "Counts of Urach died out 1251-1265",
      "| 2010 (2011) |",
      "scores 70-72-70-68=280",
      "valid_date('04-0-2040')",
      "| 0 6700 33227 2 0 |",
      "| 1720 1728 1749 1766 1800 1822 |",
      "555-0132",
      // hashes and identifiers
      "commit 3f786850e387550fdab836ed7e6dc881de23001b",
      "id 123e4567-e89b-12d3-a456-426614174000",
      "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      "https://example.com/users/5551234567/profile",
      // not IPs
      "0.0.0.0",
      "mask 255.255.255.0",
      "C:\\WinPython-64bit-3.4.2.4\\python.exe",
      "oid 1.3.6.1.4.1",
      "999.1.1.1",
      "at 12:30:45",
      "mac 00:1a:2b:3c:4d:5e",
      "std::vector<int>::iterator",
      "::1",
      // not e-mails
      "icon@2x.png",
      "user@localhost",
      "@handle",
      "a@b",
  };
  for (const auto& s : clean) expect_clean(*det, s);
}

TEST(Pii, CardIsNotAlsoAPhoneAndTypesCanBeDisabled) {
  const std::string input = "card 4111 1111 1111 1111, mail a@example.com, call +1 415 555 0132";
  const auto all = scan(*make(), input);
  EXPECT_EQ(all.size(), 3u) << labels(all);
  const auto only = scan(*make({"email"}), input);
  ASSERT_EQ(only.size(), 1u);
  EXPECT_EQ(only[0].redact_label, "EMAIL");
  // a disabled card type does not turn a card into a phone
  const auto no_card = scan(*make({"phone"}), "card 4111 1111 1111 1111");
  EXPECT_TRUE(no_card.empty()) << labels(no_card);
}

TEST(Pii, EvidenceNeverContainsTheValue) {
  auto det = make();
  const std::string input = "jane@example.com 4111111111111111 +44 20 7946 0958 DE89370400440532013000 "
                            "SSN 536-22-1234 58.74.121.78";
  const auto f = scan(*det, input);
  ASSERT_EQ(f.size(), 6u) << labels(f);
  for (const auto& x : f) {
    for (const auto& sp : x.spans) {
      const std::string value = input.substr(sp.start, sp.end - sp.start);
      EXPECT_EQ(x.evidence.find(value), std::string::npos) << x.evidence;
    }
    for (const char* part : {"jane", "1111", "7946", "3704", "536", "121"})
      EXPECT_EQ(x.evidence.find(part), std::string::npos) << x.evidence;
  }
}

TEST(Pii, MaxScanBytesBoundsTheScan) {
  PiiDetector::Config cfg;
  cfg.max_scan_bytes = 1024;
  auto det = std::move(*PiiDetector::create(cfg).value);
  EXPECT_EQ(scan(*det, std::string(900, ' ') + "a@example.com").size(), 1u);
  EXPECT_TRUE(scan(*det, std::string(2000, ' ') + "a@example.com").empty());
  EXPECT_EQ(det->counters().scans.load(), 2u);
  EXPECT_EQ(det->counters().findings.load(), 1u);
  EXPECT_EQ(det->counters().bytes.load(), 913u + 1024u);
}

TEST(Pii, MissingScratchIsAnError) {
  auto det = make();
  const auto n = testing::normalizer().normalize("a@example.com");
  std::vector<Finding> out;
  EXPECT_FALSE(det->scan(ScanInput{Role::prompt, n, nullptr, {}, {}}, nullptr, out));
  EXPECT_EQ(det->counters().errors.load(), 1u);
}

// --- config ----------------------------------------------------------------------------------------

TEST(Pii, ConfigUnknownKeyIsAnErrorWithItsLine) {
  LoadErrors errors;
  yaml::Reader r("cfg.yaml", errors);
  const YAML::Node node = YAML::Load("enabled: true\ntypes: [email]\nmax_scan_byte: 4096\n");
  EXPECT_EQ(PiiDetector::load(node, r, {}), nullptr);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, "config_unknown_key");
  EXPECT_EQ(errors[0].line, 3);
}

TEST(Pii, ConfigBadTypeIsInvalidValueAtItsLine) {
  LoadErrors errors;
  yaml::Reader r("cfg.yaml", errors);
  const YAML::Node node = YAML::Load("enabled: true\ntypes:\n  - email\n  - passport\n  - fax\nmax_scan_bytes: 10\n");
  EXPECT_EQ(PiiDetector::load(node, r, {}), nullptr);
  ASSERT_EQ(errors.size(), 3u) << format_errors_text(errors);
  EXPECT_EQ(errors[0].code, "config_invalid_value");
  EXPECT_EQ(errors[0].line, 4);
  EXPECT_NE(errors[0].message.find("'passport'"), std::string::npos) << errors[0].message;
  EXPECT_EQ(errors[1].line, 5);
  EXPECT_EQ(errors[2].line, 6);  // max_scan_bytes too small: reported in the same pass
}

TEST(Pii, CreateReportsEveryProblem) {
  PiiDetector::Config cfg;
  cfg.types = {"email", "email", "fax"};
  cfg.max_scan_bytes = 1;
  const auto res = PiiDetector::create(cfg);
  EXPECT_FALSE(res.ok());
  EXPECT_EQ(res.errors.size(), 3u) << format_errors_text(res.errors);
  cfg.types.clear();
  cfg.max_scan_bytes = 4096;
  EXPECT_FALSE(PiiDetector::create(cfg).ok());
}

TEST(Pii, IsRegistered) {
  const RegistryEntry* e = find_detector("pii");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->load, &PiiDetector::load);
}

TEST(Pii, ShippedConfigSectionLoads) {
  LoadErrors errors;
  const YAML::Node root = yaml::load_file(DG_SOURCE_DIR "/config/dualguard.yaml", errors);
  ASSERT_TRUE(errors.empty()) << format_errors_text(errors);
  yaml::Reader r("dualguard.yaml", errors);
  EXPECT_NE(PiiDetector::load(root["detectors"]["pii"], r, {}), nullptr);
  EXPECT_TRUE(errors.empty()) << format_errors_text(errors);
}

}  // namespace dg::detect
