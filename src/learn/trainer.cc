#include "learn/trainer.h"

#include <fasttext/fasttext.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/errors.h"
#include "eval/metrics.h"
#include "detect/harmful_request.h"
#include "detect/harmful_response.h"
#include "detect/learned.h"
#include "detect/prompt_attack.h"
#include "detect/toxicity.h"
#include "learn/card.h"

namespace dg::learn {
namespace fs = std::filesystem;

double threshold_for_fpr(std::vector<double> neg, double target) {
  if (neg.empty()) return 0.5;
  std::sort(neg.begin(), neg.end(), std::greater<>());
  const auto allowed = static_cast<std::size_t>(std::floor(target * static_cast<double>(neg.size()) + 1e-9));
  if (allowed >= neg.size()) return std::nextafter(0.0, 1.0);
  // Strictly above the (allowed+1)-th highest negative: at most `allowed` negatives reach it.
  return std::min(1.0, std::nextafter(neg[allowed], 2.0));
}

double threshold_for_f1(const std::vector<double>& pos, const std::vector<double>& neg) {
  std::vector<std::pair<double, bool>> all;
  for (double p : pos) all.emplace_back(p, true);
  for (double n : neg) all.emplace_back(n, false);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  double best_f1 = -1.0, best_t = 0.5;
  std::size_t tp = 0, fp = 0;
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    while (j < all.size() && all[j].first == all[i].first) {
      (all[j].second ? tp : fp)++;
      ++j;
    }
    const double prec = static_cast<double>(tp) / static_cast<double>(tp + fp);
    const double rec = pos.empty() ? 0.0 : static_cast<double>(tp) / static_cast<double>(pos.size());
    const double f1 = prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0.0;
    if (f1 > best_f1) {
      best_f1 = f1;
      best_t = all[i].first;
    }
    i = j;
  }
  return best_t;
}

namespace {

detect::LearnedDetector::Config detector_defaults(const std::string& task) {
  if (task == "prompt_attack") return detect::PromptAttackDetector::defaults();
  if (task == "harmful_request") return detect::HarmfulRequestDetector::defaults();
  if (task == "toxicity") return detect::ToxicityDetector::defaults();
  return detect::HarmfulResponseDetector::defaults();
}

}  // namespace

