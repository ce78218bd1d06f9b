#include "gateway/abuse.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <unordered_map>

#include "core/errors.h"

namespace dg::gateway {

namespace {

constexpr std::size_t kShards = 16;
constexpr std::size_t kBuckets = 12;  // rate window resolution: window / 12
constexpr std::uint64_t kSweepEvery = 1024;

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

std::uint64_t mix64(std::uint64_t x) noexcept {  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Word hashes of the normalised text (see abuse.h), appended to `out`. Bytes are gathered 8 at a
// time and mixed once per 8 (a per-byte multiply chain was a fifth of observe()'s time).
constexpr std::array<unsigned char, 256> make_fold() {
  std::array<unsigned char, 256> t{};  // 0: separator; else the byte, ASCII letters lower-cased
  for (unsigned c = 0; c < 256; ++c)
    t[c] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80 ? static_cast<unsigned char>(c)
           : (c >= 'A' && c <= 'Z')                                       ? static_cast<unsigned char>(c + 32)
                                                                          : 0;
  return t;
}
constexpr std::array<unsigned char, 256> kFold = make_fold();

void words_of(std::string_view text, std::size_t max_bytes, std::vector<std::uint64_t>& out) {
  out.clear();
  const std::size_t n = std::min(text.size(), max_bytes);
  std::uint64_t h = 0, chunk = 0, len = 0;
  auto end_word = [&] {
    out.push_back(mix64(h ^ chunk ^ (len << 56)));
    h = chunk = len = 0;
  };
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char c = kFold[static_cast<unsigned char>(text[i])];
    if (c) {
      chunk = chunk << 8 | c;
      if ((++len & 7) == 0) {
        h = (h ^ chunk) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
        chunk = 0;
      }
    } else if (len) {
      end_word();
    }
  }
  if (len) end_word();
}

std::uint64_t combine(std::uint64_t h, std::uint64_t w) noexcept { return mix64(h * 0x9e3779b97f4a7c15ull ^ w); }

// Bit votes are counted in byte lanes: kLanes[b] spreads the 8 bits of b over 8 bytes, so one add
// counts 8 bits of a shingle's hash (8 adds per shingle instead of 64); lanes are flushed before
// they can overflow.
constexpr std::array<std::uint64_t, 256> make_lanes() {
  std::array<std::uint64_t, 256> t{};
  for (unsigned b = 0; b < 256; ++b)
    for (unsigned j = 0; j < 8; ++j) t[b] |= static_cast<std::uint64_t>((b >> j) & 1) << (8 * j);
  return t;
}
constexpr std::array<std::uint64_t, 256> kLanes = make_lanes();

std::uint64_t simhash_of(const std::vector<std::uint64_t>& words, std::size_t k) noexcept {
  if (words.empty()) return 0;
  const std::size_t n = words.size();
  const std::size_t kk = std::min(k, n);
  const std::size_t shingles = n - kk + 1;
  std::uint32_t ones[64] = {};
  std::uint64_t acc[8] = {};
  auto flush = [&] {
    for (int byte = 0; byte < 8; ++byte) {
      for (int j = 0; j < 8; ++j) ones[byte * 8 + j] += static_cast<std::uint32_t>((acc[byte] >> (8 * j)) & 0xff);
      acc[byte] = 0;
    }
  };
  for (std::size_t i = 0, pending = 0; i < shingles; ++i) {
    std::uint64_t sh = 0;
    for (std::size_t j = i; j < i + kk; ++j) sh = combine(sh, words[j]);
    for (int byte = 0; byte < 8; ++byte) acc[byte] += kLanes[(sh >> (8 * byte)) & 0xff];
    if (++pending == 255) {
      flush();
      pending = 0;
    }
  }
  flush();
  std::uint64_t out = 0;
  for (int b = 0; b < 64; ++b)
    if (2 * static_cast<std::size_t>(ones[b]) > shingles) out |= std::uint64_t{1} << b;  // more ones than zeros
  return out;
}

std::string fmt1(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// A prompt's kept words: all of them when there are at most K, else the first K/2 and the last K - K/2.
struct WordView {
  const std::uint32_t* w;
  std::size_t n;  // total words of the prompt
  std::size_t k;  // K
  std::size_t head() const noexcept { return n <= k ? n : k / 2; }
  std::size_t tail_start() const noexcept { return n <= k ? n : n - (k - k / 2); }
  bool known(std::size_t i) const noexcept { return n <= k || i < k / 2 || i >= tail_start(); }
  std::uint32_t at(std::size_t i) const noexcept { return n <= k || i < k / 2 ? w[i] : w[i - (n - k)]; }
};

struct TemplateMatch {
  bool match = false;
  bool identical = false;
  std::size_t shared = 0;
  std::size_t varied = 0;  // words of this prompt in its slots
};

TemplateMatch compare_template(const WordView& a, const WordView& b, const AbuseDetector::Config& cfg) noexcept {
  TemplateMatch m;
  if (a.n == b.n) {
    // Same length: position by position (substituted words; several slots anywhere).
    std::size_t diff = 0, known = 0;
    auto visit = [&](std::size_t from, std::size_t to) {
      for (std::size_t i = from; i < to && diff <= cfg.template_max_slot_words; ++i, ++known) diff += a.at(i) != b.at(i);
    };
    visit(0, a.head());
    if (a.n > a.k) visit(a.tail_start(), a.n);
    if (diff == 0) {
      m.identical = true;
      return m;
    }
    if (diff <= cfg.template_max_slot_words) {
      const std::size_t shared = known - diff;
      if (shared >= cfg.template_min_shared_words &&
          static_cast<double>(shared) >= cfg.template_min_shared_ratio * static_cast<double>(known))
        return {true, false, shared, diff};
    }
  }
  // Different lengths (or scattered differences): one slot between a common prefix and suffix, and
  // a replacement on both sides (an extension of one prompt by the other is not a slot).
  const std::size_t lim = std::min(a.n, b.n);
  std::size_t p = 0;
  while (p < lim && a.known(p) && b.known(p) && a.at(p) == b.at(p)) ++p;
  std::size_t s = 0;
  while (s < lim - p && a.known(a.n - 1 - s) && b.known(b.n - 1 - s) && a.at(a.n - 1 - s) == b.at(b.n - 1 - s)) ++s;
  const std::size_t mid_a = a.n - p - s, mid_b = b.n - p - s;
  if (mid_a >= 1 && mid_b >= 1 && mid_a <= cfg.template_max_slot_words && mid_b <= cfg.template_max_slot_words &&
      p + s >= cfg.template_min_shared_words &&
      static_cast<double>(p + s) >= cfg.template_min_shared_ratio * static_cast<double>(std::max(a.n, b.n)))
    return {true, false, p + s, mid_a};
  return m;
}

Finding make_finding(std::string_view category, std::string_view property, double score, Severity sev, std::string evidence) {
  Finding f;
  f.detector = "abuse";
  f.category = std::string(category);
  f.domain = Domain::security;
  f.intent = Intent::adversarial;
  f.property = std::string(property);
  f.score = std::clamp(score, 0.0, 1.0);
  f.severity = sev;
  f.role = Role::prompt;
  f.view = "traffic";
  f.evidence = std::move(evidence);
  return f;
}

}  // namespace

std::uint64_t simhash(std::string_view text, std::size_t k) {
  std::vector<std::uint64_t> words;
  words_of(text, text.size(), words);
  return simhash_of(words, std::max<std::size_t>(k, 1));
}

std::string_view to_string(AbuseSignal s) noexcept {
  switch (s) {
    case AbuseSignal::rate_absolute: return "rate_absolute";
    case AbuseSignal::rate_baseline: return "rate_baseline";
    case AbuseSignal::near_duplicates: return "near_duplicates";
    case AbuseSignal::template_variation: return "template_variation";
  }
  return "unknown";
}

// State ------------------------------------------------------------------------------------------

struct AbuseDetector::KeyState {
  std::mutex mu;
  std::atomic<std::int64_t> last_seen_ns{0};  // written under the shard lock
  // Guarded by mu:
  std::int64_t first_seen_ns = 0;
  std::int64_t latest_ns = 0;  // latest time seen (times never go back for a key)
  // Rates: bucket b of the window is slot b % kBuckets, for b in (newest - kBuckets, newest].
  std::int64_t first_bucket = 0, newest_bucket = 0;
  std::array<std::uint64_t, kBuckets> req{}, tok{};
  double ewma_req = 0, ewma_tok = 0, ewma_weight = 0;  // bias-corrected: mean = ewma / weight
  // Prompt ring (allocated with the first comparable prompt).
  struct Entry {
    std::int64_t t_ns = 0;
    std::uint64_t simhash = 0;
    std::uint64_t seq = 0;  // hash of the whole word sequence: tells variants apart
    std::uint32_t nwords = 0;
  };
  std::vector<Entry> ring;
  std::vector<std::uint32_t> words;  // ring.size() × template_words
  std::size_t next = 0, count = 0;
};

struct AbuseDetector::Shard {
  std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<KeyState>, StringHash, std::equal_to<>> map;
};

struct AbuseDetector::Prepared {
  std::size_t nwords = 0;
  std::uint64_t simhash = 0, seq = 0;
  std::vector<std::uint32_t> kept;
};

LoadResult<std::unique_ptr<AbuseDetector>> AbuseDetector::create(const Config& c) {
  LoadErrors errors;
  auto bad = [&](std::string m) { errors.push_back({"", 0, 0, std::string(errc::kConfigInvalidValue), "abuse: " + m}); };
  using std::chrono::seconds;
  if (c.rate_window < seconds(kBuckets) || c.rate_window > seconds(86400)) bad("rate_window must be between 12 s and 1 day");
  if (!(c.baseline_factor > 1.0 && c.baseline_factor <= 1000.0)) bad("baseline_factor must be in (1, 1000]");
  if (c.baseline_min_requests < 1) bad("baseline_min_requests must be at least 1");
  if (c.baseline_min_tokens < 1) bad("baseline_min_tokens must be at least 1");
  if (c.baseline_warmup < seconds(0)) bad("baseline_warmup must not be negative");
  if (c.baseline_half_life < c.rate_window) bad("baseline_half_life must be at least rate_window");
  if (c.history < 2 || c.history > 1024) bad("history must be between 2 and 1024");
  if (c.min_words < 1) bad("min_words must be at least 1");
  if (c.max_prompt_bytes < 16) bad("max_prompt_bytes must be at least 16");
  if (c.shingle_words < 1 || c.shingle_words > 8) bad("shingle_words must be between 1 and 8");
  if (c.duplicate_distance > 32) bad("duplicate_distance must be at most 32 (of 64 bits)");
  if (c.duplicate_window < seconds(1)) bad("duplicate_window must be at least 1 s");
  if (c.duplicate_min_count < 2 || c.duplicate_min_count > c.history)
    bad("duplicate_min_count must be between 2 and history (" + std::to_string(c.history) + ")");
  if (c.template_window < seconds(1)) bad("template_window must be at least 1 s");
  if (c.template_min_variants < 2 || c.template_min_variants > c.history)
    bad("template_min_variants must be between 2 and history (" + std::to_string(c.history) + ")");
  if (c.template_min_shared_words < 2) bad("template_min_shared_words must be at least 2");
  if (!(c.template_min_shared_ratio > 0.0 && c.template_min_shared_ratio <= 1.0)) bad("template_min_shared_ratio must be in (0, 1]");
  if (c.template_max_slot_words < 1) bad("template_max_slot_words must be at least 1");
  if (c.template_words < 8 || c.template_words > 256) bad("template_words must be between 8 and 256");
  if (c.template_words < c.template_min_shared_words + c.template_max_slot_words)
    bad("template_words must be at least template_min_shared_words + template_max_slot_words");
  if (c.max_keys < kShards) bad("max_keys must be at least 16");
  if (c.idle_ttl < seconds(1)) bad("idle_ttl must be at least 1 s");
  if (!errors.empty()) return LoadResult<std::unique_ptr<AbuseDetector>>::failure(std::move(errors));
  return LoadResult<std::unique_ptr<AbuseDetector>>::success(std::unique_ptr<AbuseDetector>(new AbuseDetector(c)));
}

AbuseDetector::AbuseDetector(const Config& cfg)
    : cfg_(cfg),
      bucket_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(cfg.rate_window).count() / kBuckets),
      decay_per_bucket_(std::exp2(-static_cast<double>(bucket_ns_) /
                                  static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(cfg.baseline_half_life).count()))),
      max_keys_per_shard_((cfg.max_keys + kShards - 1) / kShards),
      shards_(new Shard[kShards]) {}

