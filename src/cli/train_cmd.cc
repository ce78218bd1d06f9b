// `dualguard train`: trains one learned detector's model from the shared corpora.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "detect/signatures.h"

#include "cli/commands.h"
#include "learn/incident_trainer.h"
#include "learn/trainer.h"
#include "policy/config.h"

namespace dg::cli {
namespace {

std::string num(double x) {
  std::ostringstream o;
  o << x;
  return o.str();
}

int train_incident_task(const learn::TrainOptions& t, const std::string& cues, int folds, double cue_weight, bool quiet) {
  learn::IncidentTrainOptions o;
  o.corpora = t.corpora;
  o.out_dir = t.out_dir;
  o.cues_path = cues;
  o.seed = t.seed;
  o.folds = folds;
  o.cue_weight = cue_weight;
  if (t.C > 0) o.C = t.C;
  o.command_line = "dualguard train --task incident_class --corpora " + o.corpora + " --out " + o.out_dir + " --seed " +
                   std::to_string(o.seed) + " --cues " + o.cues_path +
                   " --C " + num(o.C) + " --cue-weight " + num(o.cue_weight);
  if (!quiet) o.progress = [](const std::string& stage, double f) { std::fprintf(stderr, "%s %d%%\n", stage.c_str(), static_cast<int>(f * 100)); };
  auto res = learn::train_incident(o);
  if (!res.ok()) {
    std::cerr << format_errors_text(res.errors);
    return kExitInput;
  }
  const auto& r = *res.value;
  std::printf("model:   %s (%ju bytes, %zu terms)\ncard:    %s\nsha256:  %s\n", r.model_path.c_str(), r.model_bytes, r.vocabulary,
              r.card_path.c_str(), r.sha256.c_str());
  std::printf("dev:     %s", threat::evaluation_text(r.dev).c_str());
  if (folds > 1) std::printf("cv:      %s", threat::evaluation_text(r.cv).c_str());
  return kExitOk;
}

}  // namespace

void add_train(CLI::App& app, GlobalOptions& g, int& exit_code) {
  auto opt = std::make_shared<learn::TrainOptions>();
  opt->corpora = "../shared/corpora";
  opt->out_dir = "models";
  auto quiet = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
      "train",
      "train a learned detector's model from labelled corpora: writes <out>/<task>.dglm (linear learner) or\n"
      "<out>/<task>.ftz (fastText), a model card <out>/<task>.md and <out>/<task>.json, and prints the config lines that pin the model (sha256, thresholds)");
  std::string tasks;
  for (const auto& t : learn::task_names()) tasks += (tasks.empty() ? "" : ", ") + t;
  tasks += ", " + std::string(learn::kIncidentTask) + " (the incident classifier of `threat classify`; uses --corpora, --out, --seed, --C (default 2), --cues, --cue-weight, --folds)";
  auto cues = std::make_shared<std::string>("config/incident_cues.yaml");
  auto folds = std::make_shared<int>(5);
  auto cue_weight = std::make_shared<double>(0.5);
  cmd->add_option("--task", opt->task, "what to train: " + tasks)->required();
  cmd->add_option("--corpora", opt->corpora, "folder with <task>/{train,dev}.jsonl (default ../shared/corpora)");
  cmd->add_option("--out", opt->out_dir, "output folder (default models)");
  cmd->add_option("--target-fpr", opt->target_fpr,
                  "false-positive rate on the dev negatives at the review threshold, i.e. flagged (default 0.01, for prompt_attack and "
                  "harmful_request on benign/dev); toxicity and harmful_response use their own 0.05 on their clean class")
      ->check(CLI::Range(0.0001, 0.5));
  cmd->add_option("--block-fpr", opt->block_fpr,
                  "block (severity high) only at this lower false-positive rate; findings between it and --target-fpr "
                  "are severity medium (the default policy: review). Default: the task's (prompt_attack 0.005; others: "
                  "block at --target-fpr)")
      ->check(CLI::Range(0.0, 0.5));
  cmd->add_option("--seed", opt->seed, "random seed for data order, augmentation and fastText (default 1)");
  cmd->add_option("--threads", opt->threads, "fastText training threads; 1 (default) gives bit-identical output")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--learner", opt->learner,
                  "fasttext or linear (default: the task's: prompt_attack linear, the others fasttext)")
      ->check(CLI::IsMember({"fasttext", "linear"}));
  cmd->add_option("--C", opt->C, "linear learner: inverse regularisation strength (default: the task's, 16)")
      ->check(CLI::Range(0.0001, 10000.0));
  cmd->add_option("--bits", opt->bits, "linear learner: 2^bits feature hash buckets (default 20: a 4 MB model)")
      ->check(CLI::Range(8, 26));
  cmd->add_option("--char-ngrams", opt->linear_minn, "linear learner: shortest character n-gram (default 2)")->check(CLI::Range(1, 16));
  cmd->add_option("--char-ngrams-max", opt->linear_maxn, "linear learner: longest character n-gram (default 6)")->check(CLI::Range(1, 16));
  cmd->add_option("--smooth", opt->smooth, "linear learner: norm smoothing (default: the task's)")->check(CLI::Range(0.0, 1e9));
  cmd->add_option("--frame-df", opt->frame_df,
                  "counterfactual hard negatives: a positive's frame (its prefix of words found in at least this share of "
                  "the negatives) + a negative's object; 0 = off (default: the task's: harmful_request 0.002, others 0)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--epoch", opt->epoch, "training epochs (default: the task's: prompt_attack 15, harmful_response 25, others 5)")->check(CLI::Range(1, 1000));
  cmd->add_option("--lr", opt->lr, "learning rate (default: the task's: prompt_attack 0.3, harmful_response 0.5, others 0.1)")->check(CLI::Range(0.001, 5.0));
  cmd->add_option("--dim", opt->dim, "embedding dimension (default 32)")->check(CLI::Range(2, 512));
  cmd->add_option("--word-ngrams", opt->word_ngrams, "word n-gram length (default 2)")->check(CLI::Range(1, 5));
  cmd->add_option("--minn", opt->minn, "shortest character n-gram (default 3; 0 with --maxn 0 disables them)")
      ->check(CLI::Range(0, 10));
  cmd->add_option("--maxn", opt->maxn, "longest character n-gram (default 5)")->check(CLI::Range(0, 10));
  cmd->add_option("--bucket", opt->bucket, "hash buckets for n-grams (default 250000; size grows with it)")
      ->check(CLI::Range(1000, 10000000));
  cmd->add_flag("!--no-quantize", opt->quantize, "write an unquantised .bin model (larger)");
  cmd->add_option("--holdout-source", opt->holdout_sources,
                  "leave sources out of training (substring of the corpus \"source\" field, repeatable): the model "
                  "card's per-source dev detection then shows how the model does on a source it never saw");
  cmd->add_option("--cues", *cues, "incident_class: intent-cue lexicon embedded in the model (default config/incident_cues.yaml)");
  cmd->add_option("--cue-weight", *cue_weight, "incident_class: scale of the intent-cue features (default 0.5)")->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--folds", *folds, "incident_class: cross-validation folds on train reported in the card (default 5; 0: none)")
      ->check(CLI::Range(0, 20));
  cmd->add_flag("-q,--quiet", *quiet, "no progress on stderr");
  cmd->callback([&g, &exit_code, opt, quiet, cues, folds, cue_weight] {
    if (opt->task == learn::kIncidentTask) {
      exit_code = train_incident_task(*opt, *cues, *folds, *cue_weight, *quiet);
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
    // The signature rules' hand-written examples and benign look-alikes teach prompt_attack the
    // same distinctions the rules draw.
    if (opt->task == "prompt_attack") {
      for (const auto& section : cfg.value->detectors) {
        if (section.name != "signatures" || !section.enabled) continue;
        std::vector<std::string> paths = {"signatures"};
        if (section.node["rules"].IsSequence()) {
          paths.clear();
          for (const auto& n : section.node["rules"]) paths.push_back(n.as<std::string>());
        }
        for (auto& p : paths) {
          const std::filesystem::path base = std::filesystem::path(p).is_absolute() ? std::filesystem::path(p) : std::filesystem::path(cfg.value->dir) / p;
          std::vector<std::filesystem::path> files;
          if (std::filesystem::is_directory(base))
            for (const auto& e : std::filesystem::directory_iterator(base))
              if (e.path().extension() == ".yaml") files.push_back(e.path());
          if (std::filesystem::is_regular_file(base)) files.push_back(base);
          std::sort(files.begin(), files.end());
          for (const auto& f : files) {
            std::ifstream in(f);
            std::stringstream ss;
            ss << in.rdbuf();
            LoadErrors errs;
            for (const auto& rule : detect::parse_signature_file(ss.str(), f.string(), errs)) {
              if (rule.roles & detect::role_bit(Role::prompt)) {
                opt->extra_positives.insert(opt->extra_positives.end(), rule.examples.begin(), rule.examples.end());
                opt->extra_negatives.insert(opt->extra_negatives.end(), rule.counter_examples.begin(), rule.counter_examples.end());
              }
            }
          }
        }
      }
    }
    opt->command_line = "dualguard train --task " + opt->task + " --corpora " + opt->corpora + " --out " + opt->out_dir +
                        " --seed " + std::to_string(opt->seed) + " --threads " + std::to_string(opt->threads);
    if (!opt->learner.empty()) opt->command_line += " --learner " + opt->learner;
    for (const auto& h : opt->holdout_sources) opt->command_line += " --holdout-source '" + h + "'";
    const bool tty = ::isatty(2) != 0;
    std::mutex mu;
    int last_pct = -1;
    std::string last_stage;
    if (!*quiet)
      opt->progress = [&](const std::string& stage, double f) {
        std::lock_guard<std::mutex> lock(mu);
        const int p = static_cast<int>(f * 100.0);
        if (stage == last_stage && (p == last_pct || (!tty && p % 25 != 0 && p != 100))) return;
        last_stage = stage;
        last_pct = p;
        if (tty) std::fprintf(stderr, "\r%-9s %3d%%%s", stage.c_str(), p, p >= 100 ? "\n" : "");
        else std::fprintf(stderr, "%s %d%%\n", stage.c_str(), p);
      };
    auto res = learn::train(*opt, **norm.value);
    if (!res.ok()) {
      std::cerr << format_errors_text(res.errors);
      exit_code = kExitInput;
      return;
    }
    const auto& r = *res.value;
    std::printf("model:   %s (%ju bytes)\ncard:    %s\n", r.model_path.c_str(), r.model_bytes, r.card_path.c_str());
    std::printf("dev:     detection %zu/%zu = %.1f%% (blocked %.1f%%)", r.detection.hits, r.detection.n,
                100 * r.detection.rate(), 100 * r.blocked.rate());
    for (const auto& [set, f] : r.false_positives)
      std::printf(", fp %s %zu/%zu = %.2f%% (blocked %.2f%%)", set.c_str(), f.hits, f.n, 100 * f.rate(),
                  100 * r.false_blocks.at(set).rate());
    std::printf(", AUROC %.4f, F1 %.3f\n", r.auroc, r.f1);
    std::printf("config (detectors.%s):\n  sha256: %s\n  threshold: %.6f\n  review_threshold: %.6f\n", opt->task.c_str(),
                r.sha256.c_str(), r.threshold, r.review_threshold);
  });
}

}  // namespace dg::cli
