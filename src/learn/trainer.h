// `dualguard train`: builds a task's training set from the shared corpora, trains a fastText
// classifier (libfasttext), quantises it, scores the dev split the way the detector will (every
// folded view of the normalised text), picks the thresholds on dev, and writes the model, its
// model card (Markdown) and a machine-readable summary next to it.
//
// Reproducible: the data order, augmentation and fastText's own random streams follow `seed`; with
// `threads == 1` the output is bit-identical across runs (fastText's hogwild SGD is not with more).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/load_result.h"
#include "learn/dataset.h"
#include "text/normalizer.h"

namespace dg::learn {

struct TrainOptions {
  std::string task;
  std::string corpora;        // folder with <task folder>/{train,dev}.jsonl
  std::string out_dir;        // models/
  double target_fpr = 0.01;   // for target_fpr tasks: benign-dev false-positive rate at `review_threshold` (flagged)
  double block_fpr = -1.0;    // the rate at `threshold` (blocked) when below target_fpr; < 0: the task's
  std::uint64_t seed = 1;
  int threads = 1;
  // fastText hyperparameters (the defaults are the shipped models' settings)
  int epoch = 0;      // 0: the task's default (dataset.h)
  double lr = 0.0;    // 0: the task's default
  int dim = 32;
  int word_ngrams = 2;
  int minn = 3, maxn = 5;
  int bucket = 250000;
  bool quantize = true;
  // "" = the task's learner (dataset.h); "fasttext" or "linear". Linear-model settings: inverse
  // regularisation (0: the task's), hash bits, character n-gram range.
  std::string learner;
  double C = 0.0;
  int bits = 20;
  int linear_minn = 2, linear_maxn = 6;
  double smooth = -1.0;  // norm smoothing (detect/linear_model.h); < 0: the task's
  double frame_df = -1.0;  // counterfactual frame negatives (dataset.h Task::frame_df); < 0: the task's
  std::string command_line;   // recorded in the model card
  // Leave these sources out of training (substring of the corpus "source" field): dev detection on
  // them then measures generalisation to a source the model never saw.
  std::vector<std::string> holdout_sources;
  // Hand-written look-alikes (the signature rules' `counter_examples` and `examples`), added to the
  // prompt_attack training set as hard negatives / positives, repeated `extra_weight` times.
  std::vector<std::string> extra_negatives, extra_positives;
  int extra_weight = 4;
  // progress(stage, fraction 0..1); stage: "prepare", "train", "quantize", "evaluate"
  std::function<void(const std::string&, double)> progress;
};

struct Rate {
  std::size_t n = 0, hits = 0;
  double rate() const { return n ? static_cast<double>(hits) / static_cast<double>(n) : 0.0; }
};

struct TrainResult {
  std::string model_path, card_path, summary_path, sha256;
  std::uintmax_t model_bytes = 0;
  double threshold = 0.5, review_threshold = 0.5;
  std::size_t train_lines = 0;
  std::map<std::string, std::size_t> train_counts;  // "positive <source>" / "negative <source>" -> examples
  // dev metrics at `review_threshold` (flagged: review or block) and at `threshold` (blocked)
  Rate detection;                                   // positives flagged
  Rate blocked;                                     // positives blocked
  std::map<std::string, Rate> false_positives;      // per negative set, e.g. "benign/dev"
  std::map<std::string, Rate> false_blocks;         // per negative set, blocked
  std::map<std::string, Rate> detection_by_source;  // positives per source
  double auroc = 0.0, precision = 0.0, recall = 0.0, f1 = 0.0;
  double train_seconds = 0.0;
};

LoadResult<TrainResult> train(const TrainOptions& opt, const text::Normalizer& norm);

// Trains the linear learner on fastText-style lines ("<label> <text>") with opt.C, opt.smooth,
// opt.bits and the character n-gram range (resolved by the caller), and writes `model_path`.
// Returns "" or an error message. Deterministic (liblinear's solver is).
std::string train_linear(const std::vector<std::string>& lines, const std::string& positive_label,
                         const std::string& negative_label, const TrainOptions& opt, const std::string& model_path);

// Threshold pickers (exposed for tests; AUROC and intervals come from eval/metrics.h).
// The lowest threshold t such that at most floor(target * n) negatives score >= t.
double threshold_for_fpr(std::vector<double> negatives, double target);
// The threshold that maximises F1 (positives scoring >= t are flagged).
double threshold_for_f1(const std::vector<double>& positives, const std::vector<double>& negatives);

}  // namespace dg::learn