AbuseDetector::~AbuseDetector() = default;

std::shared_ptr<AbuseDetector::KeyState> AbuseDetector::state(std::string_view key_id, std::int64_t now, bool create) {
  Shard& s = shards_[StringHash{}(key_id) % kShards];
  std::shared_ptr<KeyState> st;
  {
    std::lock_guard lock(s.mu);
    if (auto it = s.map.find(key_id); it != s.map.end()) {
      st = it->second;
    } else {
      if (!create) return nullptr;
      if (s.map.size() >= max_keys_per_shard_) sweep_shard(s, now, true);
      st = std::make_shared<KeyState>();
      st->first_seen_ns = st->latest_ns = now;
      st->first_bucket = st->newest_bucket = now / bucket_ns_;
      s.map.emplace(std::string(key_id), st);
      keys_.fetch_add(1, std::memory_order_relaxed);
    }
    st->last_seen_ns.store(std::max(now, st->last_seen_ns.load(std::memory_order_relaxed)), std::memory_order_relaxed);
  }
  return st;
}

void AbuseDetector::sweep_shard(Shard& s, std::int64_t now, bool make_room) noexcept {
  const std::int64_t ttl = std::chrono::duration_cast<std::chrono::nanoseconds>(cfg_.idle_ttl).count();
  for (auto it = s.map.begin(); it != s.map.end();) {
    if (it->second.use_count() == 1 && now - it->second->last_seen_ns.load(std::memory_order_relaxed) >= ttl) {
      it = s.map.erase(it);
      keys_.fetch_sub(1, std::memory_order_relaxed);
      evicted_.fetch_add(1, std::memory_order_relaxed);
    } else {
      ++it;
    }
  }
  if (!make_room || s.map.size() < max_keys_per_shard_) return;
  auto victim = s.map.end();
  for (auto it = s.map.begin(); it != s.map.end(); ++it)
    if (it->second.use_count() == 1 &&
        (victim == s.map.end() || it->second->last_seen_ns.load(std::memory_order_relaxed) <
                                      victim->second->last_seen_ns.load(std::memory_order_relaxed)))
      victim = it;
  if (victim != s.map.end()) {
    s.map.erase(victim);
    keys_.fetch_sub(1, std::memory_order_relaxed);
    evicted_.fetch_add(1, std::memory_order_relaxed);
  }
}

