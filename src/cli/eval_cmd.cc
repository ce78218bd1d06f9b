// `dualguard eval`, `eval sweep`, `eval diff`: flags, files and exit codes; the work is in src/eval.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "core/errors.h"
#include "eval/diff.h"
#include "eval/report_html.h"
#include "eval/report_json.h"
#include "eval/report_text.h"
#include "eval/runner.h"
#include "eval/sweep.h"
#include "policy/engine.h"

namespace dg::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct EvalOptions {
  std::vector<std::string> sets;    // NAME=PATH:positive|negative
  std::vector<std::string> params;  // sweep only: KEY=FROM:TO:STEP or KEY=v1,v2
  std::string field;
  std::string role = "prompt";
  unsigned threads = 0;
  std::size_t limit = 0;
  std::string flag_on = "any";
  std::string perturb = "none";
  std::uint64_t seed = 1;
  std::string out;
  std::string format = "text";
  std::string progress = "auto";
};

struct DiffOptions {
  std::string a, b;
  double max_regression = 0.01;
  double max_latency_regression = -1;
  std::string format = "text";
};

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int fail(const char* cmd, const LoadErrors& errors, int code) {
  for (const auto& e : errors) std::cerr << "dualguard " << cmd << ": " << e.format() << "\n";
  return code;
}

bool write_file(const std::filesystem::path& p, const std::string& data) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << data;
  f.close();
  return static_cast<bool>(f);
}

// Everything `eval` and `eval sweep` share: the engine, the sets, the run options.
struct Prepared {
  std::string config;
  std::shared_ptr<const policy::Engine> engine;
  std::vector<eval::Dataset> sets;
  eval::RunOptions run;
  eval::RunInfo info;
  eval::Timing timing;
};

int prepare(const GlobalOptions& g, const EvalOptions& o, const char* cmd, bool perturb, Prepared& p) {
  if (o.sets.empty()) {
    std::cerr << "dualguard " << cmd << ": give at least one --set NAME=PATH:positive|negative (see --help)\n";
    return kExitUsage;
  }
  auto flag_on = eval::parse_flag_on(o.flag_on);
  if (!flag_on.ok()) return fail(cmd, flag_on.errors, kExitUsage);
  p.run.flag_on = *flag_on.value;
  if (perturb) {
    auto t = eval::parse_transform_list(o.perturb);
    if (!t.ok()) return fail(cmd, t.errors, kExitUsage);
    p.run.perturb = *t.value;
  }
  p.run.role = *parse_role(o.role);  // CLI11 checked the spelling
  p.run.seed = o.seed;
  p.run.detector_roc = perturb;  // sweeps need only rates

  const auto t_sets = Clock::now();
  eval::LoadOptions lo;
  lo.input.field = o.field;
  lo.limit = o.limit;
  auto sets = eval::load_datasets(o.sets, lo);
  if (!sets.ok()) {
    bool usage = true;
    for (const auto& e : sets.errors) usage &= e.code == errc::kEvalSetSpec || e.code == errc::kEvalDuplicateSet;
    return fail(cmd, sets.errors, usage ? kExitUsage : kExitInput);
  }
  p.sets = std::move(*sets.value);
  p.timing.load_sets_s = seconds_since(t_sets);

  p.config = g.config.empty() ? policy::find_default_config() : g.config;
  const auto t_engine = Clock::now();
  auto loaded = policy::Engine::load(p.config, g.overrides);
  if (!loaded.ok()) {
    std::cerr << format_errors_text(loaded.errors) << "dualguard " << cmd << ": config " << p.config << " does not load ("
              << loaded.errors.size() << " error(s))\n";
    return kExitUsage;
  }
  p.engine = *loaded.value;
  p.timing.load_engine_s = seconds_since(t_engine);

  unsigned threads = o.threads ? o.threads : p.engine->config().scan.threads;
  if (!threads) threads = std::max(1u, std::thread::hardware_concurrency());
  p.run.threads = threads;
  if (o.progress == "always" || (o.progress == "auto" && ::isatty(STDERR_FILENO))) {
    p.run.progress = [last = Clock::time_point{}](std::size_t done, std::size_t total) mutable {
      const auto now = Clock::now();
      if (done < total && now - last < std::chrono::milliseconds(200)) return;
      last = now;
      std::fprintf(stderr, "\r  %zu/%zu inputs scanned%s", done, total, done >= total ? "\n" : "");
    };
  }

  eval::RunInfo& in = p.info;
  in.config_path = p.config;
  in.config_sha256 = eval::sha256_file(p.config);
  in.policy_path = p.engine->config().policy_path;
  in.policy_sha256 = eval::sha256_file(in.policy_path);
  in.overrides = g.overrides;
  for (const auto& d : p.engine->detectors()) in.detectors.emplace_back(d->name());
  in.field = o.field;
  in.role = p.run.role;
  in.flag_on = eval::actions_of(p.run.flag_on);
  in.limit = o.limit;
  in.threads = threads;
  in.seed = o.seed;
  in.perturb = p.run.perturb;
  in.version = DG_VERSION;
  in.created_utc = eval::utc_now_iso8601();
  return kExitOk;
}

