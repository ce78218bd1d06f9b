// Golden verdicts: every line of tests/golden/*.jsonl is an input and the verdict it must get, run
// through the real engine with the shipped config. On a mismatch the test prints the line as it
// would have to be, ready to paste after review.
//
// Line format: {"name": "...", "role"?: "prompt|context|response", "input": <scan JSONL input>,
//               "expect": {"action": "...", "class": "...", "categories": [...], "chain"?: "..."}}
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/input_record.h"
#include "policy/engine.h"

namespace dg {
namespace {

struct Case {
  std::string file;
  std::size_t line = 0;
  ojson spec;
};

// How ctest and gtest name a case: "prompts.jsonl:5 (direct injection)".
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.file << ":" << c.line << " (" << c.spec.value("name", "") << ")";
}

std::vector<Case> load_cases() {
  std::vector<Case> cases;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(DG_SOURCE_DIR "/tests/golden"))
    if (e.path().extension() == ".jsonl") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f);
    std::string line;
    for (std::size_t n = 1; std::getline(in, line); ++n) {
      if (line.empty() || line[0] == '#') continue;
      cases.push_back({f.filename().string(), n, ojson::parse(line)});
    }
  }
  return cases;
}

const policy::Engine& engine() {
  static std::shared_ptr<const policy::Engine> e = [] {
    auto r = policy::Engine::load(DG_SOURCE_DIR "/config/dualguard.yaml");
    if (!r.ok()) {
      ADD_FAILURE() << format_errors_text(r.errors);
      return std::shared_ptr<const policy::Engine>();
    }
    return *r.value;
  }();
  return *e;
}

class Golden : public ::testing::TestWithParam<Case> {};

TEST_P(Golden, Verdict) {
  const Case& c = GetParam();
  const auto& e = engine();
  auto ts = e.make_thread_state();
  const ojson& spec = c.spec;
  const std::string input_line = spec.at("input").dump();
  InputRecord rec = parse_jsonl_line(input_line, 0, {});
  ASSERT_TRUE(rec.ok()) << rec.error_message;
  Verdict v;
  if (rec.exchange) {
    v = e.scan_exchange(*ts, policy::exchange_of(rec));
  } else {
    const Role role = parse_role(spec.value("role", "prompt")).value_or(Role::prompt);
    detect::ProtectedPrompt sys;
    if (rec.has_system) sys = e.prepare_system(rec.system);
    v = e.scan(*ts, role, rec.text, rec.has_system ? &sys : nullptr);
  }
  std::set<std::string> cats;
  for (const auto& f : v.findings) cats.insert(f.category);
  ojson actual{{"action", to_string(v.action)}, {"class", to_string(v.cls)}, {"categories", cats}};
  if (!v.chain.empty()) actual["chain"] = v.chain;
  ojson expect = spec.at("expect");
  if (expect.contains("categories")) {
    std::set<std::string> want = expect["categories"].get<std::set<std::string>>();
    expect["categories"] = want;
  }
  if (actual != expect) {
    ojson fixed = spec;
    fixed["expect"] = actual;
    ADD_FAILURE() << c.file << ":" << c.line << " (" << spec.value("name", "") << ")\n  reason: " << v.reason
                  << "\n  expected: " << expect.dump() << "\n  actual:   " << actual.dump()
                  << "\n  pasteable:\n" << fixed.dump();
  }
}

std::string name_of(const ::testing::TestParamInfo<Case>& info) {
  std::string n = info.param.file.substr(0, info.param.file.find('.')) + "_" + std::to_string(info.param.line);
  for (auto& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(Files, Golden, ::testing::ValuesIn(load_cases()), name_of);

}  // namespace
}  // namespace dg
