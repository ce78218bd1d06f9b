#include "core/logprobs.h"

#include <gtest/gtest.h>

namespace dg {
namespace {

using nlohmann::json;

std::vector<TokenLogprob> ok(const char* text) {
  std::vector<TokenLogprob> out;
  std::string why;
  EXPECT_TRUE(parse_logprobs(json::parse(text), out, why)) << why;
  return out;
}

std::string bad(const char* text) {
  std::vector<TokenLogprob> out;
  std::string why;
  EXPECT_FALSE(parse_logprobs(json::parse(text), out, why)) << text;
  return why;
}

TEST(Logprobs, ChatShape) {
  const auto t = ok(R"({"content": [{"token": "Hi", "logprob": -0.5, "top_logprobs": [{"token": "Hi", "logprob": -0.5},
                      {"token": "Hello", "logprob": -1.2}]}, {"token": "!", "logprob": 0.0000001}]})");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].token, "Hi");
  EXPECT_DOUBLE_EQ(t[0].logprob, -0.5);
  EXPECT_EQ(t[0].top, (std::vector<double>{-0.5, -1.2}));
  EXPECT_DOUBLE_EQ(t[1].logprob, 0.0);  // rounding above 0 is clamped
  EXPECT_TRUE(t[1].top.empty());
}

TEST(Logprobs, CompletionsShapeSkipsTheNullOfAnEchoedFirstToken) {
  const auto t = ok(R"({"tokens": ["A", " cat"], "token_logprobs": [null, -2.0],
                        "top_logprobs": [null, {" cat": -2.0, " dog": -0.3}]})");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].token, " cat");
  EXPECT_EQ(t[0].top.size(), 2u);
}

TEST(Logprobs, PlainListsAndNull) {
  EXPECT_EQ(ok("[-0.1, -2.5]").size(), 2u);
  EXPECT_TRUE(ok("null").empty());
  EXPECT_TRUE(ok(R"({"content": null})").empty());
}

TEST(Logprobs, BadShapesNameTheProblem) {
  EXPECT_EQ(bad(R"("x")"), "logprobs must be an object or a list");
  EXPECT_EQ(bad(R"({"foo": 1})"), "logprobs must have \"content\" (chat) or \"token_logprobs\" (completions)");
  EXPECT_EQ(bad("[0.5]"), "a token log-probability must be a finite log-probability (<= 0)");
  EXPECT_EQ(bad(R"([{"token": "a"}])"), "a token entry has no \"logprob\"");
  EXPECT_EQ(bad(R"([{"logprob": "x"}])"), "\"logprob\" must be a number");
  EXPECT_EQ(bad(R"([{"logprob": -1, "top_logprobs": 3}])"), "\"top_logprobs\" must be a list");
  EXPECT_EQ(bad(R"({"token_logprobs": 3})"), "\"token_logprobs\" must be a list");
}

}  // namespace
}  // namespace dg
