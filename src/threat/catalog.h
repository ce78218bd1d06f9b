// Built-in tables of the threat analysis: threat categories (the runtime taxonomy's categories plus
// design-time ones such as data_poisoning or sensor_spoofing) with their ATLAS techniques and OWASP
// Top 10 for LLM Applications 2025 ids, the OWASP names, and which dualguard detector or gateway
// feature addresses which categories (for coverage against a live config and policy).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dg::threat {

struct CategoryEntry {
  std::string_view name;
  std::string_view domain;  // safety | security: the category's usual side (information only)
  std::vector<std::string_view> atlas;
  std::vector<std::string_view> owasp;  // "LLM01:2025"
};
std::span<const CategoryEntry> categories() noexcept;
const CategoryEntry* find_category(std::string_view name) noexcept;

// "LLM01:2025" -> "Prompt Injection"; "" when unknown.
std::string_view owasp_name(std::string_view id) noexcept;
// Accepts "LLM01", "llm01" and "LLM01:2025"; returns "LLM01:2025" or "" when not an id.
std::string normalize_owasp(std::string_view s);

// A dualguard control that can address a risk at run time.
struct ControlEntry {
  std::string_view name;     // detector name under `detectors:`, or gateway.abuse / gateway.auth / ...
  std::vector<std::string_view> emits;      // finding categories it produces (policy rules act on these)
  std::vector<std::string_view> addresses;  // further risk categories it addresses
  bool enforced_without_policy = false;     // the gateway / loader acts itself (401, refused artifact)
};
std::span<const ControlEntry> controls() noexcept;

}  // namespace dg::threat
