#include "learn/incident_trainer.h"

#include <linear.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <numeric>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/signature.h"

namespace dg::learn {
namespace {

using threat::IncidentRecord;
using threat::kIncidentClasses;

// Predicted class indices of `model` on `records`.
std::vector<int> predict_all(const threat::IncidentModel& model, const std::vector<IncidentRecord>& records) {
  std::vector<int> out;
  for (const auto& r : records) out.push_back(threat::incident_class_index(model.classify(r.text).cls));
  return out;
}

std::vector<int> labels_of(const std::vector<IncidentRecord>& records) {
  std::vector<int> out;
  for (const auto& r : records) out.push_back(threat::incident_class_index(*r.label));
  return out;
}

std::string pct(double x) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(3) << x;
  return o.str();
}

std::string card_markdown(const IncidentTrainOptions& opt, const IncidentTrainResult& r, const threat::CueSet& cues) {
  std::ostringstream o;
  auto metrics = [&](const char* name, const threat::IncidentEvaluation& e) {
    const auto& a = e.agreement;
    o << "| " << name << " | " << a.n << " | " << pct(a.accuracy) << " | " << pct(a.kappa) << " | " << pct(e.intent_accuracy);
    for (std::size_t c = 0; c < 3; ++c) o << " | " << pct(a.precision[c]) << " / " << pct(a.recall[c]);
    o << " |\n";
  };
  o << "# Model card: incident_class\n\n"
    << "Classifies an AI-incident narrative (title + description) as **safety** (unintended harm), **security** "
       "(harm meant by a person: an attack or a deliberate misuse) or **hybrid** (an AI or automated decision system "
       "acting on purpose), following the seeds' intent principle. Used by `dualguard threat classify` "
       "(docs/incident-classification.md).\n\n"
    << "* Model: `" << std::filesystem::path(r.model_path).filename().string() << "`, " << r.model_bytes << " bytes, sha256 `" << r.sha256
    << "`.\n"
    << "* Learner: liblinear L2-regularised logistic regression, one-vs-rest, classes weighted inversely to their "
       "frequency (C = " << opt.C << "). Features: word unigrams and bigrams (sublinear tf-idf, L2-normalised, terms in at "
       "least " << opt.min_df << " training incidents: " << r.vocabulary << " terms) plus " << cues.families.size()
    << " intent-cue families from `config/incident_cues.yaml` (weight " << opt.cue_weight << " * ln(1 + matches)).\n"
    << "* Training command: `" << (opt.command_line.empty() ? "dualguard train --task incident_class" : opt.command_line) << "`.\n\n"
    << "## Data\n\n"
    << "`incidents/train.jsonl` (" << r.train_n << " incidents: " << r.train_counts[0] << " safety, " << r.train_counts[1]
    << " security, " << r.train_counts[2] << " hybrid) and `incidents/dev.jsonl` (" << r.dev_n
    << ") of `../shared/corpora`: AI Incident Database entries with the MIT AI Risk Repository's Entity and Intent labels "
       "(snapshot from thecraigd/AI-Incident-Database-Dashboard, CC BY-SA 4.0), mapped by intent: unintentional -> safety, "
       "intentional by a human -> security, intentional by the AI -> hybrid. The model stores word statistics derived "
       "from that text; treat it as a derived work under CC BY-SA 4.0.\n\n"
    << "## Metrics\n\n"
    << "| split | n | accuracy | Cohen's kappa | intent accuracy | safety P / R | security P / R | hybrid P / R |\n"
    << "|---|---|---|---|---|---|---|---|\n";
  metrics("dev", r.dev);
  if (opt.folds > 1) metrics((std::to_string(opt.folds) + "-fold CV on train").c_str(), r.cv);
  o << "\nDev confusion (rows: expert label; columns: predicted safety, security, hybrid): ";
  for (std::size_t c = 0; c < 3; ++c) {
    o << (c ? "; " : "") << to_string(kIncidentClasses[c]) << " ";
    for (std::size_t p = 0; p < 3; ++p) o << (p ? "/" : "") << r.dev.agreement.matrix[c][p];
  }
  o << ".\n\n## Known gaps\n\n"
    << "* Hybrid is rare (" << r.train_counts[2] << " training incidents) and mostly organisations' automated decision "
       "systems (pay, benefits, visas) labelled as the AI acting intentionally; the model seldom predicts it.\n"
    << "* Human-intentional incidents told as a system's failure (\"police use of facial recognition led to wrongful "
       "arrests\") read as safety: the label rests on the deployer's choice, which the narrative may not state.\n"
    << "* English only; the cue lexicon is English.\n"
    << "* The expert labels themselves are noisy (the same story can be labelled either way); " << r.dev_n
    << " dev incidents give a 95% interval of roughly +/- 0.07 on accuracy.\n";
  return o.str();
}

}  // namespace