void AbuseDetector::sweep(SteadyTime now) noexcept {
  const std::int64_t t = Clock::to_ns(now);
  for (std::size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mu);
    sweep_shard(shards_[i], t, false);
  }
}

namespace {

// Moves the key's rate window so that `bucket` is the newest; buckets leaving the window feed the
// baseline (one sample each, idle buckets as zeros).
void advance(AbuseDetector::KeyState& st, std::int64_t bucket, double decay) noexcept {
  if (bucket <= st.newest_bucket) return;
  const std::int64_t gap = bucket - st.newest_bucket;
  const std::int64_t direct = std::min<std::int64_t>(gap, kBuckets);
  for (std::int64_t i = 1; i <= direct; ++i) {
    const std::int64_t leaving = st.newest_bucket + i - static_cast<std::int64_t>(kBuckets);
    const auto slot = static_cast<std::size_t>((st.newest_bucket + i) % static_cast<std::int64_t>(kBuckets));
    if (leaving >= st.first_bucket) {
      st.ewma_req = st.ewma_req * decay + (1 - decay) * static_cast<double>(st.req[slot]);
      st.ewma_tok = st.ewma_tok * decay + (1 - decay) * static_cast<double>(st.tok[slot]);
      st.ewma_weight = st.ewma_weight * decay + (1 - decay);
    }
    st.req[slot] = st.tok[slot] = 0;
  }
  if (gap > static_cast<std::int64_t>(kBuckets)) {  // idle buckets that passed through the whole window
    const double d = std::pow(decay, static_cast<double>(gap - static_cast<std::int64_t>(kBuckets)));
    st.ewma_req *= d;
    st.ewma_tok *= d;
    st.ewma_weight = st.ewma_weight * d + (1 - d);
  }
  st.newest_bucket = bucket;
}

}  // namespace

