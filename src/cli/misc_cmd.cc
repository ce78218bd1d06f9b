#include <hs/hs.h>
#include <unicode/uversion.h>

#include <iostream>

#include "cli/commands.h"
#include "detect/canary.h"

namespace dg::cli {

void add_misc(CLI::App& app, int& exit_code) {
  auto* version = app.add_subcommand("version", "print the version and the versions of the engines it uses");
  version->callback([] {
    std::cout << "dualguard " << DG_VERSION << "\n"
              << "hyperscan " << hs_version() << "\n"
              << "icu " << U_ICU_VERSION << "\n";
  });
  auto* canary = app.add_subcommand("canary", "canary tokens for protected prompts");
  canary->require_subcommand(1);
  auto* fresh = canary->add_subcommand(
      "new", "print a fresh random canary token; put it in your system prompt and dualguard flags any response that "
             "contains it (also re-cased, spaced out or encoded)");
  fresh->callback([] { std::cout << detect::new_canary_token() << "\n"; });
  (void)exit_code;
}

}  // namespace dg::cli
