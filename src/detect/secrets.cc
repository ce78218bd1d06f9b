#include "detect/secrets.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <optional>

#include "core/errors.h"
#include "text/codec.h"

namespace dg::detect {

namespace {
// c * log2(c) for the counts of short strings (secrets are at most a few hundred characters).
constexpr std::size_t kEntropyTable = 512;
const std::array<double, kEntropyTable> kCLog2C = [] {
  std::array<double, kEntropyTable> t{};
  for (std::size_t c = 1; c < kEntropyTable; ++c) t[c] = static_cast<double>(c) * std::log2(static_cast<double>(c));
  return t;
}();
double clog2c(std::uint32_t c) noexcept {
  return c < kEntropyTable ? kCLog2C[c] : static_cast<double>(c) * std::log2(static_cast<double>(c));
}
}  // namespace

// H = log2(n) - (1/n) * sum(c * log2(c)) over the byte counts c: one log2 per call, not per symbol.
double shannon_entropy(std::string_view s) noexcept {
  if (s.empty()) return 0.0;
  std::array<std::uint32_t, 256> counts{};
  for (const char c : s) ++counts[static_cast<unsigned char>(c)];
  double sum = 0.0;
  for (const char c : s) {
    std::uint32_t& k = counts[static_cast<unsigned char>(c)];
    if (!k) continue;  // counted already
    sum += clog2c(k);
    k = 0;
  }
  const double n = static_cast<double>(s.size());
  return std::max(0.0, std::log2(n) - sum / n);
}

namespace {

enum class Kind : unsigned {
  aws_access_key, aws_secret_key, github_token, gitlab_token, slack_token, slack_webhook, stripe_secret_key,
  stripe_publishable_key, google_api_key, openai_key, anthropic_key, twilio_key, sendgrid_key, npm_token,
  azure_key, private_key, jwt, url_credentials, generic_secret, count
};
constexpr std::size_t kKindCount = static_cast<std::size_t>(Kind::count);

struct KindInfo {
  std::string_view name;   // used in evidence
  std::string_view label;  // redact label
  Severity severity;
  double score;
  bool provider;           // a provider / structural format (wins over generic hits that overlap it)
};

// Indexed by Kind. A publishable Stripe key is public by design (it ships in web pages): reported so a
// policy can see it, with medium severity and a low score.
constexpr std::array<KindInfo, kKindCount> kKinds{{
    {"aws_access_key", "AWS_KEY", Severity::high, 0.95, true},
    {"aws_secret_key", "AWS_KEY", Severity::high, 0.95, true},
    {"github_token", "GITHUB_TOKEN", Severity::high, 0.95, true},
    {"gitlab_token", "GITLAB_TOKEN", Severity::high, 0.95, true},
    {"slack_token", "SLACK_TOKEN", Severity::high, 0.95, true},
    {"slack_webhook", "SLACK_WEBHOOK", Severity::high, 0.95, true},
    {"stripe_secret_key", "STRIPE_KEY", Severity::high, 0.95, true},
    {"stripe_publishable_key", "STRIPE_KEY", Severity::medium, 0.6, true},
    {"google_api_key", "GOOGLE_API_KEY", Severity::high, 0.95, true},
    {"openai_key", "OPENAI_KEY", Severity::high, 0.95, true},
    {"anthropic_key", "ANTHROPIC_KEY", Severity::high, 0.95, true},
    {"twilio_key", "TWILIO_KEY", Severity::high, 0.95, true},
    {"sendgrid_key", "SENDGRID_KEY", Severity::high, 0.95, true},
    {"npm_token", "NPM_TOKEN", Severity::high, 0.95, true},
    {"azure_key", "AZURE_KEY", Severity::high, 0.95, true},
    {"private_key", "PRIVATE_KEY", Severity::critical, 0.99, true},
    {"jwt", "JWT", Severity::high, 0.95, true},
    {"url_credentials", "SECRET", Severity::high, 0.8, false},
    {"generic_secret", "SECRET", Severity::high, 0.6, false},
}};

// How a candidate becomes a span.
enum class Method {
  token,            // the match starts the token; extend over the alphabet, check length and boundaries
  assignment,       // `key = value`: the span is the value, which must be alphabet-only of the given length
  generic,          // `password = "..."`: the value must look random (entropy, length, not a placeholder)
  private_key,      // PEM header: the span runs to the END marker
  jwt,              // three base64url segments; header and payload decode to JSON
  url_credentials,  // scheme://user:password@host: the span is the password
};

enum class Alpha { upper_digit, alnum, alnum_us, alnum_us_dash, alnum_dash, hex, base64, any };

bool in_alpha(Alpha a, char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  const bool digit = u >= '0' && u <= '9';
  const bool upper = u >= 'A' && u <= 'Z';
  const bool lower = u >= 'a' && u <= 'z';
  switch (a) {
    case Alpha::upper_digit: return upper || digit;
    case Alpha::alnum: return upper || lower || digit;
    case Alpha::alnum_us: return upper || lower || digit || c == '_';
    case Alpha::alnum_us_dash: return upper || lower || digit || c == '_' || c == '-';
    case Alpha::alnum_dash: return upper || lower || digit || c == '-';
    case Alpha::hex: return digit || (u >= 'a' && u <= 'f') || (u >= 'A' && u <= 'F');
    case Alpha::base64: return upper || lower || digit || c == '+' || c == '/' || c == '=';
    case Alpha::any: return u > ' ' && u != 0x7F;
  }
  return false;
}

bool is_word(char c) noexcept { return in_alpha(Alpha::alnum_us, c); }

constexpr std::uint8_t kPrefixThroughSecondDash = 255;

struct Rule {
  Kind kind;
  Method method;
  const char* pattern;
  unsigned flags;
  Alpha alpha;            // token / value alphabet
  std::uint16_t min_len;  // token / value length bounds
  std::uint16_t max_len;
  std::uint8_t prefix_len;  // public provider prefix shown in evidence (kPrefixThroughSecondDash: "sk-ant-")
};

// The assignment operator part shared by key-name patterns: optional closing quote of the key, `=`,
// `:`, `:=` or `=>`, optional opening quote of the value.
#define DG_ASSIGN "[\"']?\\s{0,4}(=|:|:=|=>)\\s{0,4}[\"'`]?"

const std::array kRules{
    Rule{Kind::aws_access_key, Method::token, "(AKIA|ASIA)[A-Z0-9]{16}", 0, Alpha::upper_digit, 20, 20, 4},
    Rule{Kind::aws_secret_key, Method::assignment,
         "aws[_ .-]?secret[_ .-]?(access[_ .-]?)?key" DG_ASSIGN "[A-Za-z0-9/+]", HS_FLAG_CASELESS, Alpha::base64, 40,
         40, 0},
    Rule{Kind::github_token, Method::token, "gh[pousr]_[A-Za-z0-9]{36}", 0, Alpha::alnum, 40, 255, 4},
    Rule{Kind::github_token, Method::token, "github_pat_[A-Za-z0-9_]{40}", 0, Alpha::alnum_us, 60, 255, 11},
    Rule{Kind::gitlab_token, Method::token, "glpat-[A-Za-z0-9_-]{20}", 0, Alpha::alnum_us_dash, 26, 128, 6},
    Rule{Kind::slack_token, Method::token, "xox[abprs]-[A-Za-z0-9-]{10}", 0, Alpha::alnum_dash, 15, 255, 5},
    Rule{Kind::slack_webhook, Method::token,
         "https://hooks\\.slack\\.com/services/T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{16}", 0, Alpha::alnum, 60,
         200, 24},
    Rule{Kind::stripe_secret_key, Method::token, "[sr]k_live_[0-9A-Za-z]{24}", 0, Alpha::alnum, 32, 255, 8},
    Rule{Kind::stripe_publishable_key, Method::token, "pk_live_[0-9A-Za-z]{24}", 0, Alpha::alnum, 32, 255, 8},
    Rule{Kind::google_api_key, Method::token, "AIza[0-9A-Za-z_-]{35}", 0, Alpha::alnum_us_dash, 39, 39, 4},
    Rule{Kind::openai_key, Method::token, "sk-(proj|svcacct|admin)-[A-Za-z0-9_-]{20}", 0, Alpha::alnum_us_dash, 40, 300,
         kPrefixThroughSecondDash},
    Rule{Kind::openai_key, Method::token, "sk-[A-Za-z0-9]{48}", 0, Alpha::alnum, 51, 51, 3},
    Rule{Kind::anthropic_key, Method::token, "sk-ant-[a-z]{3,10}[0-9]{2}-[A-Za-z0-9_-]{20}", 0, Alpha::alnum_us_dash,
         60, 300, kPrefixThroughSecondDash},
    Rule{Kind::twilio_key, Method::token, "SK[0-9a-f]{32}", 0, Alpha::hex, 34, 34, 2},
    Rule{Kind::twilio_key, Method::assignment,
         "twilio[_ .-]?(auth[_ .-]?token|api[_ .-]?secret|secret)" DG_ASSIGN "[0-9a-f]", HS_FLAG_CASELESS, Alpha::hex,
         32, 32, 0},
    Rule{Kind::sendgrid_key, Method::token, "SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}", 0, Alpha::alnum_us_dash, 69,
         69, 3},
    Rule{Kind::npm_token, Method::token, "npm_[A-Za-z0-9]{36}", 0, Alpha::alnum, 40, 40, 4},
    Rule{Kind::azure_key, Method::assignment, "AccountKey\\s{0,2}=\\s{0,2}[A-Za-z0-9+/]", 0, Alpha::base64, 86, 88, 0},
    Rule{Kind::azure_key, Method::assignment, "SharedAccessKey\\s{0,2}=\\s{0,2}[A-Za-z0-9+/]", 0, Alpha::base64, 43, 44,
         0},
    Rule{Kind::private_key, Method::private_key, "-----BEGIN[A-Z0-9 ]{0,24} PRIVATE KEY( BLOCK)?-----", 0,
         Alpha::base64, 64, 0, 0},
    Rule{Kind::jwt, Method::jwt, "eyJ[A-Za-z0-9_-]{8}", 0, Alpha::alnum_us_dash, 16, 0, 3},
    Rule{Kind::url_credentials, Method::url_credentials, "://[^\\s:/@\"'<>]{1,64}:[^\\s:/@\"'<>]{3}", 0, Alpha::any, 3,
         128, 0},
    Rule{Kind::generic_secret, Method::generic,
         "(password|passwd|passphrase|pwd|secret|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|private[_-]?key|"
         "token|credentials?)[a-z0-9_-]{0,24}" DG_ASSIGN "[^\\s\"'`]{4}",
         HS_FLAG_CASELESS, Alpha::any, 12, 256, 0},
};
#undef DG_ASSIGN

// Bodies of provider tokens below this entropy are placeholders ("ghp_xxxx...", "AKIA0000...").
constexpr double kPlaceholderEntropy = 2.5;
constexpr std::size_t kMaxPemBytes = 64 * 1024;
constexpr std::size_t kMaxJwtSegment = 8192;

struct Hit {
  Span span;
  std::string prefix;  // public provider prefix, may be empty
  std::string check;   // validator result for the evidence (never the value)
  double score = 0.0;
};

class SecretsScratch final : public Scratch {
 public:
  explicit SecretsScratch(const HsDatabase* db) : hs({db}) {}
  HsScratch hs;
  std::vector<HsMatch> matches;
};

std::string fmt1(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Values that are placeholders, references or code rather than a literal secret.
bool looks_like_placeholder(std::string_view v) {
  if (v.empty()) return true;
  const char first = v.front();
  if (first == '$' || first == '%' || first == '<' || first == '{' || first == '[' || first == '(' || first == '*')
    return true;
  const std::string l = lower(v);
  static constexpr std::string_view kMarkers[] = {
      "${", "{{", "://", "(", ")", "xxxx", "****", "....", "your_", "your-", "yourpassword", "_here", "-here",
      "example", "placeholder", "changeme", "change_me", "dummy", "redacted", "replace", "insert", "sample",
      "os.environ", "process.env", "getenv"};
  for (const auto m : kMarkers)
    if (l.find(m) != std::string::npos) return true;
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) return true;  // a number
  if (std::all_of(v.begin(), v.end(), [&](char c) { return c == v.front(); })) return true;
  return false;
}

bool placeholder_password(std::string_view v) {
  static constexpr std::string_view kWords[] = {"password", "pass", "passwd", "pwd", "secret", "changeme",
                                                "pw", "pword", "mypassword", "yourpassword", "p@ssw0rd"};
  const std::string l = lower(v);
  for (const auto w : kWords)
    if (l == w) return true;
  return looks_like_placeholder(v);
}


class Extractor {
 public:
  Extractor(std::string_view t, const SecretsDetector::Config& cfg) : t_(t), cfg_(cfg) {}