// Creates --out and writes the named files; false (with a message) when it cannot.
bool write_outputs(const char* cmd, const std::string& dir, const std::vector<std::pair<std::string, std::string>>& files) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::cerr << "dualguard " << cmd << ": " << errc::kInputIo << ": cannot create " << dir << ": " << ec.message() << "\n";
    return false;
  }
  for (const auto& [name, data] : files) {
    const auto path = std::filesystem::path(dir) / name;
    if (!write_file(path, data)) {
      std::cerr << "dualguard " << cmd << ": " << errc::kInputIo << ": cannot write " << path.string() << "\n";
      return false;
    }
  }
  return true;
}

int run_eval(const GlobalOptions& g, const EvalOptions& o) {
  Prepared p;
  if (int rc = prepare(g, o, "eval", true, p); rc != kExitOk) return rc;
  eval::EvalReport report = eval::evaluate(*p.engine, p.sets, p.run);
  report.info = p.info;
  report.timing.load_engine_s = p.timing.load_engine_s;
  report.timing.load_sets_s = p.timing.load_sets_s;
  if (!o.out.empty() &&
      !write_outputs("eval", o.out, {{"eval.json", eval::report_to_json(report).dump(2) + "\n"}, {"index.html", eval::render_report_html(report)}}))
    return kExitInput;
  if (o.format == "json") {
    std::cout << eval::report_to_json(report, /*with_curves=*/false).dump(2) << "\n";
  } else {
    std::cout << eval::render_summary_text(report);
    if (!o.out.empty()) std::cout << "wrote " << (std::filesystem::path(o.out) / "eval.json").string() << ", "
                                  << (std::filesystem::path(o.out) / "index.html").string() << "\n";
  }
  return kExitOk;
}

