// The detector interface. A detector is one .h/.cc pair under src/detect/ with a Config struct, a
// factory that validates it (reporting every problem at once), a scan() that never throws, and its
// counters beside it. Detectors are listed in one explicit table (registry.cc).
//
// Thread safety: a Detector is immutable after creation and shared by all threads; per-thread state
// (e.g. Hyperscan scratch) lives in the Scratch the detector makes, one per thread.
#pragma once

#include <yaml-cpp/yaml.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/finding.h"
#include "core/load_result.h"
#include "core/logprobs.h"
#include "core/signature.h"
#include "core/yaml_util.h"
#include "text/normalizer.h"

namespace dg::detect {

// A protected system prompt, prepared once (folded text, word shingles, canary tokens it carries)
// and reused for every response scanned against it.
struct ProtectedPrompt {
  std::string text;                    // as given
  std::string folded;                  // the normaliser's fold of `text`
  std::vector<std::uint64_t> shingles; // sorted, unique hashes of word k-grams of `folded`
  std::size_t words = 0;               // number of words in `folded`
  std::vector<std::string> canaries;   // canary tokens found in the prompt (folded)
};

struct ScanInput {
  Role role = Role::prompt;
  const text::Normalized& text;
  const ProtectedPrompt* system = nullptr;  // for response-side leak detection; may be null
  // Response role only: the exchange's context documents as given (what a grounded answer may
  // rest on) and the answer's token log-probabilities when the upstream returned them. Empty
  // otherwise; the caller keeps both alive for the scan.
  std::span<const std::string_view> context{};
  std::span<const TokenLogprob> logprobs{};
};

// Per-thread state of one detector. The base is empty; detectors that need scratch derive from it.
class Scratch {
 public:
  virtual ~Scratch() = default;
};

struct Counters {
  std::atomic<std::uint64_t> scans{0};
  std::atomic<std::uint64_t> findings{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> bytes{0};
};

class Detector {
 public:
  virtual ~Detector() = default;
  virtual std::string_view name() const noexcept = 0;
  virtual bool applies_to(Role role) const noexcept = 0;
  // Called once per thread; may return null when the detector needs no scratch.
  virtual std::unique_ptr<Scratch> make_scratch() const { return nullptr; }
  // Appends findings to `out` (category, score, severity, spans in ORIGINAL bytes, view, evidence;
  // the engine fills domain / intent / property from the taxonomy). Never throws. Returns false when
  // the detector could not complete (counted in errors; the policy's fail mode decides).
  virtual bool scan(const ScanInput& in, Scratch* scratch, std::vector<Finding>& out) const noexcept = 0;
  // The categories this detector can emit; the engine checks them against the taxonomy at load.
  virtual std::vector<std::string> categories() const { return {}; }

  const Counters& counters() const noexcept { return counters_; }

 protected:
  mutable Counters counters_;
};

// Context handed to every detector factory: where the config file lives (to resolve relative paths)
// and the error sink.
struct LoadContext {
  std::string config_dir;
  const text::Normalizer* normalizer = nullptr;  // the engine's normaliser (outlives the detectors)
  // The config's integrity: section (outlives loading); null: artifacts are not checked (tests).
  const sig::Integrity* integrity = nullptr;

  // A detector calls this with every file or folder it is about to read (rules, models, profiles):
  // in enforce mode a bad or missing signature becomes a LoadError naming it.
  void check_artifact(const std::string& path, LoadErrors& errors) const {
    if (integrity) integrity->check(path, errors);
  }
};

// Helpers shared by detectors ------------------------------------------------------------------

// Views a detector that works on folded text should scan: every view but "raw", or "raw" itself
// when the input needed no folding (no "nfkc" view was made).
bool is_folded_view(const text::Normalized& n, std::size_t view_index) noexcept;

// Merges overlapping or touching spans and sorts them.
void merge_spans(std::vector<Span>& spans);

// A short, single-line excerpt of `s` for evidence strings (at most `max` bytes, UTF-8 safe).
std::string excerpt(std::string_view s, std::size_t max = 80);

// Parses `roles: [prompt, context, response]` (or a single string) into a bit set; reports errors.
unsigned parse_roles(yaml::Reader& r, const YAML::Node& map, std::string_view key, unsigned fallback);
inline constexpr unsigned role_bit(Role r) noexcept { return 1u << static_cast<unsigned>(r); }
inline constexpr unsigned kAllRoles = 0b111;

}  // namespace dg::detect
