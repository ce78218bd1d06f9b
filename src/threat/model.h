// The threat model of one deployment (docs/threat-model.md): assets, components, trust boundaries,
// mechanisms of the safety and the security layer with what they protect and depend on, risks, and
// the deployment context. Loaded strictly: unknown keys, bad values and references to ids that do not
// exist are located errors (file:line:col), all reported in one pass. Immutable once loaded.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/load_result.h"
#include "core/types.h"

namespace dg::threat {

// The MITRE ATLAS techniques of a user-supplied ATLAS.yaml (matrices[].techniques[]) and its case
// studies.
struct AtlasTechnique {
  std::string id;    // AML.T0051, AML.T0051.000
  std::string name;
  std::vector<std::string> tactics;  // tactic names (a sub-technique inherits its parent's)
};
// A documented attack on an AI system (case-studies[]): every one is adversarial by construction,
// which makes them a check for the incident classifier (`dualguard threat classify --atlas`).
struct AtlasCaseStudy {
  std::string id;  // AML.CS0000
  std::string name, summary;
};
struct AtlasCatalog {
  std::string file;
  std::string version;
  std::map<std::string, AtlasTechnique> techniques;
  std::vector<AtlasCaseStudy> case_studies;
  const AtlasTechnique* find(const std::string& id) const;
};
LoadResult<AtlasCatalog> load_atlas(const std::string& path);

struct Located {
  int line = 0, column = 0;  // 1-based, where the item starts in the model file
};

struct Asset : Located {
  std::string id, kind, description;
};

struct Component : Located {
  std::string id, description, zone;
  std::vector<std::string> assets;
};

struct TrustBoundary : Located {
  std::string id, description;
  std::vector<std::string> between;  // component ids (at least two)
};

enum class Layer { safety, security };
std::string_view to_string(Layer l) noexcept;

struct Mechanism : Located {
  std::string id, title, description;
  Layer layer = Layer::safety;
  std::string component;                // "" = not tied to one component
  std::vector<std::string> protects;    // asset or mechanism ids
  std::vector<std::string> depends_on;  // mechanism or asset ids it needs intact to work
  std::vector<std::string> detectors;   // dualguard detectors that implement it (coverage)
  std::vector<std::string> artifacts;   // files it loads (resolved against the model's folder)
};

struct Risk : Located {
  std::string id, title, description, cause;
  Intent intent = Intent::unknown;          // adversarial | unintentional (required)
  Domain harm = Domain::safety;             // what the effect harms (default by intent)
  bool harm_given = false;
  std::string target;                       // component or mechanism id
  std::vector<std::string> assets;
  std::vector<std::string> mitigations;     // mechanism ids
  std::vector<std::string> exploits;        // risk ids: safety weaknesses this attack exploits
  std::string introduced_by;                // mechanism id: a fix whose side effect opened this risk
  std::vector<std::string> categories;      // taxonomy / threat categories (catalog.h)
  std::vector<std::string> atlas;           // explicit ATLAS technique ids
  std::vector<std::string> owasp;           // explicit OWASP LLM ids, normalised to "LLM01:2025"
  Severity severity = Severity::medium;
};

struct Context {
  std::string sector, exposure, autonomy, data_sensitivity, notes;
  std::vector<std::string> users, regulations;
};

struct Model {
  std::string file;  // as given
  std::string dir;   // artifact paths resolve here
  std::string name, description;
  Context context;
  std::vector<Asset> assets;
  std::vector<Component> components;
  std::vector<TrustBoundary> boundaries;
  std::vector<Mechanism> mechanisms;
  std::vector<Risk> risks;

  const Mechanism* mechanism(const std::string& id) const;
  const Risk* risk(const std::string& id) const;
};

struct LoadOptions {
  const AtlasCatalog* atlas = nullptr;        // when set, explicit atlas ids must exist in it
  std::vector<std::string> extra_categories;  // e.g. the loaded taxonomy's categories
};

LoadResult<Model> load_model_file(const std::string& path, const LoadOptions& opt = {});
LoadResult<Model> load_model_string(const std::string& yaml, const std::string& name, const LoadOptions& opt = {});

}  // namespace dg::threat
