// The taxonomy as data (config/taxonomy.yaml): each finding category maps to a domain, an intent and
// a property, by the intent principle of DESIGN.md (the origin of the risk decides the domain).
// Immutable once loaded; safe to share between threads.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/load_result.h"
#include "core/types.h"

namespace dg {

struct CategoryInfo {
  std::string name;
  Domain domain = Domain::security;
  Intent intent = Intent::unknown;
  std::string property;
  Severity default_severity = Severity::medium;
  std::string description;
  std::vector<std::string> atlas;  // MITRE ATLAS technique ids
  std::vector<std::string> owasp;  // OWASP Top 10 for LLM Applications 2025 ids
};

class Taxonomy {
 public:
  static LoadResult<Taxonomy> load_file(const std::string& path);
  static LoadResult<Taxonomy> load_string(const std::string& yaml, const std::string& name);

  // nullptr when the category is not in the taxonomy.
  const CategoryInfo* find(std::string_view category) const noexcept;
  const std::vector<CategoryInfo>& categories() const noexcept { return categories_; }

 private:
  std::vector<CategoryInfo> categories_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace dg
