// libFuzzer target: the eval.json reader of `dualguard eval diff` (outside input: reports come from
// other runs, other machines, other versions). Arbitrary bytes are parsed as JSON and, when they
// parse, flattened into metrics, diffed against themselves and against the first half of the
// metrics, and rendered. Checks: nothing throws; a report that flattens diffs against itself with
// no regression; rendering never throws.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/verdict_json.h"
#include "eval/diff.h"

namespace {
[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_eval_report: invariant violated: %s\n", what);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const dg::ojson j = dg::ojson::parse(bytes, nullptr, false);
  if (j.is_discarded()) return 0;
  try {
    auto m = dg::eval::flatten_report(j, "fuzz.json");
    if (!m.ok()) {
      if (m.errors.empty()) fail("a failed flatten carries errors");
      return 0;
    }
    const dg::eval::DiffOptions opt;
    const auto same = dg::eval::diff_metrics(*m.value, *m.value, opt);
    if (same.failed()) fail("a report regresses against itself");
    std::vector<dg::eval::Metric> half(m.value->begin(), m.value->begin() + static_cast<std::ptrdiff_t>(m.value->size() / 2));
    const auto d = dg::eval::diff_metrics(*m.value, half, opt);
    (void)dg::eval::render_diff_text(d, opt, "a.json", "b.json");
    (void)dg::eval::diff_to_json(d, opt, "a.json", "b.json").dump();
    (void)dg::eval::provenance_notes(j, j);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exception: %s\n", e.what());
    fail("an exception escaped the report reader");
  }
  return 0;
}
