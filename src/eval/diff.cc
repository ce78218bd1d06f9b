#include "eval/diff.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "core/errors.h"
#include "eval/report.h"

namespace dg::eval {
namespace {

constexpr double kEps = 1e-9;  // float noise: equal reports give exactly equal numbers anyway

// Reads fields of one report; the first problem is kept and later reads are no-ops.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}
  const ojson* get(const ojson& obj, const char* key, const std::string& where) {
    if (!error_.empty()) return nullptr;
    if (!obj.is_object()) return fail(where + " is not an object");
    auto it = obj.find(key);
    if (it == obj.end()) return fail("missing field " + where + "." + key);
    return &*it;
  }
  std::optional<double> number(const ojson& obj, const char* key, const std::string& where, bool nullable = false) {
    const ojson* v = get(obj, key, where);
    if (!v) return std::nullopt;
    if (nullable && v->is_null()) return std::nullopt;
    if (!v->is_number()) {
      fail("field " + where + "." + key + " is not a number");
      return std::nullopt;
    }
    return v->get<double>();
  }
  std::string string(const ojson& obj, const char* key, const std::string& where) {
    const ojson* v = get(obj, key, where);
    if (!v) return {};
    if (!v->is_string()) {
      fail("field " + where + "." + key + " is not a string");
      return {};
    }
    return v->get<std::string>();
  }
  const ojson* array(const ojson& obj, const char* key, const std::string& where) {
    const ojson* v = get(obj, key, where);
    if (v && !v->is_array()) return fail("field " + where + "." + key + " is not an array");
    return v;
  }
  const ojson* fail(std::string msg) {
    if (error_.empty()) error_ = std::move(msg);
    return nullptr;
  }
  const std::string& error() const { return error_; }

 private:
  std::string file_;
  std::string error_;
};

std::string signed_fixed(double v, int decimals, const char* unit = "") {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%+.*f%s", decimals, v, unit);
  return buf;
}
std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

bool is_rate(const std::string& name) {
  return name.ends_with("_rate") || name.ends_with(".drop");
}

std::string show(const DiffEntry& e, std::optional<double> v) {
  if (!v) return "-";
  if (e.axis == Axis::speed) return fixed(*v, 1);
  return is_rate(e.name) ? fixed(100.0 * *v, 2) + "%" : fixed(*v, 4);
}

std::string show_delta(const DiffEntry& e) {
  if (!e.a || !e.b) return e.a ? "only in A" : "only in B";
  const double d = e.delta();
  if (e.axis == Axis::speed) {
    const std::string rel = *e.a != 0 ? " (" + signed_fixed(100.0 * d / *e.a, 1, "%") + ")" : "";
    return signed_fixed(d, 1) + rel;
  }
  return is_rate(e.name) ? signed_fixed(100.0 * d, 2, " pp") : signed_fixed(d, 4);
}

}  // namespace

std::string_view to_string(Axis a) noexcept {
  switch (a) {
    case Axis::detection: return "detection";
    case Axis::overblocking: return "overblocking";
    case Axis::mixed: return "mixed";
    case Axis::speed: return "speed";
  }
  return "mixed";
}