  std::optional<Hit> extract(const Rule& rule, const HsMatch& m) const {
    switch (rule.method) {
      case Method::token: return token(rule, m);
      case Method::assignment:
      case Method::generic: return assignment(rule, m);
      case Method::private_key: return private_key(rule, m);
      case Method::jwt: return jwt(m);
      case Method::url_credentials: return url_credentials(rule, m);
    }
    return std::nullopt;
  }

 private:
  char at(std::size_t i) const noexcept { return i < t_.size() ? t_[i] : '\0'; }

  std::optional<Hit> token(const Rule& rule, const HsMatch& m) const {
    const std::size_t start = m.from;
    if (start > 0 && (is_word(t_[start - 1]) || in_alpha(rule.alpha, t_[start - 1]))) return std::nullopt;
    std::size_t end = m.to;
    while (end < t_.size() && in_alpha(rule.alpha, t_[end]) && end - start <= rule.max_len) ++end;
    const std::size_t len = end - start;
    if (len < rule.min_len || len > rule.max_len) return std::nullopt;
    if (is_word(at(end))) return std::nullopt;
    const std::string_view tok = t_.substr(start, len);
    std::size_t plen = rule.prefix_len;
    if (plen == kPrefixThroughSecondDash) {
      const std::size_t d1 = tok.find('-');
      const std::size_t d2 = d1 == std::string_view::npos ? d1 : tok.find('-', d1 + 1);
      plen = d2 == std::string_view::npos ? 3 : d2 + 1;
    }
    const double h = shannon_entropy(tok.substr(std::min(plen, tok.size())));
    if (h < kPlaceholderEntropy) return std::nullopt;
    Hit hit;
    hit.span = {static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(end)};
    hit.prefix = std::string(tok.substr(0, std::min(plen, tok.size())));
    hit.check = "format valid (" + std::to_string(len) + " chars, entropy " + fmt1(h) + " bits/char)";
    hit.score = kKinds[static_cast<std::size_t>(rule.kind)].score;
    return hit;
  }

