#include <algorithm>
#include <map>

#include "eval/svg.h"
#include "threat/report.h"

namespace dg::threat {
namespace {

using eval::svg::html_escape;

std::string list(const std::vector<std::string>& v, const char* none = "&mdash;") {
  if (v.empty()) return none;
  std::string o;
  for (const auto& s : v) o += (o.empty() ? "" : ", ") + html_escape(s);
  return o;
}

constexpr int kColW = 230, kNodeW = 190, kNodeH = 46, kRowH = 66, kPad = 24;

// A layered drawing of the reliance graph: a mechanism sits one column right of the rightmost
// mechanism it relies on (longest path; cycles are cut at the node count), so protection flows left
// to right and the security controls that everything rests on stand in the first columns. Within a
// column, nodes are ordered by the mean row of what they rely on (one barycentre pass).
std::string graph_svg(const Analysis& a) {
  const Model& m = *a.model;
  const int n = static_cast<int>(m.mechanisms.size());
  if (n == 0) return "<p class=\"muted\">No mechanisms.</p>";
  std::map<std::string, int> level;
  for (const auto& x : m.mechanisms) level[x.id] = 0;
  for (int pass = 0; pass < n; ++pass) {
    bool changed = false;
    for (const auto& [from, tos] : a.relies)
      for (const auto& to : tos)
        if (level[from] < std::min(level[to] + 1, n - 1)) {
          level[from] = std::min(level[to] + 1, n - 1);
          changed = true;
        }
    if (!changed) break;
  }
  int cols = 0;
  for (const auto& [id, l] : level) cols = std::max(cols, l + 1);
  std::vector<std::vector<std::string>> column(cols);
  for (const auto& x : m.mechanisms) column[level[x.id]].push_back(x.id);
  std::map<std::string, double> row;
  for (auto& c : column)
    for (std::size_t i = 0; i < c.size(); ++i) row[c[i]] = static_cast<double>(i);
  for (int c = 1; c < cols; ++c) {
    std::map<std::string, double> bary;
    for (const auto& id : column[c]) {
      double sum = 0;
      int k = 0;
      for (const auto& to : a.relies.at(id)) sum += row[to], ++k;
      bary[id] = k ? sum / k : row[id];
    }
    std::stable_sort(column[c].begin(), column[c].end(), [&](const std::string& x, const std::string& y) { return bary[x] < bary[y]; });
    for (std::size_t i = 0; i < column[c].size(); ++i) row[column[c][i]] = static_cast<double>(i);
  }
  std::size_t rows = 0;
  for (const auto& c : column) rows = std::max(rows, c.size());
  const int width = kPad * 2 + cols * kColW - (kColW - kNodeW);
  const int height = kPad * 2 + static_cast<int>(rows) * kRowH + 30;
  auto x_of = [&](const std::string& id) { return kPad + level[id] * kColW; };
  auto y_of = [&](const std::string& id) { return kPad + 30 + static_cast<int>(row[id]) * kRowH; };
  auto unprotected = [&](const std::string& id) {
    return std::any_of(a.unprotected.begin(), a.unprotected.end(), [&](const Unprotected& u) { return u.mechanism == id; });
  };
  auto rank = [&](const std::string& id) {
    for (const auto& c : a.chokepoints)
      if (c.control == id) return c.rank;
    return 0;
  };

  std::string o = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"cross-dependency graph\" viewBox=\"0 0 " +
                  std::to_string(width) + " " + std::to_string(height) + "\" width=\"" + std::to_string(width) + "\" height=\"" +
                  std::to_string(height) + "\">";
  o += "<defs><marker id=\"arr\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">"
       "<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#777\"/></marker></defs>";
  o += "<text x=\"" + std::to_string(kPad) + "\" y=\"" + std::to_string(kPad + 10) +
       "\" font-size=\"12\" fill=\"#555\">arrow: protects / enables &#8594; (the target relies on the source)</text>";
  for (const auto& [from, tos] : a.relies)
    for (const auto& to : tos) {
      const int x1 = x_of(to) + kNodeW, y1 = y_of(to) + kNodeH / 2;
      int x2 = x_of(from), y2 = y_of(from) + kNodeH / 2;
      std::string d;
      if (level[to] < level[from]) {
        const int mx = (x1 + x2) / 2;
        d = "M" + std::to_string(x1) + "," + std::to_string(y1) + " C" + std::to_string(mx) + "," + std::to_string(y1) + " " +
            std::to_string(mx) + "," + std::to_string(y2) + " " + std::to_string(x2) + "," + std::to_string(y2);
      } else {  // same column or a cycle: an arc on the right
        x2 = x_of(from) + kNodeW;
        const int bulge = x1 + 40;
        d = "M" + std::to_string(x1) + "," + std::to_string(y1) + " C" + std::to_string(bulge) + "," + std::to_string(y1) + " " +
            std::to_string(bulge) + "," + std::to_string(y2) + " " + std::to_string(x2) + "," + std::to_string(y2);
      }
      o += "<path d=\"" + d + "\" fill=\"none\" stroke=\"#999\" stroke-width=\"1.3\" marker-end=\"url(#arr)\"><title>" +
           html_escape(from + " relies on " + to) + "</title></path>";
    }
  for (const auto& x : m.mechanisms) {
    const bool sec = x.layer == Layer::security;
    const int r = rank(x.id);
    const bool bad = !sec && unprotected(x.id);
    const std::string stroke = bad ? "#b00020" : r == 1 ? "#222" : sec ? "#4a7ab8" : "#4f9a4f";
    const int sw = bad || r ? (r == 1 ? 3 : 2) : 1;
    const int px = x_of(x.id), py = y_of(x.id);
    o += "<g><title>" + html_escape(x.id + " (" + std::string(to_string(x.layer)) + "): " + (x.description.empty() ? x.title : x.description)) + "</title>";
    o += "<rect x=\"" + std::to_string(px) + "\" y=\"" + std::to_string(py) + "\" width=\"" + std::to_string(kNodeW) + "\" height=\"" +
         std::to_string(kNodeH) + "\" rx=\"6\" fill=\"" + (sec ? "#dbe8f7" : "#dcf2dc") + "\" stroke=\"" + stroke +
         "\" stroke-width=\"" + std::to_string(sw) + "\"" + (bad ? " stroke-dasharray=\"5,3\"" : "") + "/>";
    std::string label = x.id;
    if (label.size() > 28) label = label.substr(0, 27) + "…";
    std::string title = x.title;
    if (title.size() > 30) title = title.substr(0, 29) + "…";
    o += "<text x=\"" + std::to_string(px + 8) + "\" y=\"" + std::to_string(py + 18) + "\" font-size=\"12\" font-weight=\"600\">" +
         html_escape(label) + "</text>";
    o += "<text x=\"" + std::to_string(px + 8) + "\" y=\"" + std::to_string(py + 35) + "\" font-size=\"11\" fill=\"#444\">" +
         html_escape(title) + "</text>";
    if (r) o += "<text x=\"" + std::to_string(px + kNodeW - 6) + "\" y=\"" + std::to_string(py + 18) +
                "\" font-size=\"11\" text-anchor=\"end\" fill=\"#b00020\">#" + std::to_string(r) + "</text>";
    o += "</g>";
  }
  o += "</svg>";
  return o;
}

std::string badge(VerdictClass c) {
  const char* bg = c == VerdictClass::safety ? "#dcf2dc" : c == VerdictClass::security ? "#dbe8f7" : "#f7e3c4";
  return std::string("<span style=\"background:") + bg + ";padding:1px 6px;border-radius:8px;font-weight:600\">" +
         std::string(class_name(c)) + "</span>";
}

}  // namespace

std::string render_html(const Analysis& a) {
  const Model& m = *a.model;
  std::string o = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>dualguard threat: " + html_escape(m.name) + "</title>";
  o += eval::svg::stylesheet();
  o += "</head><body>\n<h1>Threat analysis: " + html_escape(m.name) + "</h1>\n";
  if (!m.description.empty()) o += "<p>" + html_escape(m.description) + "</p>\n";
  o += "<p class=\"muted\">Model <code>" + html_escape(m.file) + "</code>. Schema " + kThreatSchemaVersion + ".</p>\n";
  o += "<table class=\"meta\">";
  o += "<tr><td>risks</td><td>" + std::to_string(m.risks.size()) + ": " + std::to_string(a.count(VerdictClass::safety)) + " safety, " +
       std::to_string(a.count(VerdictClass::security)) + " security, " + std::to_string(a.count(VerdictClass::hybrid)) + " hybrid</td></tr>";
  o += "<tr><td>chokepoints</td><td>" + std::to_string(a.chokepoints.size()) + "</td></tr>";
  o += "<tr><td>unprotected safety mechanisms</td><td" + std::string(a.unprotected.empty() ? ">" : " class=\"bad\">") +
       std::to_string(a.unprotected.size()) + "</td></tr>";
  o += "<tr><td>unmitigated risks</td><td" + std::string(a.unmitigated.empty() ? ">" : " class=\"bad\">") + std::to_string(a.unmitigated.size()) +
       "</td></tr>";
  if (!m.context.sector.empty()) o += "<tr><td>sector</td><td>" + html_escape(m.context.sector) + "</td></tr>";
  if (!m.context.exposure.empty() || !m.context.autonomy.empty())
    o += "<tr><td>context</td><td>exposure " + html_escape(m.context.exposure) + ", autonomy " + html_escape(m.context.autonomy) +
         ", data sensitivity " + html_escape(m.context.data_sensitivity) + "</td></tr>";
  o += "</table>\n";

  o += "<h2>Cross-dependency graph</h2>\n<p class=\"muted\">Blue: security controls; green: safety mechanisms. Red dashed: an unprotected "
       "safety mechanism. #n: chokepoint rank. Hover a node or an edge for details.</p>\n";
  o += graph_svg(a) + "\n";

  o += "<h2>Risks</h2>\n<table><tr><th>id</th><th>risk</th><th>class</th><th>rationale</th><th>severity</th><th>mitigations</th></tr>";
  for (const auto& rr : a.risks)
    o += "<tr><td>" + html_escape(rr.risk->id) + "</td><td>" + html_escape(rr.risk->title) + "</td><td>" + badge(rr.c.cls) + "</td><td>" +
         html_escape(rr.c.rationale) + "</td><td>" + std::string(to_string(rr.risk->severity)) + "</td><td>" +
         list(rr.risk->mitigations, "<span class=\"bad\">none</span>") + "</td></tr>";
  o += "</table>\n";

  o += "<h2>Chokepoints</h2>\n";
  if (a.chokepoints.empty()) o += "<p>No security control protects a safety mechanism.</p>\n";
  else {
    o += "<table><tr><th>rank</th><th>control</th><th>safety mechanisms one compromise disables</th><th>risks left unmitigated</th><th>risks weakened</th></tr>";
    for (const auto& c : a.chokepoints)
      o += "<tr><td class=\"n\">" + std::to_string(c.rank) + "</td><td>" + html_escape(c.control) + "</td><td>" + std::to_string(c.safety.size()) +
           ": " + list(c.safety) + "</td><td>" + list(c.risks_exposed) + "</td><td>" + list(c.risks_weakened) + "</td></tr>";
    o += "</table>\n";
  }

  o += "<h2>Unprotected safety mechanisms</h2>\n";
  if (a.unprotected.empty()) o += "<p class=\"good\">None.</p>\n";
  else {
    o += "<ul>";
    for (const auto& u : a.unprotected) o += "<li><b>" + html_escape(u.mechanism) + "</b>: " + list(u.reasons) + "</li>";
    o += "</ul>\n";
  }
  o += "<h2>Unmitigated risks</h2>\n";
  if (a.unmitigated.empty()) o += "<p class=\"good\">None.</p>\n";
  else {
    o += "<ul>";
    for (const auto& id : a.unmitigated) o += "<li><b>" + html_escape(id) + "</b> " + html_escape(m.risk(id)->title) + "</li>";
    o += "</ul>\n";
  }

  o += "<h2>Coverage by the live policy</h2>\n";
  if (!a.has_live) o += "<p class=\"muted\">Not computed (no config).</p>\n";
  else {
    o += "<p class=\"muted\">Config <code>" + html_escape(a.config) + "</code>, policy <code>" + html_escape(a.policy) + "</code>.</p>";
    o += "<table><tr><th>risk</th><th>status</th><th>enabled controls</th><th>policy rules</th><th>switched off</th></tr>";
    for (const auto& rr : a.risks) {
      const bool good = rr.coverage.status == "covered";
      o += "<tr><td>" + html_escape(rr.risk->id) + "</td><td class=\"" + (good ? "good" : "bad") + "\">" + rr.coverage.status + "</td><td>" +
           list(rr.coverage.controls) + "</td><td>" + list(rr.coverage.rules) + "</td><td>" + list(rr.coverage.disabled) + "</td></tr>";
    }
    o += "</table>\n";
    if (!a.mechanism_gaps.empty()) {
      o += "<p>Mechanisms implemented by a detector the config switches off:</p><ul>";
      for (const auto& [mech, det] : a.mechanism_gaps) o += "<li>" + html_escape(mech) + ": <code>" + html_escape(det) + "</code></li>";
      o += "</ul>\n";
    }
  }

  o += "<h2>MITRE ATLAS and OWASP LLM Top 10 (2025)</h2>\n";
  if (!a.atlas_file.empty())
    o += "<p class=\"muted\">ATLAS " + html_escape(a.atlas_version) + " from <code>" + html_escape(a.atlas_file) + "</code>.</p>";
  o += "<table><tr><th>risk</th><th>ATLAS techniques</th><th>OWASP</th></tr>";
  for (const auto& rr : a.risks) {
    std::vector<std::string> t, w;
    for (const auto& x : rr.atlas) t.push_back(x.id + (x.name.empty() ? "" : " " + x.name));
    for (const auto& [id, name] : rr.owasp) w.push_back(id + " " + name);
    o += "<tr><td>" + html_escape(rr.risk->id) + "</td><td>" + list(t) + "</td><td>" + list(w) + "</td></tr>";
  }
  o += "</table>\n";

  o += "<h2>Failure signatures</h2>\n<table><tr><th>signature</th><th>status</th><th>risks</th><th>question</th></tr>";
  for (const auto& c : a.checklist)
    o += "<tr><td>" + html_escape(c.title) + "</td><td class=\"" + (c.status == "mitigated" ? "good" : "bad") + "\">" + c.status +
         "</td><td>" + list(c.risks) + (c.unmitigated.empty() ? "" : " (unmitigated: " + list(c.unmitigated) + ")") + "</td><td>" +
         html_escape(c.question) + "</td></tr>";
  o += "</table>\n</body></html>\n";
  return o;
}

}  // namespace dg::threat
