#include "detect/secrets.h"

#include <cmath>
#include <map>
#include <random>

#include "detect/registry.h"
#include "test_util.h"

namespace dg::detect {
using testing::scan;

namespace {

std::unique_ptr<SecretsDetector> make(SecretsDetector::Config cfg = {}) {
  auto r = SecretsDetector::create(cfg);
  EXPECT_TRUE(r.ok()) << format_errors_text(r.errors);
  return std::move(*r.value);
}

constexpr std::string_view kAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::string_view kHex = "0123456789abcdef";
constexpr std::string_view kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kB64Url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Fake but format-valid token bodies, built at run time (no literal credential-shaped strings in the
// source: secret scanners must not flag this file).
std::string body(std::size_t n, std::string_view alphabet = kAlnum, std::uint32_t seed = 7) {
  std::string s;
  std::uint32_t x = seed * 2654435761u + 1;
  for (std::size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    s.push_back(alphabet[(x >> 16) % alphabet.size()]);
  }
  return s;
}

std::string b64url(std::string_view in) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : in) {
    acc = (acc << 8) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kB64Url[(acc >> bits) & 63]);
    }
  }
  if (bits) out.push_back(kB64Url[(acc << (6 - bits)) & 63]);
  return out;
}

std::string jwt() {
  return b64url(R"({"alg":"HS256","typ":"JWT"})") + "." + b64url(R"({"sub":"1234567890","name":"Test User"})") + "." +
         body(43, kB64Url, 3);
}

const Finding* by_label(const std::vector<Finding>& f, std::string_view label) {
  for (const auto& x : f)
    if (x.redact_label == label) return &x;
  return nullptr;
}

// The evidence shows at most the public prefix: no 6-byte window of the rest of the value.
void expect_no_leak(const std::string& evidence, std::string_view value, std::size_t public_prefix) {
  if (public_prefix > 0) {
    EXPECT_EQ(evidence.find(value.substr(0, public_prefix + 1)), std::string::npos) << evidence;
  }
  for (std::size_t i = public_prefix; i + 6 <= value.size(); ++i)
    ASSERT_EQ(evidence.find(value.substr(i, 6)), std::string::npos) << "evidence leaks the value: " << evidence;
}

struct Case {
  std::string name;
  std::string label;
  std::string value;         // the secret the span must cover exactly
  std::string before = "";   // text before the value
  std::string after = " is what I found in the logs.";
  std::size_t public_prefix = 0;
};

