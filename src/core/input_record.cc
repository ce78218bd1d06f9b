#include "core/input_record.h"

#include "core/errors.h"

namespace dg {
namespace {

InputRecord fail(InputRecord r, std::string_view code, std::string message) {
  r.error_code = std::string(code);
  r.error_message = std::move(message);
  return r;
}

}  // namespace

InputRecord parse_jsonl_line(std::string_view line, std::size_t line_no, const InputOptions& opt) {
  InputRecord r;
  r.id = line_no;
  if (line.size() > opt.max_line_bytes)
    return fail(std::move(r), errc::kInputTooLarge,
                "line is " + std::to_string(line.size()) + " bytes, limit " + std::to_string(opt.max_line_bytes));
  ojson j = ojson::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(std::move(r), errc::kInvalidJson, "line is not valid JSON");
  if (j.is_string()) {
    if (!opt.field.empty()) return fail(std::move(r), errc::kMissingField, "line is a JSON string, not an object with '" + opt.field + "'");
    r.text = j.get<std::string>();
    return r;
  }
  if (!j.is_object()) return fail(std::move(r), errc::kInvalidJson, "line must be a JSON object or string");
  if (auto it = j.find("id"); it != j.end() && (it->is_string() || it->is_number())) r.id = *it;

  auto get_string = [&](const char* key, std::string& out, bool& has) -> bool {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return true;
    if (!it->is_string()) return false;
    out = it->get<std::string>();
    has = true;
    return true;
  };
  if (!opt.field.empty()) {
    auto it = j.find(opt.field);
    if (it == j.end()) return fail(std::move(r), errc::kMissingField, "no field '" + opt.field + "'");
    if (!it->is_string()) return fail(std::move(r), errc::kFieldNotString, "field '" + opt.field + "' is not a string");
    r.text = it->get<std::string>();
    if (!get_string("system", r.system, r.has_system)) return fail(std::move(r), errc::kFieldNotString, "field 'system' is not a string");
    return r;
  }
  const bool exchange = j.contains("prompt") || j.contains("response") || j.contains("context");
  if (!exchange) {
    auto it = j.find("text");
    if (it == j.end()) return fail(std::move(r), errc::kMissingField, "no 'text' field (nor prompt / response / context); use --field to name one");
    if (!it->is_string()) return fail(std::move(r), errc::kFieldNotString, "field 'text' is not a string");
    r.text = it->get<std::string>();
    if (!get_string("system", r.system, r.has_system)) return fail(std::move(r), errc::kFieldNotString, "field 'system' is not a string");
    return r;
  }
  r.exchange = true;
  for (const char* key : {"prompt", "response", "system"}) {
    std::string& out = key[0] == 'p' ? r.prompt : key[0] == 'r' ? r.response : r.system;
    bool& has = key[0] == 'p' ? r.has_prompt : key[0] == 'r' ? r.has_response : r.has_system;
    if (!get_string(key, out, has)) return fail(std::move(r), errc::kFieldNotString, std::string("field '") + key + "' is not a string");
  }
  if (auto it = j.find("context"); it != j.end() && !it->is_null()) {
    if (it->is_string()) {
      r.context.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      for (const auto& c : *it) {
        if (!c.is_string()) return fail(std::move(r), errc::kFieldNotString, "items of 'context' must be strings");
        r.context.push_back(c.get<std::string>());
      }
    } else {
      return fail(std::move(r), errc::kFieldNotString, "field 'context' must be a string or a list of strings");
    }
  }
  if (auto it = j.find("logprobs"); it != j.end()) {
    std::string why;
    if (!parse_logprobs(*it, r.logprobs, why)) return fail(std::move(r), errc::kInvalidLogprobs, "field 'logprobs': " + why);
  }
  return r;
}

}  // namespace dg
