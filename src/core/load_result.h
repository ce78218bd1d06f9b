// LoadResult: the load path (config, taxonomy, policy, rules) collects every problem with its
// location and reports them together, so that a user fixes a file in one pass.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dg {

struct LoadError {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string code;     // stable error code, see core/errors.h
  std::string message;

  // "file:line:col: code: message"
  std::string format() const;
};

using LoadErrors = std::vector<LoadError>;

template <typename T>
struct LoadResult {
  std::optional<T> value;
  LoadErrors errors;

  bool ok() const noexcept { return value.has_value() && errors.empty(); }
  static LoadResult success(T v) { return LoadResult{std::move(v), {}}; }
  static LoadResult failure(LoadErrors e) { return LoadResult{std::nullopt, std::move(e)}; }
};

// Renders errors one per line as text, or as a JSON array of objects.
std::string format_errors_text(const LoadErrors& errors);
std::string format_errors_json(const LoadErrors& errors);

}  // namespace dg