  // `key <op> value`: finds the value after the operator.
  std::optional<Hit> assignment(const Rule& rule, const HsMatch& m) const {
    std::size_t i = m.from;
    while (i < m.to && t_[i] != '=' && t_[i] != ':') ++i;
    if (i >= m.to) return std::nullopt;
    const std::string key = lower(t_.substr(m.from, i - m.from));
    ++i;
    if (i < t_.size() && (t_[i] == '=' || t_[i] == '>')) ++i;
    while (i < t_.size() && (t_[i] == ' ' || t_[i] == '\t')) ++i;
    char quote = 0;
    if (i < t_.size() && (t_[i] == '"' || t_[i] == '\'' || t_[i] == '`')) quote = t_[i++];
    const std::size_t start = i;
    std::size_t end = start;
    if (rule.method == Method::assignment) {
      while (end < t_.size() && in_alpha(rule.alpha, t_[end]) && end - start <= rule.max_len) ++end;
      const std::size_t len = end - start;
      if (len < rule.min_len || len > rule.max_len || is_word(at(end))) return std::nullopt;
      const double h = shannon_entropy(t_.substr(start, len));
      if (h < kPlaceholderEntropy) return std::nullopt;
      Hit hit;
      hit.span = {static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(end)};
      hit.check =
          "value in assignment, format valid (" + std::to_string(len) + " chars, entropy " + fmt1(h) + " bits/char)";
      hit.score = kKinds[static_cast<std::size_t>(rule.kind)].score;
      return hit;
    }
    // generic
    if (quote) {
      while (end < t_.size() && t_[end] != quote && t_[end] != '\n' && end - start <= rule.max_len) ++end;
      if (at(end) != quote) return std::nullopt;
    } else {
      static constexpr std::string_view kStop = "\"'`,;<>)]}";
      while (end < t_.size() && in_alpha(Alpha::any, t_[end]) && kStop.find(t_[end]) == std::string_view::npos &&
             end - start <= rule.max_len)
        ++end;
      while (end > start && (t_[end - 1] == '.' || t_[end - 1] == ':')) --end;  // sentence punctuation
    }
    const std::string_view v = t_.substr(start, end - start);
    if (v.size() < cfg_.min_generic_length || v.size() > rule.max_len) return std::nullopt;
    if (std::any_of(v.begin(), v.end(), [](char c) { return c == ' ' || c == '\t'; })) return std::nullopt;
    if (looks_like_placeholder(v)) return std::nullopt;
    // An unquoted value made of letters and `_.-` only is a reference (a variable, a setting name), not
    // a literal secret.
    if (!quote && std::all_of(v.begin(), v.end(), [](char c) {
          return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
        }))
      return std::nullopt;
    // lower-case words joined by - _ . ("password-input-field") name something; they are not secrets
    const bool identifier = std::all_of(v.begin(), v.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || c == '_' || c == '-' || c == '.';
    });
    if (identifier && v.find_first_of("_-.") != std::string_view::npos) return std::nullopt;
    const double h = shannon_entropy(v);
    if (h < cfg_.min_entropy) return std::nullopt;
    Hit hit;
    hit.span = {static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(end)};
    // the key name (e.g. "db_password") is not secret; keep it short
    std::string name;
    for (const char c : key)
      if (is_word(c) || c == '-' || c == '.') name.push_back(c);
    if (name.size() > 32) name.resize(32);
    hit.check = "assignment to '" + name + "', entropy " + fmt1(h) + " >= " + fmt1(cfg_.min_entropy) + " bits/char, " +
                std::to_string(v.size()) + " chars";
    hit.score = std::min(0.85, 0.6 + 0.1 * (h - cfg_.min_entropy));
    return hit;
  }

