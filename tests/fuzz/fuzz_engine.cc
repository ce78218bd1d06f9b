// libFuzzer target: the whole engine (normaliser, every detector of the default config, policy,
// redaction, JSON rendering) on arbitrary bytes.
//
// Each input is scanned once as a single text, in a role that cycles with the input's size (prompt,
// context, response), and once as an exchange cut into thirds: system prompt, prompt / context
// document, response (so prompt_leak and canary run against a protected prompt made of fuzz bytes).
// Checks: nothing escapes (the engine never throws); no detector reports an error on a small input;
// every finding span lies inside the text it belongs to; a redact verdict carries the redacted text;
// the verdict renders as JSON.
//
// Config: $DUALGUARD_CONFIG, else the source tree's config/dualguard.yaml. Loading compiles every
// Hyperscan database, which takes seconds: tests/fuzz/run.sh gives this target a startup allowance.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "core/verdict_json.h"
#include "policy/engine.h"

namespace {

const dg::policy::Engine* g_engine = nullptr;
dg::policy::Engine::ThreadState* g_state = nullptr;

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "fuzz_engine: invariant violated: %s %s\n", what, detail.c_str());
  std::abort();
}

// `text_of(f)` is the text finding `f` points into.
template <typename TextOf>
void check(const dg::Verdict& v, TextOf text_of) {
  if (!v.errors.empty()) fail("detector error", v.errors.front());
  for (const auto& f : v.findings) {
    if (f.category.empty() || f.detector.empty()) fail("finding without detector or category");
    if (!(f.score >= 0.0 && f.score <= 1.0)) fail("score outside [0, 1]", f.detector);
    const std::size_t size = text_of(f).size();
    for (const auto& s : f.spans)
      if (s.start > s.end || s.end > size)
        fail("finding span outside its text",
             f.detector + " " + f.category + " [" + std::to_string(s.start) + ", " + std::to_string(s.end) + ") of " +
                 std::to_string(size));
  }
  if (v.action == dg::Action::redact && !v.has_redacted) fail("redact verdict without redacted text");
  (void)dg::verdict_to_json(dg::ojson("fuzz"), v).dump(-1, ' ', false, dg::ojson::error_handler_t::replace);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* env = std::getenv("DUALGUARD_CONFIG");
  const std::string path = env && *env ? std::string(env) : std::string(DG_SOURCE_DIR) + "/config/dualguard.yaml";
  auto r = dg::policy::Engine::load(path);
  if (!r.ok()) {
    std::fprintf(stderr, "fuzz_engine: %s does not load:\n%s", path.c_str(), dg::format_errors_text(r.errors).c_str());
    std::abort();
  }
  static std::shared_ptr<const dg::policy::Engine> engine = *r.value;
  static std::unique_ptr<dg::policy::Engine::ThreadState> state = engine->make_thread_state();
  g_engine = engine.get();
  g_state = state.get();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  static constexpr dg::Role kRoles[] = {dg::Role::prompt, dg::Role::context, dg::Role::response};
  const dg::Role role = kRoles[size % 3];
  check(g_engine->scan(*g_state, role, text), [&](const dg::Finding& f) {
    if (f.role != role || f.context_index != -1) fail("single-text finding in another role", f.detector);
    return text;
  });

  dg::policy::Exchange ex;
  const std::size_t third = size / 3;
  ex.system = text.substr(0, third);
  ex.prompt = text.substr(third, third);
  ex.context = {text.substr(third, third)};
  ex.response = text.substr(2 * third);
  ex.has_system = ex.has_prompt = ex.has_response = true;
  check(g_engine->scan_exchange(*g_state, ex), [&](const dg::Finding& f) {
    switch (f.role) {
      case dg::Role::prompt: return ex.prompt;
      case dg::Role::response: return ex.response;
      case dg::Role::context: break;
    }
    if (f.context_index < 0 || static_cast<std::size_t>(f.context_index) >= ex.context.size())
      fail("context finding without a valid context_index", f.detector);
    return ex.context[static_cast<std::size_t>(f.context_index)];
  });
  return 0;
}
