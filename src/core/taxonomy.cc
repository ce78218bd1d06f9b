#include "core/taxonomy.h"

#include "core/errors.h"
#include "core/yaml_util.h"

namespace dg {
namespace {

LoadResult<Taxonomy> parse(const YAML::Node& root, const std::string& name, LoadErrors errors,
                           Taxonomy& out, std::vector<CategoryInfo>& cats,
                           std::unordered_map<std::string, std::size_t>& index) {
  yaml::Reader r(name, errors);
  if (!root.IsDefined()) return LoadResult<Taxonomy>::failure(std::move(errors));
  if (r.check_keys(root, {"version", "categories"}, "taxonomy")) {
    r.integer(root, "version", 1, 1, 1);
    const YAML::Node list = root["categories"];
    if (!list.IsDefined() || !list.IsMap()) {
      r.error(root, errc::kConfigMissingKey, "'categories' must be a mapping of category name to entry");
    } else {
      for (const auto& kv : list) {
        CategoryInfo c;
        c.name = kv.first.Scalar();
        const YAML::Node e = kv.second;
        if (!r.check_keys(e, {"domain", "intent", "property", "severity", "description", "atlas", "owasp"},
                          "category '" + c.name + "'"))
          continue;
        if (auto d = r.str(e, "domain", true)) {
          if (auto v = parse_domain(*d)) c.domain = *v;
          else r.error(e["domain"], errc::kConfigInvalidValue, "domain must be safety or security, not '" + *d + "'");
        }
        if (auto i = r.str(e, "intent", true)) {
          if (auto v = parse_intent(*i)) c.intent = *v;
          else r.error(e["intent"], errc::kConfigInvalidValue,
                       "intent must be adversarial, unintentional or unknown, not '" + *i + "'");
        }
        c.property = r.str_or(e, "property", "");
        if (auto s = r.str(e, "severity")) {
          if (auto v = parse_severity(*s)) c.default_severity = *v;
          else r.error(e["severity"], errc::kConfigInvalidValue,
                       "severity must be low, medium, high or critical, not '" + *s + "'");
        }
        c.description = r.str_or(e, "description", "");
        c.atlas = r.str_list(e, "atlas");
        c.owasp = r.str_list(e, "owasp");
        if (index.count(c.name)) {
          r.error(kv.first, errc::kConfigDuplicate, "category '" + c.name + "' defined twice");
          continue;
        }
        index.emplace(c.name, cats.size());
        cats.push_back(std::move(c));
      }
    }
  }
  if (!errors.empty()) return LoadResult<Taxonomy>::failure(std::move(errors));
  return LoadResult<Taxonomy>::success(std::move(out));
}

}  // namespace

LoadResult<Taxonomy> Taxonomy::load_string(const std::string& yaml, const std::string& name) {
  LoadErrors errors;
  YAML::Node root = yaml::load_string(yaml, name, errors);
  Taxonomy t;
  return parse(root, name, std::move(errors), t, t.categories_, t.index_);
}

LoadResult<Taxonomy> Taxonomy::load_file(const std::string& path) {
  LoadErrors errors;
  YAML::Node root = yaml::load_file(path, errors);
  Taxonomy t;
  return parse(root, path, std::move(errors), t, t.categories_, t.index_);
}

const CategoryInfo* Taxonomy::find(std::string_view category) const noexcept {
  auto it = index_.find(std::string(category));
  return it == index_.end() ? nullptr : &categories_[it->second];
}

}  // namespace dg
