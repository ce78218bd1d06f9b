#include "threat/incident_set.h"

#include <fstream>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/errors.h"

namespace dg::threat {
namespace {

LoadError line_error(const std::string& file, std::size_t line, std::string_view code, std::string msg) {
  LoadError e;
  e.file = file;
  e.line = static_cast<int>(line);
  e.code = std::string(code);
  e.message = std::move(msg);
  return e;
}

}  // namespace

int incident_class_index(VerdictClass c) noexcept {
  for (std::size_t i = 0; i < kIncidentClasses.size(); ++i)
    if (kIncidentClasses[i] == c) return static_cast<int>(i);
  return -1;
}

LoadResult<std::vector<IncidentRecord>> read_incidents(const std::string& path, const IncidentReadOptions& opt) {
  LoadResult<std::vector<IncidentRecord>> r;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    r.errors.push_back(line_error(path, 0, errc::kConfigIo, "cannot read the file"));
    return r;
  }
  std::vector<IncidentRecord> out;
  std::string l;
  std::size_t n = 0;
  while (std::getline(in, l)) {
    ++n;
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (l.find_first_not_of(" \t") == std::string::npos) continue;
    const auto j = nlohmann::json::parse(l, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      r.errors.push_back(line_error(path, n, errc::kConfigSyntax, "not a JSON object"));
      if (r.errors.size() >= 20) break;
      continue;
    }
    IncidentRecord rec;
    rec.line = n;
    bool ok = true;
    for (const auto& f : opt.text_fields) {
      auto it = j.find(f);
      if (it == j.end() || !it->is_string()) {
        r.errors.push_back(line_error(path, n, errc::kConfigMissingKey, "field '" + f + "' is missing or not a string"));
        ok = false;
        break;
      }
      const std::string v = it->get<std::string>();
      if (v.empty()) continue;
      if (!rec.text.empty()) rec.text += (rec.text.back() == '.' ? " " : ". ");
      rec.text += v;
    }
    auto id_of = [&](const std::string& f) -> std::optional<std::string> {
      auto it = j.find(f);
      if (it == j.end()) return std::nullopt;
      if (it->is_string()) return it->get<std::string>();
      if (it->is_number_integer()) return std::to_string(it->get<long long>());
      return std::nullopt;
    };
    rec.id = id_of(opt.id_field).value_or(id_of("incident_id").value_or(std::to_string(n)));
    if (ok && !opt.label_field.empty()) {
      auto it = j.find(opt.label_field);
      std::optional<VerdictClass> c;
      if (it != j.end() && it->is_string()) c = parse_verdict_class(it->get<std::string>());
      if (!c || incident_class_index(*c) < 0) {
        r.errors.push_back(line_error(path, n, errc::kConfigInvalidValue,
                                      "label field '" + opt.label_field + "' must be safety, security or hybrid" +
                                          (it != j.end() && it->is_string() ? " (got '" + it->get<std::string>() + "')" : "")));
        ok = false;
      }
      rec.label = c;
    }
    if (ok) out.push_back(std::move(rec));
    if (r.errors.size() >= 20) break;
  }
  if (r.errors.empty()) r.value = std::move(out);
  return r;
}

IncidentEvaluation evaluate_incidents(const std::vector<int>& reference, const std::vector<int>& predicted) {
  IncidentEvaluation e;
  e.agreement = eval::agreement(reference, predicted, static_cast<int>(kIncidentClasses.size()));
  std::size_t same = 0, n = 0;
  for (std::size_t i = 0; i < reference.size() && i < predicted.size(); ++i) {
    ++n;
    same += (reference[i] == 0) == (predicted[i] == 0);
  }
  e.intent_accuracy = eval::ratio(same, n);
  return e;
}

nlohmann::json evaluation_json(const IncidentEvaluation& e) {
  const auto& a = e.agreement;
  nlohmann::json classes = nlohmann::json::object(), confusion = nlohmann::json::object();
  for (std::size_t c = 0; c < kIncidentClasses.size() && c < a.matrix.size(); ++c) {
    const std::string name(to_string(kIncidentClasses[c]));
    classes[name] = {{"precision", a.precision[c]}, {"recall", a.recall[c]}, {"f1", a.f1[c]}, {"support", a.support[c]}};
    nlohmann::json row = nlohmann::json::object();
    for (std::size_t p = 0; p < kIncidentClasses.size(); ++p) row[std::string(to_string(kIncidentClasses[p]))] = a.matrix[c][p];
    confusion[name] = row;
  }
  return {{"n", a.n}, {"accuracy", a.accuracy}, {"kappa", a.kappa}, {"intent_accuracy", e.intent_accuracy},
          {"classes", classes}, {"confusion", confusion}};
}

std::string evaluation_text(const IncidentEvaluation& e) {
  const auto& a = e.agreement;
  std::ostringstream o;
  o << std::fixed << std::setprecision(3);
  o << "incidents " << a.n << "  accuracy " << a.accuracy << "  Cohen's kappa " << a.kappa << "  intent accuracy "
    << e.intent_accuracy << "\n";
  o << "class      precision  recall   f1       support   predicted as: safety security hybrid\n";
  for (std::size_t c = 0; c < kIncidentClasses.size() && c < a.matrix.size(); ++c) {
    const std::string name(to_string(kIncidentClasses[c]));
    o << std::left << std::setw(11) << name << std::right << std::setw(9) << a.precision[c] << std::setw(9) << a.recall[c]
      << std::setw(9) << a.f1[c] << std::setw(10) << a.support[c] << "   ";
    for (std::size_t p = 0; p < kIncidentClasses.size(); ++p) o << std::setw(7) << a.matrix[c][p];
    o << "\n";
  }
  return o.str();
}

}  // namespace dg::threat
