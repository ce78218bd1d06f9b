#include "monitor/correlator.h"

#include <algorithm>
#include <charconv>
#include <limits>

namespace dg::monitor {

std::string_view to_string(IncidentKind k) noexcept {
  switch (k) {
    case IncidentKind::security: return "security";
    case IncidentKind::safety: return "safety";
    case IncidentKind::security_causing_safety: return "security_causing_safety";
    case IncidentKind::safety_flaw_exploited: return "safety_flaw_exploited";
  }
  return "safety";
}

std::string_view to_string(IncidentStatus s) noexcept {
  switch (s) {
    case IncidentStatus::open: return "open";
    case IncidentStatus::acknowledged: return "acknowledged";
    case IncidentStatus::resolved: return "resolved";
  }
  return "open";
}

std::optional<IncidentStatus> parse_incident_status(std::string_view s) noexcept {
  if (s == "open") return IncidentStatus::open;
  if (s == "acknowledged") return IncidentStatus::acknowledged;
  if (s == "resolved") return IncidentStatus::resolved;
  return std::nullopt;
}

std::optional<IncidentKind> parse_incident_kind(std::string_view s) noexcept {
  if (s == "security") return IncidentKind::security;
  if (s == "safety") return IncidentKind::safety;
  if (s == "security_causing_safety") return IncidentKind::security_causing_safety;
  if (s == "safety_flaw_exploited") return IncidentKind::safety_flaw_exploited;
  return std::nullopt;
}

namespace {

// A chain names where a link sat from the user's point of view: the request, a context document,
// the model's response.
std::string_view place(Role r) {
  switch (r) {
    case Role::prompt: return "request";
    case Role::context: return "context";
    case Role::response: return "response";
  }
  return "request";
}

}  // namespace

std::string Incident::title() const {
  std::string t;
  for (const auto& l : chain) {
    if (!t.empty()) t += " -> ";
    t += l.category;
    t += " (";
    t += place(l.role);
    t += ')';
    if (l.count > 1) t += " x" + std::to_string(l.count);
  }
  return t;
}

Correlator::Correlator(CorrelatorOptions options) : opt_(std::move(options)), next_id_(opt_.first_id) {}

std::string Correlator::actor(std::string_view key, std::string_view session) {
  std::string a(key);
  a += '\x1f';  // cannot occur in a key id or a header value
  a += session;
  return a;
}

void Correlator::classify(Incident& inc) const {
  constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  std::int64_t first_security = kNever, first_safety = kNever;
  int max_safety_repeats = 0;
  for (const auto& l : inc.chain) {
    if (l.domain == Domain::security) {
      first_security = std::min(first_security, l.ts_ms);
    } else {
      first_safety = std::min(first_safety, l.ts_ms);
      max_safety_repeats = std::max(max_safety_repeats, l.count);
    }
  }
  const bool security = first_security != kNever, safety = first_safety != kNever;
  if (security && safety) {
    // Same request (equal times): the attack on the request caused the failure in the answer.
    inc.kind = first_safety < first_security ? IncidentKind::safety_flaw_exploited : IncidentKind::security_causing_safety;
  } else if (safety) {
    inc.kind = max_safety_repeats >= opt_.probe_repeats ? IncidentKind::safety_flaw_exploited : IncidentKind::safety;
  } else {
    inc.kind = IncidentKind::security;
  }
  switch (inc.kind) {
    case IncidentKind::security: inc.cls = VerdictClass::security; break;
    case IncidentKind::safety: inc.cls = VerdictClass::safety; break;
    default: inc.cls = VerdictClass::hybrid; break;
  }
  if (inc.cls == VerdictClass::hybrid) inc.severity = Severity::critical;
}

void Correlator::evict_if_full() {
  while (by_id_.size() >= opt_.max_incidents && !order_.empty()) {
    // The oldest created incident that is still active; ids already gone are skipped.
    const std::string id = order_.front();
    order_.pop_front();
    const auto it = by_id_.find(id);
    if (it == by_id_.end()) continue;
    const std::string a = actor(it->second.key_id, it->second.session);
    if (const auto b = by_actor_.find(a); b != by_actor_.end() && b->second == id) by_actor_.erase(b);
    by_id_.erase(it);
  }
}

std::optional<Correlator::Update> Correlator::observe(const VerdictEvent& v) {
  // The verdict's links: distinct (category, role), in exchange order (request, context, response).
  std::vector<const VerdictEvent::Finding*> fs;
  Severity sev = Severity::low;
  bool notable = v.action != Action::allow;
  for (const auto& f : v.findings) {
    if (std::find(opt_.ignore_categories.begin(), opt_.ignore_categories.end(), f.category) != opt_.ignore_categories.end())
      continue;
    if (f.severity >= opt_.min_severity) notable = true;
    sev = std::max(sev, f.severity);
    const bool dup = std::any_of(fs.begin(), fs.end(), [&](const auto* g) { return g->category == f.category && g->role == f.role; });
    if (!dup) fs.push_back(&f);
  }
  if (!notable || fs.empty()) return std::nullopt;
  std::stable_sort(fs.begin(), fs.end(), [](const auto* a, const auto* b) { return a->role < b->role; });

  const std::string a = actor(v.key_id, v.session);
  Incident* inc = nullptr;
  if (const auto b = by_actor_.find(a); b != by_actor_.end()) {
    const auto it = by_id_.find(b->second);
    if (it != by_id_.end() && it->second.status != IncidentStatus::resolved && v.ts_ms - it->second.last_ms <= opt_.window_ms &&
        v.ts_ms >= it->second.first_ms - opt_.window_ms)
      inc = &it->second;
    else if (it != by_id_.end())
      by_id_.erase(it);  // expired or resolved: no longer active
  }
  Update up;
  if (!inc) {
    evict_if_full();
    Incident n;
    n.id = "inc-" + std::to_string(next_id_++);
    n.key_id = v.key_id;
    n.session = v.session;
    n.first_ms = n.last_ms = v.ts_ms;
    const std::string id = n.id;
    inc = &by_id_.emplace(id, std::move(n)).first->second;
    by_actor_[a] = id;
    order_.push_back(id);
    up.created = true;
  }
  const VerdictClass cls_before = inc->cls;
  const IncidentKind kind_before = inc->kind;
  inc->verdicts += 1;
  inc->last_ms = std::max(inc->last_ms, v.ts_ms);
  inc->first_ms = std::min(inc->first_ms, v.ts_ms);
  inc->severity = std::max(inc->severity, sev);
  for (const auto* f : fs) {
    auto l = std::find_if(inc->chain.begin(), inc->chain.end(),
                          [&](const ChainLink& c) { return c.category == f->category && c.role == f->role; });
    if (l != inc->chain.end()) {
      l->count += 1;
    } else {
      inc->chain.push_back({f->category, f->domain, f->role, v.request_id, v.ts_ms, 1});
    }
  }
  classify(*inc);
  up.escalated = !up.created && (inc->cls != cls_before || inc->kind != kind_before);
  up.incident = *inc;
  return up;
}

bool Correlator::set_status(std::string_view id, IncidentStatus status) {
  const auto it = by_id_.find(std::string(id));
  if (it == by_id_.end()) return false;
  it->second.status = status;
  return true;
}

void Correlator::restore(Incident incident) {
  if (incident.status == IncidentStatus::resolved) return;
  evict_if_full();
  // Ids continue after every restored one.
  std::int64_t n = 0;
  if (incident.id.rfind("inc-", 0) == 0 &&
      std::from_chars(incident.id.data() + 4, incident.id.data() + incident.id.size(), n).ec == std::errc{})
    next_id_ = std::max(next_id_, n + 1);
  const std::string a = actor(incident.key_id, incident.session);
  const std::string id = incident.id;
  by_actor_[a] = id;
  order_.push_back(id);
  by_id_[id] = std::move(incident);
}

}  // namespace dg::monitor
