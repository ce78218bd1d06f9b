// The outputs of `dualguard threat analyze`: JSON (the contract scripts rely on, schema
// dualguard.threat/1), Markdown, Graphviz DOT and a self-contained HTML report with the
// cross-dependency graph drawn as inline SVG (layout computed here; no Graphviz at run time).
// Every renderer is deterministic: the same analysis gives the same bytes (golden tests).
#pragma once

#include <string>

#include "core/verdict_json.h"
#include "threat/analyze.h"

namespace dg::threat {

inline constexpr const char* kThreatSchemaVersion = "dualguard.threat/1";

ojson to_json(const Analysis& a);
std::string render_json(const Analysis& a);      // to_json, indented, with a final newline
std::string render_markdown(const Analysis& a);
std::string render_dot(const Analysis& a);
std::string render_html(const Analysis& a);

}  // namespace dg::threat
