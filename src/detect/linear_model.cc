#include "detect/linear_model.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <fstream>

#include "core/errors.h"
#include "detect/fasttext_model.h"
#include "detect/hash.h"

namespace dg::detect {
namespace {

static_assert(std::endian::native == std::endian::little, "the model file is little-endian");

constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' || c == '\0';
}
constexpr bool is_word_byte(unsigned char c) noexcept {
  return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// FNV-1a finished with murmur3's finalisers (FNV's low bits are weak and buckets are masks of them).
constexpr std::uint32_t kGramBasis = 0x9747b28cu;
inline std::uint32_t fnv_step(std::uint32_t h, unsigned char c) noexcept { return (h ^ c) * 16777619u; }
inline std::uint32_t fmix(std::uint32_t h) noexcept {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}
inline std::uint64_t pair_key(std::uint64_t a, std::uint64_t b) noexcept {
  return fmix64(a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull)) ^ 0x5bd1e9955bd1e995ull;
}
inline std::uint32_t fold(std::uint64_t h) noexcept { return static_cast<std::uint32_t>(h ^ (h >> 32)); }

inline std::size_t utf8_len(unsigned char c) noexcept {
  if (c < 0x80) return 1;
  if ((c >> 5) == 0x6) return 2;
  if ((c >> 4) == 0xE) return 3;
  if ((c >> 3) == 0x1E) return 4;
  return 1;  // a continuation or invalid byte stands alone
}

// 1 + ln(c) for small counts.
const std::array<double, 256>& sublinear_table() {
  static const std::array<double, 256> t = [] {
    std::array<double, 256> a{};
    for (std::size_t c = 1; c < a.size(); ++c) a[c] = 1.0 + std::log(static_cast<double>(c));
    return a;
  }();
  return t;
}
inline double sublinear(std::uint32_t c) noexcept {
  return c < 256 ? sublinear_table()[c] : 1.0 + std::log(static_cast<double>(c));
}

}  // namespace

void LinearModel::pieces(std::string_view text, std::vector<Piece>& out) {
  out.clear();
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    if (i >= text.size()) break;
    std::size_t j = i;
    while (j < text.size() && !is_space(text[j])) ++j;
    for (std::size_t k = i; k < j;) {
      std::size_t e = k + 1;
      const bool word = is_word_byte(static_cast<unsigned char>(text[k]));
      if (word)
        while (e < j && is_word_byte(static_cast<unsigned char>(text[e]))) ++e;
      const std::string_view s = text.substr(k, e - k);
      if (!is_long_token(s))
        out.push_back({static_cast<std::uint32_t>(k), static_cast<std::uint32_t>(e), hash64(s), word});
      k = e;
    }
    i = j;
  }
}

void LinearModel::piece_buckets(const Params& p, std::string_view s, std::uint64_t hash, std::vector<std::uint32_t>& out) {
  const std::uint32_t mask = (1u << p.bits) - 1;
  out.push_back(fold(hash) & mask);
  // Character n-grams of "<piece>" by code points: '<' and '>' are virtual bytes 0 and len+1.
  thread_local std::vector<std::uint32_t> cps;
  cps.clear();
  cps.push_back(0);
  for (std::size_t k = 0; k < s.size(); k += utf8_len(static_cast<unsigned char>(s[k]))) cps.push_back(static_cast<std::uint32_t>(k + 1));
  const auto end = static_cast<std::uint32_t>(s.size() + 1);
  cps.push_back(end);
  cps.push_back(end + 1);
  const std::size_t ncp = cps.size() - 1;
  auto byte_at = [&](std::uint32_t k) -> unsigned char {
    return k == 0 ? '<' : k == end ? '>' : static_cast<unsigned char>(s[k - 1]);
  };
  for (std::size_t st = 0; st < ncp; ++st) {
    std::uint32_t h = kGramBasis;
    for (std::size_t n = 1; n <= static_cast<std::size_t>(p.maxn) && st + n <= ncp; ++n) {
      for (std::uint32_t k = cps[st + n - 1]; k < cps[st + n]; ++k) h = fnv_step(h, byte_at(k));
      if (n >= static_cast<std::size_t>(p.minn)) out.push_back(fmix(h) & mask);
    }
  }
}

std::uint32_t LinearModel::pair_bucket(const Params& p, std::uint64_t a, std::uint64_t b) noexcept {
  return fold(fmix64(pair_key(a, b))) & ((1u << p.bits) - 1);
}

