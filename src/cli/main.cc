// dualguard: safety and security guard for deployed AI models. See README.md.
#include <iostream>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "dualguard: guards deployed AI models on both axes: safety (unintended harm) and security (attacks on the AI\n"
      "system), and the links between them."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("dualguard ") + DG_VERSION);
  dg::cli::GlobalOptions g;
  app.add_option("-c,--config", g.config, "config file (default: $DUALGUARD_CONFIG, ./config/dualguard.yaml, installed)")
      ->envname("DUALGUARD_CONFIG");
  app.add_option("--set", g.overrides, "override a config value, e.g. --set detectors.pii.enabled=false (repeatable)")
      ->allow_extra_args(false);
  int exit_code = dg::cli::kExitOk;
  dg::cli::add_scan(app, g, exit_code);
  dg::cli::add_config(app, g, exit_code);
  dg::cli::add_train(app, g, exit_code);
  dg::cli::add_misc(app, exit_code);
  dg::cli::add_eval(app, g, exit_code);
  dg::cli::add_keys(app, g, exit_code);
  dg::cli::add_audit(app, g, exit_code);
  dg::cli::add_serve(app, g, exit_code);
  dg::cli::add_profile(app, g, exit_code);
  dg::cli::add_integrity(app, exit_code);
  dg::cli::add_threat_analyze(app);
  dg::cli::add_threat_classify(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {  // a subcommand's own exit code (e.g. threat analyze --fail-on)
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return dg::cli::kExitUsage;
  }
  return exit_code;
}