  std::optional<Hit> private_key(const Rule& rule, const HsMatch& m) const {
    const std::size_t body_start = m.to;
    const std::size_t window_end = std::min(t_.size(), body_start + kMaxPemBytes);
    std::size_t end = 0;
    bool end_marker = false;
    std::size_t body_end = 0;
    const std::size_t e = next_end_marker(body_start);
    if (e != std::string_view::npos && e < window_end) {
      const std::size_t close = t_.find("-----", e + 8);
      if (close != std::string_view::npos && close < window_end &&
          t_.substr(e, close - e).find('\n') == std::string_view::npos) {
        end_marker = true;
        body_end = e;
        end = close + 5;
      }
    }
    if (!end_marker) {
      // no END marker (truncated paste): the body runs while it looks like PEM (base64 and header lines)
      std::size_t i = body_start;
      while (i < window_end && (in_alpha(Alpha::base64, t_[i]) || t_[i] == '\n' || t_[i] == '\r' || t_[i] == ' ' ||
                                t_[i] == ':' || t_[i] == ',' || t_[i] == '-'))
        ++i;
      while (i > body_start && std::isspace(static_cast<unsigned char>(t_[i - 1]))) --i;
      body_end = end = i;
    }
    std::size_t b64 = 0;
    for (std::size_t i = body_start; i < body_end; ++i) b64 += in_alpha(Alpha::base64, t_[i]) ? 1 : 0;
    if (b64 < rule.min_len) return std::nullopt;  // a header alone is documentation, not a key
    Hit hit;
    hit.span = {m.from, static_cast<std::uint32_t>(end)};
    // the header's type ("RSA PRIVATE KEY") is public; the body is not shown
    std::string type(t_.substr(m.from + 11, m.to - m.from - 16));
    hit.check = type + " block, " + std::to_string(b64) + " base64 chars, " +
                (end_marker ? "END marker found" : "no END marker (truncated)");
    hit.score = end_marker ? 0.99 : 0.95;
    return hit;
  }