std::uint32_t LinearModel::pair_bucket(const Params& p, const Term& pair) noexcept {
  return fold(fmix64(pair.key)) & ((1u << p.bits) - 1);
}

void LinearModel::terms(const std::vector<Piece>& ps, std::vector<Term>& out, std::vector<std::uint32_t>* piece_terms) {
  // Open addressing with generation stamps: no clearing between calls.
  struct Slot {
    std::uint64_t key = 0;
    std::uint32_t index = 0, gen = 0;
  };
  thread_local std::vector<Slot> table;
  thread_local std::uint32_t gen = 0;
  out.clear();
  std::size_t need = 256;
  while (need < 4 * ps.size()) need <<= 1;  // pieces + pairs <= 2n keys: load <= 1/2
  if (table.size() < need) {
    table.assign(need, {});
    gen = 0;
  }
  if (++gen == 0) {
    std::fill(table.begin(), table.end(), Slot{});
    gen = 1;
  }
  const std::size_t mask = need - 1;
  auto add = [&](std::uint64_t key, std::uint32_t piece, bool pair) -> std::uint32_t {
    for (std::size_t s = static_cast<std::size_t>(key) & mask;; s = (s + 1) & mask) {
      Slot& slot = table[s];
      if (slot.gen != gen) {
        slot = {key, static_cast<std::uint32_t>(out.size()), gen};
        out.push_back({piece, 1, pair, key});
        return slot.index;
      }
      if (slot.key == key) {
        ++out[slot.index].count;
        return slot.index;
      }
    }
  };
  if (piece_terms) piece_terms->assign(2 * ps.size(), 0);
  for (std::size_t i = 0; i < ps.size(); ++i) {
    const auto t = add(ps[i].hash, static_cast<std::uint32_t>(i), false);
    const auto p = i > 0 ? add(pair_key(ps[i - 1].hash, ps[i].hash), static_cast<std::uint32_t>(i), true) : 0;
    if (piece_terms) {
      (*piece_terms)[2 * i] = t;
      (*piece_terms)[2 * i + 1] = p;
    }
  }
}

std::string LinearModel::write(const std::string& path, const Weights& m) {
  const std::size_t n = std::size_t{1} << m.params.bits;
  if (m.w.size() != n || m.idf.size() != n) return "weights and idf must have 2^bits entries";
  if (m.labels.size() != 2 || m.positive > 1) return "a linear model has two labels";
  float wmax = 0.0f, imax = 0.0f;
  for (std::size_t i = 0; i < n; ++i) {
    wmax = std::max(wmax, std::fabs(m.w[i]));
    imax = std::max(imax, m.idf[i]);
  }
  const double ws = wmax > 0 ? wmax / 32767.0 : 1.0, is = imax > 0 ? imax / 65535.0 : 1.0;
  nlohmann::json h = {{"bits", m.params.bits},     {"minn", m.params.minn}, {"maxn", m.params.maxn},
                      {"smooth", m.params.smooth}, {"labels", m.labels},    {"positive", m.positive},
                      {"bias", m.bias},            {"w_scale", ws},         {"idf_scale", is},
                      {"vocab", m.vocab.size()}};
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return "cannot write " + path;
  out << kMagic << h.dump() << '\n';
  std::vector<Cell> cells(n);
  for (std::size_t i = 0; i < n; ++i) {
    cells[i].w = static_cast<std::int16_t>(std::lround(m.w[i] / ws));
    // A bucket seen in training keeps idf > 0 after rounding: 0 means "never seen".
    cells[i].idf = m.idf[i] > 0 ? static_cast<std::uint16_t>(std::max(1l, std::lround(m.idf[i] / is))) : 0;
  }
  out.write(reinterpret_cast<const char*>(cells.data()), static_cast<std::streamsize>(n * sizeof(Cell)));
  for (const auto& v : m.vocab) {
    if (v.size() > 65535) return "a vocabulary piece is longer than 65535 bytes";
    const auto len = static_cast<std::uint16_t>(v.size());
    out.write(reinterpret_cast<const char*>(&len), sizeof len);
    out.write(v.data(), static_cast<std::streamsize>(v.size()));
  }
  out.flush();
  return out ? "" : "cannot write " + path;
}

