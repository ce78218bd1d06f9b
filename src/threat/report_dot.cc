#include "threat/report.h"

namespace dg::threat {
namespace {

std::string q(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (c == '\n') {
      o += "\\n";
      continue;
    }
    o += c;
  }
  return o + "\"";
}

}  // namespace

// Mechanisms are boxes (safety green, security blue); an edge A -> B reads "A relies on B". Risks are
// ellipses linked to their mitigations; unprotected safety mechanisms and unmitigated risks are red.
std::string render_dot(const Analysis& a) {
  const Model& m = *a.model;
  std::string o = "digraph threat {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n  label=" + q(m.name) + ";\n";
  auto unprotected = [&](const std::string& id) {
    for (const auto& u : a.unprotected)
      if (u.mechanism == id) return true;
    return false;
  };
  auto rank = [&](const std::string& id) {
    for (const auto& c : a.chokepoints)
      if (c.control == id) return c.rank;
    return 0;
  };
  for (const char* layer : {"security", "safety"}) {
    o += std::string("  subgraph cluster_") + layer + " {\n    label=" + q(std::string(layer) + " layer") + ";\n";
    for (const auto& x : m.mechanisms) {
      if (to_string(x.layer) != layer) continue;
      const bool sec = x.layer == Layer::security;
      std::string attrs = "shape=box, style=filled, fillcolor=" + q(sec ? "#dbe8f7" : "#dcf2dc");
      if (!sec && unprotected(x.id)) attrs += ", color=\"#b00020\", penwidth=2";
      if (int r = rank(x.id)) attrs += ", penwidth=" + std::to_string(r == 1 ? 3 : 2) + ", xlabel=" + q("chokepoint #" + std::to_string(r));
      o += "    " + q(x.id) + " [label=" + q(x.id + "\n" + x.title) + ", " + attrs + "];\n";
    }
    o += "  }\n";
  }
  for (const auto& [from, tos] : a.relies)
    for (const auto& to : tos) o += "  " + q(from) + " -> " + q(to) + ";\n";
  for (const auto& rr : a.risks) {
    const Risk& r = *rr.risk;
    const char* fill = rr.c.cls == VerdictClass::safety ? "#e9f7e9" : rr.c.cls == VerdictClass::security ? "#e8f0fb" : "#f7ecd9";
    std::string attrs = std::string("shape=ellipse, style=filled, fillcolor=\"") + fill + "\"";
    if (r.mitigations.empty()) attrs += ", color=\"#b00020\", penwidth=2";
    o += "  " + q(r.id) + " [label=" + q(r.id + " (" + std::string(class_name(rr.c.cls)) + ")\n" + r.title) + ", " + attrs + "];\n";
    for (const auto& mit : r.mitigations) o += "  " + q(r.id) + " -> " + q(mit) + " [style=dashed, color=\"#888888\"];\n";
  }
  o += "}\n";
  return o;
}

}  // namespace dg::threat
