// `dualguard serve`: flags and the ready line; the gateway itself is src/gateway/server.h.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "cli/commands.h"
#include "gateway/server.h"

namespace dg::cli {

namespace {

struct ServeFlags {
  std::string listen, upstream, data_dir, log_level = "info";
};

}  // namespace

void add_serve(CLI::App& app, GlobalOptions& g, int& exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  auto* cmd = app.add_subcommand(
      "serve",
      "run the gateway (docs/gateway.md): /v1/scan, the OpenAI-compatible proxy (/v1/chat/completions, /v1/completions,\n"
      "streaming included), the Open Inference Protocol (/v2/models/{name}/infer), /healthz, /readyz, /metrics and the\n"
      "operator routes (/admin/killswitch, /admin/safemode, /admin/reload). Every verdict is appended to the hash-chained\n"
      "audit log in the data directory before the answer leaves.\n"
      "  dualguard serve --listen 127.0.0.1:8080 --upstream http://127.0.0.1:9000 --data-dir data/\n"
      "Prints 'dualguard: listening on http://HOST:PORT' on stdout when ready (--listen 127.0.0.1:0 picks a free port).\n"
      "SIGTERM / SIGINT drain requests in flight (gateway.drain_timeout_ms), SIGHUP reloads the config.\n"
      "Exit status: 0 after a clean drain, 2 when the config does not load, 3 when the listener or data directory fails.");
  cmd->add_option("--listen", flags->listen, "HOST:PORT to listen on (overrides gateway.listen; default 127.0.0.1:8080)");
  cmd->add_option("--upstream", flags->upstream,
                  "model server base URL, http://HOST:PORT[/prefix] (overrides gateway.upstream; none: /v1/scan only)");
  cmd->add_option("--data-dir", flags->data_dir, "folder of audit.db and keys.db (overrides gateway.data_dir; default ./data)");
  cmd->add_option("--log-level", flags->log_level, "trace, debug, info (default), warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  cmd->callback([flags, &g, &exit_code] {
    // Logs go to stderr: stdout carries the ready line that scripts read.
    spdlog::set_default_logger(spdlog::stderr_color_mt("dualguard"));
    spdlog::set_level(spdlog::level::from_str(flags->log_level));
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    gateway::ServeOptions opt;
    opt.config_path = g.config;
    opt.overrides = g.overrides;
    if (!flags->listen.empty()) opt.overrides.push_back("gateway.listen=" + flags->listen);
    if (!flags->upstream.empty()) opt.overrides.push_back("gateway.upstream=" + flags->upstream);
    if (!flags->data_dir.empty()) opt.overrides.push_back("gateway.data_dir=" + flags->data_dir);
    opt.on_ready = [](const std::string& url) { std::cout << "dualguard: listening on " << url << std::endl; };
    LoadErrors errors;
    exit_code = gateway::serve(opt, errors);
    for (const auto& e : errors) std::cerr << "dualguard serve: " << e.format() << "\n";
  });
}

}  // namespace dg::cli
