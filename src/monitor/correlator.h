// The incident correlator: groups the gateway's verdicts by actor (API key + session) and time
// window into incidents with a class, a kind and a causal chain (DESIGN.md "The domain model").
//
//   kind                       when                                                         class
//   security                   attack findings only                                         security
//   safety                     safety failures only                                         safety
//   security_causing_safety    an attack, then (same or later request) a safety failure     hybrid
//   safety_flaw_exploited      one actor hits the same safety failure in >= probe_repeats    hybrid
//                              requests, or a safety failure comes first and attacks follow
//
// Only notable verdicts open or join incidents (action other than allow, or any finding of at
// least `min_severity`); allowed verdicts with nothing of note are ignored. An incident absorbs the
// actor's notable verdicts while it is open or acknowledged and its last verdict is younger than
// `window_ms`; resolving it (or the window passing) makes the next notable verdict open a new one.
//
// Plain data in, plain data out, no clock of its own (the caller passes each verdict's time), no
// I/O: the gateway persists what observe() returns (store/incident_store.h). Not thread-safe: one
// thread owns a Correlator (the gateway's monitor thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/types.h"

namespace dg::monitor {

enum class IncidentKind { security, safety, security_causing_safety, safety_flaw_exploited };
enum class IncidentStatus { open, acknowledged, resolved };

std::string_view to_string(IncidentKind k) noexcept;
std::string_view to_string(IncidentStatus s) noexcept;
std::optional<IncidentStatus> parse_incident_status(std::string_view s) noexcept;
std::optional<IncidentKind> parse_incident_kind(std::string_view s) noexcept;

// What the correlator needs of one verdict.
struct VerdictEvent {
  struct Finding {
    std::string category;
    Domain domain = Domain::safety;
    Role role = Role::prompt;
    Severity severity = Severity::low;
  };
  std::string request_id;
  std::int64_t ts_ms = 0;
  std::string key_id;   // "" when unauthenticated
  std::string session;  // "" when the client sent none
  Action action = Action::allow;
  VerdictClass cls = VerdictClass::clean;
  std::vector<Finding> findings;
};

// One step of an incident's chain: a category first seen at `role` of request `request_id`.
struct ChainLink {
  std::string category;
  Domain domain = Domain::safety;
  Role role = Role::prompt;
  std::string request_id;
  std::int64_t ts_ms = 0;
  int count = 1;  // verdicts of the incident with this category at this role
};

struct Incident {
  std::string id;  // "inc-<n>"
  VerdictClass cls = VerdictClass::clean;
  IncidentKind kind = IncidentKind::safety;
  IncidentStatus status = IncidentStatus::open;
  Severity severity = Severity::low;
  std::string key_id;
  std::string session;
  std::int64_t first_ms = 0;
  std::int64_t last_ms = 0;
  int verdicts = 0;
  std::vector<ChainLink> chain;  // in first-seen order

  // "prompt_injection (request) -> pii_exposure (response)": the chain's links, with a repeat count
  // ("harmful_output (response) x4") where a link recurs.
  std::string title() const;
};

struct CorrelatorOptions {
  std::int64_t window_ms = 10 * 60 * 1000;  // an incident absorbs verdicts this close to its last one
  int probe_repeats = 3;                    // same safety failure this often from one actor = exploited
  Severity min_severity = Severity::medium; // allowed verdicts open incidents from this severity up
  std::vector<std::string> ignore_categories{"refusal"};  // never part of a chain
  std::size_t max_incidents = 10000;        // active incidents kept; the least recently active go first
  std::int64_t first_id = 1;                // ids continue from here (restart: one past the stored max)
};

class Correlator {
 public:
  struct Update {
    Incident incident;  // the state after this verdict
    bool created = false;
    bool escalated = false;  // the class or kind changed (e.g. security -> hybrid)
  };

  explicit Correlator(CorrelatorOptions options = {});

  // Feeds one verdict; returns the incident it opened or joined, or nullopt when it is not notable.
  std::optional<Update> observe(const VerdictEvent& v);

  // Changes an active incident's status (acknowledge, resolve, reopen). Returns false when the id is
  // not active (never seen, evicted, or expired out of its window).
  bool set_status(std::string_view id, IncidentStatus status);

  // Puts back an incident loaded from the store (after a restart), so later verdicts join it.
  void restore(Incident incident);

  std::size_t active() const noexcept { return by_id_.size(); }

 private:
  static std::string actor(std::string_view key, std::string_view session);
  void classify(Incident& inc) const;
  void evict_if_full();

  CorrelatorOptions opt_;
  std::int64_t next_id_;
  std::unordered_map<std::string, Incident> by_id_;
  std::unordered_map<std::string, std::string> by_actor_;  // actor -> id of its current incident
  std::deque<std::string> order_;                          // ids by creation, for eviction
};

}  // namespace dg::monitor
