// OodProfile::load on arbitrary bytes (a profile is built by `dualguard profile build`, but a
// truncated, hand-edited or foreign file must be refused cleanly), and scoring with whatever loads:
// novelty inside the idf range, scores in [0, 1], word spans inside the text.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "detect/ood_profile.h"

namespace {
const std::string& path() {
  static const std::string p = "/tmp/dg-fuzz-ood-" + std::to_string(::getpid()) + ".dgood";
  return p;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using dg::detect::OodProfile;
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<OodProfile::Feature> f;
  OodProfile::features(text, f);  // any bytes: the engine passes views, not only UTF-8
  for (const auto& x : f)
    if (x.end > x.start && x.end > size) std::abort();
  {
    std::ofstream out(path(), std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(size));
  }
  auto p = OodProfile::load(path());
  if (!p.ok()) {
    if (p.errors.empty() || p.errors[0].code.empty()) std::abort();  // a refusal always says why
    return 0;
  }
  const double n = (*p.value)->novelty(f);
  if (!(n >= 0.0 && n <= 100.0)) std::abort();
  const double s = (*p.value)->score_of_novelty(n);
  if (!(s >= 0.0 && s <= 1.0)) std::abort();
  return 0;
}
