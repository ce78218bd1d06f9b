// The CLI's subcommands. The CLI is thin: it parses flags and calls a module.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <string>
#include <vector>

namespace dg::cli {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailOn = 1;       // --fail-on matched a verdict
inline constexpr int kExitUsage = 2;        // bad flags, config that does not load
inline constexpr int kExitInput = 3;        // an input could not be read

struct GlobalOptions {
  std::string config;                  // "" = find_default_config()
  std::vector<std::string> overrides;  // --set key=value
};

void add_scan(CLI::App& app, GlobalOptions& g, int& exit_code);
void add_config(CLI::App& app, GlobalOptions& g, int& exit_code);
void add_misc(CLI::App& app, int& exit_code);
void add_eval(CLI::App& app, GlobalOptions& g, int& exit_code);
void add_train(CLI::App& app, GlobalOptions& g, int& exit_code);
void add_keys(CLI::App& app, GlobalOptions& g, int& exit_code);   // keys create | list | revoke
void add_audit(CLI::App& app, GlobalOptions& g, int& exit_code);  // audit verify | export
void add_serve(CLI::App& app, GlobalOptions& g, int& exit_code);  // the gateway
void add_profile(CLI::App& app, GlobalOptions& g, int& exit_code);  // profile build | show (ood baseline)
void add_integrity(CLI::App& app, int& exit_code);  // sign keygen | sign PATH | verify PATH

// `dualguard threat`: one group shared by its subcommands (analyze, and incident classification),
// whichever registers first creates it.
// (Debian's CLI11 2.1.2 has no get_subcommand_no_throw, so the lookup filters the subcommand list.)
inline CLI::App* threat_group(CLI::App& app) {
  for (auto* t : app.get_subcommands([](CLI::App* s) { return s->get_name() == "threat"; })) return t;
  auto* t = app.add_subcommand("threat", "design time: threat models and incident classification");
  t->require_subcommand(1);
  return t;
}
// The config a `threat` subcommand uses when it has none of its own: the global --config, then
// $DUALGUARD_CONFIG; "" = the usual search (policy::find_default_config).
inline std::string threat_global_config(CLI::App& app) {
  if (auto* g = app.get_option_no_throw("--config"); g && g->count()) return g->as<std::string>();
  if (const char* env = std::getenv("DUALGUARD_CONFIG"); env && *env) return env;
  return "";
}
void add_threat_analyze(CLI::App& app);   // threat analyze MODEL.yaml (threat_cmd.cc)
void add_threat_classify(CLI::App& app);  // threat classify --file incidents.jsonl (threat_classify_cmd.cc)

}  // namespace dg::cli
