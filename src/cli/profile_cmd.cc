// `dualguard profile build | show`: the reference profile of the deployment's own traffic that the
// `ood` detector scores prompts against (monitor/profile_builder.h).
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "detect/fasttext_model.h"
#include "monitor/profile_builder.h"
#include "policy/config.h"

namespace dg::cli {
namespace {

void print_meta(const detect::OodProfile& p, const std::string& path) {
  const auto& m = p.meta();
  nlohmann::ordered_json j{{"file", path},
                           {"sha256", detect::FastTextModel::file_sha256(path)},
                           {"texts", m.texts},
                           {"holdout", m.holdout},
                           {"novelty_q50", m.q50},
                           {"novelty_q90", m.q90},
                           {"novelty_q99", m.q99},
                           {"novelty_q999", m.q999},
                           {"source", m.source},
                           {"created", m.created},
                           {"seed", m.seed},
                           {"feature_version", m.feature_version}};
  std::cout << j.dump(2) << "\n";
}

}  // namespace

void add_profile(CLI::App& app, GlobalOptions& g, int& exit_code) {
  auto* profile = app.add_subcommand("profile", "reference profiles of the deployment's traffic (the ood detector's baseline)");
  profile->require_subcommand(1);
  struct Args {
    std::string from, from_audit, field = "text", out;
    monitor::ProfileBuildOptions opt;
    bool quiet = false;
  };
  auto a = std::make_shared<Args>();
  auto* build = profile->add_subcommand(
      "build",
      "build a profile from traffic: every text normalised and split into features as the ood detector does, their "
      "document frequencies (idf), and a calibration on held-out texts; prints the detectors.ood lines that use it");
  auto* from = build->add_option("--from", a->from, "JSONL file of traffic, one object per line");
  auto* audit = build->add_option("--from-audit", a->from_audit,
                                  "the gateway's data dir: profile the prompts of its audit log (redacted text unless "
                                  "gateway.store_raw_text)");
  from->excludes(audit);
  build->add_option("--field", a->field, "JSON field with the text (default text)");
  build->add_option("--out", a->out, "profile file to write (e.g. profiles/traffic.dgood)")->required();
  build->add_option("--holdout", a->opt.holdout, "share held out for the calibration (default 0.2)")->check(CLI::Range(0.01, 0.9));
  build->add_option("--seed", a->opt.seed, "random seed (default 1)");
  build->add_option("--min-words", a->opt.min_words, "shorter texts are skipped, as the detector skips them (default 3)");
  build->add_flag("-q,--quiet", a->quiet, "no progress on stderr");
  build->callback([&g, &exit_code, a] {
    if (a->from.empty() == a->from_audit.empty()) {
      std::cerr << "dualguard profile build: give exactly one of --from FILE or --from-audit DIR\n";
      exit_code = kExitUsage;
      return;
    }
    const std::string path = !g.config.empty() ? g.config : policy::find_default_config();
    auto cfg = policy::load_config(path, g.overrides);
    if (!cfg.ok()) {
      std::cerr << format_errors_text(cfg.errors);
      exit_code = kExitUsage;
      return;
    }
    auto norm = text::Normalizer::create(cfg.value->normalizer);
    if (!norm.ok()) {
      std::cerr << format_errors_text(norm.errors);
      exit_code = kExitUsage;
      return;
    }
    auto texts = a->from.empty() ? monitor::read_audit_prompts(a->from_audit) : monitor::read_jsonl_texts(a->from, a->field);
    if (!texts.ok()) {
      std::cerr << format_errors_text(texts.errors);
      exit_code = kExitInput;
      return;
    }
    if (!a->quiet) a->opt.progress = [](const std::string& s) { std::cerr << "profile: " << s << "\n"; };
    const std::string source = a->from.empty() ? a->from_audit + "/audit.db" : a->from;
    auto p = monitor::build_profile(*texts.value, **norm.value, a->opt, source);
    if (!p.ok()) {
      std::cerr << format_errors_text(p.errors);
      exit_code = kExitInput;
      return;
    }
    if (const std::string err = (*p.value)->save(a->out); !err.empty()) {
      std::cerr << "dualguard profile build: " << err << "\n";
      exit_code = kExitInput;
      return;
    }
    print_meta(**p.value, a->out);
    std::cerr << "to use it (paths relative to the config file):\n  detectors:\n    ood:\n      enabled: true\n"
              << "      profile: " << a->out << "\n      sha256: " << detect::FastTextModel::file_sha256(a->out) << "\n";
  });
  auto file = std::make_shared<std::string>();
  auto* show = profile->add_subcommand("show", "print a profile's provenance, size and calibration (JSON)");
  show->add_option("FILE", *file, "profile file")->required();
  show->callback([&exit_code, file] {
    auto p = detect::OodProfile::load(*file);
    if (!p.ok()) {
      std::cerr << format_errors_text(p.errors);
      exit_code = kExitInput;
      return;
    }
    print_meta(**p.value, *file);
  });
}

}  // namespace dg::cli
