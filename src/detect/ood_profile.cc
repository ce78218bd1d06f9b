#include "detect/ood_profile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include "core/errors.h"
#include "detect/fasttext_model.h"
#include "detect/hash.h"

namespace dg::detect {
namespace {

constexpr std::uint64_t kSeedWord = 0x57a1u, kSeedPair = 0x9a12u, kSeedShape = 0x54a9u, kSeedTri = 0x7712u,
                        kSeedSym = 0x5e11u, kSeedLen = 0x1e17u, kSeedLines = 0x11e5u;
// Weights per kind of token: words carry the topic, shapes and symbols the form (code, numbers,
// markup), the two global tokens the size. Set once by that reasoning, not tuned on any file.
constexpr float kWWord = 1.0f, kWPair = 0.7f, kWShape = 0.5f, kWTri = 0.25f, kWSym = 0.8f, kWLen = 2.0f,
                kWLines = 1.5f;

inline std::uint64_t hash_bytes(std::string_view s, std::uint64_t seed) noexcept {
  return hash64(s, kFnvBasis64 ^ fmix64(seed));
}

inline bool is_word_byte(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

inline int log2_bucket(std::size_t n) noexcept {
  int b = 0;
  while (n > 1 && b < 20) {
    n >>= 1;
    ++b;
  }
  return b;
}

}  // namespace

std::size_t OodProfile::features(std::string_view t, std::vector<Feature>& out) {
  out.clear();
  std::size_t words = 0, lines = 1;
  std::uint64_t prev = 0;
  std::string shape;
  std::string padded;
  auto add = [&](std::uint64_t h, float w, std::size_t a = 0, std::size_t b = 0) {
    out.push_back({h, w, static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(b)});
  };
  for (std::size_t i = 0; i < t.size();) {
    const unsigned char c = static_cast<unsigned char>(t[i]);
    if (c == '\n') ++lines;
    if (!is_word_byte(c)) {
      if (c > ' ') add(hash_bytes(t.substr(i, 1), kSeedSym), kWSym);
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < t.size() && is_word_byte(static_cast<unsigned char>(t[j]))) ++j;
    const std::string_view w = t.substr(i, j - i);
    ++words;
    const std::uint64_t hw = hash_bytes(w, kSeedWord);
    add(hw, kWWord, i, j);
    if (prev) add(fmix64(prev * 31 + hw) ^ kSeedPair, kWPair);
    prev = hw;
    shape.clear();
    for (unsigned char ch : w) {
      const char s = (ch >= '0' && ch <= '9') ? '0' : 'a';
      if (shape.empty() || shape.back() != s) shape += s;
    }
    add(hash_bytes(shape, kSeedShape), kWShape);
    if (w.size() >= 2) {
      padded.assign(1, '<');
      padded.append(w);
      padded += '>';
      for (std::size_t k = 0; k + 3 <= padded.size(); ++k) add(hash_bytes(std::string_view(padded).substr(k, 3), kSeedTri), kWTri);
    }
    i = j;
  }
  if (out.empty()) return 0;
  add(hash_bytes(std::to_string(log2_bucket(words + 1)), kSeedLen), kWLen);
  add(hash_bytes(std::to_string(log2_bucket(lines)), kSeedLines), kWLines);
  // Distinct features, sublinear term frequency: (kind weight) × (1 + log tf).
  // By hash, then position: the first of a group is the feature's first occurrence (its span).
  std::sort(out.begin(), out.end(),
            [](const Feature& x, const Feature& y) { return x.hash != y.hash ? x.hash < y.hash : x.start < y.start; });
  std::size_t w = 0;
  for (std::size_t i = 0; i < out.size();) {
    std::size_t j = i;
    while (j < out.size() && out[j].hash == out[i].hash) ++j;
    out[w++] = {out[i].hash, out[i].weight * (1.0f + std::log(static_cast<float>(j - i))), out[i].start, out[i].end};
    i = j;
  }
  out.resize(w);
  return words;
}

double OodProfile::novelty(const std::vector<Feature>& f, const std::vector<float>& idf) noexcept {
  double num = 0.0, den = 0.0;
  for (const auto& x : f) {
    num += static_cast<double>(x.weight) * idf[bucket(x.hash)];
    den += x.weight;
  }
  return den > 0.0 ? num / den : 0.0;
}

double OodProfile::score_of_novelty(double n) const noexcept {
  const double spread = std::max(meta_.q99 - meta_.q50, 1e-6);
  return 1.0 / (1.0 + std::exp(-(n - meta_.q50) * std::log(99.0) / spread));
}

std::shared_ptr<const OodProfile> OodProfile::make(Meta meta, std::vector<float> idf) {
  return std::shared_ptr<const OodProfile>(new OodProfile(std::move(meta), std::move(idf)));
}

std::string OodProfile::save(const std::string& path) const {
  nlohmann::json h{{"format", "dualguard ood profile"},
                   {"feature_version", meta_.feature_version},
                   {"idf_buckets", kIdfBuckets},
                   {"texts", meta_.texts},
                   {"holdout", meta_.holdout},
                   {"q50", meta_.q50},
                   {"q90", meta_.q90},
                   {"q99", meta_.q99},
                   {"q999", meta_.q999},
                   {"source", meta_.source},
                   {"created", meta_.created},
                   {"seed", meta_.seed}};
  const std::string header = h.dump();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return "cannot write " + path;
  out.write(kMagic.data(), static_cast<std::streamsize>(kMagic.size()));
  const auto len = static_cast<std::uint32_t>(header.size());
  out.write(reinterpret_cast<const char*>(&len), sizeof len);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(idf_.data()), static_cast<std::streamsize>(sizeof(float) * idf_.size()));
  out.flush();
  return out ? "" : "cannot write " + path;
}

LoadResult<std::shared_ptr<const OodProfile>> OodProfile::load(const std::string& path, const std::string& sha256) {
  using R = LoadResult<std::shared_ptr<const OodProfile>>;
  auto fail = [&](std::string_view code, std::string msg) {
    return R::failure({LoadError{path, 0, 0, std::string(code), std::move(msg)}});
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(errc::kConfigIo, "cannot read the profile file (build one with `dualguard profile build`)");
  if (!sha256.empty()) {
    const std::string sha = FastTextModel::file_sha256(path);
    if (sha != sha256)
      return fail(errc::kTamperedArtifact, "profile digest " + sha + " does not match the pinned sha256 " + sha256);
  }
  std::string magic(kMagic.size(), '\0');
  in.read(magic.data(), static_cast<std::streamsize>(magic.size()));
  if (!in || magic != kMagic) return fail(errc::kModelInvalid, "not a dualguard ood profile (DGOOD1)");
  std::uint32_t len = 0;
  in.read(reinterpret_cast<char*>(&len), sizeof len);
  if (!in || len == 0 || len > 65536) return fail(errc::kModelInvalid, "bad profile header length");
  std::string header(len, '\0');
  in.read(header.data(), len);
  if (!in) return fail(errc::kModelInvalid, "profile header is truncated");
  Meta meta;
  try {
    const auto h = nlohmann::json::parse(header);
    meta.feature_version = h.at("feature_version").get<int>();
    if (h.at("idf_buckets").get<long long>() != kIdfBuckets)
      return fail(errc::kModelInvalid, "profile does not have " + std::to_string(kIdfBuckets) + " idf buckets");
    meta.texts = h.at("texts").get<std::size_t>();
    meta.holdout = h.at("holdout").get<std::size_t>();
    meta.q50 = h.at("q50").get<double>();
    meta.q90 = h.at("q90").get<double>();
    meta.q99 = h.at("q99").get<double>();
    meta.q999 = h.at("q999").get<double>();
    meta.source = h.value("source", "");
    meta.created = h.value("created", "");
    meta.seed = h.value("seed", std::uint64_t{0});
  } catch (const std::exception& e) {
    return fail(errc::kModelInvalid, std::string("bad profile header: ") + e.what());
  }
  if (meta.feature_version != kFeatureVersion)
    return fail(errc::kModelInvalid, "profile built with features v" + std::to_string(meta.feature_version) +
                                         ", this build uses v" + std::to_string(kFeatureVersion) + ": rebuild it");
  if (!(meta.q50 >= 0.0 && meta.q50 <= meta.q90 && meta.q90 <= meta.q99 && meta.q99 <= meta.q999 && meta.q999 <= 100.0))
    return fail(errc::kModelInvalid, "profile calibration out of order or range (need 0 <= q50 <= q90 <= q99 <= q999 <= 100)");
  // The body's size is fixed: check it against the file before reading.
  const auto here = in.tellg();
  in.seekg(0, std::ios::end);
  const auto end = in.tellg();
  in.seekg(here);
  if (end - here != static_cast<std::streamoff>(kIdfBuckets * sizeof(float)))
    return fail(errc::kModelInvalid, "profile body size does not match its header");
  std::vector<float> idf(kIdfBuckets);
  in.read(reinterpret_cast<char*>(idf.data()), static_cast<std::streamsize>(sizeof(float) * idf.size()));
  if (!in) return fail(errc::kModelInvalid, "profile body is truncated");
  for (float x : idf)
    if (!std::isfinite(x) || x < 0.0f || x > 100.0f) return fail(errc::kModelInvalid, "profile idf weight out of range");
  return R::success(make(std::move(meta), std::move(idf)));
}

}  // namespace dg::detect
