// Reading scan inputs: one JSON object per line (JSONL), or one plain-text line. Shared by
// `dualguard scan`, the evaluator and the fuzz target. Never throws; malformed input becomes an
// InputRecord with a stable error code.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/logprobs.h"
#include "core/verdict_json.h"

namespace dg {

struct InputRecord {
  ojson id;                    // the line's "id" (string or number) or its 0-based line number
  std::string error_code;      // empty when the record is usable
  std::string error_message;
  bool exchange = false;       // prompt / response / context / system fields were given
  std::string text;            // single-text input
  std::string system, prompt, response;
  std::vector<std::string> context;
  std::vector<TokenLogprob> logprobs;  // the response's token log-probabilities ("logprobs"), when given
  bool has_system = false, has_prompt = false, has_response = false;

  bool ok() const noexcept { return error_code.empty(); }
};

struct InputOptions {
  std::string field;                        // take the text from this field; "" = auto
  std::size_t max_line_bytes = 64u << 20;   // longer lines are rejected (input_too_large)
};

// Parses one JSONL line. Auto mode: an object with "prompt" / "response" / "context" is an exchange;
// otherwise "text" is the input; a bare JSON string is the input. An exchange may carry the
// response's "logprobs" (core/logprobs.h shapes).
InputRecord parse_jsonl_line(std::string_view line, std::size_t line_no, const InputOptions& opt);

}  // namespace dg
