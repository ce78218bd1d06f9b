// Fixtures shared by the eval tests: an engine with the shipped config restricted to the rule-based
// detectors (so that the expected verdicts do not move when learned models are retrained), and
// in-memory datasets.
#pragma once

#include <gtest/gtest.h>

#include <set>

#include "detect/registry.h"
#include "eval/dataset.h"
#include "policy/engine.h"

namespace dg::eval::testing {

// Overrides that disable every registered detector except the rule-based ones.
inline std::vector<std::string> rule_based_only() {
  static const std::set<std::string_view> keep{"encoding", "signatures", "secrets", "pii", "canary", "prompt_leak"};
  std::vector<std::string> o;
  for (const auto& e : detect::registry())
    if (!keep.count(e.name)) o.push_back("detectors." + std::string(e.name) + ".enabled=false");
  return o;
}

inline std::string shipped_config() { return DG_SOURCE_DIR "/config/dualguard.yaml"; }

inline std::shared_ptr<const policy::Engine> rule_engine(std::vector<std::string> extra = {}) {
  std::vector<std::string> o = rule_based_only();
  o.insert(o.end(), extra.begin(), extra.end());
  auto r = policy::Engine::load(shipped_config(), o);
  EXPECT_TRUE(r.ok()) << format_errors_text(r.errors);
  return r.ok() ? *r.value : nullptr;
}

// A set of single-text inputs; `categories` (optional) parallel to `texts`.
inline Dataset make_set(const std::string& name, bool positive, const std::vector<std::string>& texts,
                        const std::vector<std::string>& categories = {}) {
  Dataset d;
  d.spec = {name, name + ".jsonl", positive};
  d.sha256 = sha256_hex(name);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    Sample s;
    s.line = i + 1;
    s.rec.id = i;
    s.rec.text = texts[i];
    if (i < categories.size()) s.category = categories[i];
    d.bytes += texts[i].size();
    d.samples.push_back(std::move(s));
  }
  return d;
}

}  // namespace dg::eval::testing
