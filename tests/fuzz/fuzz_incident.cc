// libFuzzer target: `dualguard threat classify` on outside input. The first byte picks the path:
// even — the bytes are an incident narrative, classified with the shipped model (the tokeniser, the
// cue phrase matcher with its gaps, the features, the explanation); odd — the bytes are an incident
// model file, loaded, and whatever loads classifies a fixed narrative. Checks: nothing throws; a failed
// load carries coded errors; probabilities are finite and sum to 1; cue hits lie inside the text.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "threat/incident.h"

namespace {
[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_incident: invariant violated: %s\n", what);
  std::abort();
}

void check(const dg::threat::IncidentResult& r) {
  double sum = 0.0;
  for (double p : r.probability) {
    if (!std::isfinite(p) || p < 0.0 || p > 1.0) fail("probabilities are in [0, 1]");
    sum += p;
  }
  if (std::fabs(sum - 1.0) > 1e-9) fail("probabilities sum to 1");
  if (r.rationale.empty()) fail("every result has a rationale");
}

const dg::threat::IncidentModel& shipped() {
  static const auto m = dg::threat::IncidentModel::load(std::string(DG_SOURCE_DIR) + "/models/incident_class.json");
  if (!m.ok()) fail("the shipped model loads");
  return **m.value;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || size > 1 << 16) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (data[0] % 2 == 0) {
      const auto& m = shipped();
      check(m.classify(bytes));
      const auto toks = dg::threat::incident_tokens(bytes);
      for (const auto& h : dg::threat::match_cues(m.cues(), bytes, toks))
        if (h.start >= h.end || h.end > bytes.size() || h.family >= m.cues().families.size()) fail("cue hits lie inside the text");
      return 0;
    }
    const auto j = nlohmann::json::parse(bytes, nullptr, false);
    if (j.is_discarded()) return 0;
    auto m = dg::threat::IncidentModel::from_json(j, "fuzz.json");
    if (!m.ok()) {
      if (m.errors.empty()) fail("a failed load carries errors");
      for (const auto& e : m.errors)
        if (e.code.empty()) fail("every error has a code");
      return 0;
    }
    const auto r = (*m.value)->classify("Hackers used a cloned voice to steal money after a software error.");
    for (double p : r.probability)
      if (std::isnan(p)) fail("no NaN probability");
  } catch (...) {
    fail("an exception escaped");
  }
  return 0;
}
