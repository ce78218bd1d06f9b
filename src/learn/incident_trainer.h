// `dualguard train --task incident_class`: the incident classifier of `dualguard threat classify`
// (src/threat/incident.h) trained with liblinear on ../shared/corpora/incidents/train.jsonl, measured
// by k-fold cross-validation on train and on dev, written as models/incident_class.json with its
// model card models/incident_class.md. Deterministic: liblinear's solver is, and the folds follow
// `seed`.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/load_result.h"
#include "threat/incident.h"
#include "threat/incident_set.h"

namespace dg::learn {

inline constexpr std::string_view kIncidentTask = "incident_class";

struct IncidentTrainOptions {
  std::string corpora;                                // folder with incidents/{train,dev}.jsonl
  std::string out_dir;                                // models/
  std::string cues_path = "config/incident_cues.yaml";
  double C = 2.0;            // liblinear inverse regularisation (chosen by 5-fold CV kappa on train)
  double cue_weight = 0.5;   // scale of the cue features against the unit-norm term vector
  int min_df = 2;            // terms in fewer training incidents are not features
  int folds = 5;             // cross-validation on train (0: none)
  std::uint64_t seed = 1;
  std::string command_line;  // recorded in the model card
  std::function<void(const std::string&, double)> progress;
};

struct IncidentTrainResult {
  std::string model_path, card_path, sha256;
  std::uintmax_t model_bytes = 0;
  std::size_t train_n = 0, dev_n = 0, vocabulary = 0;
  std::array<std::size_t, 3> train_counts{};
  threat::IncidentEvaluation dev, cv;
  double train_seconds = 0.0;
};

// Trains on `records` (each labelled) and returns the weights; "" in *error on success.
threat::IncidentWeights fit_incident_model(const std::vector<threat::IncidentRecord>& records, const threat::CueSet& cues,
                                           const IncidentTrainOptions& opt, std::string* error);

LoadResult<IncidentTrainResult> train_incident(const IncidentTrainOptions& opt);

}  // namespace dg::learn
