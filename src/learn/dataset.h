// Training and development data for the learned detectors, read from the shared corpora
// (`../shared/corpora/<task>/{train,dev}.jsonl`, one {"text","label","category","source"} object per
// line). A task says which files and labels are its positives and negatives; the builder balances
// sources, mines hard negatives, augments positives and folds every text through the engine's
// normaliser, so that training sees what the detectors score.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <string>
#include <vector>

#include "core/load_result.h"
#include "text/normalizer.h"

namespace dg::learn {

struct Example {
  std::string text;      // as in the corpus
  bool positive = false;
  std::string source;    // corpus "source" field ("" when absent)
  std::string category;  // corpus "category" field
  std::string set;       // which file it came from, e.g. "injection/dev"
};

// One input file of a task and how its labels map: a line whose label is in `positive_labels` is a
// positive, in `negative_labels` a negative; other labels are an error (a corpus change must not
// silently drop data). `weight` repeats each example (hard negatives, scarce classes).
struct Part {
  std::string folder;                        // e.g. "injection"
  std::vector<std::string> positive_labels;  // e.g. {"attack"}
  std::vector<std::string> negative_labels;  // e.g. {"benign"}
  int weight = 1;
  std::size_t cap = 0;                       // at most this many examples per source (0 = all)
  bool fpr_set = false;                      // negatives that define the false-positive target
  // Examples of a category with fewer than `minority_below` examples in this part are repeated
  // `minority_weight` times more: a dominant category (Alpaca instructions) must not define the class.
  std::size_t minority_below = 0;
  int minority_weight = 1;
};

enum class ThresholdRule { target_fpr, max_f1 };

struct Task {
  std::string name;            // detector name: prompt_attack, harmful_request, toxicity, harmful_response
  std::string positive_label;  // fastText label of the positive class, e.g. "__label__attack"
  std::string negative_label;  // e.g. "__label__benign"
  std::vector<Part> parts;
  int augment = 0;             // augmented copies per positive training example
  // Probability of adding a copy of an example in another sentence form ("How do I ...?", "Can you
  // ...?", "Please ..."), to both classes: the form of a request must not predict its class.
  double reform = 0.0;
  // Counterfactual hard negatives, one per positive training example that has a frame: the positive's
  // FRAME (its longest prefix of words common in the negatives: "can you provide detailed
  // instructions for making") followed by the OBJECT of a random negative (what follows that
  // negative's own frame: "spaghetti bolognese"). The frame of a harmful request must not predict
  // its class; its object must. `frame_df` is the share of negative examples a word must appear in
  // to count as a frame word; 0 turns it off.
  double frame_df = 0.0;
  ThresholdRule rule = ThresholdRule::target_fpr;
  double target_fpr = 0.0;  // > 0: this task's own false-positive target (instead of --target-fpr)
  double block_fpr = 0.0;   // > 0: block only at this (lower) rate; the band up to target_fpr is review
  // fastText schedule. Short-text tasks overfit with more (probabilities saturate near 1 and the
  // threshold for 1% false positives lands on noise); long responses need more passes.
  int epoch = 5;
  double lr = 0.1;
  // Which learner: "fasttext" (libfasttext) or "linear" (liblinear logistic regression over hashed
  // sublinear TF-IDF features, detect/linear_model.h) with inverse regularisation `C`.
  std::string learner = "fasttext";
  double C = 16.0;
  double smooth = 0.0;  // linear: norm smoothing (detect/linear_model.h)
  std::string description;     // one line for the model card
};

// The four shipped tasks; nullptr for an unknown name.
const Task* find_task(const std::string& name);
std::vector<std::string> task_names();

// Reads `<corpora>/<part.folder>/<split>.jsonl` for every part. Errors name the file and line.
LoadResult<std::vector<Example>> read_split(const std::string& corpora, const Task& task, const std::string& split);

// Sets the weight/cap/augment recipe loose on a training split: per-source caps, repeats, augmented
// positives (deterministic for `seed`). Returns fastText training lines "__label__x text".
std::vector<std::string> training_lines(const Task& task, const std::vector<Example>& train,
                                        const text::Normalizer& norm, std::uint64_t seed);

// The text the models see: the normaliser's folded text as detect::model_line reads it (one line,
// long ASCII tokens dropped).
std::string model_text(const text::Normalizer& norm, std::string_view text);

// Augmentations that the normaliser does not undo (or undoes only partly), applied to positives:
// benign cover text around the payload, word dropout, character swaps inside words, emoji between
// words, leetspeak. Deterministic for a given seed; exposed for tests.
std::string augment(std::string_view text, int kind, std::uint64_t seed, const std::vector<std::string>& covers);
inline constexpr int kAugmentKinds = 5;

// Splits a model text (model_text's output) into its frame and object: the longest prefix of words
// for which `is_frame_word` holds, and the rest. Exposed for tests.
std::pair<std::string, std::string> split_frame(std::string_view text,
                                                const std::function<bool(std::string_view)>& is_frame_word);

// The same request in another form: "How do I <text>?", "Can you <text>?", "Please <text>." and
// others, chosen by `seed` (instructions become questions and questions requests).
std::string reform(std::string_view text, std::uint64_t seed);

}  // namespace dg::learn
