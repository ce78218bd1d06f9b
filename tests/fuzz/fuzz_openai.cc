// The gateway's reading of client and upstream bytes: OpenAI request bodies (chat and completions),
// answers (response text, redaction by spans, token log-probabilities) and server-sent event streams (split at a fuzzed point).
// Invariants: no crash, pieces lie inside the joined text, redaction never grows a span into a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gateway/openai.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using json = nlohmann::ordered_json;
  const std::string in(reinterpret_cast<const char*>(data), size);
  const json body = json::parse(in, nullptr, false);
  if (!body.is_discarded()) {
    dg::gateway::RequestParts p;
    dg::gateway::parse_chat_request(body, p);
    for (const auto& pc : p.prompt_pieces)
      if (pc.offset + pc.size > p.prompt.size()) __builtin_trap();
    dg::gateway::parse_completion_request(body, p);
    json answer = body;
    std::vector<dg::gateway::Piece> pieces;
    const std::string text = dg::gateway::response_text(answer, pieces);
    for (const auto& pc : pieces)
      if (pc.offset + pc.size > text.size()) __builtin_trap();
    dg::Finding f;
    f.role = dg::Role::response;
    f.redactable = true;
    f.spans = {{0, static_cast<std::uint32_t>(text.size() / 2)}, {static_cast<std::uint32_t>(text.size() / 3), static_cast<std::uint32_t>(text.size() + 7)}};
    dg::gateway::redact_answer(answer, pieces, {f});
    dg::gateway::usage_tokens(answer);
    std::vector<dg::TokenLogprob> lps;
    if (dg::gateway::answer_logprobs(body, lps))
      for (const auto& t : lps)
        if (!(t.logprob <= 0.0)) __builtin_trap();
    std::string why;
    lps.clear();
    if (!dg::parse_logprobs(body, lps, why) && why.empty()) __builtin_trap();
    std::string t;
    dg::gateway::chunk_text(body, t);
    dg::gateway::rewrite_chunk(body, t);
  }
  dg::gateway::SseParser sse;
  const std::size_t cut = size ? data[0] % (size + 1) : 0;
  sse.feed(in.substr(0, cut));
  sse.feed(in.substr(cut));
  for (const auto& ev : sse.take()) {
    const json c = json::parse(ev, nullptr, false);
    std::string t;
    if (!c.is_discarded()) dg::gateway::chunk_text(c, t);
  }
  return 0;
}