void AbuseDetector::check_rates(KeyState& st, std::int64_t now, std::vector<Finding>& out) {
  std::uint64_t req = 0, tok = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    req += st.req[i];
    tok += st.tok[i];
  }
  const std::string win = std::to_string(cfg_.rate_window.count()) + " s";
  std::string evidence;
  double score = 0;
  Severity sev = Severity::medium;
  bool absolute = false, relative = false;
  auto add = [&](std::string text, double s) {
    if (!evidence.empty()) evidence += "; ";
    evidence += text;
    score = std::max(score, s);
  };
  auto check_abs = [&](std::uint64_t cur, std::uint64_t limit, std::string_view what) {
    if (limit == 0 || cur <= limit) return;
    const double r = static_cast<double>(cur) / static_cast<double>(limit);
    absolute = true;
    if (r >= 2) sev = Severity::high;
    add(std::to_string(cur) + " " + std::string(what) + " in the last " + win + " exceed the absolute limit of " +
            std::to_string(limit),
        0.6 + 0.2 * std::log2(r));
  };
  check_abs(req, cfg_.max_requests_per_window, "requests");
  check_abs(tok, cfg_.max_tokens_per_window, "tokens");
  const std::int64_t warmup = std::chrono::duration_cast<std::chrono::nanoseconds>(cfg_.baseline_warmup).count();
  if (now - st.first_seen_ns >= warmup && st.ewma_weight > 0) {
    auto check_rel = [&](std::uint64_t cur, double ewma, std::uint64_t min, std::string_view what) {
      const double base = ewma / st.ewma_weight * kBuckets;  // per window
      const double limit = cfg_.baseline_factor * std::max(base, 1.0);
      if (cur < min || static_cast<double>(cur) <= limit) return;
      relative = true;
      add(std::to_string(cur) + " " + std::string(what) + " in the last " + win + " are " +
              fmt1(static_cast<double>(cur) / std::max(base, 1.0)) + "x this key's baseline of " + fmt1(base) +
              " per " + win + " (threshold " + fmt1(cfg_.baseline_factor) + "x)",
          std::min(0.9, 0.5 + 0.2 * std::log2(static_cast<double>(cur) / limit)));
    };
    check_rel(req, st.ewma_req, cfg_.baseline_min_requests, "requests");
    check_rel(tok, st.ewma_tok, cfg_.baseline_min_tokens, "tokens");
  }
  if (absolute) fired_[static_cast<std::size_t>(AbuseSignal::rate_absolute)].fetch_add(1, std::memory_order_relaxed);
  if (relative) fired_[static_cast<std::size_t>(AbuseSignal::rate_baseline)].fetch_add(1, std::memory_order_relaxed);
  if (!evidence.empty()) out.push_back(make_finding("rate_abuse", "availability", score, sev, std::move(evidence)));
}

