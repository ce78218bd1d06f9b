// The scan output contract (issue 2): one JSON object per input. Shared by `dualguard scan`, the
// gateway's /v1/scan and the evaluator so that every face prints the same shape.
#pragma once

#include <nlohmann/json.hpp>

#include "core/finding.h"

namespace dg {

using ojson = nlohmann::ordered_json;

ojson finding_to_json(const Finding& f);
// `id` is the input's "id" field or its 0-based line number.
ojson verdict_to_json(const ojson& id, const Verdict& v);
// Error record for an input that could not be read: {"id", "error": {"code", "message"}}.
ojson input_error_to_json(const ojson& id, std::string_view code, std::string_view message);

}  // namespace dg
