// Finding, Verdict and Incident: what detectors report, what the policy decides, what the correlator
// (a later module) groups. Plain value types; copyable; no behaviour beyond small helpers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/types.h"

namespace dg {

// A half-open byte range [start, end) in the ORIGINAL input text (never in a normalised view).
struct Span {
  std::uint32_t start = 0;
  std::uint32_t end = 0;
  friend bool operator==(const Span&, const Span&) = default;
};

struct Finding {
  std::string detector;   // registry name, e.g. "signatures"
  std::string category;   // taxonomy key, e.g. "prompt_injection"
  Domain domain = Domain::security;  // filled from the taxonomy by the engine
  Intent intent = Intent::unknown;   // filled from the taxonomy by the engine
  std::string property;              // filled from the taxonomy by the engine
  double score = 0.0;                // 0..1 confidence
  Severity severity = Severity::medium;
  std::vector<Span> spans;           // byte ranges in the original text
  std::string view = "raw";          // which normalised view matched ("raw", "nfkc", "base64", ...)
  std::string evidence;              // rule id, validator, top features
  Role role = Role::prompt;          // which part of the exchange it was found in
  int context_index = -1;            // which context document, when role == context
  bool redactable = false;           // spans may be replaced by the redactor
  std::string redact_label;          // e.g. "EMAIL"; used in "[REDACTED:EMAIL]"
  // Filled by the policy: the rule that decided about this finding, its action and whether the rule
  // is monitor-only (recorded, not enforced).
  std::string rule;
  Action action = Action::allow;
  bool monitor = false;
};

struct Verdict {
  std::vector<Finding> findings;
  Action action = Action::allow;
  VerdictClass cls = VerdictClass::clean;
  std::string reason;
  std::string chain;     // e.g. "prompt_injection -> pii_exposure"; empty when no chain
  std::string redacted;  // the redacted text when action == redact (of the scanned text)
  bool has_redacted = false;
  std::vector<std::string> errors;  // detectors that could not complete ("name: error_code")
  std::uint64_t latency_us = 0;
};

enum class IncidentStatus { open, acknowledged, resolved };

// Verdicts correlated by actor / session / time window. The correlator lands with the monitors; the
// type lives here so that every module shares one definition.
struct Incident {
  std::string id;
  std::string actor;
  std::string session;
  std::vector<std::string> verdict_ids;
  VerdictClass cls = VerdictClass::clean;
  std::string chain;
  IncidentStatus status = IncidentStatus::open;
  std::int64_t first_seen_ms = 0;
  std::int64_t last_seen_ms = 0;
};

}  // namespace dg