void AbuseDetector::check_prompts(KeyState& st, const Prepared& p, std::int64_t now, std::vector<Finding>& out) {
  const std::size_t K = cfg_.template_words;
  if (st.ring.empty()) {
    st.ring.resize(cfg_.history);
    st.words.resize(cfg_.history * K);
  }
  const std::int64_t dup_win = std::chrono::duration_cast<std::chrono::nanoseconds>(cfg_.duplicate_window).count();
  const std::int64_t tpl_win = std::chrono::duration_cast<std::chrono::nanoseconds>(cfg_.template_window).count();
  const WordView cur{p.kept.data(), p.nwords, K};

  std::size_t in_dup_window = 1, dups = 1;  // this prompt included
  std::size_t tpl_seen = 1, min_shared = SIZE_MAX, min_varied = SIZE_MAX, max_varied = 0;
  std::vector<std::uint64_t> variants{p.seq};
  for (std::size_t i = 0; i < st.count; ++i) {
    const std::size_t slot = (st.next + st.ring.size() - 1 - i) % st.ring.size();  // newest first
    const KeyState::Entry& e = st.ring[slot];
    const std::int64_t age = now - e.t_ns;
    if (age > std::max(dup_win, tpl_win)) break;
    if (age <= dup_win) {
      ++in_dup_window;
      if (static_cast<std::uint32_t>(std::popcount(e.simhash ^ p.simhash)) <= cfg_.duplicate_distance) ++dups;
    }
    if (age <= tpl_win) {
      ++tpl_seen;
      const TemplateMatch m = compare_template(cur, WordView{&st.words[slot * K], e.nwords, K}, cfg_);
      if (m.match) {
        variants.push_back(e.seq);
        min_shared = std::min(min_shared, m.shared);
        min_varied = std::min(min_varied, m.varied);
        max_varied = std::max(max_varied, m.varied);
      }
    }
  }

  if (dups >= cfg_.duplicate_min_count) {
    fired_[static_cast<std::size_t>(AbuseSignal::near_duplicates)].fetch_add(1, std::memory_order_relaxed);
    const double over = static_cast<double>(dups - cfg_.duplicate_min_count) / static_cast<double>(cfg_.duplicate_min_count);
    out.push_back(make_finding("rate_abuse", "availability", 0.6 + 0.4 * std::min(1.0, over), Severity::medium,
                               std::to_string(dups) + " of the last " + std::to_string(in_dup_window) + " prompts within " +
                                   std::to_string(cfg_.duplicate_window.count()) +
                                   " s are near-duplicates (simhash distance <= " + std::to_string(cfg_.duplicate_distance) + ")"));
  }
  std::sort(variants.begin(), variants.end());
  const auto distinct = static_cast<std::size_t>(std::unique(variants.begin(), variants.end()) - variants.begin());
  if (distinct >= cfg_.template_min_variants) {
    fired_[static_cast<std::size_t>(AbuseSignal::template_variation)].fetch_add(1, std::memory_order_relaxed);
    const double over = static_cast<double>(distinct - cfg_.template_min_variants) / static_cast<double>(cfg_.template_min_variants);
    const std::string varied = min_varied == max_varied ? std::to_string(min_varied)
                                                        : std::to_string(min_varied) + "-" + std::to_string(max_varied);
    out.push_back(make_finding(
        "model_extraction", "confidentiality", 0.6 + 0.4 * std::min(1.0, over), Severity::high,
        std::to_string(distinct) + " distinct prompts of the last " + std::to_string(tpl_seen) + " within " +
            std::to_string(cfg_.template_window.count()) + " s follow one template (" + std::to_string(min_shared) +
            "+ words shared, " + varied + " varied): systematic variation, as in model extraction or boundary probing"));
  }

  // Remember this prompt.
  KeyState::Entry& e = st.ring[st.next];
  e.t_ns = now;
  e.simhash = p.simhash;
  e.seq = p.seq;
  e.nwords = static_cast<std::uint32_t>(std::min<std::size_t>(p.nwords, UINT32_MAX));
  std::copy(p.kept.begin(), p.kept.end(), st.words.begin() + static_cast<std::ptrdiff_t>(st.next * K));
  st.next = (st.next + 1) % st.ring.size();
  st.count = std::min(st.count + 1, st.ring.size());
}

