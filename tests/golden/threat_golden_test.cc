// Golden threat reports: each shipped example (examples/*.yaml) analysed with the shipped config and
// policy must give exactly tests/golden/threat/NAME.json and NAME.md. The ATLAS catalog from
// ../shared/corpora is used when present (the goldens include its technique names); without it the
// test skips. On a mismatch the actual report is printed, ready to paste after review; with
// DUALGUARD_UPDATE_GOLDEN=1 the files are rewritten.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "policy/config.h"
#include "policy/policy.h"
#include "threat/analyze.h"
#include "threat/report.h"

namespace dg::threat {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ThreatGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ThreatGolden, Reports) {
  // Relative paths, as a user in the repository would type them, so the reports are reproducible.
  fs::current_path(DG_SOURCE_DIR);
  const std::string atlas_path = "../shared/corpora/catalogs/ATLAS.yaml";
  if (!fs::exists(atlas_path)) GTEST_SKIP() << "../shared/corpora/catalogs/ATLAS.yaml is absent";
  auto cat = load_atlas(atlas_path);
  ASSERT_TRUE(cat.ok()) << format_errors_text(cat.errors);
  auto cfg = policy::load_config("config/dualguard.yaml");
  ASSERT_TRUE(cfg.ok()) << format_errors_text(cfg.errors);
  auto tax = Taxonomy::load_file(cfg.value->taxonomy_path);
  ASSERT_TRUE(tax.ok()) << format_errors_text(tax.errors);
  auto pol = policy::Policy::load_file("config/policy.yaml", *tax.value);
  ASSERT_TRUE(pol.ok()) << format_errors_text(pol.errors);

  LoadOptions lo;
  lo.atlas = &*cat.value;
  for (const auto& c : tax.value->categories()) lo.extra_categories.push_back(c.name);
  const std::string name = GetParam();
  auto model = load_model_file("examples/" + name + ".yaml", lo);
  ASSERT_TRUE(model.ok()) << format_errors_text(model.errors);

  LiveControls live = live_controls(*cfg.value, *pol.value, *tax.value);
  live.config = "config/dualguard.yaml";
  live.policy = "config/policy.yaml";
  Options opt;
  opt.atlas = lo.atlas;
  opt.live = &live;
  opt.trusted = cfg.value->integrity.trusted;
  const Analysis a = analyze(*model.value, opt);

  const bool update = std::getenv("DUALGUARD_UPDATE_GOLDEN") != nullptr;
  for (const auto& [ext, actual] : {std::pair<std::string, std::string>{"json", render_json(a)}, {"md", render_markdown(a)}}) {
    const fs::path golden = fs::path("tests/golden/threat") / (name + "." + ext);
    if (update) {
      std::ofstream(golden, std::ios::binary | std::ios::trunc) << actual;
      continue;
    }
    if (read(golden) != actual)
      ADD_FAILURE() << golden.string() << " differs; the actual report follows (DUALGUARD_UPDATE_GOLDEN=1 rewrites it):\n"
                    << actual;
  }
  // The other formats render and carry every mechanism.
  const std::string dot = render_dot(a), html = render_html(a);
  for (const auto& x : model.value->mechanisms) {
    EXPECT_NE(dot.find("\"" + x.id + "\""), std::string::npos) << x.id;
    EXPECT_NE(html.find(x.id), std::string::npos) << x.id;
  }
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Examples, ThreatGolden, ::testing::Values("healthcare", "autonomous-vehicle", "chatbot"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace dg::threat