  std::optional<Hit> jwt(const HsMatch& m) const {
    const std::size_t start = m.from;
    if (start > 0 && (in_alpha(Alpha::alnum_us_dash, t_[start - 1]) || t_[start - 1] == '.')) return std::nullopt;
    std::size_t seg[3][2];
    std::size_t i = start;
    for (int s = 0; s < 3; ++s) {
      if (s > 0) {
        if (at(i) != '.') return std::nullopt;
        ++i;
      }
      seg[s][0] = i;
      while (i < t_.size() && in_alpha(Alpha::alnum_us_dash, t_[i]) && i - seg[s][0] <= kMaxJwtSegment) ++i;
      seg[s][1] = i;
    }
    if (is_word(at(i))) return std::nullopt;
    const std::string_view header = t_.substr(seg[0][0], seg[0][1] - seg[0][0]);
    const std::string_view payload = t_.substr(seg[1][0], seg[1][1] - seg[1][0]);
    const std::size_t sig = seg[2][1] - seg[2][0];
    if (payload.substr(0, 3) != "eyJ" || sig < 16 || header.size() > kMaxJwtSegment) return std::nullopt;
    const std::string h = text::decode_base64(header, 1024);
    const std::string p = text::decode_base64(payload.substr(0, 64), 48);
    const std::size_t alg = h.find("\"alg\"");
    if (h.empty() || h.front() != '{' || alg == std::string::npos || p.empty() || p.front() != '{') return std::nullopt;
    std::string alg_name;
    std::size_t q = h.find('"', h.find(':', alg + 5));
    if (q != std::string::npos)
      for (++q; q < h.size() && is_word(h[q]) && alg_name.size() < 16; ++q) alg_name.push_back(h[q]);
    Hit hit;
    hit.span = {static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(i)};
    hit.prefix = "eyJ";
    hit.check = "header and payload decode to JSON (alg " + (alg_name.empty() ? std::string("?") : alg_name) +
                "), signature " + std::to_string(sig) + " chars";
    hit.score = 0.95;
    return hit;
  }

