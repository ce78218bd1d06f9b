// `dualguard serve`: the HTTP gateway (docs/gateway.md). Boost.Beast / Asio with C++20 coroutines
// on a small pool of I/O threads; the engine, policy and gateway config live in one immutable
// snapshot swapped atomically on reload; per-thread engine scratch; audit records committed on a
// separate thread pool before an answer leaves.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/load_result.h"

namespace dg::gateway {

struct ServeOptions {
  std::string config_path;             // "" = policy::find_default_config()
  std::vector<std::string> overrides;  // --set key=value (flags --listen/--upstream/--data-dir become these)
  // Called once the listener is bound, with "http://HOST:PORT" (the CLI prints the ready line).
  std::function<void(const std::string&)> on_ready;
};

// Loads everything (every problem reported), serves until SIGTERM / SIGINT, drains, returns the
// process exit code: 0 after a clean drain, 2 when the config does not load, 3 when the listener or
// the data directory cannot be opened.
int serve(const ServeOptions& opt, LoadErrors& errors);

}  // namespace dg::gateway