LoadResult<TrainResult> train(const TrainOptions& opt, const text::Normalizer& norm) {
  using R = LoadResult<TrainResult>;
  auto fail = [](std::string file, std::string_view code, std::string msg) {
    return R::failure(one_error(std::move(file), code, std::move(msg)));
  };
  const Task* found = find_task(opt.task);
  if (!found) return fail("", errc::kConfigInvalidValue, "unknown task '" + opt.task + "'");
  Task tuned = *found;
  if (opt.frame_df >= 0) tuned.frame_df = opt.frame_df;
  const Task* task = &tuned;
  auto progress = [&](const std::string& stage, double f) {
    if (opt.progress) opt.progress(stage, f);
  };
  auto train_split = read_split(opt.corpora, *task, "train");
  if (!train_split.ok()) return R::failure(std::move(train_split.errors));
  auto dev_split = read_split(opt.corpora, *task, "dev");
  if (!dev_split.ok()) return R::failure(std::move(dev_split.errors));

  TrainResult res;
  progress("prepare", 0.0);
  if (!opt.holdout_sources.empty()) {
    auto& v = *train_split.value;
    v.erase(std::remove_if(v.begin(), v.end(),
                           [&](const Example& e) {
                             return std::any_of(opt.holdout_sources.begin(), opt.holdout_sources.end(),
                                                [&](const std::string& h) { return e.source.find(h) != std::string::npos; });
                           }),
            v.end());
  }
  for (const auto& e : *train_split.value) ++res.train_counts[(e.positive ? "positive " : "negative ") + e.set + " " + e.source];
  std::vector<std::string> lines = training_lines(*task, *train_split.value, norm, opt.seed);
  if (task->name == "prompt_attack") {
    for (int w = 0; w < opt.extra_weight; ++w) {
      for (const auto& t : opt.extra_negatives) lines.push_back(task->negative_label + " " + model_text(norm, t));
      for (const auto& t : opt.extra_positives) lines.push_back(task->positive_label + " " + model_text(norm, t));
    }
    res.train_counts["negative rules signature counter_examples"] = opt.extra_negatives.size();
    res.train_counts["positive rules signature examples"] = opt.extra_positives.size();
    std::mt19937_64 rng(opt.seed + 1);
    std::shuffle(lines.begin(), lines.end(), rng);
  }
  res.train_lines = lines.size();
  std::error_code ec;
  fs::create_directories(opt.out_dir, ec);
  const std::string learner = opt.learner.empty() ? task->learner : opt.learner;
  if (learner != "fasttext" && learner != "linear")
    return fail("", errc::kConfigInvalidValue, "unknown learner '" + learner + "' (fasttext or linear)");
  // fastText reads its training set from a file; the linear learner takes the lines as they are.
  const fs::path input = fs::path(opt.out_dir) / ("." + task->name + ".train.txt");
  if (learner == "fasttext") {
    std::ofstream out(input, std::ios::binary | std::ios::trunc);
    if (!out) return fail(input.string(), errc::kConfigIo, "cannot write the training file");
    for (const auto& l : lines) out << l << '\n';
  }
  progress("prepare", 1.0);
  const fs::path model_path =
      fs::path(opt.out_dir) / (task->name + (learner == "linear" ? ".dglm" : opt.quantize ? ".ftz" : ".bin"));
  const auto t0 = std::chrono::steady_clock::now();
  if (learner == "linear") {
    TrainOptions lo = opt;
    if (lo.smooth < 0) lo.smooth = task->smooth;
    if (lo.C <= 0) lo.C = task->C;
    const std::string err = train_linear(lines, task->positive_label, task->negative_label, lo, model_path.string());
    if (!err.empty()) return fail(model_path.string(), errc::kModelInvalid, "linear training failed: " + err);
  } else {
    try {
      fasttext::Args a;
      a.input = input.string();
      a.output = (fs::path(opt.out_dir) / task->name).string();
      a.model = fasttext::model_name::sup;
      a.loss = fasttext::loss_name::softmax;
      a.dim = opt.dim;
      a.epoch = opt.epoch > 0 ? opt.epoch : task->epoch;
      a.lr = opt.lr > 0 ? opt.lr : task->lr;
      a.wordNgrams = opt.word_ngrams;
      a.minn = opt.minn;
      a.maxn = opt.maxn;
      a.bucket = opt.bucket;
      a.minCount = 1;
      a.thread = std::max(1, opt.threads);
      a.seed = static_cast<int>(opt.seed);
      a.verbose = 0;
      fasttext::FastText ft;
      ft.train(a, [&](float p, float, double, double, int64_t) { progress("train", p); });
      if (opt.quantize) {
        progress("quantize", 0.0);
        fasttext::Args q = a;
        q.qout = false;  // the detector reads the output matrix densely (exact explanations)
        q.qnorm = false;
        q.dsub = 2;
        q.cutoff = 0;    // no pruning: the dictionary stays as trained
        q.retrain = false;
        ft.quantize(q);
        progress("quantize", 1.0);
      }
      ft.saveModel(model_path.string());
    } catch (const std::exception& e) {
      fs::remove(input, ec);
      return fail(model_path.string(), errc::kModelInvalid, std::string("fastText training failed: ") + e.what());
    }
  }
  fs::remove(input, ec);
  res.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  res.model_path = model_path.string();
  res.model_bytes = fs::file_size(model_path, ec);
  res.sha256 = detect::FastTextModel::file_sha256(res.model_path);

  // Score dev exactly as the detector will: every folded view of the normalised text, maximum.
  auto dcfg = detector_defaults(task->name);
  dcfg.model = res.model_path;
  dcfg.sha256 = res.sha256;
  dcfg.threshold = dcfg.review_threshold = 0.5;
  auto det = detect::LearnedDetector::create(dcfg);
  if (!det.ok()) return R::failure(std::move(det.errors));
  std::vector<double> pos, neg, fpr_neg;
  std::vector<double> scores(dev_split.value->size());
  for (std::size_t i = 0; i < dev_split.value->size(); ++i) {
    const Example& e = (*dev_split.value)[i];
    scores[i] = (*det.value)->best_score(norm.normalize(e.text));
    if (i % 256 == 0) progress("evaluate", static_cast<double>(i) / static_cast<double>(dev_split.value->size()));
    (e.positive ? pos : neg).push_back(scores[i]);
    if (!e.positive)
      for (const auto& p : task->parts)
        if (p.fpr_set && e.set == p.folder + "/dev") fpr_neg.push_back(scores[i]);
  }
  progress("evaluate", 1.0);
  const double target = task->target_fpr > 0 ? task->target_fpr : opt.target_fpr;
  if (task->rule == ThresholdRule::target_fpr) {
    // The target bounds everything flagged (review or block); a task with a block target below it
    // blocks only the more certain part and sends the band between the two to review.
    const auto& negs = fpr_neg.empty() ? neg : fpr_neg;
    res.review_threshold = threshold_for_fpr(negs, target);
    const double block = opt.block_fpr >= 0 ? opt.block_fpr : task->block_fpr;
    res.threshold = block > 0 && block < target ? threshold_for_fpr(negs, block) : res.review_threshold;
  } else {
    res.threshold = res.review_threshold = threshold_for_f1(pos, neg);
  }
  std::size_t tp = 0, fp = 0;
  for (std::size_t i = 0; i < dev_split.value->size(); ++i) {
    const Example& e = (*dev_split.value)[i];
    const bool flagged = scores[i] >= res.review_threshold;
    if (e.positive) {
      ++res.detection.n;
      res.detection.hits += flagged;
      ++res.blocked.n;
      res.blocked.hits += scores[i] >= res.threshold;
      auto& s = res.detection_by_source[e.source.empty() ? e.set : e.source];
      ++s.n;
      s.hits += flagged;
      tp += flagged;
    } else {
      auto& f = res.false_positives[e.set];
      ++f.n;
      f.hits += flagged;
      auto& fb = res.false_blocks[e.set];
      ++fb.n;
      fb.hits += scores[i] >= res.threshold;
      fp += flagged;
    }
  }
  res.auroc = eval::auroc(pos, neg);
  res.recall = res.detection.rate();
  res.precision = tp + fp ? static_cast<double>(tp) / static_cast<double>(tp + fp) : 0.0;
  res.f1 = res.precision + res.recall > 0 ? 2 * res.precision * res.recall / (res.precision + res.recall) : 0.0;

  TrainOptions used = opt;
  used.learner = learner;
  used.C = opt.C > 0 ? opt.C : task->C;
  used.smooth = opt.smooth >= 0 ? opt.smooth : task->smooth;
  used.frame_df = task->frame_df;
  used.target_fpr = target;
  used.block_fpr = opt.block_fpr >= 0 ? opt.block_fpr : task->block_fpr;
  used.epoch = opt.epoch > 0 ? opt.epoch : task->epoch;
  used.lr = opt.lr > 0 ? opt.lr : task->lr;
  auto card = write_card(*task, used, res);
  if (!card.ok()) return R::failure(std::move(card.errors));
  res.card_path = card.value->first;
  res.summary_path = card.value->second;
  return R::success(std::move(res));
}

}  // namespace dg::learn