LoadResult<std::shared_ptr<const LinearModel>> LinearModel::load(const Options& opt) {
  using R = LoadResult<std::shared_ptr<const LinearModel>>;
  auto fail = [&](std::string_view code, std::string msg) {
    return R::failure({LoadError{opt.path, 0, 0, std::string(code), std::move(msg)}});
  };
  std::ifstream in(opt.path, std::ios::binary);
  if (!in) return fail(errc::kConfigIo, "cannot read the model file");
  const std::string sha = FastTextModel::file_sha256(opt.path);
  if (!opt.sha256.empty() && sha != opt.sha256)
    return fail(errc::kTamperedArtifact, "model digest " + sha + " does not match the pinned sha256 " + opt.sha256);
  std::string magic(kMagic.size(), '\0');
  in.read(magic.data(), static_cast<std::streamsize>(magic.size()));
  if (!in || magic != kMagic) return fail(errc::kModelInvalid, "not a dualguard linear model (" + std::string(kMagic.substr(0, 9)) + ")");
  std::string header;
  if (!std::getline(in, header) || header.size() > 4096) return fail(errc::kModelInvalid, "missing model header");
  auto m = std::shared_ptr<LinearModel>(new LinearModel());
  std::size_t vocab = 0;
  try {
    const auto h = nlohmann::json::parse(header);
    m->params_.bits = h.at("bits").get<int>();
    m->params_.minn = h.at("minn").get<int>();
    m->params_.maxn = h.at("maxn").get<int>();
    m->params_.smooth = h.at("smooth").get<double>();
    m->labels_ = h.at("labels").get<std::vector<std::string>>();
    const auto pos = h.at("positive").get<std::size_t>();
    m->bias_ = h.at("bias").get<double>();
    m->w_scale_ = h.at("w_scale").get<double>();
    m->idf_scale_ = h.at("idf_scale").get<double>();
    vocab = h.at("vocab").get<std::size_t>();
    if (m->params_.bits < 8 || m->params_.bits > 26 || m->params_.minn < 1 || m->params_.maxn < m->params_.minn ||
        m->params_.maxn > 16 || m->labels_.size() != 2 || pos > 1 || !std::isfinite(m->bias_) ||
        !(m->w_scale_ > 0) || !(m->idf_scale_ > 0) || !(m->params_.smooth >= 0) || !std::isfinite(m->params_.smooth) ||
        vocab > (std::size_t{1} << 24))
      return fail(errc::kModelInvalid, "model header out of range");
    if (m->labels_[pos] != opt.positive_label)
      return fail(errc::kModelInvalid, "the model's positive label is '" + m->labels_[pos] + "', not '" + opt.positive_label + "'");
  } catch (const std::exception& e) {
    return fail(errc::kModelInvalid, std::string("bad model header: ") + e.what());
  }
  const std::size_t n = std::size_t{1} << m->params_.bits;
  // The header's size claims are checked against the file before anything is allocated.
  const auto body_at = in.tellg();
  in.seekg(0, std::ios::end);
  const auto file_end = in.tellg();
  in.seekg(body_at);
  if (body_at < 0 || file_end < body_at || static_cast<std::uint64_t>(file_end - body_at) < n * sizeof(Cell) + 2 * vocab)
    return fail(errc::kModelInvalid, "model body is truncated");
  m->cells_.resize(n);
  in.read(reinterpret_cast<char*>(m->cells_.data()), static_cast<std::streamsize>(n * sizeof(Cell)));
  if (!in) return fail(errc::kModelInvalid, "model body is truncated");
  std::size_t cap = 16;
  while (cap < 2 * vocab) cap <<= 1;
  m->slots_.assign(cap, {});
  std::string piece;
  for (std::size_t i = 0; i < vocab; ++i) {
    std::uint16_t len = 0;
    in.read(reinterpret_cast<char*>(&len), sizeof len);
    piece.resize(len);
    in.read(piece.data(), len);
    if (!in) return fail(errc::kModelInvalid, "model vocabulary is truncated");
    const std::uint64_t h = hash64(piece);
    if (h == 0) continue;
    for (std::size_t s = static_cast<std::size_t>(h) & (cap - 1);; s = (s + 1) & (cap - 1)) {
      if (m->slots_[s].hash == h) break;  // a duplicate
      if (m->slots_[s].hash == 0) {
        m->slots_[s] = {h, m->compute(piece, h)};
        ++m->vocab_count_;
        break;
      }
    }
  }
  if (in.peek() != std::char_traits<char>::eof()) return fail(errc::kModelInvalid, "model file has trailing bytes");
  m->sha256_ = sha;
  return R::success(std::move(m));
}

