// Hashes the hashed-feature detectors share (linear_model, ood_profile): FNV-1a over bytes,
// finished with murmur3's 64-bit finaliser (FNV's low bits are weak and buckets are taken from
// them). Changing either changes every trained model's and profile's features: don't.
#pragma once

#include <cstdint>
#include <string_view>

namespace dg::detect {

inline constexpr std::uint64_t kFnvBasis64 = 1469598103934665603ull;

inline std::uint64_t fmix64(std::uint64_t k) noexcept {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

// fmix64(FNV-1a of `s` from `basis`).
inline std::uint64_t hash64(std::string_view s, std::uint64_t basis = kFnvBasis64) noexcept {
  std::uint64_t h = basis;
  for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return fmix64(h);
}

}  // namespace dg::detect
