#include "policy/policy.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "core/errors.h"
#include "core/yaml_util.h"

namespace dg::policy {
namespace {

unsigned role_bit(Role r) { return 1u << static_cast<unsigned>(r); }

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

Match parse_match(yaml::Reader& r, const YAML::Node& n, const Taxonomy& tax, std::string_view what) {
  Match m;
  if (!n.IsDefined() || n.IsNull()) return m;
  if (!r.check_keys(n, {"categories", "except_categories", "domains", "intents", "roles", "detectors", "min_score",
                           "min_severity"},
                    what))
    return m;
  m.categories = r.str_list(n, "categories");
  for (const auto& c : m.categories)
    if (!tax.find(c)) r.error(n["categories"], errc::kUnknownCategory, "category '" + c + "' is not in the taxonomy");
  m.except_categories = r.str_list(n, "except_categories");
  for (const auto& c : m.except_categories)
    if (!tax.find(c)) r.error(n["except_categories"], errc::kUnknownCategory, "category '" + c + "' is not in the taxonomy");
  for (const auto& d : r.str_list(n, "domains")) {
    if (auto v = parse_domain(d)) m.domains.push_back(*v);
    else r.error(n["domains"], errc::kConfigInvalidValue, "domain must be safety or security, not '" + d + "'");
  }
  for (const auto& i : r.str_list(n, "intents")) {
    if (auto v = parse_intent(i)) m.intents.push_back(*v);
    else r.error(n["intents"], errc::kConfigInvalidValue, "intent must be adversarial, unintentional or unknown, not '" + i + "'");
  }
  if (n["roles"].IsDefined()) {
    m.roles = 0;
    for (const auto& s : r.str_list(n, "roles")) {
      if (auto v = parse_role(s)) m.roles |= role_bit(*v);
      else r.error(n["roles"], errc::kConfigInvalidValue, "role must be prompt, context or response, not '" + s + "'");
    }
  }
  m.detectors = r.str_list(n, "detectors");
  m.min_score = r.number(n, "min_score", 0.0, 0.0, 1.0);
  if (auto s = r.str(n, "min_severity")) {
    if (auto v = parse_severity(*s)) m.min_severity = *v;
    else r.error(n["min_severity"], errc::kConfigInvalidValue, "min_severity must be low, medium, high or critical");
  }
  return m;
}

Action parse_action_key(yaml::Reader& r, const YAML::Node& n, Action fallback) {
  if (auto s = r.str(n, "action")) {
    if (auto v = parse_action(*s)) return *v;
    r.error(n["action"], errc::kConfigInvalidValue, "action must be allow, redact, review, safe_mode or block, not '" + *s + "'");
  }
  return fallback;
}

}  // namespace

bool Match::matches(const Finding& f) const noexcept {
  if (!(roles & role_bit(f.role))) return false;
  if (!categories.empty() && !contains(categories, f.category)) return false;
  if (contains(except_categories, f.category)) return false;
  if (!domains.empty() && std::find(domains.begin(), domains.end(), f.domain) == domains.end()) return false;
  if (!intents.empty() && std::find(intents.begin(), intents.end(), f.intent) == intents.end()) return false;
  if (!detectors.empty() && !contains(detectors, f.detector)) return false;
  return f.score >= min_score && f.severity >= min_severity;
}

LoadResult<Policy> Policy::load_string(const std::string& yaml_text, const std::string& name, const Taxonomy& tax) {
  LoadErrors errors;
  YAML::Node root = yaml::load_string(yaml_text, name, errors);
  Policy p;
  if (root.IsDefined()) {
    yaml::Reader r(name, errors);
    if (r.check_keys(root, {"version", "mode", "default_action", "classify_min_severity", "fail_mode", "rules", "escalations"},
                     "policy")) {
      r.integer(root, "version", 1, 1, 1);
      const std::string mode = r.str_or(root, "mode", "enforce");
      if (mode == "monitor") p.mode_ = Mode::monitor;
      else if (mode != "enforce") r.error(root["mode"], errc::kConfigInvalidValue, "mode must be enforce or monitor");
      const std::string fail = r.str_or(root, "fail_mode", "closed");
      if (fail == "open") p.fail_mode_ = FailMode::open;
      else if (fail != "closed") r.error(root["fail_mode"], errc::kConfigInvalidValue, "fail_mode must be open or closed");
      if (auto s = r.str(root, "default_action")) {
        if (auto v = parse_action(*s)) p.default_action_ = *v;
        else r.error(root["default_action"], errc::kConfigInvalidValue, "unknown action '" + *s + "'");
      }
      if (auto s = r.str(root, "classify_min_severity")) {
        if (auto v = parse_severity(*s)) p.classify_min_ = *v;
        else r.error(root["classify_min_severity"], errc::kConfigInvalidValue, "unknown severity '" + *s + "'");
      }
      std::set<std::string> ids;
      const YAML::Node rules = root["rules"];
      if (rules.IsDefined() && !rules.IsSequence()) r.error(rules, errc::kConfigInvalidValue, "'rules' must be a list");
      if (rules.IsSequence()) {
        for (const auto& n : rules) {
          if (!r.check_keys(n, {"id", "when", "action", "monitor"}, "policy rule")) continue;
          Rule rule;
          rule.id = r.str(n, "id", true).value_or("");
          if (!rule.id.empty() && !ids.insert(rule.id).second)
            r.error(n["id"], errc::kConfigDuplicate, "rule id '" + rule.id + "' used twice");
          rule.when = parse_match(r, n["when"], tax, "rule '" + rule.id + "' when");
          if (!n["action"].IsDefined()) r.error(n, errc::kConfigMissingKey, "rule '" + rule.id + "' has no action");
          rule.action = parse_action_key(r, n, Action::allow);
          rule.monitor = r.boolean(n, "monitor", false);
          p.rules_.push_back(std::move(rule));
        }
      }
      const YAML::Node esc = root["escalations"];
      if (esc.IsDefined() && !esc.IsSequence()) r.error(esc, errc::kConfigInvalidValue, "'escalations' must be a list");
      if (esc.IsSequence()) {
        for (const auto& n : esc) {
          if (!r.check_keys(n, {"id", "request", "response", "severity", "action"}, "escalation")) continue;
          Escalation e;
          e.id = r.str(n, "id", true).value_or("");
          if (!e.id.empty() && !ids.insert(e.id).second)
            r.error(n["id"], errc::kConfigDuplicate, "id '" + e.id + "' used twice");
          e.request = parse_match(r, n["request"], tax, "escalation request");
          e.response = parse_match(r, n["response"], tax, "escalation response");
          e.request.roles &= role_bit(Role::prompt) | role_bit(Role::context);
          e.response.roles &= role_bit(Role::response);
          if (auto s = r.str(n, "severity")) {
            if (auto v = parse_severity(*s)) e.severity = *v;
            else r.error(n["severity"], errc::kConfigInvalidValue, "unknown severity '" + *s + "'");
          }
          e.action = parse_action_key(r, n, Action::block);
          p.escalations_.push_back(std::move(e));
        }
      }
    }
  }
  if (!errors.empty()) return LoadResult<Policy>::failure(std::move(errors));
  return LoadResult<Policy>::success(std::move(p));
}

LoadResult<Policy> Policy::load_file(const std::string& path, const Taxonomy& tax) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return LoadResult<Policy>::failure({{path, 0, 0, std::string(errc::kConfigIo), "cannot open file"}});
  std::ostringstream ss;
  ss << in.rdbuf();
  return load_string(ss.str(), path, tax);
}