LinearModel::PieceInfo LinearModel::compute(std::string_view piece, std::uint64_t hash) const {
  thread_local std::vector<std::uint32_t> b;
  b.clear();
  piece_buckets(params_, piece, hash, b);
  PieceInfo info;
  info.known = cells_[b[0]].idf != 0;
  // q = |phi|^2 needs the repeated buckets of a piece (an n-gram twice in one word) summed first:
  // a small open-addressing count table for the usual short piece, a sort for long ones.
  auto add = [&](std::uint32_t bucket, std::uint32_t n) {
    const Cell c = cells_[bucket];
    const double v = static_cast<double>(n) * c.idf * idf_scale_;
    info.s += c.w * w_scale_ * v;
    info.q += v * v;
  };
  constexpr std::size_t kSlots = 256;
  if (b.size() <= kSlots / 2) {
    std::array<std::uint32_t, kSlots> key;
    std::array<std::uint8_t, kSlots> count{};
    std::array<std::uint8_t, kSlots / 2> used;
    std::size_t nused = 0;
    for (const auto x : b) {
      std::size_t i = fmix(x) & (kSlots - 1);
      while (count[i] != 0 && key[i] != x) i = (i + 1) & (kSlots - 1);
      if (count[i]++ == 0) {
        key[i] = x;
        used[nused++] = static_cast<std::uint8_t>(i);
      }
    }
    for (std::size_t u = 0; u < nused; ++u) add(key[used[u]], count[used[u]]);
  } else {
    std::sort(b.begin(), b.end());
    for (std::size_t i = 0; i < b.size();) {
      std::size_t j = i;
      while (j < b.size() && b[j] == b[i]) ++j;
      add(b[i], static_cast<std::uint32_t>(j - i));
      i = j;
    }
  }
  return info;
}

const LinearModel::PieceInfo* LinearModel::cached(std::uint64_t hash) const noexcept {
  if (slots_.empty() || hash == 0) return nullptr;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t s = static_cast<std::size_t>(hash) & mask;; s = (s + 1) & mask) {
    const Slot& slot = slots_[s];
    if (slot.hash == hash) return &slot.info;
    if (slot.hash == 0) return nullptr;
  }
}

double LinearModel::score(std::string_view text, std::vector<Contribution>* explain, std::size_t* known) const {
  return score_impl(text, explain, known, true);
}

double LinearModel::score_uncached(std::string_view text) const { return score_impl(text, nullptr, nullptr, false); }

double LinearModel::score_impl(std::string_view text, std::vector<Contribution>* explain, std::size_t* known,
                               bool use_cache) const {
  thread_local std::vector<Piece> ps;
  thread_local std::vector<Term> ts;
  thread_local std::vector<double> value;  // per term: its share of the numerator
  thread_local std::vector<std::uint32_t> piece_terms;
  pieces(text, ps);
  terms(ps, ts, explain ? &piece_terms : nullptr);
  value.resize(ts.size());
  double num = 0.0, z2 = 0.0;
  std::size_t k = 0;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    const Term& t = ts[i];
    const double m = sublinear(t.count);
    if (t.pair) {
      const Cell c = cells_[pair_bucket(params_, t)];
      const double v = m * c.idf * idf_scale_;
      value[i] = c.w * w_scale_ * v;
      z2 += v * v;
    } else {
      const Piece& p = ps[t.piece];
      const PieceInfo* ci = use_cache ? cached(p.hash) : nullptr;
      const PieceInfo info = ci ? *ci : compute(text.substr(p.start, p.end - p.start), p.hash);
      value[i] = m * info.s;
      z2 += m * m * info.q;
      if (p.word && info.known) k += t.count;
    }
    num += value[i];
  }
  const double z = z2 + params_.smooth > 0 ? std::sqrt(z2 + params_.smooth) : 1.0;
  const double margin = num / z + bias_;
  if (known) *known = k;
  if (explain) {
    explain->clear();
    // Each occurrence of a term takes an equal share of the term's contribution.
    for (std::size_t i = 0; i < ps.size(); ++i) {
      const std::size_t ti = piece_terms[2 * i];
      explain->push_back({ps[i].start, ps[i].end, value[ti] / z / ts[ti].count});
      if (i == 0) continue;
      const std::size_t pi = piece_terms[2 * i + 1];
      explain->push_back({ps[i - 1].start, ps[i].end, value[pi] / z / ts[pi].count});
    }
    const auto end = static_cast<std::uint32_t>(text.size());
    explain->push_back({end, end, bias_});
  }
  return 1.0 / (1.0 + std::exp(-margin));
}

}  // namespace dg::detect
