// The CLI's subcommands. The CLI is thin: it parses flags and calls a module.
#pragma once

#include <CLI/CLI.hpp>

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

}  // namespace dg::cli