std::vector<Case> provider_cases() {
  return {
      {"aws access key id", "AWS_KEY", "AKIAIOSFODNN7EXAMPLE", "export AWS_ACCESS_KEY_ID=", "\n", 4},
      {"aws session key id", "AWS_KEY", "ASIA" + body(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), "key ", "", 4},
      {"aws secret key", "AWS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key = ", "\n", 0},
      {"github classic", "GITHUB_TOKEN", "ghp_" + body(36), "token: ", "", 4},
      {"github oauth", "GITHUB_TOKEN", "gho_" + body(36, kAlnum, 2), "", "", 4},
      {"github user-to-server", "GITHUB_TOKEN", "ghu_" + body(36, kAlnum, 3), "", "", 4},
      {"github server-to-server", "GITHUB_TOKEN", "ghs_" + body(36, kAlnum, 4), "", "", 4},
      {"github refresh", "GITHUB_TOKEN", "ghr_" + body(36, kAlnum, 5), "", "", 4},
      {"github fine-grained", "GITHUB_TOKEN", "github_pat_" + body(22) + "_" + body(59, kAlnum, 9), "use ", "", 11},
      {"gitlab", "GITLAB_TOKEN", "glpat-" + body(20), "GITLAB_TOKEN=", "", 6},
      {"slack bot", "SLACK_TOKEN", "xoxb-" + body(12, "0123456789") + "-" + body(13, "0123456789", 4) + "-" + body(24),
       "slack: ", "", 5},
      {"slack webhook", "SLACK_WEBHOOK",
       "https://hooks.slack.com/services/T" + body(8, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") + "/B" +
           body(10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 2) + "/" + body(24),
       "post to ", "", 24},
      {"stripe secret", "STRIPE_KEY", "sk_live_" + body(24), "STRIPE_KEY=", "", 8},
      {"stripe restricted", "STRIPE_KEY", "rk_live_" + body(32), "", "", 8},
      {"google api key", "GOOGLE_API_KEY",
       "AIza" + body(35, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"),
       "https://maps.example.com/api?key=", "&q=x", 4},
      {"openai project", "OPENAI_KEY", "sk-proj-" + body(120, kB64Url), "OPENAI_API_KEY=", "", 8},
      {"openai legacy", "OPENAI_KEY", "sk-" + body(48), "", "", 3},
      {"anthropic", "ANTHROPIC_KEY", "sk-ant-api03-" + body(93, kB64Url) + "AA", "x-api-key: ", "", 7},
      {"twilio api key", "TWILIO_KEY", "SK" + body(32, kHex), "", "", 2},
      {"twilio auth token", "TWILIO_KEY", body(32, kHex, 11), "TWILIO_AUTH_TOKEN=", "", 0},
      {"sendgrid", "SENDGRID_KEY", "SG." + body(22, kB64Url) + "." + body(43, kB64Url, 5), "", "", 3},
      {"npm", "NPM_TOKEN", "npm_" + body(36), "//registry.npmjs.org/:_authToken=", "", 4},
      {"azure storage", "AZURE_KEY", body(86, kB64) + "==",
       "DefaultEndpointsProtocol=https;AccountName=dev1;AccountKey=", ";EndpointSuffix=core.windows.net", 0},
      {"jwt", "JWT", jwt(), "Authorization: Bearer ", "", 3},
      {"generic password", "SECRET", "Xk9#mQ2$vL7pR4wZ", "db_password = \"", "\"", 0},
      {"generic api key unquoted", "SECRET", body(24, kHex, 21), "api_key: ", "\n", 0},
      {"generic json token", "SECRET", body(32, kB64Url, 8), "{\"access_token\": \"", "\"}", 0},
      {"password in url", "SECRET", "S3cure-Pa55word", "postgres://app:", "@db.internal:5432/orders", 0},
  };
}

}  // namespace

TEST(Secrets, ProviderFormatsAreFoundWithExactSpans) {
  auto det = make();
  for (const auto& c : provider_cases()) {
    SCOPED_TRACE(c.name);
    const std::string input = c.before + c.value + c.after;
    const auto f = scan(*det, input);
    ASSERT_EQ(f.size(), 1u) << (f.size() > 1 ? f[1].redact_label + " " + f[1].evidence : "");
    EXPECT_EQ(f[0].detector, "secrets");
    EXPECT_EQ(f[0].category, "secret_exposure");
    EXPECT_EQ(f[0].redact_label, c.label);
    EXPECT_TRUE(f[0].redactable);
    EXPECT_EQ(f[0].view, "raw");
    const auto start = static_cast<std::uint32_t>(c.before.size());
    EXPECT_EQ(f[0].spans, (std::vector<Span>{{start, start + static_cast<std::uint32_t>(c.value.size())}}));
    expect_no_leak(f[0].evidence, c.value, c.public_prefix);
    if (c.label == "SECRET") {
      EXPECT_LT(f[0].score, 0.95);
    } else {
      EXPECT_GE(f[0].score, 0.95) << f[0].evidence;
      EXPECT_EQ(f[0].severity, Severity::high);
    }
  }
}

TEST(Secrets, EvidenceNamesKindPrefixAndValidator) {
  const auto f = scan(*make(), "token: ghp_" + body(36));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].evidence.rfind("github_token: 1 match, prefix \"ghp_\"; format valid (40 chars, entropy ", 0), 0u)
      << f[0].evidence;
}

TEST(Secrets, PrivateKeyBlockIsCriticalAndCoveredWhole) {
  std::string block = "-----BEGIN RSA PRIVATE KEY-----\n";
  for (int i = 0; i < 4; ++i) block += body(64, kB64, static_cast<std::uint32_t>(i + 1)) + "\n";
  block += body(20, kB64, 9) + "==\n-----END RSA PRIVATE KEY-----";
  const std::string input = "here is my key:\n" + block + "\nthanks";
  const auto f = scan(*make(), input);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].redact_label, "PRIVATE_KEY");
  EXPECT_EQ(f[0].severity, Severity::critical);
  EXPECT_EQ(f[0].spans, (std::vector<Span>{{16, static_cast<std::uint32_t>(16 + block.size())}}));
  EXPECT_NE(f[0].evidence.find("RSA PRIVATE KEY block"), std::string::npos) << f[0].evidence;
  EXPECT_NE(f[0].evidence.find("END marker found"), std::string::npos) << f[0].evidence;
  const std::size_t body_at = block.find('\n') + 1;
  expect_no_leak(f[0].evidence, block.substr(body_at, block.find("-----END") - body_at), 0);

  // a truncated paste without END still counts; a header alone (documentation) does not
  const std::string open = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + body(70, kB64, 4) + "\n" + body(70, kB64, 5);
  const auto g = scan(*make(), open + "\n\n(rest cut)");
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].spans, (std::vector<Span>{{0, static_cast<std::uint32_t>(open.size())}}));
  EXPECT_TRUE(
      scan(*make(), "A PEM file starts with -----BEGIN PRIVATE KEY----- and ends with -----END PRIVATE KEY-----.")
          .empty());
}