  std::optional<Hit> url_credentials(const Rule& rule, const HsMatch& m) const {
    std::size_t i = m.from + 3;  // after "://"
    while (i < t_.size() && t_[i] != ':') ++i;
    const std::size_t start = i + 1;
    std::size_t end = start;
    static constexpr std::string_view kStop = ":/@\"'<>";
    while (end < t_.size() && end - start <= rule.max_len && in_alpha(Alpha::any, t_[end]) &&
           kStop.find(t_[end]) == std::string_view::npos)
      ++end;
    if (at(end) != '@' || !std::isalnum(static_cast<unsigned char>(at(end + 1)))) return std::nullopt;
    const std::string_view pw = t_.substr(start, end - start);
    if (pw.size() < rule.min_len || pw.size() > rule.max_len || placeholder_password(pw)) return std::nullopt;
    Hit hit;
    hit.span = {static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(end)};
    hit.check = "password in URL userinfo (" + std::to_string(pw.size()) + " chars)";
    hit.score = 0.8;
    return hit;
  }

  // The first "-----END" at or after `from`. Candidates arrive in increasing order, so one search
  // serves many headers: linear time even for text made of PEM headers.
  std::size_t next_end_marker(std::size_t from) const {
    if (!end_searched_ || end_from_ > from || (end_pos_ != std::string_view::npos && end_pos_ < from)) {
      end_from_ = from;
      end_pos_ = t_.find("-----END", from);
      end_searched_ = true;
    }
    return end_pos_;
  }

  std::string_view t_;
  const SecretsDetector::Config& cfg_;
  mutable bool end_searched_ = false;
  mutable std::size_t end_from_ = 0, end_pos_ = 0;
};

bool overlaps(const Span& a, const Span& b) noexcept { return a.start < b.end && b.start < a.end; }

}  // namespace

LoadResult<std::unique_ptr<SecretsDetector>> SecretsDetector::create(const Config& cfg) {
  using R = LoadResult<std::unique_ptr<SecretsDetector>>;
  LoadErrors errors;
  auto err = [&](std::string msg) {
    errors.push_back({"", 0, 0, std::string(errc::kConfigInvalidValue), "secrets: " + std::move(msg)});
  };
  if (!(cfg.min_entropy >= 0.0 && cfg.min_entropy <= 8.0)) err("min_entropy must be between 0 and 8 bits per char");
  if (cfg.min_generic_length < 4) err("min_generic_length must be at least 4");
  if (cfg.max_scan_bytes < 1024) err("max_scan_bytes must be at least 1024");
  if (cfg.max_matches < 16) err("max_matches must be at least 16");
  if (!errors.empty()) return R::failure(std::move(errors));

  std::vector<HsPattern> patterns;
  for (std::size_t i = 0; i < kRules.size(); ++i)
    patterns.push_back({kRules[i].pattern, kRules[i].flags, static_cast<unsigned>(i)});
  int bad = -1;
  std::string msg;
  auto db = HsDatabase::compile_cached(patterns, default_cache_dir(), bad, msg);
  if (!db) {
    err("pattern " + std::to_string(bad) + " does not compile: " + msg);
    return R::failure(std::move(errors));
  }
  auto det = std::unique_ptr<SecretsDetector>(new SecretsDetector(cfg));
  det->db_ = std::move(db);
  return R::success(std::move(det));
}