int run_sweep(const GlobalOptions& g, const EvalOptions& o) {
  if (o.params.empty()) {
    std::cerr << "dualguard eval sweep: give at least one --param KEY=FROM:TO:STEP or KEY=v1,v2,... (see --help)\n";
    return kExitUsage;
  }
  Prepared p;
  if (int rc = prepare(g, o, "eval sweep", false, p); rc != kExitOk) return rc;
  std::vector<std::string> detector_names;
  for (const auto& d : p.engine->config().detectors) detector_names.push_back(d.name);
  for (const auto& d : p.engine->detectors()) detector_names.emplace_back(d->name());
  eval::SweepReport s;
  LoadErrors errors;
  for (const auto& arg : o.params) {
    auto param = eval::parse_param(arg, detector_names);
    if (param.ok()) s.params.push_back(std::move(*param.value));
    else errors.insert(errors.end(), param.errors.begin(), param.errors.end());
  }
  if (!errors.empty()) return fail("eval sweep", errors, kExitUsage);
  auto grid = eval::expand_grid(s.params);
  if (!grid.ok()) return fail("eval sweep", grid.errors, kExitUsage);

  const auto t0 = Clock::now();
  const bool show = static_cast<bool>(p.run.progress);
  p.run.progress = nullptr;
  auto factory = [&](const std::vector<std::string>& overrides) { return policy::Engine::load(p.config, overrides); };
  auto on_variant = [&](std::size_t i, std::size_t n) {
    if (show) std::fprintf(stderr, "\r  variant %zu/%zu%s", i, n, i == n ? "\n" : "");
  };
  auto variants = eval::run_sweep(*p.engine, factory, g.overrides, *grid.value, p.sets, p.run, on_variant);
  if (!variants.ok()) {
    std::cerr << format_errors_text(variants.errors) << "dualguard eval sweep: no variant's config loads\n";
    return kExitUsage;
  }
  s.variants = std::move(*variants.value);
  s.seconds = seconds_since(t0);
  for (const auto& v : s.variants)
    if (!v.ran()) std::cerr << "dualguard eval sweep: skipped variant (config does not load): " << v.error << "\n";
  s.info = p.info;
  for (const auto& ds : p.sets) {
    eval::SetResult r;
    r.spec = ds.spec;
    r.sha256 = ds.sha256;
    r.n = ds.samples.size();
    s.sets.push_back(std::move(r));
  }
  if (!o.out.empty() &&
      !write_outputs("eval sweep", o.out, {{"sweep.json", eval::sweep_to_json(s).dump(2) + "\n"}, {"index.html", eval::render_sweep_html(s)}}))
    return kExitInput;
  if (o.format == "json") {
    std::cout << eval::sweep_to_json(s).dump(2) << "\n";
  } else {
    std::cout << eval::render_sweep_text(s);
    if (!o.out.empty()) std::cout << "wrote " << (std::filesystem::path(o.out) / "sweep.json").string() << ", "
                                  << (std::filesystem::path(o.out) / "index.html").string() << "\n";
  }
  return kExitOk;
}

int run_diff(const DiffOptions& o) {
  eval::DiffOptions opt;
  opt.max_regression = o.max_regression;
  opt.max_latency_regression = o.max_latency_regression;
  auto a = eval::load_report_file(o.a);
  auto b = eval::load_report_file(o.b);
  LoadErrors errors = a.errors;
  errors.insert(errors.end(), b.errors.begin(), b.errors.end());
  if (!errors.empty()) return fail("eval diff", errors, kExitUsage);
  auto ma = eval::flatten_report(*a.value, o.a);
  auto mb = eval::flatten_report(*b.value, o.b);
  errors = ma.errors;
  errors.insert(errors.end(), mb.errors.begin(), mb.errors.end());
  if (!errors.empty()) return fail("eval diff", errors, kExitUsage);
  eval::DiffResult d = eval::diff_metrics(*ma.value, *mb.value, opt);
  d.notes = eval::provenance_notes(*a.value, *b.value);
  if (o.format == "json") std::cout << eval::diff_to_json(d, opt, o.a, o.b).dump(2) << "\n";
  else std::cout << eval::render_diff_text(d, opt, o.a, o.b);
  return d.failed() ? kExitFailOn : kExitOk;
}

// Options shared by `eval` and `eval sweep`.
void add_run_options(CLI::App* c, EvalOptions& o) {
  c->add_option("--set", o.sets,
                "a labelled set NAME=PATH:positive|negative (repeatable): positive = should be flagged (attacks), negative = "
                "should pass (benign). JSONL with \"text\" (or --field) or exchanges; \"category\" and \"source\" group results")
      ->allow_extra_args(false);
  c->add_option("--field", o.field, "take each input's text from this JSON field (default: auto = \"text\", or an exchange)");
  c->add_option("--role", o.role, "role of single-text inputs: prompt (default), context or response")
      ->check(CLI::IsMember({"prompt", "context", "response"}));
  c->add_option("-j,--threads", o.threads, "worker threads (default: config scan.threads, 0 = one per core); results do not depend on it");
  c->add_option("--limit", o.limit, "read at most N inputs per set (the first N lines; default: all)");
  c->add_option("--flag-on", o.flag_on,
                "verdict actions that count as flagged: any (default: every action but allow) or a comma list of redact, review, "
                "safe_mode, block");
  c->add_option("--out", o.out, "write the report files into this directory (created if needed)");
  c->add_option("--format", o.format, "terminal summary: text (default) or json")->check(CLI::IsMember({"text", "json"}));
  c->add_option("--progress", o.progress, "progress on stderr: auto (on a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
}

}  // namespace

