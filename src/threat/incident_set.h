// Labelled or unlabelled incident narratives from JSONL (one object per line), and the evaluation
// of an incident model on them (`dualguard threat classify --eval`, `dualguard train --task
// incident_class`).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/load_result.h"
#include "eval/metrics.h"
#include "threat/incident.h"

namespace dg::threat {

struct IncidentRecord {
  std::size_t line = 0;  // 1-based line in the file
  std::string id;        // the id field, or the line number
  std::string text;      // the text fields joined with ". "
  std::optional<VerdictClass> label;  // with a label field: safety, security or hybrid
};

struct IncidentReadOptions {
  std::vector<std::string> text_fields = {"text"};  // joined with ". " (e.g. title, description)
  std::string id_field = "id";                      // falls back to "incident_id", then the line number
  std::string label_field;                          // "" = unlabelled; else every line needs it
};
// Errors name the file and line: unreadable file, a line that is not a JSON object, a missing or
// non-string text field, a missing or unknown label. Empty lines are skipped.
LoadResult<std::vector<IncidentRecord>> read_incidents(const std::string& path, const IncidentReadOptions& opt);

// The class index of kIncidentClasses, or -1.
int incident_class_index(VerdictClass c) noexcept;

struct IncidentEvaluation {
  eval::Agreement agreement;  // classes in kIncidentClasses order
  // Intent alone (intentional = security or hybrid), the seeds' principle without the actor.
  double intent_accuracy = 0.0;
};
IncidentEvaluation evaluate_incidents(const std::vector<int>& reference, const std::vector<int>& predicted);

// The evaluation as JSON ({"n", "accuracy", "kappa", "intent_accuracy", "classes": {c: {"precision",
// "recall", "f1", "support"}}, "confusion": {reference: {predicted: n}}}) and as a text table.
nlohmann::json evaluation_json(const IncidentEvaluation& e);
std::string evaluation_text(const IncidentEvaluation& e);

}  // namespace dg::threat
