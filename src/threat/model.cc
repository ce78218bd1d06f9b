#include "threat/model.h"

#include <algorithm>
#include <cctype>
#include <tuple>
#include <filesystem>
#include <functional>
#include <set>

#include "core/errors.h"
#include "core/yaml_util.h"
#include "threat/catalog.h"

namespace dg::threat {
namespace {

// A string with the place it was written, for errors found after the whole file is read.
struct Ref {
  std::string value;
  YAML::Mark mark;
};

std::string join(std::initializer_list<std::string_view> xs) {
  std::string o;
  for (auto x : xs) o += (o.empty() ? "" : ", ") + std::string(x);
  return o;
}

bool valid_id(const std::string& s) {
  if (s.empty() || s.size() > 64 || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

bool valid_atlas_id(const std::string& s) {
  // AML.T0000 or AML.T0000.000
  if (s.size() != 9 && s.size() != 13) return false;
  if (s.compare(0, 5, "AML.T") != 0) return false;
  for (std::size_t i = 5; i < 9; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  if (s.size() == 13) {
    if (s[9] != '.') return false;
    for (std::size_t i = 10; i < 13; ++i)
      if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

class Loader {
 public:
  Loader(yaml::Reader& r, const LoadOptions& opt) : r_(r), opt_(opt) {}

  void load(const YAML::Node& root, Model& m) {
    if (!r_.check_keys(root, {"version", "name", "description", "context", "assets", "components", "trust_boundaries",
                              "mechanisms", "risks"},
                       "threat model"))
      return;
    const YAML::Node v = root["version"];
    if (!v.IsDefined() || v.IsNull()) r_.error(root, errc::kConfigMissingKey, "missing required key 'version'");
    else if (!v.IsScalar() || v.Scalar() != "1") r_.error(v, errc::kThreatSchema, "version must be 1");
    if (auto s = r_.str(root, "name", true)) m.name = *s;
    m.description = r_.str_or(root, "description", "");
    if (const YAML::Node c = root["context"]; c.IsDefined() && !c.IsNull()) context(c, m.context);

    each(root, "assets", [&](const YAML::Node& n) { asset(n, m); });
    each(root, "components", [&](const YAML::Node& n) { component(n, m); });
    each(root, "trust_boundaries", [&](const YAML::Node& n) { boundary(n, m); });
    each(root, "mechanisms", [&](const YAML::Node& n) { mechanism(n, m); });
    each(root, "risks", [&](const YAML::Node& n) { risk(n, m); });
    if (m.risks.empty() && root["risks"].IsDefined() == false)
      r_.error(root, errc::kConfigMissingKey, "missing required key 'risks'");
    resolve(m);
  }

 private:
  enum class Kind { asset, component, boundary, mechanism, risk };

  template <typename F>
  void each(const YAML::Node& root, const char* key, F f) {
    const YAML::Node n = root[key];
    if (!n.IsDefined() || n.IsNull()) return;
    if (!n.IsSequence()) {
      r_.error(n, errc::kThreatSchema, std::string("'") + key + "' must be a list");
      return;
    }
    for (const auto& item : n) f(item);
  }

  std::vector<Ref> refs(const YAML::Node& map, const char* key) {
    std::vector<Ref> out;
    const YAML::Node n = map[key];
    if (!n.IsDefined() || n.IsNull()) return out;
    if (n.IsScalar()) {
      out.push_back({n.Scalar(), n.Mark()});
      return out;
    }
    if (!n.IsSequence()) {
      r_.error(n, errc::kConfigInvalidValue, std::string("'") + key + "' must be a list of strings");
      return out;
    }
    for (const auto& item : n) {
      if (!item.IsScalar()) {
        r_.error(item, errc::kConfigInvalidValue, std::string("items of '") + key + "' must be strings");
        continue;
      }
      out.push_back({item.Scalar(), item.Mark()});
    }
    return out;
  }

  static std::vector<std::string> values(const std::vector<Ref>& rs) {
    std::vector<std::string> v;
    for (const auto& r : rs) v.push_back(r.value);
    return v;
  }

  // Reads `id`, checks its spelling and uniqueness (one namespace for every kind of item).
  bool id(const YAML::Node& n, const char* what, Kind kind, std::string& out, Located& loc) {
    loc.line = n.Mark().line + 1;
    loc.column = n.Mark().column + 1;
    auto s = r_.str(n, "id", true);
    if (!s) return false;
    if (!valid_id(*s)) {
      r_.error(n["id"], errc::kThreatSchema,
               std::string(what) + " id '" + *s + "' must be letters, digits, '-', '_' or '.' (at most 64)");
      return false;
    }
    if (auto it = ids_.find(*s); it != ids_.end()) {
      r_.error(n["id"], errc::kConfigDuplicate,
               "duplicate id '" + *s + "' (first used at line " + std::to_string(it->second.second.line + 1) + ")");
      return false;
    }
    ids_.emplace(*s, std::make_pair(kind, n["id"].Mark()));
    out = *s;
    return true;
  }

  std::string choice(const YAML::Node& n, const char* key, std::initializer_list<std::string_view> allowed,
                     const char* fallback, bool required = false) {
    auto s = r_.str(n, key, required);
    if (!s) return fallback;
    for (auto a : allowed)
      if (a == *s) return *s;
    r_.error(n[key], errc::kThreatSchema,
             std::string(key) + " must be one of: " + join(allowed) + " (got '" + *s + "')");
    return fallback;
  }

  void context(const YAML::Node& c, Context& ctx) {
    if (!r_.check_keys(c, {"sector", "exposure", "autonomy", "data_sensitivity", "users", "regulations", "notes"},
                       "context"))
      return;
    ctx.sector = r_.str_or(c, "sector", "");
    ctx.exposure = choice(c, "exposure", {"public", "partner", "internal", "offline", "embedded"}, "");
    ctx.autonomy = choice(c, "autonomy", {"advisory", "human_in_the_loop", "autonomous"}, "");
    ctx.data_sensitivity = choice(c, "data_sensitivity", {"low", "medium", "high"}, "");
    ctx.users = r_.str_list(c, "users");
    ctx.regulations = r_.str_list(c, "regulations");
    ctx.notes = r_.str_or(c, "notes", "");
  }

  void asset(const YAML::Node& n, Model& m) {
    if (!r_.check_keys(n, {"id", "kind", "description"}, "asset")) return;
    Asset a;
    if (!id(n, "asset", Kind::asset, a.id, a)) return;
    a.kind = choice(n, "kind",
                    {"weights", "training_data", "system_prompt", "user_data", "rag_corpus", "logs", "config",
                     "model_output", "sensor_data", "tools", "other"},
                    "other", true);
    a.description = r_.str_or(n, "description", "");
    m.assets.push_back(std::move(a));
  }

  void component(const YAML::Node& n, Model& m) {
    if (!r_.check_keys(n, {"id", "description", "zone", "assets"}, "component")) return;
    Component c;
    if (!id(n, "component", Kind::component, c.id, c)) return;
    c.description = r_.str_or(n, "description", "");
    c.zone = r_.str_or(n, "zone", "");
    auto as = refs(n, "assets");
    c.assets = values(as);
    for (auto& a : as) pending_.push_back({std::move(a), {Kind::asset}, "asset", "component '" + c.id + "'"});
    m.components.push_back(std::move(c));
  }

  void boundary(const YAML::Node& n, Model& m) {
    if (!r_.check_keys(n, {"id", "description", "between"}, "trust boundary")) return;
    TrustBoundary b;
    if (!id(n, "trust boundary", Kind::boundary, b.id, b)) return;
    b.description = r_.str_or(n, "description", "");
    auto bs = refs(n, "between");
    if (bs.size() < 2) r_.error(n, errc::kThreatSchema, "trust boundary '" + b.id + "' needs 'between' with at least two components");
    b.between = values(bs);
    for (auto& x : bs) pending_.push_back({std::move(x), {Kind::component}, "component", "trust boundary '" + b.id + "'"});
    m.boundaries.push_back(std::move(b));
  }

  void mechanism(const YAML::Node& n, Model& m) {
    if (!r_.check_keys(n, {"id", "title", "layer", "description", "component", "protects", "depends_on", "detectors",
                           "artifacts"},
                       "mechanism"))
      return;
    Mechanism x;
    if (!id(n, "mechanism", Kind::mechanism, x.id, x)) return;
    x.title = r_.str_or(n, "title", x.id);
    x.layer = choice(n, "layer", {"safety", "security"}, "safety", true) == "security" ? Layer::security : Layer::safety;
    x.description = r_.str_or(n, "description", "");
    const std::string where = "mechanism '" + x.id + "'";
    if (auto c = r_.str(n, "component")) {
      x.component = *c;
      pending_.push_back({{*c, n["component"].Mark()}, {Kind::component}, "component", where});
    }
    for (auto& p : refs(n, "protects")) {
      if (p.value == x.id) r_.error(p.mark, errc::kThreatSchema, where + " cannot protect itself");
      x.protects.push_back(p.value);
      pending_.push_back({std::move(p), {Kind::asset, Kind::mechanism}, "asset or mechanism", where + " protects"});
    }
    for (auto& p : refs(n, "depends_on")) {
      if (p.value == x.id) r_.error(p.mark, errc::kThreatSchema, where + " cannot depend on itself");
      x.depends_on.push_back(p.value);
      pending_.push_back({std::move(p), {Kind::asset, Kind::mechanism}, "asset or mechanism", where + " depends_on"});
    }
    for (auto& d : refs(n, "detectors")) {
      const auto cs = controls();
      if (std::none_of(cs.begin(), cs.end(), [&](const ControlEntry& c) { return c.name == d.value; })) {
        std::string list;
        for (const auto& c : cs) list += (list.empty() ? "" : ", ") + std::string(c.name);
        r_.error(d.mark, errc::kThreatSchema, "unknown detector '" + d.value + "' in " + where + " (expected one of: " + list + ")");
      }
      x.detectors.push_back(d.value);
    }
    x.artifacts = r_.str_list(n, "artifacts");
    m.mechanisms.push_back(std::move(x));
  }

  void risk(const YAML::Node& n, Model& m) {
    if (!r_.check_keys(n, {"id", "title", "description", "cause", "intent", "harm", "target", "assets", "mitigations",
                           "exploits", "introduced_by", "categories", "atlas", "owasp", "severity"},
                       "risk"))
      return;
    Risk x;
    if (!id(n, "risk", Kind::risk, x.id, x)) return;
    const std::string where = "risk '" + x.id + "'";
    if (auto s = r_.str(n, "title", true)) x.title = *s;
    x.description = r_.str_or(n, "description", "");
    if (auto s = r_.str(n, "cause", true)) x.cause = *s;
    const std::string intent = choice(n, "intent", {"adversarial", "unintentional"}, "", true);
    x.intent = intent == "adversarial" ? Intent::adversarial : intent == "unintentional" ? Intent::unintentional : Intent::unknown;
    x.harm = x.intent == Intent::adversarial ? Domain::security : Domain::safety;
    if (n["harm"].IsDefined() && !n["harm"].IsNull()) {
      const std::string h = choice(n, "harm", {"safety", "security"}, "");
      if (!h.empty()) {
        x.harm = h == "safety" ? Domain::safety : Domain::security;
        x.harm_given = true;
      }
    }
    if (auto t = r_.str(n, "target", true)) {
      x.target = *t;
      pending_.push_back({{*t, n["target"].Mark()}, {Kind::component, Kind::mechanism, Kind::asset}, "component, mechanism or asset", where + " target"});
    }
    for (auto& a : refs(n, "assets")) {
      x.assets.push_back(a.value);
      pending_.push_back({std::move(a), {Kind::asset}, "asset", where});
    }
    for (auto& a : refs(n, "mitigations")) {
      x.mitigations.push_back(a.value);
      pending_.push_back({std::move(a), {Kind::mechanism}, "mechanism", where + " mitigations"});
    }
    auto ex = refs(n, "exploits");
    if (!ex.empty() && x.intent == Intent::unintentional)
      r_.error(n["exploits"], errc::kThreatSchema, where + ": 'exploits' needs intent: adversarial (an attacker exploits a weakness)");
    for (auto& a : ex) {
      if (a.value == x.id) r_.error(a.mark, errc::kThreatSchema, where + " cannot exploit itself");
      x.exploits.push_back(a.value);
      pending_.push_back({std::move(a), {Kind::risk}, "risk", where + " exploits"});
    }
    if (auto s = r_.str(n, "introduced_by")) {
      x.introduced_by = *s;
      pending_.push_back({{*s, n["introduced_by"].Mark()}, {Kind::mechanism}, "mechanism", where + " introduced_by"});
    }
    for (auto& c : refs(n, "categories")) {
      const bool extra = std::find(opt_.extra_categories.begin(), opt_.extra_categories.end(), c.value) != opt_.extra_categories.end();
      if (!find_category(c.value) && !extra)
        r_.error(c.mark, errc::kUnknownCategory, "unknown category '" + c.value + "' in " + where + " (see docs/threat-model.md)");
      x.categories.push_back(c.value);
    }
    for (auto& a : refs(n, "atlas")) {
      if (!valid_atlas_id(a.value))
        r_.error(a.mark, errc::kThreatSchema, "'" + a.value + "' in " + where + " is not an ATLAS technique id (AML.T0000 or AML.T0000.000)");
      else if (opt_.atlas && !opt_.atlas->find(a.value))
        r_.error(a.mark, errc::kAtlasUnknownTechnique,
                 "ATLAS technique '" + a.value + "' in " + where + " is not in " + opt_.atlas->file);
      x.atlas.push_back(a.value);
    }
    for (auto& o : refs(n, "owasp")) {
      const std::string id = normalize_owasp(o.value);
      if (id.empty())
        r_.error(o.mark, errc::kThreatSchema, "'" + o.value + "' in " + where + " is not an OWASP Top 10 for LLM Applications 2025 id (LLM01..LLM10)");
      else x.owasp.push_back(id);
    }
    const std::string sev = choice(n, "severity", {"low", "medium", "high", "critical"}, "medium");
    x.severity = parse_severity(sev).value_or(Severity::medium);
    m.risks.push_back(std::move(x));
  }

  struct Pending {
    Ref ref;
    std::vector<Kind> kinds;
    std::string expected;
    std::string where;
  };

  void resolve(Model& m) {
    for (const auto& p : pending_) {
      auto it = ids_.find(p.ref.value);
      const bool ok = it != ids_.end() && std::find(p.kinds.begin(), p.kinds.end(), it->second.first) != p.kinds.end();
      if (!ok)
        r_.error(p.ref.mark, errc::kThreatUnknownRef, "'" + p.ref.value + "' in " + p.where + " is no " + p.expected + " of this model");
    }
    (void)m;
  }

  yaml::Reader& r_;
  const LoadOptions& opt_;
  std::map<std::string, std::pair<Kind, YAML::Mark>> ids_;
  std::vector<Pending> pending_;
};

LoadResult<Model> finish(const YAML::Node& root, const std::string& name, LoadErrors& errors, const LoadOptions& opt) {
  if (!errors.empty()) return LoadResult<Model>::failure(std::move(errors));
  Model m;
  m.file = name;
  m.dir = std::filesystem::path(name).parent_path().string();
  yaml::Reader r(name, errors);
  if (!root.IsMap()) {
    r.error(root, errc::kThreatSchema, "a threat model must be a mapping");
    return LoadResult<Model>::failure(std::move(errors));
  }
  Loader(r, opt).load(root, m);
  std::stable_sort(errors.begin(), errors.end(), [](const LoadError& a, const LoadError& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  if (!errors.empty()) return LoadResult<Model>::failure(std::move(errors));
  return LoadResult<Model>::success(std::move(m));
}

}  // namespace

std::string_view to_string(Layer l) noexcept { return l == Layer::safety ? "safety" : "security"; }

const Mechanism* Model::mechanism(const std::string& id) const {
  for (const auto& x : mechanisms)
    if (x.id == id) return &x;
  return nullptr;
}
const Risk* Model::risk(const std::string& id) const {
  for (const auto& x : risks)
    if (x.id == id) return &x;
  return nullptr;
}

LoadResult<Model> load_model_file(const std::string& path, const LoadOptions& opt) {
  LoadErrors errors;
  YAML::Node root = yaml::load_file(path, errors);
  return finish(root, path, errors, opt);
}

LoadResult<Model> load_model_string(const std::string& text, const std::string& name, const LoadOptions& opt) {
  LoadErrors errors;
  YAML::Node root = yaml::load_string(text, name, errors);
  return finish(root, name, errors, opt);
}

const AtlasTechnique* AtlasCatalog::find(const std::string& id) const {
  auto it = techniques.find(id);
  return it == techniques.end() ? nullptr : &it->second;
}

// ATLAS.yaml is MITRE's file, not ours: read only what the analysis needs and ignore other keys.
namespace {
// yaml-cpp throws when a missing key of an iterated node is inspected; check IsDefined first.
const std::string* scalar(const YAML::Node& n, const char* key, std::string& buf) {
  if (!n.IsMap()) return nullptr;
  const YAML::Node v = n[key];
  if (!v.IsDefined() || !v.IsScalar()) return nullptr;
  buf = v.Scalar();
  return &buf;
}
YAML::Node seq(const YAML::Node& n, const char* key) {
  if (!n.IsMap()) return YAML::Node();
  const YAML::Node v = n[key];
  return v.IsDefined() && v.IsSequence() ? v : YAML::Node();
}
}  // namespace

LoadResult<AtlasCatalog> load_atlas(const std::string& path) {
  LoadErrors errors;
  YAML::Node root = yaml::load_file(path, errors);
  if (!errors.empty()) return LoadResult<AtlasCatalog>::failure(std::move(errors));
  AtlasCatalog cat;
  cat.file = path;
  yaml::Reader r(path, errors);
  const YAML::Node ms = seq(root, "matrices");
  if (!ms.IsSequence()) {
    r.error(root, errc::kThreatSchema, "not an ATLAS.yaml: no 'matrices' list");
    return LoadResult<AtlasCatalog>::failure(std::move(errors));
  }
  std::string buf;
  if (scalar(root, "version", buf)) cat.version = buf;
  for (const auto& m : ms) {
    std::map<std::string, std::string> tactic_names;
    for (const auto& t : seq(m, "tactics")) {
      std::string id, name;
      if (scalar(t, "id", id) && scalar(t, "name", name)) tactic_names[id] = name;
    }
    std::map<std::string, std::string> parent;
    for (const auto& t : seq(m, "techniques")) {
      AtlasTechnique at;
      if (!scalar(t, "id", at.id)) continue;
      scalar(t, "name", at.name);
      for (const auto& x : seq(t, "tactics"))
        if (x.IsScalar()) {
          auto it = tactic_names.find(x.Scalar());
          at.tactics.push_back(it == tactic_names.end() ? x.Scalar() : it->second);
        }
      if (scalar(t, "subtechnique-of", buf)) parent[at.id] = buf;
      cat.techniques[at.id] = std::move(at);
    }
    for (const auto& [child, par] : parent) {
      auto c = cat.techniques.find(child);
      auto p = cat.techniques.find(par);
      if (c != cat.techniques.end() && p != cat.techniques.end() && c->second.tactics.empty())
        c->second.tactics = p->second.tactics;
    }
  }
  for (const auto& c : seq(root, "case-studies")) {
    AtlasCaseStudy cs;
    if (!scalar(c, "id", cs.id)) continue;
    scalar(c, "name", cs.name);
    scalar(c, "summary", cs.summary);
    cat.case_studies.push_back(std::move(cs));
  }
  if (cat.techniques.empty()) {
    r.error(root, errc::kThreatSchema, "not an ATLAS.yaml: no techniques");
    return LoadResult<AtlasCatalog>::failure(std::move(errors));
  }
  return LoadResult<AtlasCatalog>::success(std::move(cat));
}

}  // namespace dg::threat