void add_eval(CLI::App& app, GlobalOptions& g, int& exit_code) {
  auto o = std::make_shared<EvalOptions>();
  auto* ev = app.add_subcommand(
      "eval",
      "evaluate the policy on labelled sets: detection on positive sets (security), false positives on negative sets (safety), "
      "per category and source with 95% Wilson intervals, precision / recall / F1, AUROC per detector, robustness under "
      "obfuscation (--perturb), latency and throughput. Writes eval.json and a self-contained index.html with --out.\n"
      "  dualguard eval --set attacks=injection.jsonl:positive --set benign=benign.jsonl:negative --perturb all --out report/\n"
      "Exit status: 0, 2 on usage/config errors, 3 when a set cannot be read (file:line named).");
  ev->require_subcommand(0, 1);
  add_run_options(ev, *o);
  std::string names;
  for (const auto& t : eval::transforms()) names += (names.empty() ? "" : ", ") + std::string(t.name);
  ev->add_option("--perturb", o->perturb,
                 "re-scan positive sets under obfuscations: all, none (default) or a comma list of " + names + " (docs/eval.md)");
  ev->add_option("--seed", o->seed, "seed of the perturbations (default 1); a run is reproducible with the same seed");

  auto so = std::make_shared<EvalOptions>();
  auto* sw = ev->add_subcommand(
      "sweep",
      "detection against over-blocking over a grid of config variants; marks the Pareto front and the shipped default.\n"
      "  dualguard eval sweep --param detectors.secrets.min_entropy=3.0:4.5:0.5 --set ... --out sweep/\n"
      "Writes sweep.json and index.html with --out. At most 200 variants.");
  add_run_options(sw, *so);
  sw->add_option("--param", so->params,
                 "KEY=FROM:TO:STEP or KEY=v1,v2,... (repeatable; the grid is every combination). KEY is a config key as for the "
                 "global --set; DETECTOR.key is short for detectors.DETECTOR.key")
      ->allow_extra_args(false);

  auto dopt = std::make_shared<DiffOptions>();
  auto* df = ev->add_subcommand(
      "diff",
      "compare two eval.json reports; print every metric that moved and exit 1 when a quality metric regresses beyond the margin "
      "(detection / recall / precision / F1 / AUROC down, false-positive rates or perturbation drops up). Cross-domain "
      "regressions (one of detection / over-blocking improves while the other regresses) are called out.\n"
      "Exit status: 0 no regression, 1 regression, 2 unreadable or incompatible reports.");
  df->add_option("a", dopt->a, "the baseline eval.json")->required();
  df->add_option("b", dopt->b, "the candidate eval.json")->required();
  df->add_option("--max-regression", dopt->max_regression,
                 "largest tolerated move the wrong way of a quality metric, absolute (default 0.01 = 1 percentage point)")
      ->check(CLI::Range(0.0, 1.0));
  df->add_option("--max-latency-regression", dopt->max_latency_regression,
                 "gate latency and throughput too: largest tolerated slow-down as a ratio (0.2 = 20%); default: not gated")
      ->check(CLI::Range(0.0, 1000.0));
  df->add_option("--format", dopt->format, "text (default) or json")->check(CLI::IsMember({"text", "json"}));

  sw->callback([&g, &exit_code, so, o] {
    if (so->sets.empty() && !o->sets.empty()) {
      std::cerr << "dualguard eval sweep: give --set after 'sweep' (eval sweep --set ... --param ...)\n";
      exit_code = kExitUsage;
      return;
    }
    exit_code = run_sweep(g, *so);
  });
  df->callback([&exit_code, dopt] { exit_code = run_diff(*dopt); });
  ev->callback([&g, &exit_code, o, sw, df] {
    if (sw->parsed() || df->parsed()) return;  // a subcommand did the work (CLI11 runs its callback first)
    exit_code = run_eval(g, *o);
  });
}

}  // namespace dg::cli
