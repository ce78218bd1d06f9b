// LinearModel::load on arbitrary bytes (a model file is a pinned artifact, but `dualguard train`
// output, a hand-edited or truncated file must still be refused cleanly), and scoring with whatever
// loads: the score is a probability and the explanation sums to its logit.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "detect/linear_model.h"

namespace {
const std::string& path() {
  static const std::string p = "/tmp/dg-fuzz-linear-" + std::to_string(::getpid()) + ".dglm";
  return p;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out(path(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto m = dg::detect::LinearModel::load({path(), "", "__label__attack"});
  if (!m.ok()) {
    if (m.errors.empty() || m.errors[0].code.empty()) std::abort();  // a refusal always says why
    return 0;
  }
  const auto& model = **m.value;
  // Score the tail of the input as text too (any bytes: the engine passes views, not only UTF-8).
  const std::string text(reinterpret_cast<const char*>(data) + size / 2, size - size / 2);
  std::vector<dg::detect::Contribution> c;
  std::size_t known = 0;
  const double p = model.score(text, &c, &known);
  if (!(p >= 0.0 && p <= 1.0)) std::abort();
  double z = 0;
  for (const auto& x : c) {
    if (x.start > x.end || x.end > text.size()) std::abort();
    z += x.weight;
  }
  if (p > 1e-9 && p < 1 - 1e-9 && std::fabs(std::log(p / (1 - p)) - z) > 1e-6 * (1 + std::fabs(z))) std::abort();
  if (std::fabs(model.score_uncached(text) - p) > 1e-9) std::abort();
  return 0;
}
