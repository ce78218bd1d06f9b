#include <iostream>

#include "cli/commands.h"
#include "gateway/gateway_config.h"
#include "detect/signatures.h"
#include "policy/engine.h"

namespace dg::cli {

void add_config(CLI::App& app, GlobalOptions& g, int& exit_code) {
  auto* config = app.add_subcommand("config", "check and print configuration");
  config->require_subcommand(1);

  struct ValidateOpts {
    std::string path;
    bool json = false;
  };
  auto vo = std::make_shared<ValidateOpts>();
  auto* validate = config->add_subcommand(
      "validate", "load a config with its taxonomy, policy, rule files and detectors exactly as scan/serve would; report "
                  "every problem with file:line:col");
  validate->add_option("path", vo->path, "config file (default: the one scan would use)");
  validate->add_flag("--json", vo->json, "print errors as a JSON array");
  validate->callback([&g, &exit_code, vo] {
    const std::string path = !vo->path.empty() ? vo->path : !g.config.empty() ? g.config : policy::find_default_config();
    auto engine = policy::Engine::load(path, g.overrides);
    if (engine.ok()) {  // the gateway section, as `serve` reads it
      if (auto cfg = policy::load_config(path, g.overrides); cfg.ok()) {
        auto gw = gateway::load_gateway_config(*cfg.value);
        if (!gw.ok()) engine = decltype(engine)::failure(std::move(gw.errors));
      }
    }
    if (!engine.ok()) {
      if (vo->json) std::cout << format_errors_json(engine.errors) << "\n";
      else std::cerr << format_errors_text(engine.errors) << engine.errors.size() << " error(s) in " << path << "\n";
      exit_code = kExitUsage;
      return;
    }
    const auto& e = **engine.value;
    std::size_t rules = 0;
    std::string names;
    for (const auto& d : e.detectors()) {
      names += (names.empty() ? "" : ", ") + std::string(d->name());
      if (d->name() == "signatures") rules = static_cast<const detect::SignatureDetector&>(*d).rules().size();
    }
    if (vo->json) {
      std::cout << "[]\n";
    } else {
      std::cout << "ok: " << path << "\n"
                << "  detectors: " << names << "\n"
                << "  signature rules: " << rules << "\n"
                << "  policy: " << e.config().policy_path << " (" << e.policy().rules().size() << " rules, "
                << e.policy().escalations().size() << " escalations, mode "
                << (e.policy().mode() == policy::Mode::monitor ? "monitor" : "enforce") << ", fail-"
                << (e.policy().fail_mode() == policy::FailMode::open ? "open" : "closed") << ")\n"
                << "  taxonomy: " << e.config().taxonomy_path << " (" << e.taxonomy().categories().size() << " categories)\n";
      const auto& ig = e.config().integrity;
      std::string ids;
      for (const auto& k : ig.trusted) ids += (ids.empty() ? "" : ", ") + k.id;
      std::cout << "  integrity: " << sig::mode_name(ig.mode)
                << (ids.empty() ? std::string() : " (trusted keys: " + ids + ")") << "\n";
    }
  });

  auto show_path = std::make_shared<std::string>();
  auto* show = config->add_subcommand("show", "print the effective config (after --set) with secrets redacted");
  show->add_option("path", *show_path, "config file");
  show->callback([&g, &exit_code, show_path] {
    const std::string path = !show_path->empty() ? *show_path : !g.config.empty() ? g.config : policy::find_default_config();
    auto cfg = policy::load_config(path, g.overrides);
    if (!cfg.ok()) {
      std::cerr << format_errors_text(cfg.errors);
      exit_code = kExitUsage;
      return;
    }
    std::cout << "# " << path << "\n" << policy::dump_effective(*cfg.value);
  });
}

}  // namespace dg::cli