TEST(Secrets, OneFindingPerKindWithAllSpans) {
  const std::string a = "ghp_" + body(36, kAlnum, 1), b = "ghs_" + body(36, kAlnum, 2);
  const auto f = scan(*make(), "first " + a + " second " + b + " and AKIAIOSFODNN7EXAMPLE");
  ASSERT_EQ(f.size(), 2u);
  const Finding* gh = by_label(f, "GITHUB_TOKEN");
  ASSERT_NE(gh, nullptr);
  EXPECT_EQ(gh->spans.size(), 2u);
  EXPECT_NE(gh->evidence.find("2 matches, prefixes \"ghp_\", \"ghs_\""), std::string::npos) << gh->evidence;
  EXPECT_NE(by_label(f, "AWS_KEY"), nullptr);
}

TEST(Secrets, ProviderFormatWinsOverGenericAssignment) {
  const auto f = scan(*make(), "api_key = \"AKIAIOSFODNN7EXAMPLE\"\ntoken = \"" + jwt() + "\"");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_NE(by_label(f, "AWS_KEY"), nullptr);
  EXPECT_NE(by_label(f, "JWT"), nullptr);
  EXPECT_EQ(by_label(f, "SECRET"), nullptr);
}

TEST(Secrets, NegativesAreClean) {
  auto det = make();
  const std::vector<std::string> clean = {
      "password = changeme",
      "password = \"aaaaaaaaaaaaaaaaaaaa\"",
      "PASSWORD=\"your_password_here\"",
      "api_key = \"<YOUR_API_KEY>\"",
      "token = os.environ[\"GITHUB_TOKEN\"]",
      "secret: ${VAULT_SECRET}",
      "password: settings.database_password",
      "passwordField: \"password-input-field\"",
      "password_hash = bcrypt.hashpw(pw, salt)",
      "token: ${{ secrets.GITHUB_TOKEN }}",
      "max_tokens = 123456789012345",
      "tokenizer = AutoTokenizer.from_pretrained(\"bert-base-uncased\")",
      "commit 3f786850e387550fdab836ed7e6dc881de23001b fixed it",
      "request id 123e4567-e89b-12d3-a456-426614174000 failed at 2024-01-15T10:30:00Z",
      "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      "AKIAXXXXXXXXXXXXXXXX",
      "XAKIAIOSFODNN7EXAMPLE",
      "AKIAIOSFODNN7EXAMPLEX",
      "sk-ant-api03-short",
      "header eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc is truncated",
      "postgres://user:password@localhost:5432/db",
      "see https://example.com:8080/path for details",
      "The word secret: it is a secret that the token is hidden.",
  };
  for (const auto& s : clean) {
    const auto f = scan(*det, s);
    EXPECT_TRUE(f.empty()) << s << " -> " << (f.empty() ? "" : f[0].redact_label + " " + f[0].evidence);
  }
}

TEST(Secrets, MinEntropyIsConfigurable) {
  const std::string input = "password = \"correcthorse2024\"";  // 3.2 bits/char
  EXPECT_EQ(scan(*make(), input).size(), 1u);
  SecretsDetector::Config strict;
  strict.min_entropy = 3.5;
  EXPECT_TRUE(scan(*make(strict), input).empty());
  EXPECT_GT(shannon_entropy("correcthorse2024"), 3.0);
  EXPECT_LT(shannon_entropy("correcthorse2024"), 3.5);
  EXPECT_TRUE(scan(*make(), "password = \"Summer2024Summer2024\"").empty());  // 2.9 bits/char
  EXPECT_DOUBLE_EQ(shannon_entropy("aaaa"), 0.0);
  EXPECT_DOUBLE_EQ(shannon_entropy("abcd"), 2.0);
}

