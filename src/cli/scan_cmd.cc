// `dualguard scan`: texts, files or JSONL streams in, one verdict per input out, in input order.
// Batches are scanned on all cores; output order is input order.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/pretty.h"
#include "core/errors.h"
#include "core/input_record.h"
#include "policy/engine.h"

namespace dg::cli {
namespace {

struct ScanOptions {
  std::vector<std::string> texts;
  std::string file;
  std::string field;
  bool lines = false;
  std::string role = "prompt";
  std::string system;
  std::string system_file;
  std::string format = "json";
  std::string color = "auto";
  std::string progress = "auto";
  std::string fail_on_list;            // comma-separated, split in run_scan
  std::vector<std::string> fail_on;
  unsigned threads = 0;
  std::size_t batch = 512;
};

struct Item {
  std::string line;        // raw JSONL line, parsed by the worker (parsing is ~15% of the work)
  std::size_t line_no = 0;
  bool parse = false;
  InputRecord rec;
  std::string out;  // rendered result
  Action action = Action::allow;
  VerdictClass cls = VerdictClass::clean;
  bool any_finding = false;
};

const std::set<std::string> kFailOn{"block", "review", "redact", "safe_mode", "any", "finding",
                                    "safety", "security", "hybrid", "error"};

bool fails(const std::vector<std::string>& fail_on, const Item& it) {
  for (const auto& f : fail_on) {
    if (f == "any" && it.rec.ok() && it.action != Action::allow) return true;
    if (f == "finding" && it.any_finding) return true;
    if (!it.rec.ok()) continue;
    if (auto a = parse_action(f); a && it.action == *a) return true;
    if (auto c = parse_verdict_class(f); c && it.cls == *c) return true;
  }
  return false;
}

class Scanner {
 public:
  Scanner(const policy::Engine& e, const InputOptions& in, Role role, const detect::ProtectedPrompt* sys, bool pretty,
          bool color)
      : engine_(e), in_(in), role_(role), system_(sys), pretty_(pretty), color_(color) {}

  void process(Item& it, policy::Engine::ThreadState& ts) const {
    if (it.parse) {
      it.rec = parse_jsonl_line(it.line, it.line_no, in_);
      it.line.clear();
      it.line.shrink_to_fit();
    }
    const InputRecord& r = it.rec;
    if (!r.ok()) {
      it.out = pretty_ ? pretty_error(r.id, r.error_code, r.error_message, color_)
                       : input_error_to_json(r.id, r.error_code, r.error_message).dump(-1, ' ', false, ojson::error_handler_t::replace) + "\n";
      return;
    }
    Verdict v;
    std::string_view shown;
    Role shown_role = role_;
    if (r.exchange) {
      policy::Exchange ex = policy::exchange_of(r);
      ex.prepared_system = system_;  // --system / --system-file, prepared once for every line
      v = engine_.scan_exchange(ts, ex);
      shown = r.has_response ? std::string_view(r.response) : std::string_view(r.prompt);
      shown_role = r.has_response ? Role::response : Role::prompt;
    } else {
      detect::ProtectedPrompt own;
      const detect::ProtectedPrompt* sys = system_;
      if (r.has_system) {
        own = engine_.prepare_system(r.system);
        sys = &own;
      }
      v = engine_.scan(ts, role_, r.text, sys);
      shown = r.text;
    }
    it.action = v.action;
    it.cls = v.cls;
    it.any_finding = !v.findings.empty();
    it.out = pretty_ ? pretty_verdict(r.id, v, shown, shown_role, color_)
                     : verdict_to_json(r.id, v).dump(-1, ' ', false, ojson::error_handler_t::replace) + "\n";
  }

  // Scans a batch on `threads` threads (the caller's thread is one of them).
  void run_batch(std::vector<Item>& items, std::vector<std::unique_ptr<policy::Engine::ThreadState>>& states) const {
    std::atomic<std::size_t> next{0};
    auto work = [&](policy::Engine::ThreadState& ts) {
      for (std::size_t i = next.fetch_add(1); i < items.size(); i = next.fetch_add(1)) process(items[i], ts);
    };
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < states.size() && t < items.size(); ++t) pool.emplace_back(work, std::ref(*states[t]));
    work(*states[0]);
    for (auto& th : pool) th.join();
  }

