// The OpenAI wire formats as the gateway sees them: which parts of a request are prompt, context and
// system prompt; which parts of an answer are the response; rewriting an answer for redaction; and
// server-sent events. Pure functions over nlohmann::ordered_json, no I/O; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/finding.h"
#include "core/logprobs.h"

namespace dg::gateway {

// One piece of scanned text and where it came from ("messages[2]", "prompt[0]", "choices[0]").
struct Piece {
  std::string param;
  std::size_t offset = 0;  // start in the joined text
  std::size_t size = 0;
};

// What the engine scans for one request.
struct RequestParts {
  std::string system;                // system / developer messages, joined
  bool has_system = false;
  std::string prompt;                // user messages and earlier assistant turns, joined with "\n\n"
  std::vector<Piece> prompt_pieces;  // where each message sits in `prompt`
  std::vector<std::string> context;  // tool / function results, one document each
  std::vector<std::string> context_params;
  bool stream = false;
  std::string model;
  std::uint64_t estimated_tokens = 0;  // prompt bytes / 4 + max_tokens (or 256)
};

// Text of an OpenAI `content` value: a string, or an array of parts whose `text` fields are joined.
// Non-text parts (images, audio) are skipped. Returns false for any other shape.
bool content_text(const nlohmann::ordered_json& content, std::string& out);

// Parses a /v1/chat/completions body. Earlier `assistant` turns are scanned with the prompt: the
// client wrote them (forged dialogue is a known jailbreak, "many-shot"). Returns "" or an error
// message for 400 invalid_request.
std::string parse_chat_request(const nlohmann::ordered_json& body, RequestParts& out);
// Parses a /v1/completions body (`prompt`: a string or a list of strings).
std::string parse_completion_request(const nlohmann::ordered_json& body, RequestParts& out);

// The response text of a non-streaming answer: every choice's message content (chat) or text
// (completions), and tool-call arguments, joined with "\n"; `pieces` locate each in the joined text.
std::string response_text(const nlohmann::ordered_json& answer, std::vector<Piece>& pieces);
// Rewrites the answer's texts with the redaction spans of `findings` (role response) that fall in
// each piece; the same pieces as response_text().
void redact_answer(nlohmann::ordered_json& answer, const std::vector<Piece>& pieces, const std::vector<Finding>& findings);

// Appends the token log-probabilities of every choice of an answer (or of one stream chunk) to
// `out`. Returns false, leaving `out` as it was, when a choice's `logprobs` is not a shape
// core/logprobs.h reads (the answer is then judged without them).
bool answer_logprobs(const nlohmann::ordered_json& answer, std::vector<TokenLogprob>& out);

// Total tokens reported by an answer's `usage`, 0 when absent.
std::uint64_t usage_tokens(const nlohmann::ordered_json& answer);

// The piece (its param) that contains byte `offset`, or "" when none does.
std::string param_at(const std::vector<Piece>& pieces, std::size_t offset);

// Applies `spans` (byte ranges in `text`) as "[REDACTED:LABEL]" cuts; overlapping spans merge.
struct Cut {
  std::size_t start = 0, end = 0;
  std::string label;
};
std::string apply_cuts(std::string_view text, std::vector<Cut> cuts);

// The text as the audit log stores it (redacted by `cuts` when `redact`), cut into segments for
// highlighting: [{"text", "findings": [i, ...]}], where i indexes `findings` and a segment lists the
// findings of `role` (context_index < 0) whose spans cover it. A redacted stretch is one segment
// "[REDACTED:LABEL]" that carries the findings covering its start. Adjacent segments with the same
// findings are merged; text past `max_bytes` is dropped and a final segment "…" marks the cut.
nlohmann::ordered_json highlight_segments(std::string_view text, const std::vector<Finding>& findings, Role role, bool redact,
                                          std::size_t max_bytes = 16384);

// Incremental parser of a text/event-stream body: feed() bytes as they arrive, take whole events.
// Only `data:` lines matter to OpenAI streams; multi-line data is joined with "\n".
class SseParser {
 public:
  void feed(std::string_view bytes);
  // Moves out complete events' data fields, in order.
  std::vector<std::string> take();
  // Bytes buffered but not yet a complete event (bounded by the caller).
  std::size_t pending() const noexcept { return buf_.size(); }

 private:
  std::string buf_;
  std::vector<std::string> events_;
};

// The text carried by one streamed chunk (choices[0].delta.content, choices[0].text, or tool-call
// argument fragments), appended to `out`. Returns false when the chunk carries none.
bool chunk_text(const nlohmann::ordered_json& chunk, std::string& out);
// A copy of `chunk` whose text is replaced by `text` (content of choice 0), finish_reason cleared.
nlohmann::ordered_json rewrite_chunk(const nlohmann::ordered_json& chunk, const std::string& text);

}  // namespace dg::gateway
