// Human-readable verdicts for `scan --format pretty`: one block per input, spans highlighted in the
// original text, coloured when writing to a terminal.
#pragma once

#include <string>
#include <string_view>

#include "core/finding.h"
#include "core/verdict_json.h"

namespace dg::cli {

// `text` is the text shown (of role `shown`); only spans of findings on that role are highlighted.
std::string pretty_verdict(const ojson& id, const Verdict& v, std::string_view text, Role shown, bool color);
std::string pretty_error(const ojson& id, std::string_view code, std::string_view message, bool color);

}  // namespace dg::cli