 private:
  const policy::Engine& engine_;
  const InputOptions& in_;
  Role role_;
  const detect::ProtectedPrompt* system_;
  bool pretty_, color_;
};

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

int run_scan(const GlobalOptions& g, ScanOptions& o) {
  for (std::size_t s = 0, e; s < o.fail_on_list.size(); s = e + 1) {
    e = o.fail_on_list.find(',', s);
    if (e == std::string::npos) e = o.fail_on_list.size();
    if (e > s) o.fail_on.push_back(o.fail_on_list.substr(s, e - s));
  }
  for (const auto& f : o.fail_on) {
    if (!kFailOn.count(f)) {
      std::cerr << "dualguard scan: unknown --fail-on value '" << f
                << "' (block, review, redact, safe_mode, any, finding, safety, security, hybrid, error)\n";
      return kExitUsage;
    }
  }
  const auto role = parse_role(o.role);
  if (!role) {
    std::cerr << "dualguard scan: --role must be prompt, context or response\n";
    return kExitUsage;
  }
  const std::string config = g.config.empty() ? policy::find_default_config() : g.config;
  auto loaded = policy::Engine::load(config, g.overrides);
  if (!loaded.ok()) {
    std::cerr << format_errors_text(loaded.errors) << "dualguard scan: config " << config << " does not load ("
              << loaded.errors.size() << " error(s))\n";
    return kExitUsage;
  }
  const policy::Engine& engine = **loaded.value;

  std::string system_text = o.system;
  if (!o.system_file.empty() && !read_file(o.system_file, system_text)) {
    std::cerr << "dualguard scan: " << errc::kInputIo << ": cannot read --system-file " << o.system_file << "\n";
    return kExitInput;
  }
  detect::ProtectedPrompt system;
  const bool has_system = !system_text.empty();
  if (has_system) system = engine.prepare_system(system_text);

  const bool pretty = o.format == "pretty";
  const bool color = o.color == "always" || (o.color == "auto" && pretty && ::isatty(STDOUT_FILENO));
  unsigned threads = o.threads ? o.threads : engine.config().scan.threads;
  if (!threads) threads = std::max(1u, std::thread::hardware_concurrency());
  InputOptions in_opt;
  in_opt.field = o.field;
  Scanner scanner(engine, in_opt, *role, has_system ? &system : nullptr, pretty, color);
  std::vector<std::unique_ptr<policy::Engine::ThreadState>> states;
  for (unsigned t = 0; t < threads; ++t) states.push_back(engine.make_thread_state());

  bool input_error = false, fail_on = false;
  std::size_t done = 0;
  auto emit = [&](std::vector<Item>& items) {
    scanner.run_batch(items, states);
    std::string buf;
    for (auto& it : items) {
      buf += it.out;
      if (!it.rec.ok()) input_error = true;
      if (fails(o.fail_on, it) || (!it.rec.ok() && std::find(o.fail_on.begin(), o.fail_on.end(), "error") != o.fail_on.end()))
        fail_on = true;
    }
    std::fwrite(buf.data(), 1, buf.size(), stdout);
    done += items.size();
  };

  if (!o.texts.empty()) {
    std::vector<Item> items;
    for (std::size_t i = 0; i < o.texts.size(); ++i) {
      Item it;
      it.rec.id = i;
      it.rec.text = o.texts[i];
      items.push_back(std::move(it));
    }
    emit(items);
  } else {
    std::ifstream file;
    std::istream* in = &std::cin;
    std::uintmax_t total = 0;
    if (!o.file.empty() && o.file != "-") {
      file.open(o.file, std::ios::binary);
      if (!file) {
        std::cerr << "dualguard scan: " << errc::kInputIo << ": cannot open " << o.file << "\n";
        return kExitInput;
      }
      in = &file;
      std::error_code ec;
      total = std::filesystem::file_size(o.file, ec);
    } else if (::isatty(STDIN_FILENO)) {
      std::cerr << "dualguard scan: reading inputs from the terminal (JSONL, one per line; Ctrl-D ends). Give text as "
                   "an argument or --file to scan files.\n";
    }
    const bool show_progress = o.progress == "always" || (o.progress == "auto" && ::isatty(STDERR_FILENO) && !o.file.empty());
    std::ios::sync_with_stdio(false);
    const auto t0 = std::chrono::steady_clock::now();
    std::uintmax_t bytes = 0;
    std::size_t line_no = 0;
    std::string line;
    std::vector<Item> items;
    items.reserve(o.batch);
    auto progress = [&](bool final) {
      if (!show_progress) return;
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double mbps = secs > 0 ? static_cast<double>(bytes) / 1e6 / secs : 0.0;
      if (total > 0) {
        const int width = 30;
        const int filled = static_cast<int>(width * static_cast<double>(bytes) / static_cast<double>(total));
        std::fprintf(stderr, "\r[%.*s%*s] %3.0f%%  %zu inputs  %.1f MB/s", filled, "==============================",
                     width - filled, "", 100.0 * static_cast<double>(bytes) / static_cast<double>(total), done, mbps);
      } else {
        std::fprintf(stderr, "\r%zu inputs  %.1f MB/s", done, mbps);
      }
      if (final) std::fprintf(stderr, "\n");
    };
    while (std::getline(*in, line)) {
      bytes += line.size() + 1;
      const std::size_t n = line_no++;
      if (line.empty() || line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines are not inputs
      if (!line.empty() && line.back() == '\r') line.pop_back();
      Item it;
      if (o.lines) {
        it.rec.id = n;
        it.rec.text = std::move(line);
      } else {
        it.line = std::move(line);
        it.line_no = n;
        it.parse = true;
      }
      items.push_back(std::move(it));
      if (items.size() >= o.batch) {
        emit(items);
        items.clear();
        progress(false);
      }
    }
    if (in->bad()) {
      std::cerr << "dualguard scan: " << errc::kInputIo << ": read error after line " << line_no << "\n";
      input_error = true;
    }
    if (!items.empty()) emit(items);
    progress(true);
  }
  std::fflush(stdout);
  if (input_error) return kExitInput;
  return fail_on ? kExitFailOn : kExitOk;
}

}  // namespace

void add_scan(CLI::App& app, GlobalOptions& g, int& exit_code) {
  auto o = std::make_shared<ScanOptions>();
  auto* scan = app.add_subcommand(
      "scan",
      "scan texts, files or JSONL streams offline; one JSON verdict per input on stdout, in input order.\n"
      "JSONL lines: {\"id\"?, \"text\"} or an exchange {\"id\"?, \"system\"?, \"prompt\"?, \"context\"?: [...], "
      "\"response\"?}.\n"
      "Exit status: 0, or 1 when --fail-on matched, 2 on usage/config errors, 3 when an input could not be read.");
  scan->add_option("text", o->texts, "texts to scan (each one input); without them, --file or stdin is read");
  scan->add_option("-f,--file", o->file, "JSONL file to scan ('-' for stdin)");
  scan->add_option("--field", o->field, "take each input's text from this JSON field (default: auto)");
  scan->add_flag("--lines", o->lines, "treat each input line as plain text, not JSON");
  scan->add_option("-r,--role", o->role, "role of single-text inputs: prompt, context or response")
      ->check(CLI::IsMember({"prompt", "context", "response"}));
  scan->add_option("--system", o->system, "protected system prompt (leak and canary reference)");
  scan->add_option("--system-file", o->system_file, "read the protected system prompt from a file");
  scan->add_option("--format", o->format, "json (default) or pretty (human-readable)")->check(CLI::IsMember({"json", "pretty"}));
  scan->add_option("--color", o->color, "auto, always or never")->check(CLI::IsMember({"auto", "always", "never"}));
  scan->add_option("--progress", o->progress, "progress bar on stderr: auto (on a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  scan->add_option("--fail-on", o->fail_on_list,
                   "exit 1 if any verdict matches: block, review, redact, safe_mode, any (not allow), finding, safety, "
                   "security, hybrid, error (comma-separated)")
      ;
  scan->add_option("-j,--threads", o->threads, "worker threads (default: config scan.threads, 0 = all cores)");
  scan->add_option("--batch", o->batch, "inputs per batch")->check(CLI::Range(1, 1 << 20));
  scan->callback([&g, &exit_code, o] { exit_code = run_scan(g, *o); });
}

}  // namespace dg::cli