threat::IncidentWeights fit_incident_model(const std::vector<IncidentRecord>& records, const threat::CueSet& cues,
                                           const IncidentTrainOptions& opt, std::string* error) {
  threat::IncidentWeights w;
  w.cues = cues;
  w.cue_weight = opt.cue_weight;
  error->clear();
  std::vector<threat::IncidentFeatures> feats;
  std::map<std::string, std::size_t> df;
  for (const auto& r : records) {
    feats.push_back(threat::incident_features(cues, r.text));
    for (const auto& [t, c] : feats.back().terms) ++df[t];
  }
  const double N = static_cast<double>(records.size());
  std::map<std::string, std::pair<std::size_t, double>, std::less<>> vocab;  // term -> (index, idf)
  for (const auto& [t, d] : df)
    if (d >= static_cast<std::size_t>(std::max(opt.min_df, 1))) {
      const std::size_t idx = vocab.size();
      vocab.emplace(t, std::make_pair(idx, std::log((1.0 + N) / (1.0 + static_cast<double>(d))) + 1.0));
    }
  const std::size_t n_terms = vocab.size(), n_feat = n_terms + cues.families.size();
  const threat::TermFinder find = [&](std::string_view t) -> std::optional<threat::TermLookup> {
    auto it = vocab.find(t);
    if (it == vocab.end()) return std::nullopt;
    return threat::TermLookup{it->second.first, it->second.second};
  };

  std::vector<feature_node> nodes;
  std::vector<std::size_t> starts;
  std::vector<double> y;
  std::vector<std::pair<std::size_t, double>> x;
  std::array<std::size_t, 3> counts{};
  for (std::size_t i = 0; i < records.size(); ++i) {
    threat::incident_vector(feats[i], find, n_terms, opt.cue_weight, x);
    starts.push_back(nodes.size());
    for (const auto& [idx, v] : x) nodes.push_back({static_cast<int>(idx) + 1, v});
    nodes.push_back({static_cast<int>(n_feat) + 1, 1.0});  // bias feature
    nodes.push_back({-1, 0.0});
    const int c = threat::incident_class_index(*records[i].label);
    y.push_back(c);
    ++counts[static_cast<std::size_t>(c)];
  }
  std::vector<feature_node*> rows;
  for (const auto s : starts) rows.push_back(&nodes[s]);
  problem prob{};
  prob.l = static_cast<int>(rows.size());
  prob.n = static_cast<int>(n_feat) + 1;
  prob.y = y.data();
  prob.x = rows.data();
  prob.bias = -1;
  std::vector<int> wl;
  std::vector<double> wv;
  for (int c = 0; c < 3; ++c)
    if (counts[static_cast<std::size_t>(c)]) {
      wl.push_back(c);
      wv.push_back(N / (3.0 * static_cast<double>(counts[static_cast<std::size_t>(c)])));
    }
  parameter param{};
  param.solver_type = L2R_LR;
  param.eps = 0.001;
  param.C = opt.C;
  param.nr_weight = static_cast<int>(wl.size());
  param.weight_label = wl.data();
  param.weight = wv.data();
  if (const char* err = check_parameter(&prob, &param)) {
    *error = std::string("liblinear: ") + err;
    return w;
  }
  set_print_string_function([](const char*) {});
  model* mdl = train(&prob, &param);
  if (!mdl) {
    *error = "liblinear training failed";
    return w;
  }
  // liblinear's layout: binary problems keep one vector (for label[0]); more classes keep
  // w[feature * nr_class + k] for label[k] (one-vs-rest).
  auto weight = [&](std::size_t feature, int cls) -> double {
    const int k = mdl->nr_class;
    if (k == 2) {
      const double v = mdl->w[feature];
      return mdl->label[0] == cls ? v : mdl->label[1] == cls ? -v : -1e3;
    }
    for (int j = 0; j < k; ++j)
      if (mdl->label[j] == cls) return mdl->w[feature * static_cast<std::size_t>(k) + static_cast<std::size_t>(j)];
    return 0.0;  // a class absent from training
  };
  auto absent_bias = [&](int cls) { return std::find(wl.begin(), wl.end(), cls) == wl.end() ? -30.0 : 0.0; };
  w.terms.resize(n_terms);
  for (const auto& [t, iv] : vocab) {
    auto& term = w.terms[iv.first];
    term.text = t;
    term.idf = iv.second;
    for (int c = 0; c < 3; ++c) term.w[static_cast<std::size_t>(c)] = weight(iv.first, c);
  }
  w.cue_weights.assign(cues.families.size(), {});
  for (std::size_t f = 0; f < cues.families.size(); ++f)
    for (int c = 0; c < 3; ++c) w.cue_weights[f][static_cast<std::size_t>(c)] = weight(n_terms + f, c);
  for (int c = 0; c < 3; ++c) w.bias[static_cast<std::size_t>(c)] = weight(n_feat, c) + absent_bias(c);
  free_and_destroy_model(&mdl);
  return w;
}

