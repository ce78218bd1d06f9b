// LoadResult: the load path (config, taxonomy, policy, rules) collects every problem with its
// location and reports them together, so that a user fixes a file in one pass.
#pragma once

#include <optional>
#include <string>
#include <string_view>
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

// One error without a location inside the file (a whole-file problem: unreadable, not JSON, too
// little data).
inline LoadErrors one_error(std::string file, std::string_view code, std::string message) {
  LoadError e;
  e.file = std::move(file);
  e.code = std::string(code);
  e.message = std::move(message);
  return {std::move(e)};
}

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
