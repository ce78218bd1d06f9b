// libFuzzer target: parse_jsonl_line (the reader of `dualguard scan` inputs) on arbitrary bytes, in
// auto mode, with a field name (--field text) and with a small line limit, then rendered the way the
// CLI renders records. Checks: nothing throws; a record is either usable or carries a known error
// code and a message (invalid_logprobs included); log-probabilities are <= 0; the id is the line number, a string or a number; rendering never throws.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/errors.h"
#include "core/input_record.h"
#include "core/verdict_json.h"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_jsonl: invariant violated: %s\n", what);
  std::abort();
}

bool known_error(std::string_view code) {
  namespace e = dg::errc;
  return code == e::kInvalidJson || code == e::kMissingField || code == e::kFieldNotString || code == e::kInputTooLarge ||
         code == e::kInvalidLogprobs;
}

void check(std::string_view line, const dg::InputOptions& opt) {
  const dg::InputRecord r = dg::parse_jsonl_line(line, 7, opt);
  if (!(r.id.is_string() || r.id.is_number())) fail("id is a string or a number");
  if (r.ok()) {
    if (!r.error_message.empty()) fail("usable record without error message");
    if (!opt.field.empty() && r.exchange) fail("--field mode never yields an exchange");
    if (!r.exchange && (r.has_prompt || r.has_response || !r.context.empty() || !r.logprobs.empty()))
      fail("single-text record has exchange parts");
    for (const auto& t : r.logprobs)
      if (!(t.logprob <= 0.0) || t.top.size() > line.size()) fail("a log-probability is positive, NaN or has too many alternatives");
    // JSON string escapes only shrink: \uXXXX gives at most 3 UTF-8 bytes, a surrogate pair 4 for 12.
    if (r.text.size() > line.size() || r.prompt.size() > line.size() || r.response.size() > line.size() ||
        r.system.size() > line.size())
      fail("decoded text longer than the line");
    const dg::ojson out{{"id", r.id}, {"text", r.text}, {"prompt", r.prompt}, {"response", r.response}, {"context", r.context}};
    (void)out.dump(-1, ' ', false, dg::ojson::error_handler_t::replace);
  } else {
    if (!known_error(r.error_code)) fail("unknown error code");
    if (r.error_message.empty()) fail("error without message");
    (void)dg::input_error_to_json(r.id, r.error_code, r.error_message).dump(-1, ' ', false, dg::ojson::error_handler_t::replace);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  dg::InputOptions opt;
  check(line, opt);
  opt.field = "text";
  check(line, opt);
  opt.field = "prompt";
  opt.max_line_bytes = 64;
  check(line, opt);
  return 0;
}
