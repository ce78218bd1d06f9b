// Small helpers for strict YAML loading: every accessor records a located LoadError instead of
// throwing, so a loader can report every problem in one pass. Unknown keys are errors.
#pragma once

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/load_result.h"

namespace dg::yaml {

// Collects errors for one file.
class Reader {
 public:
  Reader(std::string file, LoadErrors& errors) : file_(std::move(file)), errors_(&errors) {}

  const std::string& file() const noexcept { return file_; }
  LoadErrors& errors() noexcept { return *errors_; }

  void error(const YAML::Node& at, std::string_view code, std::string message);
  void error(const YAML::Mark& at, std::string_view code, std::string message);

  // Reports every key of `map` not in `allowed`. Returns false if `map` is not a map.
  bool check_keys(const YAML::Node& map, std::initializer_list<std::string_view> allowed,
                  std::string_view what);
  bool check_keys(const YAML::Node& map, const std::vector<std::string>& allowed,
                  std::string_view what);

  // Typed getters. A missing key yields `fallback` (or an error when `required`); a wrong type
  // yields an error and `fallback`.
  std::optional<std::string> str(const YAML::Node& map, std::string_view key, bool required = false);
  std::string str_or(const YAML::Node& map, std::string_view key, std::string fallback);
  double number(const YAML::Node& map, std::string_view key, double fallback, double min, double max);
  long long integer(const YAML::Node& map, std::string_view key, long long fallback, long long min,
                    long long max);
  bool boolean(const YAML::Node& map, std::string_view key, bool fallback);
  std::vector<std::string> str_list(const YAML::Node& map, std::string_view key);

 private:
  std::string file_;
  LoadErrors* errors_;
};

// Parses a file; on failure adds a located error and returns a null node.
YAML::Node load_file(const std::string& path, LoadErrors& errors);
YAML::Node load_string(const std::string& text, const std::string& name, LoadErrors& errors);

}  // namespace dg::yaml
