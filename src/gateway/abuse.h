// `abuse`: a detector of traffic, not of one text. It watches each API key's stream of prompts and
// reports what no single request shows (DESIGN.md, "abuse and extraction"):
//
//   rate          requests and tokens of the key over `rate_window`, against absolute thresholds and
//                 against the key's own baseline (an exponentially weighted mean of its past windows,
//                 armed after `baseline_warmup`)                                    -> rate_abuse
//   near-duplicates  a burst of prompts whose SimHash (64 bits over word shingles of the normalised
//                 prompt) is within `duplicate_distance` bits of this one, within `duplicate_window`:
//                 replay, flooding, scraping one answer many times                  -> rate_abuse
//   templates     many DISTINCT prompts sharing one long template and differing only in short slots
//                 (one number or a few words changed, the rest word for word the same) within
//                 `template_window`: the signature of model extraction and of boundary probing
//                 (walking a slot value across a decision boundary)                 -> model_extraction
//
// Templates are compared word by word on each prompt's first and last template_words / 2 words: a
// slot in the middle of a prompt longer than template_words is not seen (such prompts still count as
// near-duplicates when their SimHash is close).
//
// Normalisation: ASCII letters lower-cased; words are runs of ASCII letters and digits and of bytes >=
// 0x80 (non-ASCII text is compared byte for byte: callers that want Unicode folding pass the engine's
// folded text). Only the first `max_prompt_bytes` of a prompt are read.
//
// What to pass as the prompt: the text the user wrote in this request (for chat, the last user
// message), not a whole conversation: successive turns of one conversation share their history and
// would look like a template.
//
// Known false-positive mode: an application key that wraps its users' inputs in a fixed template with
// a short slot ("Translate '<word>' to French") looks like extraction; exempt such keys in the policy
// (per-key rules) or raise template_min_variants for them.
//
// Memory: per key ≈ 400 bytes of rate state and map entry, plus, once it sends prompts of
// `min_words` or more, history × (template_words × 4 + 32) bytes (32 × 160 ≈ 5.1 KB by default). At most `max_keys` keys
// (≈ 45 MB with the defaults, all keys full); a key idle for `idle_ttl` is dropped (its baseline too);
// past `max_keys` the least recently seen key of a shard is dropped.
//
// Thread safety: observe() and add_tokens() may be called from any thread; calls for one key are
// serialised by that key's mutex (text preparation happens before it is taken), calls for different
// keys run in parallel (16 shards).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/finding.h"
#include "core/load_result.h"
#include "gateway/clock.h"

