// Incident classification (`dualguard threat classify`, docs/incident-classification.md): an incident narrative
// (title + description) in; its class by the seeds' intent principle out — safety (nobody meant the
// harm), security (a person meant it: an attack or a deliberate misuse), hybrid (the AI system, or
// the automated decision system its operator set on people, acted on purpose) — with the intent, a
// confidence and a rationale that names the cues and words that decided.
//
// The model is a one-vs-rest logistic regression (trained with liblinear by `dualguard train --task
// incident_class`, src/learn) over two feature groups, computed here for training and scoring alike:
//   * word unigrams and bigrams of the lower-cased text, sublinear tf times idf, L2-normalised;
//   * one feature per intent-cue family (config/incident_cues.yaml, embedded in the model file):
//     cue_weight * ln(1 + number of phrase matches).
// P(class) = sigmoid(w_c . x + b_c), normalised over the classes (liblinear's one-vs-rest rule).
// The explanation is exact: each term's and each cue family's share of the winning class's logit.
//
// Model file: JSON {"format": "dualguard.incident-model/1", "classes", "cue_weight", "cues", "bias",
// "cue_weights", "terms": {term: [idf, w_0, w_1, w_2]}, "training"}. Thread safety: immutable after
// load; classify() is const.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/load_result.h"
#include "core/types.h"

namespace dg::threat {

// A lower-cased word token (a run of ASCII letters and digits, or of non-ASCII bytes) and its bytes
// in the original text.
struct IncidentToken {
  std::uint32_t start = 0, end = 0;
  std::string text;
};
// At most kMaxIncidentBytes of the text are read (a narrative is a paragraph, not a book).
inline constexpr std::size_t kMaxIncidentBytes = 64 * 1024;
std::vector<IncidentToken> incident_tokens(std::string_view text);

// One cue family of config/incident_cues.yaml. A phrase is a token sequence; a token "w*" matches any
// token starting with "w"; "..." matches a gap of up to kCueGap tokens inside one sentence.
inline constexpr int kCueGap = 6;
inline constexpr long kMaxCueGaps = 2;          // per phrase
inline constexpr std::size_t kMaxCueTokens = 8; // per phrase, gaps included
struct CueFamily {
  std::string name, meaning;
  std::vector<std::string> phrases;               // as written
  std::vector<std::vector<std::string>> parsed;   // tokens of each phrase
};
struct CueSet {
  int version = 1;
  std::vector<CueFamily> families;
};
// Strict YAML loader (unknown keys, empty families, bad phrases: located errors, all at once).
LoadResult<CueSet> load_cues(const std::string& path);
nlohmann::json cues_to_json(const CueSet& cues);
LoadResult<CueSet> cues_from_json(const nlohmann::json& j, const std::string& file);

struct CueHit {
  std::size_t family = 0;
  std::uint32_t start = 0, end = 0;  // byte range of the matched phrase in the text
};
// Every phrase match, left to right; one match per (family, start token).
std::vector<CueHit> match_cues(const CueSet& cues, std::string_view text, const std::vector<IncidentToken>& tokens);

// The raw features of a text: distinct unigrams ("w") and bigrams ("w1 w2") of tokens of two or more
// bytes, with counts, sorted; cue match counts per family.
struct IncidentFeatures {
  std::vector<std::pair<std::string, std::uint32_t>> terms;
  std::vector<std::uint32_t> cue_counts;  // per family
  std::vector<CueHit> hits;
};
IncidentFeatures incident_features(const CueSet& cues, std::string_view text);

// The feature vector of training and scoring, as (index, value) pairs sorted by index: terms found
// by `find` (vocabulary index and idf; others are dropped) at (1 + ln count) * idf, L2-normalised over
// the terms; cue family f at index n_terms + f with cue_weight * ln(1 + count).
struct TermLookup {
  std::size_t index = 0;
  double idf = 1.0;
};
using TermFinder = std::function<std::optional<TermLookup>(std::string_view)>;
void incident_vector(const IncidentFeatures& f, const TermFinder& find, std::size_t n_terms, double cue_weight,
                     std::vector<std::pair<std::size_t, double>>& out);

inline constexpr std::string_view kIncidentModelFormat = "dualguard.incident-model/1";
// The class order of the model file and of every probability array.
inline constexpr std::array<VerdictClass, 3> kIncidentClasses = {VerdictClass::safety, VerdictClass::security,
                                                                  VerdictClass::hybrid};

// What training produces and the model file stores.
struct IncidentWeights {
  CueSet cues;
  double cue_weight = 1.0;
  std::array<double, 3> bias{};
  std::vector<std::array<double, 3>> cue_weights;  // per family
  struct Term {
    std::string text;
    double idf = 1.0;
    std::array<double, 3> w{};
  };
  std::vector<Term> terms;
  const nlohmann::json* training = nullptr;  // optional summary stored under "training" (not owned)
};
// The model file's JSON, and the file written from it (atomically). Returns "" or an error message.
nlohmann::json incident_model_json(const IncidentWeights& w);
std::string write_incident_model(const std::string& path, const IncidentWeights& w);

struct IncidentResult {
  VerdictClass cls = VerdictClass::safety;
  std::string intent;  // "unintentional" (safety) or "intentional"
  std::string actor;   // who acted on purpose: "human" (security), "ai" (hybrid), "" (safety)
  double confidence = 0.0;
  std::array<double, 3> probability{};  // in kIncidentClasses order
  struct Reason {
    std::string feature;  // "cue:<family>" or the term
    std::string meaning;  // the family's meaning; "" for terms
    std::string evidence; // the first matched text of a cue family
    double contribution = 0.0;  // to the winning class's logit
  };
  std::vector<Reason> reasons;  // the largest positive contributions, at most 6
  std::string rationale;        // one line built from `reasons`
};

class IncidentModel {
 public:
  static LoadResult<std::shared_ptr<const IncidentModel>> load(const std::string& path);
  // `sha256`: the digest of the file the JSON was read from ("" for a model built in memory).
  static LoadResult<std::shared_ptr<const IncidentModel>> from_json(const nlohmann::json& j, const std::string& file,
                                                                     std::string sha256 = "");

  IncidentResult classify(std::string_view text) const;
  const CueSet& cues() const noexcept { return cues_; }
  std::size_t vocabulary() const noexcept { return terms_.size(); }
  const std::string& sha256() const noexcept { return sha256_; }

 private:
  IncidentModel() = default;
  CueSet cues_;
  double cue_weight_ = 1.0;
  std::array<double, 3> bias_{};
  std::vector<std::array<double, 3>> cue_w_;
  std::vector<IncidentWeights::Term> terms_;
  std::vector<std::pair<std::string, std::size_t>> index_;  // sorted by term, for lookup
  std::string sha256_;
  std::ptrdiff_t find(std::string_view term) const noexcept;
};

}  // namespace dg::threat
