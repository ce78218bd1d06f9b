// `dualguard threat analyze`: flags, files and exit codes; the work is in src/threat.
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "core/errors.h"
#include "core/taxonomy.h"
#include "policy/config.h"
#include "policy/policy.h"
#include "threat/analyze.h"
#include "threat/report.h"

namespace dg::cli {
namespace {

struct AnalyzeOptions {
  std::string file, policy, config, atlas, out;
  std::vector<std::string> formats, fail_on, trusted_keys;
};

std::vector<std::string> split_commas(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& s : in) {
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
      if (!item.empty()) out.push_back(item);
  }
  return out;
}

int errors_out(const LoadErrors& errors, const std::string& what) {
  for (const auto& e : errors) std::cerr << e.format() << "\n";
  std::cerr << "dualguard threat analyze: " << what << " does not load (" << errors.size() << " error(s))\n";
  return kExitUsage;
}

int run(const AnalyzeOptions& o, const std::string& global_config) {
  auto formats = split_commas(o.formats);
  for (const auto& f : formats)
    if (f != "html" && f != "md" && f != "json" && f != "dot") {
      std::cerr << "dualguard threat analyze: --format must be html, md, json or dot (got '" << f << "')\n";
      return kExitUsage;
    }
  if (formats.empty()) formats = o.out.empty() ? std::vector<std::string>{"md"} : std::vector<std::string>{"html", "md", "json", "dot"};
  if (o.out.empty() && formats.size() > 1) {
    std::cerr << "dualguard threat analyze: several formats need --out DIR\n";
    return kExitUsage;
  }
  bool fail_unprotected = false, fail_unmitigated = false;
  for (const auto& f : split_commas(o.fail_on)) {
    if (f == "unprotected-safety-mechanism") fail_unprotected = true;
    else if (f == "unmitigated-risk") fail_unmitigated = true;
    else {
      std::cerr << "dualguard threat analyze: --fail-on takes unprotected-safety-mechanism, unmitigated-risk (got '" << f << "')\n";
      return kExitUsage;
    }
  }

  const std::string config_path = !o.config.empty() ? o.config : !global_config.empty() ? global_config : policy::find_default_config();
  auto cfg = policy::load_config(config_path);
  if (!cfg.ok()) return errors_out(cfg.errors, "config " + config_path);
  auto tax = Taxonomy::load_file(cfg.value->taxonomy_path);
  if (!tax.ok()) return errors_out(tax.errors, "taxonomy " + cfg.value->taxonomy_path);
  const std::string policy_path = o.policy.empty() ? cfg.value->policy_path : o.policy;
  auto pol = policy::Policy::load_file(policy_path, *tax.value);
  if (!pol.ok()) return errors_out(pol.errors, "policy " + policy_path);

  std::optional<threat::AtlasCatalog> atlas;
  if (!o.atlas.empty()) {
    auto a = threat::load_atlas(o.atlas);
    if (!a.ok()) return errors_out(a.errors, "ATLAS catalog " + o.atlas);
    atlas = std::move(*a.value);
  }
  threat::LoadOptions lo;
  lo.atlas = atlas ? &*atlas : nullptr;
  for (const auto& c : tax.value->categories()) lo.extra_categories.push_back(c.name);
  auto model = threat::load_model_file(o.file, lo);
  if (!model.ok()) return errors_out(model.errors, "threat model " + o.file);

  threat::Options opt;
  opt.atlas = lo.atlas;
  opt.trusted = cfg.value->integrity.trusted;
  for (const auto& k : o.trusted_keys) {
    auto key = sig::load_public_key(k);
    if (!key.ok()) return errors_out(key.errors, "key " + k);
    opt.trusted.push_back(*key.value);
  }
  threat::LiveControls live = threat::live_controls(*cfg.value, *pol.value, *tax.value);
  live.policy = policy_path;
  opt.live = &live;
  const threat::Analysis a = threat::analyze(*model.value, opt);

  auto render = [&](const std::string& f) {
    if (f == "json") return threat::render_json(a);
    if (f == "md") return threat::render_markdown(a);
    if (f == "dot") return threat::render_dot(a);
    return threat::render_html(a);
  };
  if (o.out.empty()) {
    std::cout << render(formats.front());
  } else {
    std::error_code ec;
    std::filesystem::create_directories(o.out, ec);
    for (const auto& f : formats) {
      const auto p = std::filesystem::path(o.out) / ("threat." + f);
      std::ofstream out(p, std::ios::binary | std::ios::trunc);
      out << render(f);
      out.close();
      if (!out) {
        std::cerr << "dualguard threat analyze: cannot write " << p.string() << "\n";
        return kExitInput;
      }
    }
    std::cerr << "dualguard threat analyze: " << a.risks.size() << " risks (" << a.count(VerdictClass::safety) << " safety, "
              << a.count(VerdictClass::security) << " security, " << a.count(VerdictClass::hybrid) << " hybrid), "
              << a.chokepoints.size() << " chokepoint(s), " << a.unprotected.size() << " unprotected safety mechanism(s), "
              << a.unmitigated.size() << " unmitigated risk(s); wrote " << o.out << "\n";
  }

  int rc = kExitOk;
  if (fail_unprotected && !a.unprotected.empty()) {
    for (const auto& u : a.unprotected)
      std::cerr << "dualguard threat analyze: unprotected safety mechanism " << u.mechanism << ": " << u.reasons.front() << "\n";
    rc = kExitFailOn;
  }
  if (fail_unmitigated && !a.unmitigated.empty()) {
    for (const auto& id : a.unmitigated) std::cerr << "dualguard threat analyze: unmitigated risk " << id << "\n";
    rc = kExitFailOn;
  }
  return rc;
}

}  // namespace

void add_threat_analyze(CLI::App& app) {
  auto* analyze = threat_group(app)->add_subcommand(
      "analyze", "classify the risks of a threat model, map cross-dependencies, chokepoints, coverage, ATLAS / OWASP");
  auto o = std::make_shared<AnalyzeOptions>();
  analyze->add_option("file", o->file, "threat model YAML (docs/threat-model.md)")->required();
  analyze->add_option("--policy", o->policy, "policy file for coverage (default: the config's policy)");
  analyze->add_option("--config", o->config, "config: enabled detectors and trusted keys (default: the global --config, then the usual search)");
  analyze->add_option("--atlas", o->atlas, "MITRE ATLAS.yaml: technique names, and explicit ids are checked against it");
  analyze->add_option("--format", o->formats, "html, md, json, dot (repeatable or comma list; default md on stdout, all four with --out)");
  analyze->add_option("--out", o->out, "folder for threat.{html,md,json,dot} (default: stdout, one format)");
  analyze->add_option("--fail-on", o->fail_on, "exit 1 when any: unprotected-safety-mechanism, unmitigated-risk (comma list)");
  analyze->add_option("--trusted-key", o->trusted_keys, "public key file that signs safety artifacts (repeatable; adds to the config's)");
  analyze->callback([o, &app] {
    const int rc = run(*o, threat_global_config(app));
    if (rc != kExitOk) throw CLI::RuntimeError(rc);
  });
}

}  // namespace dg::cli
