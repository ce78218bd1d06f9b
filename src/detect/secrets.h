// `secrets`: credentials in text (`secret_exposure`). Provider key formats (AWS, GitHub, GitLab, Slack,
// Stripe, Google, OpenAI, Anthropic, Twilio, SendGrid, npm, Azure storage), PEM private keys, JWTs,
// passwords in URLs, and generic `password|secret|api_key|token = "..."` assignments whose value looks
// random (Shannon entropy >= min_entropy bits/char, at least 12 characters).
//
// How: one Hyperscan database (compiled once, case-sensitive except for key names) finds candidates in
// the RAW view; a validator per kind then fixes the exact token boundaries and checks the structure
// (length, alphabet, entropy against placeholders such as "ghp_xxxx...", JWT segments that decode to
// JSON, a PEM body). Spans cover exactly the secret value (for assignments: the value, not the key
// name), so the redactor replaces only the secret.
//
// One finding per kind with all its spans; label e.g. AWS_KEY, GITHUB_TOKEN, PRIVATE_KEY, JWT, SECRET.
// Evidence names the kind, the public provider prefix and the validator result; it never contains the
// secret value (nor any part of it beyond the public prefix).
//
// Thread safety: immutable after create(); per-thread Hyperscan scratch from make_scratch().
#pragma once

#include "detect/hyperscan.h"

namespace dg::detect {

// Shannon entropy of the bytes of `s`, in bits per byte (0 for an empty string).
double shannon_entropy(std::string_view s) noexcept;

class SecretsDetector final : public Detector {
 public:
  struct Config {
    double min_entropy = 3.0;                 // bits/char a generic assignment's value needs
    std::size_t min_generic_length = 12;      // characters a generic assignment's value needs
    std::size_t max_scan_bytes = 256 * 1024;  // bytes of the raw view scanned
    std::size_t max_matches = 4096;           // Hyperscan matches kept per scan (bounds work)
  };

  // Validates `cfg` (every problem reported) and compiles the pattern database.
  static LoadResult<std::unique_ptr<SecretsDetector>> create(const Config& cfg);
  // Registry entry: parses `detectors.secrets` (keys: enabled, min_entropy, max_scan_bytes).
  static std::unique_ptr<Detector> load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx);

  std::string_view name() const noexcept override { return "secrets"; }
  bool applies_to(Role) const noexcept override { return true; }
  std::vector<std::string> categories() const override { return {"secret_exposure"}; }
  std::unique_ptr<Scratch> make_scratch() const override;
  bool scan(const ScanInput& in, Scratch* scratch, std::vector<Finding>& out) const noexcept override;

 private:
  explicit SecretsDetector(Config cfg) : cfg_(cfg) {}
  Config cfg_;
  std::shared_ptr<const HsDatabase> db_;
};

}  // namespace dg::detect
