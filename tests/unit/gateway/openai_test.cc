// The OpenAI wire-format helpers and the gateway config section.
#include "gateway/openai.h"

#include <gtest/gtest.h>

#include "gateway/gateway_config.h"

namespace dg::gateway {
namespace {

using json = nlohmann::ordered_json;

TEST(OpenAi, ChatRolesBecomePromptContextAndSystem) {
  const json body = json::parse(R"({"model":"m","stream":true,"max_tokens":10,"messages":[
    {"role":"system","content":"You are a bank assistant."},
    {"role":"user","content":"first question"},
    {"role":"assistant","content":"an earlier answer"},
    {"role":"tool","content":"retrieved page text"},
    {"role":"user","content":[{"type":"text","text":"part one"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"part two"}]}]})");
  RequestParts p;
  ASSERT_EQ(parse_chat_request(body, p), "");
  EXPECT_TRUE(p.stream);
  EXPECT_EQ(p.model, "m");
  EXPECT_TRUE(p.has_system);
  EXPECT_EQ(p.system, "You are a bank assistant.");
  EXPECT_EQ(p.prompt, "first question\n\nan earlier answer\n\npart one\npart two");
  ASSERT_EQ(p.prompt_pieces.size(), 3u);
  EXPECT_EQ(p.prompt_pieces[2].param, "messages[4]");
  EXPECT_EQ(param_at(p.prompt_pieces, p.prompt.find("part two")), "messages[4]");
  EXPECT_EQ(param_at(p.prompt_pieces, 0), "messages[1]");
  ASSERT_EQ(p.context.size(), 1u);
  EXPECT_EQ(p.context[0], "retrieved page text");
  EXPECT_EQ(p.context_params[0], "messages[3]");
  EXPECT_EQ(p.estimated_tokens, (25u + 14 + 17 + 19 + 17) / 4 + 10);  // every message byte / 4 + max_tokens
}

TEST(OpenAi, ChatErrorsNameTheField) {
  RequestParts p;
  EXPECT_EQ(parse_chat_request(json::parse("[]"), p), "the body must be a JSON object");
  EXPECT_EQ(parse_chat_request(json::parse("{}"), p), "'messages' is required");
  EXPECT_EQ(parse_chat_request(json::parse(R"({"messages":[]})"), p), "'messages' must be a non-empty array");
  EXPECT_EQ(parse_chat_request(json::parse(R"({"messages":[{"content":"x"}]})"), p), "messages[0].role must be a string");
  EXPECT_EQ(parse_chat_request(json::parse(R"({"messages":[{"role":"robot","content":"x"}]})"), p),
            "messages[0].role 'robot' is not one of system, developer, user, assistant, tool, function");
  EXPECT_EQ(parse_chat_request(json::parse(R"({"messages":[{"role":"user","content":5}]})"), p),
            "messages[0].content must be a string or an array of content parts");
  EXPECT_EQ(parse_chat_request(json::parse(R"({"stream":"yes","messages":[{"role":"user","content":"x"}]})"), p),
            "'stream' must be a boolean");
}

TEST(OpenAi, CompletionPromptStringOrList) {
  RequestParts p;
  ASSERT_EQ(parse_completion_request(json::parse(R"({"prompt":["a","bb"]})"), p), "");
  EXPECT_EQ(p.prompt, "a\n\nbb");
  EXPECT_EQ(p.prompt_pieces[1].param, "prompt[1]");
  EXPECT_EQ(parse_completion_request(json::parse(R"({"prompt":[1,2]})"), p),
            "'prompt' must be a string or an array of strings (token arrays are not scanned)");
}