namespace {

std::string describe(const Finding& f) {
  char score[16];
  std::snprintf(score, sizeof score, "%.2f", f.score);
  std::string s = f.category + " on " + std::string(to_string(f.role)) + " (" + std::string(to_string(f.domain)) + ", " +
                  std::string(to_string(f.severity)) + ", " + score;
  if (!f.evidence.empty()) s += ": " + f.detector + " " + f.evidence;
  s += ")";
  return s;
}

// Stronger first: enforced action, then severity, then score.
bool stronger(const Finding& a, const Finding& b) {
  const Action aa = a.monitor ? Action::allow : a.action, ba = b.monitor ? Action::allow : b.action;
  if (aa != ba) return aa > ba;
  if (a.severity != b.severity) return a.severity > b.severity;
  return a.score > b.score;
}

}  // namespace

void Policy::decide(Verdict& v) const {
  // 1. Per-finding rules.
  for (auto& f : v.findings) {
    f.rule.clear();
    f.action = default_action_;
    f.monitor = false;
    for (const auto& rule : rules_) {
      if (!rule.when.matches(f)) continue;
      f.rule = rule.id;
      f.action = rule.action;
      f.monitor = rule.monitor || mode_ == Mode::monitor;
      break;
    }
  }
  // 2. Cross-domain escalations: an adversarial request and an unsafe response in one exchange.
  std::string chain;
  const Escalation* fired = nullptr;
  const Finding* cause = nullptr;
  for (const auto& e : escalations_) {
    const auto req = std::find_if(v.findings.begin(), v.findings.end(), [&](const Finding& f) { return e.request.matches(f); });
    if (req == v.findings.end()) continue;
    bool any = false;
    for (auto& f : v.findings) {
      if (!e.response.matches(f)) continue;
      if (!any) chain = req->category + " -> " + f.category;
      any = true;
      f.severity = std::max(f.severity, e.severity);
      if (e.action > f.action || f.rule.empty()) {
        f.action = std::max(f.action, e.action);
        f.rule = e.id;
        f.monitor = mode_ == Mode::monitor;
      }
    }
    if (any) {
      fired = &e;
      cause = &*req;
      break;
    }
  }
  // 3. Verdict action.
  Action action = default_action_;
  const Finding* decider = nullptr;
  for (const auto& f : v.findings) {
    if (!f.monitor && f.action > action) action = f.action;
    if (!decider || stronger(f, *decider)) decider = &f;
  }
  std::string fail_note;
  if (!v.errors.empty()) {
    if (fail_mode_ == FailMode::closed && mode_ == Mode::enforce) {
      action = Action::block;
      fail_note = "; detector error, fail-closed: " + v.errors.front();
    } else {
      fail_note = "; detector error, fail-open: " + v.errors.front();
    }
  }
  v.action = action;
  v.chain = chain;

  // 4. Class: the domains of findings that count (strong enough, or acted upon).
  bool safety = false, security = false;
  std::size_t counted = 0;
  for (const auto& f : v.findings) {
    if (f.severity < classify_min_ && f.action == Action::allow) continue;
    ++counted;
    (f.domain == Domain::safety ? safety : security) = true;
  }
  std::string why;
  if (fired) {
    v.cls = VerdictClass::hybrid;
    why = "hybrid: security-causing-safety failure (" + chain + ", escalation " + fired->id + "; cause " + cause->category +
          " on " + std::string(to_string(cause->role)) + ")";
  } else if (!counted) {
    v.cls = VerdictClass::clean;
    why = v.findings.empty() ? "clean: no findings"
                             : "clean: " + std::to_string(v.findings.size()) + " finding(s) below " +
                                   std::string(to_string(classify_min_)) + " severity";
  } else if (safety && security) {
    v.cls = decider->domain == Domain::safety ? VerdictClass::safety : VerdictClass::security;
    why = std::string(to_string(v.cls)) + ": deciding finding is " + std::string(to_string(decider->domain)) +
          "; findings of both domains but no causal chain";
  } else if (security) {
    v.cls = VerdictClass::security;
    why = decider->intent == Intent::adversarial
              ? "security: deliberate attack on the AI system"
              : "security: threat to the " + decider->property + " of the AI system (origin not established)";
  } else {
    v.cls = VerdictClass::safety;
    why = "safety: unintended harm, no attack seen";
  }

  // 5. One-line reason.
  std::string head;
  if (!decider) {
    head = std::string(to_string(action));
  } else {
    head = std::string(to_string(action));
    if (decider->monitor && decider->action > Action::allow)
      head += " (monitor: rule " + decider->rule + " would " + std::string(to_string(decider->action)) + ")";
    else if (!decider->rule.empty())
      head += " by rule " + decider->rule;
    head += ": " + describe(*decider);
    if (v.findings.size() > 1) head += " +" + std::to_string(v.findings.size() - 1) + " more";
  }
  if (mode_ == Mode::monitor && decider && decider->action > Action::allow) head += " [policy in monitor mode]";
  v.reason = head + "; " + why + fail_note;
}

}  // namespace dg::policy
