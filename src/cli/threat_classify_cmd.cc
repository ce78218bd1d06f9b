// `dualguard threat classify`: incident narratives in, {"id", "class", "intent", "confidence",
// "rationale"} per line out; --eval against labels; --atlas classifies MITRE ATLAS case studies
// (all adversarial) as a check. The work is in src/threat/incident*.h.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/errors.h"
#include "policy/config.h"
#include "threat/incident.h"
#include "threat/incident_set.h"
#include "threat/model.h"

namespace dg::cli {
namespace {

struct ClassifyOptions {
  std::string file, model, atlas, out, report;
  std::vector<std::string> fields;
  std::string id_field = "id", label_field = "label";
  bool eval = false;
};

int errors_out(const LoadErrors& errors, const std::string& what) {
  for (const auto& e : errors) std::cerr << e.format() << "\n";
  std::cerr << "dualguard threat classify: " << what << " (" << errors.size() << " error(s))\n";
  return kExitInput;
}

nlohmann::json line_json(const std::string& id, const threat::IncidentResult& r) {
  nlohmann::json cues = nlohmann::json::array(), words = nlohmann::json::array();
  for (const auto& x : r.reasons) {
    if (!x.meaning.empty()) cues.push_back({{"cue", x.feature.substr(4)}, {"text", x.evidence}, {"contribution", x.contribution}});
    else words.push_back({{"term", x.feature}, {"contribution", x.contribution}});
  }
  nlohmann::json p = nlohmann::json::object();
  for (std::size_t c = 0; c < threat::kIncidentClasses.size(); ++c) p[std::string(to_string(threat::kIncidentClasses[c]))] = r.probability[c];
  return {{"id", id},         {"class", to_string(r.cls)}, {"intent", r.intent},   {"actor", r.actor},
          {"confidence", r.confidence}, {"rationale", r.rationale}, {"probabilities", p}, {"cues", cues}, {"terms", words}};
}

int run(const ClassifyOptions& o, const std::string& global_config) {
  if (o.file.empty() && o.atlas.empty()) {
    std::cerr << "dualguard threat classify: give --file incidents.jsonl, --atlas ATLAS.yaml, or both\n";
    return kExitUsage;
  }
  if (o.eval && o.file.empty()) {
    std::cerr << "dualguard threat classify: --eval needs --file with labelled incidents\n";
    return kExitUsage;
  }
  const std::string config_path = !global_config.empty() ? global_config : policy::find_default_config();
  auto cfg = policy::load_config(config_path);
  if (!cfg.ok()) {
    for (const auto& e : cfg.errors) std::cerr << e.format() << "\n";
    std::cerr << "dualguard threat classify: config " << config_path << " does not load\n";
    return kExitUsage;
  }
  const std::string model_path = !o.model.empty() ? o.model : (std::filesystem::path(cfg.value->dir) / ".." / "models" / "incident_class.json").lexically_normal().string();
  LoadErrors integrity;
  cfg.value->integrity.check(model_path, integrity);
  if (!integrity.empty()) return errors_out(integrity, "the incident model is not trusted");
  auto model = threat::IncidentModel::load(model_path);
  if (!model.ok()) return errors_out(model.errors, "the incident model does not load");
  const auto& m = **model.value;

  std::ofstream file_out;
  if (!o.out.empty()) {
    file_out.open(o.out, std::ios::binary | std::ios::trunc);
    if (!file_out) {
      std::cerr << "dualguard threat classify: cannot write " << o.out << "\n";
      return kExitInput;
    }
  }
  std::ostream& out = o.out.empty() ? std::cout : file_out;
  nlohmann::json report = {{"model", model_path}, {"model_sha256", m.sha256()}};

  if (!o.file.empty()) {
    threat::IncidentReadOptions ro;
    if (!o.fields.empty()) ro.text_fields = o.fields;
    ro.id_field = o.id_field;
    if (o.eval) ro.label_field = o.label_field;
    auto recs = threat::read_incidents(o.file, ro);
    if (!recs.ok()) return errors_out(recs.errors, o.file + " does not read");
    std::vector<int> ref, pred;
    for (const auto& rec : *recs.value) {
      const auto r = m.classify(rec.text);
      auto j = line_json(rec.id, r);
      if (rec.label) {
        j["label"] = to_string(*rec.label);
        ref.push_back(threat::incident_class_index(*rec.label));
        pred.push_back(threat::incident_class_index(r.cls));
      }
      out << j.dump() << "\n";
    }
    if (o.eval) {
      const auto e = threat::evaluate_incidents(ref, pred);
      std::cerr << threat::evaluation_text(e);
      report["file"] = o.file;
      report["eval"] = threat::evaluation_json(e);
    }
  }
  if (!o.atlas.empty()) {
    auto atlas = threat::load_atlas(o.atlas);
    if (!atlas.ok()) return errors_out(atlas.errors, "ATLAS catalog " + o.atlas + " does not load");
    std::size_t adversarial = 0;
    nlohmann::json missed = nlohmann::json::array();
    for (const auto& cs : atlas.value->case_studies) {
      const auto r = m.classify(cs.name + ". " + cs.summary);
      if (r.cls != VerdictClass::safety) ++adversarial;
      else missed.push_back(cs.id);
      auto j = line_json(cs.id, r);
      j["source"] = "atlas";
      out << j.dump() << "\n";
    }
    const std::size_t n = atlas.value->case_studies.size();
    std::cerr << "ATLAS case studies: " << adversarial << "/" << n << " classified as intentional (security or hybrid)"
              << (n ? " = " + std::to_string(static_cast<int>(std::lround(1000.0 * adversarial / n)) / 10.0).substr(0, 4) + "%" : "") << "\n";
    report["atlas"] = {{"file", o.atlas}, {"case_studies", n}, {"intentional", adversarial}, {"missed", missed}};
  }
  out.flush();
  if (!out) {
    std::cerr << "dualguard threat classify: cannot write the output\n";
    return kExitInput;
  }
  if (!o.report.empty()) {
    std::ofstream rep(o.report, std::ios::binary | std::ios::trunc);
    rep << report.dump(2) << "\n";
    if (!rep) {
      std::cerr << "dualguard threat classify: cannot write " << o.report << "\n";
      return kExitInput;
    }
  }
  return kExitOk;
}

}  // namespace

void add_threat_classify(CLI::App& app) {
  auto* cmd = threat_group(app)->add_subcommand(
      "classify",
      "classify AI-incident narratives as safety / security / hybrid by the intent principle (JSONL out: id, class, intent, "
      "confidence, rationale); --eval against labels (accuracy, per-class precision / recall, Cohen's kappa)");
  auto o = std::make_shared<ClassifyOptions>();
  cmd->add_option("--file", o->file, "incidents, one JSON object per line");
  cmd->add_option("--field", o->fields, "text field(s), joined with \". \" (repeatable, e.g. --field title --field description; default text)");
  cmd->add_option("--id-field", o->id_field, "id field (default id, then incident_id, then the line number)");
  cmd->add_option("--label-field", o->label_field, "with --eval: the expert label field, safety | security | hybrid (default label)");
  cmd->add_flag("--eval", o->eval, "compare with the labels; the report goes to stderr (and --report)");
  cmd->add_option("--atlas", o->atlas, "MITRE ATLAS.yaml: also classify its case studies (all adversarial) and report how many read as intentional");
  cmd->add_option("--model", o->model, "incident model (default models/incident_class.json beside the config folder)");
  cmd->add_option("--out", o->out, "JSONL output file (default stdout)");
  cmd->add_option("--report", o->report, "write the evaluation (and the ATLAS check) as JSON here");
  cmd->callback([o, &app] {
    const int rc = run(*o, threat_global_config(app));
    if (rc != kExitOk) throw CLI::RuntimeError(rc);
  });
}

}  // namespace dg::cli
