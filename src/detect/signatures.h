// `signatures`: multi-pattern rule sets (config/signatures/*.yaml) compiled once into Hyperscan
// databases: instruction hijacking, jailbreak templates, chat-template token injection, system-prompt
// extraction, exfiltration markup, and SQL / shell / XSS payloads in responses.
//
// Rule file format (docs/signatures.md):
//   rules:
//     - id: DG-PI-001            unique across all files
//       category: prompt_injection   a taxonomy category
//       severity: high           low | medium | high | critical
//       score: 0.9               confidence 0..1 (default 0.9)
//       roles: [prompt, context] where the rule applies (default: prompt, context)
//       views: folded            folded (every normalised view, lower case) | raw (original bytes)
//       flags: [caseless]        caseless, dotall, multiline, ucp, utf8
//       pattern: 'ignore\s+(all\s+)?previous\s+instructions'
//       prefilter: 'previous\s+instructions'   optional: a cheaper necessary condition for the
//                                  Hyperscan stage; `pattern` (PCRE2) decides (docs/signatures.md)
//       description: ...
//       atlas: [AML.T0051.000]
//       owasp: [LLM01:2025]
//       examples: [...]          must match (checked by the unit tests, also obfuscated)
//       counter_examples: [...]  must not match
#pragma once

#include <array>

#include "detect/hyperscan.h"

typedef struct pcre2_real_code_8 pcre2_code_8;

namespace dg::detect {

struct SignatureRule {
  std::string id;
  std::string category;
  Severity severity = Severity::high;
  double score = 0.9;
  unsigned roles = role_bit(Role::prompt) | role_bit(Role::context);
  bool raw_view = false;
  unsigned flags = 0;
  std::string pattern;
  std::string prefilter;  // empty: Hyperscan runs `pattern` itself
  std::string description;
  std::vector<std::string> atlas;
  std::vector<std::string> owasp;
  std::vector<std::string> examples;
  std::vector<std::string> counter_examples;
  std::string file;
  int line = 0;
};

class SignatureDetector final : public Detector {
 public:
  struct Config {
    std::vector<std::string> rule_paths;  // files or directories of *.yaml, resolved
    std::size_t max_scan_bytes = 256 * 1024;
    std::size_t max_matches = 4096;
    std::string cache_dir = default_cache_dir();  // compiled-database cache; "" disables it
  };

  // Loads and compiles every rule file; reports every problem at once.
  static LoadResult<std::unique_ptr<SignatureDetector>> create(const Config& cfg);
  // Builds from already-parsed rules (tests, tools).
  static LoadResult<std::unique_ptr<SignatureDetector>> from_rules(std::vector<SignatureRule> rules,
                                                                   const Config& cfg);
  // Registry entry: parses the `detectors.signatures` config section.
  static std::unique_ptr<Detector> load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx);

  std::string_view name() const noexcept override { return "signatures"; }
  bool applies_to(Role role) const noexcept override { return (roles_ & role_bit(role)) != 0; }
  std::unique_ptr<Scratch> make_scratch() const override;
  bool scan(const ScanInput& in, Scratch* scratch, std::vector<Finding>& out) const noexcept override;
  std::vector<std::string> categories() const override;

  const std::vector<SignatureRule>& rules() const noexcept { return rules_; }

  ~SignatureDetector() override;

 private:
  SignatureDetector() = default;
  // Spans of a rule's matches in `text`, found by PCRE2, which also confirms the match: Hyperscan
  // runs without start-of-match tracking (a database 8x smaller and faster to scan) and, for rules
  // with a `prefilter`, on that cheaper necessary condition. Empty when PCRE2 finds no match; when
  // PCRE2 fails (match limit), the stretch before Hyperscan's end offset `hs_end`.
  std::vector<Span> spans_of(std::size_t rule, std::string_view text, Scratch& scratch, std::uint32_t hs_end) const;
  std::vector<pcre2_code_8*> span_re_;
  Config cfg_;
  std::vector<SignatureRule> rules_;
  // One database per role and view kind, holding only the rules for that role: a prompt is not
  // scanned for response payloads and vice versa. Roles with the same rule set share a database.
  static constexpr std::size_t kRoles = 3;
  std::array<std::shared_ptr<const HsDatabase>, kRoles> folded_db_, raw_db_;
  unsigned roles_ = 0;
};

// Parses one rule file's text (exposed for tests and `config validate`).
std::vector<SignatureRule> parse_signature_file(const std::string& yaml, const std::string& name, LoadErrors& errors);

}  // namespace dg::detect
