#include "core/yaml_util.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/errors.h"

namespace dg::yaml {

void Reader::error(const YAML::Mark& at, std::string_view code, std::string message) {
  LoadError e;
  e.file = file_;
  // yaml-cpp marks are 0-based; a null mark has line -1.
  e.line = at.line >= 0 ? at.line + 1 : 0;
  e.column = at.column >= 0 ? at.column + 1 : 0;
  e.code = std::string(code);
  e.message = std::move(message);
  errors_->push_back(std::move(e));
}

void Reader::error(const YAML::Node& at, std::string_view code, std::string message) {
  error(at.IsDefined() ? at.Mark() : YAML::Mark::null_mark(), code, std::move(message));
}

namespace {
template <typename Range>
bool check_keys_impl(Reader& r, const YAML::Node& map, const Range& allowed, std::string_view what) {
  if (!map.IsMap()) {
    r.error(map, errc::kConfigInvalidValue, std::string(what) + " must be a mapping");
    return false;
  }
  for (const auto& kv : map) {
    const std::string key = kv.first.Scalar();
    const bool known = std::any_of(std::begin(allowed), std::end(allowed),
                                   [&](const auto& a) { return std::string_view(a) == key; });
    if (!known) {
      std::string list;
      for (const auto& a : allowed) {
        if (!list.empty()) list += ", ";
        list += std::string(a);
      }
      r.error(kv.first, errc::kConfigUnknownKey,
              "unknown key '" + key + "' in " + std::string(what) + " (expected one of: " + list + ")");
    }
  }
  return true;
}
}  // namespace

bool Reader::check_keys(const YAML::Node& map, std::initializer_list<std::string_view> allowed,
                        std::string_view what) {
  return check_keys_impl(*this, map, allowed, what);
}
bool Reader::check_keys(const YAML::Node& map, const std::vector<std::string>& allowed,
                        std::string_view what) {
  return check_keys_impl(*this, map, allowed, what);
}

std::optional<std::string> Reader::str(const YAML::Node& map, std::string_view key, bool required) {
  const YAML::Node n = map[std::string(key)];
  if (!n.IsDefined() || n.IsNull()) {
    if (required) error(map, errc::kConfigMissingKey, "missing required key '" + std::string(key) + "'");
    return std::nullopt;
  }
  if (!n.IsScalar()) {
    error(n, errc::kConfigInvalidValue, "'" + std::string(key) + "' must be a string");
    return std::nullopt;
  }
  return n.Scalar();
}

std::string Reader::str_or(const YAML::Node& map, std::string_view key, std::string fallback) {
  auto v = str(map, key);
  return v ? *v : std::move(fallback);
}

double Reader::number(const YAML::Node& map, std::string_view key, double fallback, double min,
                      double max) {
  const YAML::Node n = map[std::string(key)];
  if (!n.IsDefined() || n.IsNull()) return fallback;
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || std::isnan(v)) {
    error(n, errc::kConfigInvalidValue, "'" + std::string(key) + "' must be a number");
    return fallback;
  }
  if (v < min || v > max) {
    std::ostringstream msg;
    msg << "'" << key << "' must be between " << min << " and " << max << " (got " << n.Scalar() << ")";
    error(n, errc::kConfigInvalidValue, msg.str());
    return fallback;
  }
  return v;
}

long long Reader::integer(const YAML::Node& map, std::string_view key, long long fallback,
                          long long min, long long max) {
  const YAML::Node n = map[std::string(key)];
  if (!n.IsDefined() || n.IsNull()) return fallback;
  long long v = 0;
  if (!n.IsScalar() || !YAML::convert<long long>::decode(n, v)) {
    error(n, errc::kConfigInvalidValue, "'" + std::string(key) + "' must be an integer");
    return fallback;
  }
  if (v < min || v > max) {
    error(n, errc::kConfigInvalidValue,
          "'" + std::string(key) + "' must be between " + std::to_string(min) + " and " +
              std::to_string(max) + " (got " + n.Scalar() + ")");
    return fallback;
  }
  return v;
}

bool Reader::boolean(const YAML::Node& map, std::string_view key, bool fallback) {
  const YAML::Node n = map[std::string(key)];
  if (!n.IsDefined() || n.IsNull()) return fallback;
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
    error(n, errc::kConfigInvalidValue, "'" + std::string(key) + "' must be true or false");
    return fallback;
  }
  return v;
}

std::vector<std::string> Reader::str_list(const YAML::Node& map, std::string_view key) {
  std::vector<std::string> out;
  const YAML::Node n = map[std::string(key)];
  if (!n.IsDefined() || n.IsNull()) return out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
    return out;
  }
  if (!n.IsSequence()) {
    error(n, errc::kConfigInvalidValue, "'" + std::string(key) + "' must be a list of strings");
    return out;
  }
  for (const auto& item : n) {
    if (!item.IsScalar()) {
      error(item, errc::kConfigInvalidValue, "items of '" + std::string(key) + "' must be strings");
      continue;
    }
    out.push_back(item.Scalar());
  }
  return out;
}

YAML::Node load_string(const std::string& text, const std::string& name, LoadErrors& errors) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    LoadError err;
    err.file = name;
    err.line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    err.column = e.mark.column >= 0 ? e.mark.column + 1 : 0;
    err.code = std::string(errc::kConfigSyntax);
    err.message = e.msg;
    errors.push_back(std::move(err));
    return YAML::Node(YAML::NodeType::Undefined);
  }
}

YAML::Node load_file(const std::string& path, LoadErrors& errors) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors.push_back(LoadError{path, 0, 0, std::string(errc::kConfigIo), "cannot open file"});
    return YAML::Node(YAML::NodeType::Undefined);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return load_string(ss.str(), path, errors);
}

}  // namespace dg::yaml