// shannon_entropy uses log2(n) - sum(c log2 c)/n; it must agree with the textbook -sum(p log2 p),
// also past its c*log2(c) table (counts of 512 and more).
TEST(Secrets, EntropyAgreesWithTheDefinition) {
  std::mt19937 rng(11);
  for (std::size_t len : {1u, 2u, 7u, 40u, 255u, 600u, 5000u}) {
    for (int alphabet : {1, 2, 16, 64, 200}) {
      std::string s;
      for (std::size_t i = 0; i < len; ++i) s.push_back(static_cast<char>(33 + rng() % static_cast<unsigned>(alphabet)));
      std::map<char, double> counts;
      for (char c : s) counts[c] += 1;
      double expected = 0;
      for (const auto& [c, k] : counts) expected -= k / static_cast<double>(len) * std::log2(k / static_cast<double>(len));
      EXPECT_NEAR(shannon_entropy(s), expected, 1e-9) << len << " chars over " << alphabet;
    }
  }
}

TEST(Secrets, MaxScanBytesBoundsTheScan) {
  SecretsDetector::Config cfg;
  cfg.max_scan_bytes = 1024;
  auto det = make(cfg);
  EXPECT_EQ(scan(*det, std::string(900, ' ') + "AKIAIOSFODNN7EXAMPLE").size(), 1u);
  EXPECT_TRUE(scan(*det, std::string(2000, ' ') + "AKIAIOSFODNN7EXAMPLE").empty());
  EXPECT_EQ(det->counters().bytes.load(), 920u + 1024u);
}

TEST(Secrets, CountersAndMissingScratch) {
  auto det = make();
  scan(*det, "nothing here");
  scan(*det, "AKIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(det->counters().scans.load(), 2u);
  EXPECT_EQ(det->counters().findings.load(), 1u);
  const auto n = testing::normalizer().normalize("AKIAIOSFODNN7EXAMPLE");
  std::vector<Finding> out;
  EXPECT_FALSE(det->scan(ScanInput{Role::prompt, n, nullptr, {}, {}}, nullptr, out));
  EXPECT_EQ(det->counters().errors.load(), 1u);
}

TEST(Secrets, AppliesToEveryRole) {
  auto det = make();
  EXPECT_TRUE(det->applies_to(Role::prompt));
  EXPECT_TRUE(det->applies_to(Role::context));
  EXPECT_TRUE(det->applies_to(Role::response));
  EXPECT_EQ(scan(*det, "AKIAIOSFODNN7EXAMPLE", Role::response)[0].role, Role::response);
}

TEST(Secrets, ConfigUnknownKeyIsAnErrorWithItsLine) {
  LoadErrors errors;
  yaml::Reader r("cfg.yaml", errors);
  const YAML::Node node = YAML::Load("enabled: true\nmin_entropy: 3.5\nmin_entropie: 3\n");
  EXPECT_EQ(SecretsDetector::load(node, r, {}), nullptr);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, "config_unknown_key");
  EXPECT_EQ(errors[0].line, 3);
}

TEST(Secrets, ConfigBadValuesAreReportedTogether) {
  LoadErrors errors;
  yaml::Reader r("cfg.yaml", errors);
  const YAML::Node node = YAML::Load("min_entropy: 9\nmax_scan_bytes: 12\n");
  SecretsDetector::load(node, r, {});
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].code, "config_invalid_value");
  EXPECT_EQ(errors[0].line, 1);
  EXPECT_EQ(errors[1].line, 2);

  SecretsDetector::Config cfg;
  cfg.min_entropy = -1;
  cfg.max_scan_bytes = 10;
  const auto res = SecretsDetector::create(cfg);
  EXPECT_FALSE(res.ok());
  EXPECT_EQ(res.errors.size(), 2u);
}

TEST(Secrets, IsRegistered) {
  const RegistryEntry* e = find_detector("secrets");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->load, &SecretsDetector::load);
}

TEST(Secrets, ShippedConfigSectionLoads) {
  LoadErrors errors;
  const YAML::Node root = yaml::load_file(DG_SOURCE_DIR "/config/dualguard.yaml", errors);
  ASSERT_TRUE(errors.empty()) << format_errors_text(errors);
  yaml::Reader r("dualguard.yaml", errors);
  EXPECT_NE(SecretsDetector::load(root["detectors"]["secrets"], r, {}), nullptr);
  EXPECT_TRUE(errors.empty()) << format_errors_text(errors);
}

}  // namespace dg::detect