LoadResult<ojson> load_report_file(const std::string& path) {
  auto fail = [&](std::string_view code, std::string msg) {
    return LoadResult<ojson>::failure({LoadError{path, 0, 0, std::string(code), std::move(msg)}});
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(errc::kInputIo, "cannot read the report (missing or unreadable file)");
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = std::move(ss).str();
  ojson j = ojson::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(errc::kInvalidJson, "the report is not valid JSON");
  if (!j.is_object() || !j.contains("schema") || !j["schema"].is_string())
    return fail(errc::kEvalReport, "not a dualguard eval report (no \"schema\" field)");
  const std::string schema = j["schema"].get<std::string>();
  if (schema != kEvalSchema)
    return fail(errc::kEvalReport, "schema '" + schema + "' is not " + std::string(kEvalSchema) + " (made by another version; re-run the evaluation)");
  return LoadResult<ojson>::success(std::move(j));
}

LoadResult<std::vector<Metric>> flatten_report(const ojson& j, const std::string& file) {
  Reader r(file);
  std::vector<Metric> m;
  auto add = [&](std::string name, std::optional<double> v, Better b, Axis a, bool top) {
    if (v) m.push_back({std::move(name), *v, b, a, top});
  };
  if (const ojson* sets = r.array(j, "sets", "report")) {
    for (std::size_t i = 0; i < sets->size(); ++i) {
      const ojson& s = (*sets)[i];
      const std::string where = "sets[" + std::to_string(i) + "]";
      const std::string name = r.string(s, "name", where);
      const std::string label = r.string(s, "label", where);
      if (!r.error().empty()) break;
      if (label != "positive" && label != "negative") {
        r.fail("field " + where + ".label is neither positive nor negative");
        break;
      }
      const bool pos = label == "positive";
      const char* rate_key = pos ? "detection_rate" : "false_positive_rate";
      const Better better = pos ? Better::higher : Better::lower;
      const Axis axis = pos ? Axis::detection : Axis::overblocking;
      const std::string base = "sets." + name + ".";
      add(base + rate_key, r.number(s, rate_key, where), better, axis, true);
      for (const char* group : {"categories", "sources"}) {
        const ojson* gs = r.array(s, group, where);
        if (!gs) break;
        const std::string tag = std::string(group) == "categories" ? "category" : "source";
        for (std::size_t k = 0; k < gs->size(); ++k) {
          const std::string gw = where + "." + group + "[" + std::to_string(k) + "]";
          const std::string gname = r.string((*gs)[k], "name", gw);
          add(base + tag + "[" + gname + "]." + rate_key, r.number((*gs)[k], "rate", gw), better, axis, false);
        }
      }
      if (const ojson* ps = r.array(s, "perturbations", where)) {
        for (std::size_t k = 0; k < ps->size(); ++k) {
          const std::string pw = where + ".perturbations[" + std::to_string(k) + "]";
          const std::string t = r.string((*ps)[k], "transform", pw);
          add(base + "perturb." + t + ".detection_rate", r.number((*ps)[k], "rate", pw), Better::higher, Axis::detection, false);
          add(base + "perturb." + t + ".drop", r.number((*ps)[k], "drop", pw), Better::lower, Axis::detection, false);
        }
      }
      if (const ojson* lat = r.get(s, "latency_us", where)) {
        add(base + "latency_us.p50", r.number(*lat, "p50", where + ".latency_us"), Better::lower, Axis::speed, false);
        add(base + "latency_us.p99", r.number(*lat, "p99", where + ".latency_us"), Better::lower, Axis::speed, false);
      }
    }
  }
  if (const ojson* o = r.get(j, "overall", "report")) {
    add("overall.precision", r.number(*o, "precision", "overall"), Better::higher, Axis::mixed, true);
    add("overall.recall", r.number(*o, "recall", "overall"), Better::higher, Axis::detection, true);
    add("overall.f1", r.number(*o, "f1", "overall"), Better::higher, Axis::mixed, true);
    add("overall.false_positive_rate", r.number(*o, "false_positive_rate", "overall"), Better::lower, Axis::overblocking, true);
  }
  if (const ojson* ds = r.array(j, "detectors", "report")) {
    for (std::size_t k = 0; k < ds->size(); ++k) {
      const std::string w = "detectors[" + std::to_string(k) + "]";
      const std::string name = r.string((*ds)[k], "name", w);
      add("detectors." + name + ".auroc", r.number((*ds)[k], "auroc", w, /*nullable=*/true), Better::higher, Axis::mixed, true);
    }
  }
  if (const ojson* ps = r.array(j, "perturbations", "report")) {
    for (std::size_t k = 0; k < ps->size(); ++k) {
      const std::string w = "perturbations[" + std::to_string(k) + "]";
      const std::string t = r.string((*ps)[k], "transform", w);
      add("perturb." + t + ".detection_rate", r.number((*ps)[k], "rate", w), Better::higher, Axis::detection, true);
      add("perturb." + t + ".drop", r.number((*ps)[k], "drop", w), Better::lower, Axis::detection, true);
    }
  }
  if (const ojson* lat = r.get(j, "latency_us", "report")) {
    add("latency_us.p50", r.number(*lat, "p50", "latency_us"), Better::lower, Axis::speed, true);
    add("latency_us.p99", r.number(*lat, "p99", "latency_us"), Better::lower, Axis::speed, true);
  }
  if (const ojson* t = r.get(j, "throughput", "report")) {
    add("throughput.texts_per_s", r.number(*t, "texts_per_s", "throughput"), Better::higher, Axis::speed, true);
    add("throughput.mb_per_s", r.number(*t, "mb_per_s", "throughput"), Better::higher, Axis::speed, true);
  }
  if (!r.error().empty())
    return LoadResult<std::vector<Metric>>::failure({LoadError{file, 0, 0, std::string(errc::kEvalReport), r.error()}});
  return LoadResult<std::vector<Metric>>::success(std::move(m));
}

DiffResult diff_metrics(const std::vector<Metric>& a, const std::vector<Metric>& b, const DiffOptions& opt) {
  DiffResult d;
  std::map<std::string, const Metric*> in_b;
  for (const auto& m : b) in_b.emplace(m.name, &m);
  std::map<std::string, bool> in_a;
  for (const auto& m : a) in_a.emplace(m.name, true);
  for (const auto& ma : a) {
    auto it = in_b.find(ma.name);
    DiffEntry e{ma.name, ma.value, std::nullopt, ma.better, ma.axis, ma.top_level};
    if (it == in_b.end()) {
      d.moved.push_back(e);
      continue;
    }
    ++d.compared;
    e.b = it->second->value;
    const double delta = *e.b - *e.a;
    if (std::fabs(delta) <= kEps) continue;
    const double worse = ma.better == Better::higher ? -delta : delta;  // > 0: moved the wrong way
    e.improved = worse < 0;
    if (ma.axis == Axis::speed) {
      if (opt.max_latency_regression >= 0 && worse > 0) {
        // Ratio of the slower to the faster figure: latency up, or throughput down.
        const double lo = std::min(*e.a, *e.b), hi = std::max(*e.a, *e.b);
        e.regression = lo > 0 && hi / lo - 1.0 > opt.max_latency_regression + kEps;  // no ratio from 0
      }
    } else {
      e.regression = worse > opt.max_regression + kEps;
    }
    d.regressions += e.regression;
    d.moved.push_back(e);
  }
  for (const auto& mb : b)
    if (!in_a.count(mb.name)) d.moved.push_back({mb.name, std::nullopt, mb.value, mb.better, mb.axis, mb.top_level});

  // Cross-domain: one axis improved (a set-level figure) while the other regressed beyond the margin.
  auto first = [&](Axis axis, bool regression) -> const DiffEntry* {
    for (const auto& e : d.moved)
      if (e.axis == axis && e.a && e.b && (regression ? e.regression : (e.improved && e.top_level))) return &e;
    return nullptr;
  };
  auto describe = [&](const DiffEntry& e) { return e.name + " " + show(e, e.a) + " -> " + show(e, e.b) + " (" + show_delta(e) + ")"; };
  if (const DiffEntry *up = first(Axis::detection, false), *down = first(Axis::overblocking, true); up && down)
    d.cross_domain.push_back("detection improved (" + describe(*up) + ") while over-blocking regressed (" + describe(*down) + ")");
  if (const DiffEntry *up = first(Axis::overblocking, false), *down = first(Axis::detection, true); up && down)
    d.cross_domain.push_back("over-blocking improved (" + describe(*up) + ") while detection regressed (" + describe(*down) + ")");
  return d;
}

std::vector<std::string> provenance_notes(const ojson& a, const ojson& b) {
  std::vector<std::string> notes;
  auto str = [](const ojson& j, const char* k1, const char* k2) -> std::string {
    if (!j.contains(k1) || !j[k1].is_object() || !j[k1].contains(k2)) return {};
    return j[k1][k2].dump();
  };
  if (str(a, "config", "sha256") != str(b, "config", "sha256")) notes.push_back("the config files differ (sha256)");
  if (str(a, "config", "policy_sha256") != str(b, "config", "policy_sha256")) notes.push_back("the policy files differ (sha256)");
  if (str(a, "config", "overrides") != str(b, "config", "overrides"))
    notes.push_back("config overrides differ: " + str(a, "config", "overrides") + " vs " + str(b, "config", "overrides"));
  for (const char* k : {"field", "role", "flag_on", "limit", "seed"})
    if (str(a, "options", k) != str(b, "options", k))
      notes.push_back(std::string("option ") + k + " differs: " + str(a, "options", k) + " vs " + str(b, "options", k));
  if (a.contains("sets") && b.contains("sets") && a["sets"].is_array() && b["sets"].is_array())
    for (const auto& sa : a["sets"])
      for (const auto& sb : b["sets"])
        if (sa.is_object() && sb.is_object() && sa.value("name", "") == sb.value("name", "") &&
            (sa.value("sha256", "") != sb.value("sha256", "") || sa.value("n", 0) != sb.value("n", 0)))
          notes.push_back("set '" + sa.value("name", "") + "' has different inputs (file sha256 or n differ): metrics compare different data");
  return notes;
}

std::string render_diff_text(const DiffResult& d, const DiffOptions& opt, const std::string& a_path, const std::string& b_path) {
  std::string o = "eval diff: A = " + a_path + "\n           B = " + b_path + "\n";
  for (const auto& n : d.notes) o += "note: " + n + "\n";
  std::size_t w = 24;
  for (const auto& e : d.moved) w = std::max(w, e.name.size());
  auto pad = [](std::string s, std::size_t n) {
    if (s.size() < n) s.append(n - s.size(), ' ');
    return s;
  };
  if (!d.moved.empty()) {
    o += "\n" + pad("metric", w) + "  " + pad("A", 12) + pad("B", 12) + "delta\n";
    for (const auto& e : d.moved) {
      o += pad(e.name, w) + "  " + pad(show(e, e.a), 12) + pad(show(e, e.b), 12) + pad(show_delta(e), 20);
      if (e.regression)
        o += e.axis == Axis::speed ? "  REGRESSION (> " + fixed(100.0 * opt.max_latency_regression, 1) + "%)"
                                   : "  REGRESSION (> " + (is_rate(e.name) ? fixed(100.0 * opt.max_regression, 2) + " pp" : fixed(opt.max_regression, 4)) + ")";
      else if (e.a && e.b && e.axis != Axis::speed) o += e.improved ? "  better" : "  worse (within margin)";
      o += "\n";
    }
  }
  o += "\n" + std::to_string(d.compared) + " metrics compared, " + std::to_string(d.moved.size()) + " moved, " +
       std::to_string(d.regressions) + " regression(s) beyond the margin (quality " + fixed(opt.max_regression, 4) +
       (opt.max_latency_regression >= 0 ? ", speed " + fixed(100.0 * opt.max_latency_regression, 1) + "%" : ", speed not gated") + ")\n";
  for (const auto& c : d.cross_domain) o += "CROSS-DOMAIN REGRESSION: " + c + "\n";
  o += d.failed() ? "result: REGRESSION\n" : "result: ok\n";
  return o;
}

ojson diff_to_json(const DiffResult& d, const DiffOptions& opt, const std::string& a_path, const std::string& b_path) {
  ojson moved = ojson::array();
  for (const auto& e : d.moved) {
    ojson o{{"name", e.name},
            {"a", e.a ? ojson(*e.a) : ojson(nullptr)},
            {"b", e.b ? ojson(*e.b) : ojson(nullptr)},
            {"delta", e.a && e.b ? ojson(e.delta()) : ojson(nullptr)},
            {"axis", to_string(e.axis)},
            {"better", e.better == Better::higher ? "higher" : "lower"},
            {"regression", e.regression}};
    moved.push_back(std::move(o));
  }
  return {{"a", a_path},
          {"b", b_path},
          {"max_regression", opt.max_regression},
          {"max_latency_regression", opt.max_latency_regression >= 0 ? ojson(opt.max_latency_regression) : ojson(nullptr)},
          {"compared", d.compared},
          {"moved", moved},
          {"regressions", d.regressions},
          {"cross_domain", d.cross_domain},
          {"notes", d.notes},
          {"result", d.failed() ? "regression" : "ok"}};
}

}  // namespace dg::eval