namespace dg::gateway {

// 64-bit SimHash of the word `k`-shingles of `text` normalised as described above (a text with fewer
// than k words is one shingle). Exposed for tests and tools.
std::uint64_t simhash(std::string_view text, std::size_t k = 3);

enum class AbuseSignal { rate_absolute = 0, rate_baseline = 1, near_duplicates = 2, template_variation = 3 };
inline constexpr std::size_t kAbuseSignals = 4;
std::string_view to_string(AbuseSignal s) noexcept;  // "rate_absolute", "rate_baseline", ...

struct AbuseStats {
  std::uint64_t observed = 0;                         // observe() calls
  std::uint64_t keys = 0;                             // keys tracked now
  std::uint64_t evicted = 0;                          // keys dropped (idle or over max_keys)
  std::uint64_t errors = 0;                           // observe() calls that could not complete
  std::array<std::uint64_t, kAbuseSignals> fired{};   // by AbuseSignal
};

class AbuseDetector {
 public:
  struct Config {
    // Rates. 0 turns an absolute threshold off.
    std::chrono::seconds rate_window{60};
    std::uint64_t max_requests_per_window = 600;   // absolute: 10 requests/s sustained over the window
    std::uint64_t max_tokens_per_window = 500000;  // absolute
    double baseline_factor = 8.0;                  // relative: this many times the key's usual window
    std::uint64_t baseline_min_requests = 30;      // relative request signal needs this many in the window
    std::uint64_t baseline_min_tokens = 20000;     // relative token signal needs this many in the window
    std::chrono::seconds baseline_warmup{1800};    // the key must have been seen this long
    std::chrono::seconds baseline_half_life{3600}; // of the baseline's exponential weighting
    // Prompt history (shared by the two text signals).
    std::size_t history = 32;      // prompts remembered per key
    std::size_t min_words = 4;     // shorter prompts are not compared (greetings repeat naturally)
    std::size_t max_prompt_bytes = 16384;
    // Near-duplicates.
    std::size_t shingle_words = 3;
    std::uint32_t duplicate_distance = 3;     // SimHash Hamming distance counted as near-duplicate
    std::chrono::seconds duplicate_window{60};
    std::size_t duplicate_min_count = 10;     // near-duplicates in the window, this prompt included
    // Templates.
    std::chrono::seconds template_window{600};
    std::size_t template_min_variants = 8;      // distinct prompts of one template, this one included
    std::size_t template_min_shared_words = 6;  // words the template has outside its slots
    double template_min_shared_ratio = 0.6;     // ... as a share of the longer prompt's words
    std::size_t template_max_slot_words = 3;    // words a slot may span (per prompt)
    std::size_t template_words = 32;            // words kept per prompt: the first and last half of them
    // Memory.
    std::size_t max_keys = 8192;
    std::chrono::seconds idle_ttl{3600};
  };

  // Validates every field; every problem is reported ("abuse: ..." messages, code config_invalid_value).
  static LoadResult<std::unique_ptr<AbuseDetector>> create(const Config& cfg);
  ~AbuseDetector();

  // Records one request of `key_id` (its prompt and its token count: an estimate before the upstream
  // answers, or the actual count) at steady time `now`, and returns the findings it raises now: zero
  // or more of category rate_abuse / model_extraction, detector "abuse", role prompt, view "traffic",
  // no spans (the evidence names counts, windows and thresholds, never prompt text). A signal keeps
  // firing on every request while its condition holds. `now` must not go backwards for a key by more
  // than a bucket (older times are treated as the key's latest). Never throws: on failure it returns
  // nothing and counts an error.
  std::vector<Finding> observe(std::string_view key_id, std::string_view prompt, std::uint64_t tokens,
                               SteadyTime now) noexcept;

  // Adds tokens learned after the response (actual minus the estimate given to observe()), counted in
  // the window of `now`. Raises nothing by itself; the next observe() sees them.
  void add_tokens(std::string_view key_id, std::uint64_t tokens, SteadyTime now) noexcept;

  // Drops keys idle for idle_ttl; observe() also sweeps one shard every 1024 calls.
  void sweep(SteadyTime now) noexcept;

  AbuseStats stats() const noexcept;
  const Config& config() const noexcept { return cfg_; }

  struct KeyState;  // per-key state (abuse.cc)

 private:
  struct Shard;
  struct Prepared;
  explicit AbuseDetector(const Config& cfg);
  std::shared_ptr<KeyState> state(std::string_view key_id, std::int64_t now, bool create);
  void sweep_shard(Shard& s, std::int64_t now, bool make_room) noexcept;
  void check_rates(KeyState& st, std::int64_t now, std::vector<Finding>& out);
  void check_prompts(KeyState& st, const Prepared& p, std::int64_t now, std::vector<Finding>& out);

  Config cfg_;
  std::int64_t bucket_ns_;
  double decay_per_bucket_;  // EWMA weight kept per bucket: 2^(-bucket / half_life)
  std::size_t max_keys_per_shard_;
  std::unique_ptr<Shard[]> shards_;
  std::atomic<std::uint64_t> observed_{0}, keys_{0}, evicted_{0}, errors_{0};
  std::array<std::atomic<std::uint64_t>, kAbuseSignals> fired_{};
};

}  // namespace dg::gateway