std::unique_ptr<Detector> SecretsDetector::load(const YAML::Node& node, yaml::Reader& r, const LoadContext&) {
  const std::size_t errors_before = r.errors().size();
  if (!r.check_keys(node, {"enabled", "min_entropy", "max_scan_bytes"}, "detectors.secrets")) return nullptr;
  Config cfg;
  cfg.min_entropy = r.number(node, "min_entropy", 3.0, 0.0, 8.0);
  cfg.max_scan_bytes = static_cast<std::size_t>(r.integer(node, "max_scan_bytes", 256 * 1024, 1024, 64ll << 20));
  if (r.errors().size() > errors_before) return nullptr;  // every problem reported; no half-configured detector
  auto res = create(cfg);
  for (auto& e : res.errors) r.errors().push_back(std::move(e));
  return res.value ? std::move(*res.value) : nullptr;
}

std::unique_ptr<Scratch> SecretsDetector::make_scratch() const { return std::make_unique<SecretsScratch>(db_.get()); }

bool SecretsDetector::scan(const ScanInput& in, Scratch* scratch, std::vector<Finding>& out) const noexcept {
  auto* s = dynamic_cast<SecretsScratch*>(scratch);
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
    s->matches.clear();
    bool ok = db_->scan(t, s->hs.get(), s->matches, cfg_.max_matches);
    auto& ms = s->matches;
    std::sort(ms.begin(), ms.end(), [](const HsMatch& a, const HsMatch& b) {
      return a.id != b.id ? a.id < b.id : a.from != b.from ? a.from < b.from : a.to < b.to;
    });
    std::array<std::vector<Hit>, kKindCount> hits;
    const Extractor ex(t, cfg_);
    for (std::size_t i = 0; i < ms.size(); ++i) {
      if (i > 0 && ms[i].id == ms[i - 1].id && ms[i].from == ms[i - 1].from) continue;  // one try per start
      const Rule& rule = kRules[ms[i].id];
      auto& list = hits[static_cast<std::size_t>(rule.kind)];
      // a candidate inside an accepted hit of its kind (a header inside a PEM body) is not retried
      if (!list.empty() && ms[i].from >= list.back().span.start && ms[i].from < list.back().span.end) continue;
      auto hit = ex.extract(rule, ms[i]);
      if (!hit) continue;
      if (std::any_of(list.begin(), list.end(), [&](const Hit& h) { return overlaps(h.span, hit->span); })) continue;
      list.push_back(std::move(*hit));
    }
    // A provider hit explains its text: generic hits overlapping it, and anything inside a PEM block, go.
    std::vector<Span> provider;
    for (std::size_t k = 0; k < kKindCount; ++k)
      if (kKinds[k].provider)
        for (const auto& h : hits[k]) provider.push_back(h.span);
    const auto& pem = hits[static_cast<std::size_t>(Kind::private_key)];
    for (std::size_t k = 0; k < kKindCount; ++k) {
      auto& list = hits[k];
      const bool generic = !kKinds[k].provider;
      std::erase_if(list, [&](const Hit& h) {
        if (k != static_cast<std::size_t>(Kind::private_key) &&
            std::any_of(pem.begin(), pem.end(), [&](const Hit& p) { return overlaps(p.span, h.span); }))
          return true;
        return generic &&
               std::any_of(provider.begin(), provider.end(), [&](const Span& p) { return overlaps(p, h.span); });
      });
    }
    for (std::size_t k = 0; k < kKindCount; ++k) {
      const auto& list = hits[k];
      if (list.empty()) continue;
      const KindInfo& info = kKinds[k];
      Finding f;
      f.detector = "secrets";
      f.category = "secret_exposure";
      f.role = in.role;
      f.view = raw.name;
      f.severity = info.severity;
      f.redactable = true;
      f.redact_label = std::string(info.label);
      std::vector<std::string> prefixes;
      for (const auto& h : list) {
        f.spans.push_back(raw.to_original(h.span.start, h.span.end));
        f.score = std::max(f.score, h.score);
        if (!h.prefix.empty() && prefixes.size() < 3 &&
            std::find(prefixes.begin(), prefixes.end(), h.prefix) == prefixes.end())
          prefixes.push_back(h.prefix);
      }
      merge_spans(f.spans);
      std::string ev =
          std::string(info.name) + ": " + std::to_string(list.size()) + (list.size() == 1 ? " match" : " matches");
      if (!prefixes.empty()) {
        ev += prefixes.size() == 1 ? ", prefix " : ", prefixes ";
        for (std::size_t p = 0; p < prefixes.size(); ++p) ev += (p ? ", \"" : "\"") + prefixes[p] + "\"";
      }
      ev += "; " + list.front().check;
      f.evidence = std::move(ev);
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
