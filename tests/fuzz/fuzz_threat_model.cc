// libFuzzer target: the threat-model loader of `dualguard threat analyze` (outside input: models are
// written by users and shared between teams). Arbitrary bytes are loaded as a threat model; whatever
// loads is analysed and rendered in every format. Checks: nothing throws; a failed load carries
// errors, each with a code; a model that loads analyses with one result per risk.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "threat/analyze.h"
#include "threat/report.h"

namespace {
[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_threat_model: invariant violated: %s\n", what);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 1 << 16) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    auto m = dg::threat::load_model_string(bytes, "fuzz.yaml");
    if (!m.ok()) {
      if (m.errors.empty()) fail("a failed load carries errors");
      for (const auto& e : m.errors)
        if (e.code.empty()) fail("every error has a code");
      return 0;
    }
    const dg::threat::Analysis a = dg::threat::analyze(*m.value, {});
    if (a.risks.size() != m.value->risks.size()) fail("one result per risk");
    (void)dg::threat::render_json(a);
    (void)dg::threat::render_markdown(a);
    (void)dg::threat::render_dot(a);
    (void)dg::threat::render_html(a);
  } catch (...) {
    fail("an exception escaped");
  }
  return 0;
}