LoadResult<IncidentTrainResult> train_incident(const IncidentTrainOptions& opt) {
  LoadResult<IncidentTrainResult> r;
  const auto t0 = std::chrono::steady_clock::now();
  auto progress = [&](const std::string& s, double f) {
    if (opt.progress) opt.progress(s, f);
  };
  auto cues = threat::load_cues(opt.cues_path);
  if (!cues.ok()) {
    r.errors = cues.errors;
    return r;
  }
  threat::IncidentReadOptions ro;
  ro.label_field = "label";
  const std::string dir = (std::filesystem::path(opt.corpora) / "incidents").string();
  auto train = threat::read_incidents(dir + "/train.jsonl", ro);
  auto dev = threat::read_incidents(dir + "/dev.jsonl", ro);
  if (!train.ok() || !dev.ok()) {
    r.errors = train.errors;
    r.errors.insert(r.errors.end(), dev.errors.begin(), dev.errors.end());
    return r;
  }
  if (train.value->size() < 10) {
    r.errors = one_error(dir + "/train.jsonl", errc::kConfigInvalidValue, "fewer than 10 labelled incidents");
    return r;
  }
  IncidentTrainResult res;
  res.train_n = train.value->size();
  res.dev_n = dev.value->size();
  for (const auto& x : *train.value) ++res.train_counts[static_cast<std::size_t>(threat::incident_class_index(*x.label))];

  std::string err;
  auto model_of = [&](const threat::IncidentWeights& w) -> std::shared_ptr<const threat::IncidentModel> {
    auto m = threat::IncidentModel::from_json(threat::incident_model_json(w), "(in memory)");
    return m.ok() ? *m.value : nullptr;
  };
  // Stratified folds: each class's incidents shuffled by `seed` and dealt round-robin.
  if (opt.folds > 1) {
    std::vector<int> fold(train.value->size());
    std::mt19937_64 rng(opt.seed);
    for (int c = 0; c < 3; ++c) {
      std::vector<std::size_t> idx;
      for (std::size_t i = 0; i < train.value->size(); ++i)
        if (threat::incident_class_index(*(*train.value)[i].label) == c) idx.push_back(i);
      for (std::size_t i = idx.size(); i > 1; --i) std::swap(idx[i - 1], idx[rng() % i]);  // Fisher-Yates, portable
      for (std::size_t i = 0; i < idx.size(); ++i) fold[idx[i]] = static_cast<int>(i % static_cast<std::size_t>(opt.folds));
    }
    std::vector<int> ref, pred;
    for (int k = 0; k < opt.folds; ++k) {
      progress("cross-validate", static_cast<double>(k) / opt.folds);
      std::vector<IncidentRecord> in, out;
      for (std::size_t i = 0; i < train.value->size(); ++i) (fold[i] == k ? out : in).push_back((*train.value)[i]);
      auto m = model_of(fit_incident_model(in, *cues.value, opt, &err));
      if (!err.empty() || !m) {
        r.errors = one_error(dir + "/train.jsonl", errc::kConfigInvalidValue, err.empty() ? "cross-validation model does not load" : err);
        return r;
      }
      const auto p = predict_all(*m, out);
      const auto l = labels_of(out);
      ref.insert(ref.end(), l.begin(), l.end());
      pred.insert(pred.end(), p.begin(), p.end());
    }
    res.cv = threat::evaluate_incidents(ref, pred);
  }
  progress("train", 0.0);
  threat::IncidentWeights w = fit_incident_model(*train.value, *cues.value, opt, &err);
  if (!err.empty()) {
    r.errors = one_error(dir + "/train.jsonl", errc::kConfigInvalidValue, err);
    return r;
  }
  auto m = model_of(w);
  if (!m) {
    r.errors = one_error(opt.out_dir, errc::kConfigInvalidValue, "the trained model does not load");
    return r;
  }
  progress("evaluate", 0.0);
  res.dev = threat::evaluate_incidents(labels_of(*dev.value), predict_all(*m, *dev.value));
  res.vocabulary = w.terms.size();

  nlohmann::json training = {{"task", kIncidentTask},   {"C", opt.C},
                             {"cue_weight", opt.cue_weight}, {"min_df", opt.min_df},
                             {"seed", opt.seed},        {"train", res.train_n},
                             {"dev", threat::evaluation_json(res.dev)}};
  if (opt.folds > 1) training["cv"] = threat::evaluation_json(res.cv), training["folds"] = opt.folds;
  w.training = &training;
  std::error_code ec;
  std::filesystem::create_directories(opt.out_dir, ec);
  res.model_path = (std::filesystem::path(opt.out_dir) / "incident_class.json").string();
  if (auto e = threat::write_incident_model(res.model_path, w); !e.empty()) {
    r.errors = one_error(res.model_path, errc::kConfigIo, e);
    return r;
  }
  res.sha256 = sig::file_sha256(res.model_path).value_or("");
  res.model_bytes = std::filesystem::file_size(res.model_path, ec);
  res.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  res.card_path = (std::filesystem::path(opt.out_dir) / "incident_class.md").string();
  {
    std::ofstream out(res.card_path, std::ios::binary | std::ios::trunc);
    out << card_markdown(opt, res, *cues.value);
    if (!out) {
      r.errors = one_error(res.card_path, errc::kConfigIo, "cannot write the model card");
      return r;
    }
  }
  r.value = std::move(res);
  return r;
}

}  // namespace dg::learn