std::vector<Finding> AbuseDetector::observe(std::string_view key_id, std::string_view prompt, std::uint64_t tokens,
                                            SteadyTime now_tp) noexcept {
  const std::uint64_t n = observed_.fetch_add(1, std::memory_order_relaxed);
  std::vector<Finding> out;
  try {
    std::int64_t now = Clock::to_ns(now_tp);
    // Text work before any lock; the buffer is reused by the thread.
    thread_local std::vector<std::uint64_t> words;
    words_of(prompt, cfg_.max_prompt_bytes, words);
    Prepared p;
    p.nwords = words.size();
    const bool comparable = p.nwords >= cfg_.min_words;
    if (comparable) {
      p.simhash = simhash_of(words, cfg_.shingle_words);
      std::uint64_t seq = p.nwords;
      for (std::uint64_t w : words) seq = combine(seq, w);
      p.seq = seq;
      const std::size_t K = cfg_.template_words;
      if (p.nwords <= K) {
        for (std::uint64_t w : words) p.kept.push_back(static_cast<std::uint32_t>(w));
      } else {
        for (std::size_t i = 0; i < K / 2; ++i) p.kept.push_back(static_cast<std::uint32_t>(words[i]));
        for (std::size_t i = p.nwords - (K - K / 2); i < p.nwords; ++i) p.kept.push_back(static_cast<std::uint32_t>(words[i]));
      }
    }

    std::shared_ptr<KeyState> st = state(key_id, now, true);
    {
      std::lock_guard lock(st->mu);
      now = std::max(now, st->latest_ns);
      st->latest_ns = now;
      advance(*st, now / bucket_ns_, decay_per_bucket_);
      const auto slot = static_cast<std::size_t>(st->newest_bucket % static_cast<std::int64_t>(kBuckets));
      st->req[slot] += 1;
      st->tok[slot] += tokens;
      check_rates(*st, now, out);
      if (comparable) check_prompts(*st, p, now, out);
    }
    if (n % kSweepEvery == kSweepEvery - 1) {
      Shard& s = shards_[(n / kSweepEvery) % kShards];
      std::lock_guard lock(s.mu);
      sweep_shard(s, now, false);
    }
  } catch (...) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    out.clear();
  }
  return out;
}

void AbuseDetector::add_tokens(std::string_view key_id, std::uint64_t tokens, SteadyTime now_tp) noexcept {
  try {
    std::int64_t now = Clock::to_ns(now_tp);
    std::shared_ptr<KeyState> st = state(key_id, now, true);
    std::lock_guard lock(st->mu);
    now = std::max(now, st->latest_ns);
    st->latest_ns = now;
    advance(*st, now / bucket_ns_, decay_per_bucket_);
    st->tok[static_cast<std::size_t>(st->newest_bucket % static_cast<std::int64_t>(kBuckets))] += tokens;
  } catch (...) {
    errors_.fetch_add(1, std::memory_order_relaxed);
  }
}

AbuseStats AbuseDetector::stats() const noexcept {
  AbuseStats s;
  s.observed = observed_.load(std::memory_order_relaxed);
  s.keys = keys_.load(std::memory_order_relaxed);
  s.evicted = evicted_.load(std::memory_order_relaxed);
  s.errors = errors_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kAbuseSignals; ++i) s.fired[i] = fired_[i].load(std::memory_order_relaxed);
  return s;
}

}  // namespace dg::gateway
