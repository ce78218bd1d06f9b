#include "core/load_result.h"

#include <nlohmann/json.hpp>

namespace dg {

std::string LoadError::format() const {
  std::string out = file.empty() ? std::string("<input>") : file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  out += ": ";
  out += code;
  out += ": ";
  out += message;
  return out;
}

std::string format_errors_text(const LoadErrors& errors) {
  std::string out;
  for (const auto& e : errors) {
    out += e.format();
    out += '\n';
  }
  return out;
}

std::string format_errors_json(const LoadErrors& errors) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const auto& e : errors) {
    arr.push_back({{"file", e.file},
                   {"line", e.line},
                   {"column", e.column},
                   {"code", e.code},
                   {"message", e.message}});
  }
  return arr.dump();
}

}  // namespace dg