TEST(OpenAi, ResponseTextAndRedactionPerPiece) {
  json answer = json::parse(R"({"choices":[
    {"index":0,"message":{"role":"assistant","content":"mail me at a@b.co please","tool_calls":[{"function":{"name":"f","arguments":"{\"to\":\"a@b.co\"}"}}]}},
    {"index":1,"message":{"role":"assistant","content":"second"}}],"usage":{"total_tokens":42}})");
  std::vector<Piece> pieces;
  const std::string text = response_text(answer, pieces);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(text, "mail me at a@b.co please\n{\"to\":\"a@b.co\"}\nsecond");
  EXPECT_EQ(pieces[1].param, "choices[0].message.tool_calls[0].function.arguments");
  Finding f;
  f.role = Role::response;
  f.redactable = true;
  f.redact_label = "EMAIL";
  const auto first = static_cast<std::uint32_t>(text.find("a@b.co"));
  const auto second = static_cast<std::uint32_t>(text.find("a@b.co", first + 1));
  f.spans = {{first, first + 6}, {second, second + 6}};
  redact_answer(answer, pieces, {f});
  EXPECT_EQ(answer["choices"][0]["message"]["content"], "mail me at [REDACTED:EMAIL] please");
  EXPECT_EQ(answer["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], "{\"to\":\"[REDACTED:EMAIL]\"}");
  EXPECT_EQ(answer["choices"][1]["message"]["content"], "second");
  EXPECT_EQ(usage_tokens(answer), 42u);
}

TEST(OpenAi, ApplyCutsMergesOverlaps) {
  EXPECT_EQ(apply_cuts("0123456789", {{2, 5, "A"}, {4, 7, "B"}, {8, 20, ""}}), "01[REDACTED:A]7[REDACTED:DATA]");
  EXPECT_EQ(apply_cuts("abc", {}), "abc");
}

TEST(OpenAi, HighlightSegmentsCoverFindingsAndShowRedactionsByLabel) {
  Finding inj;
  inj.role = Role::prompt;
  inj.spans = {{7, 13}};  // "ignore"
  Finding email;
  email.role = Role::prompt;
  email.redactable = true;
  email.redact_label = "EMAIL";
  email.spans = {{17, 26}};  // "a@b.co.uk"
  Finding other_role;
  other_role.role = Role::response;
  other_role.spans = {{0, 5}};
  Finding wide;  // overlaps both
  wide.role = Role::prompt;
  wide.spans = {{10, 20}};
  const std::string text = "please ignore to a@b.co.uk now";
  const json redacted = highlight_segments(text, {inj, email, other_role, wide}, Role::prompt, true);
  EXPECT_EQ(redacted.dump(),
            R"([{"text":"please ","findings":[]},{"text":"ign","findings":[0]},{"text":"ore","findings":[0,3]},)"
            R"({"text":" to ","findings":[3]},{"text":"[REDACTED:EMAIL]","findings":[1,3]},{"text":" now","findings":[]}])");
  // Raw text: the e-mail stays, its part inside `wide` and its part after are separate segments.
  const json raw = highlight_segments(text, {inj, email, other_role, wide}, Role::prompt, false);
  std::string joined;
  for (const auto& seg : raw) joined += seg["text"].get<std::string>();
  EXPECT_EQ(joined, text);
  EXPECT_EQ(raw[4].dump(), R"({"text":"a@b","findings":[1,3]})");
  EXPECT_EQ(raw[5].dump(), R"({"text":".co.uk","findings":[1]})");
  // Spans past the end are clipped; a long text is cut with a marker.
  Finding past;
  past.role = Role::prompt;
  past.spans = {{3, 999}};
  const json cut = highlight_segments("abcdefgh", {past}, Role::prompt, true, 5);
  EXPECT_EQ(cut.dump(), "[{\"text\":\"abc\",\"findings\":[]},{\"text\":\"de\",\"findings\":[0]},{\"text\":\"\xE2\x80\xA6\",\"findings\":[]}]");
  EXPECT_EQ(highlight_segments("", {past}, Role::prompt, true).dump(), "[]");
}

TEST(OpenAi, SseParserSplitsEventsAcrossFeeds) {
  SseParser p;
  p.feed("data: {\"a\":1}\n\nda");
  auto ev = p.take();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0], "{\"a\":1}");
  p.feed("ta: [DONE]\r\n\r\n: comment\n\ndata: x\ndata: y\n\n");
  ev = p.take();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0], "[DONE]");
  EXPECT_EQ(ev[1], "x\ny");
  EXPECT_EQ(p.pending(), 0u);
}

TEST(OpenAi, ChunkTextAndRewrite) {
  const json c = json::parse(R"({"id":"x","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]})");
  std::string t;
  EXPECT_TRUE(chunk_text(c, t));
  EXPECT_EQ(t, "Hel");
  const json r = rewrite_chunk(c, "[REDACTED:EMAIL]");
  EXPECT_EQ(r["choices"][0]["delta"]["content"], "[REDACTED:EMAIL]");
  EXPECT_EQ(r["id"], "x");
  std::string none;
  EXPECT_FALSE(chunk_text(json::parse(R"({"choices":[{"delta":{"role":"assistant"}}]})"), none));
}

TEST(GatewayConfig, UpstreamUrls) {
  UpstreamUrl u;
  EXPECT_EQ(parse_upstream_url("http://127.0.0.1:9000/v1/", u), "");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, "9000");
  EXPECT_EQ(u.base_path, "/v1");
  EXPECT_EQ(parse_upstream_url("http://[::1]", u), "");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, "80");
  EXPECT_EQ(parse_upstream_url("https://x", u), "https upstreams are not supported: terminate TLS in front of the model server");
  EXPECT_EQ(parse_upstream_url("http://h:99999", u), "upstream 'http://h:99999': port must be 1..65535");
  EXPECT_EQ(parse_upstream_url("ftp://h", u), "upstream must look like http://host:port, got 'ftp://h'");
}

TEST(GatewayConfig, ShippedConfigLoadsAndErrorsAreAllReported) {
  auto cfg = policy::load_config(std::string(DG_SOURCE_DIR) + "/config/dualguard.yaml");
  ASSERT_TRUE(cfg.ok());
  auto gw = load_gateway_config(*cfg.value);
  ASSERT_TRUE(gw.ok());
  EXPECT_EQ(gw.value->listen_port, "8080");
  EXPECT_TRUE(gw.value->upstream.empty());

  auto bad = policy::load_config(std::string(DG_SOURCE_DIR) + "/config/dualguard.yaml",
                                 {"gateway.listen=nope", "gateway.upstream=ftp://x", "gateway.stream_scan_bytes=4096",
                                  "gateway.fail_mode=sometimes", "gateway.limits.rpm=3"});
  ASSERT_TRUE(bad.ok());
  auto res = load_gateway_config(*bad.value);
  ASSERT_FALSE(res.ok());
  std::string all;
  for (const auto& e : res.errors) all += e.code + ": " + e.message + "\n";
  EXPECT_NE(all.find("gateway.listen must be HOST:PORT, got 'nope'"), std::string::npos) << all;
  EXPECT_NE(all.find("gateway.upstream: upstream must look like http://host:port"), std::string::npos) << all;
  EXPECT_NE(all.find("must not exceed gateway.stream_window_bytes"), std::string::npos) << all;
  EXPECT_NE(all.find("gateway.fail_mode must be open or closed"), std::string::npos) << all;
  EXPECT_NE(all.find("config_unknown_key"), std::string::npos) << all;
}

}  // namespace
}  // namespace dg::gateway
