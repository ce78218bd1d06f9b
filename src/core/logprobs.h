// Token log-probabilities of an answer, as OpenAI-compatible servers return them (the uncertainty
// monitor's input). Parsed from the three shapes seen in the wild; never throws.
//
//   chat completions   {"content": [{"token", "logprob", "top_logprobs": [{"token", "logprob"}, ...]}, ...]}
//                      (the value of choices[i].logprobs; a bare array of those entries is accepted too)
//   completions        {"tokens": [...], "token_logprobs": [...], "top_logprobs": [{"tok": lp, ...}, ...]}
//   plain              [-0.1, -2.3, ...]  (one number per token; scan / eval input)
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace dg {

struct TokenLogprob {
  std::string token;        // the token's text when the server gave it ("" otherwise)
  double logprob = 0.0;     // natural log of the sampled token's probability (<= 0)
  std::vector<double> top;  // the alternatives' log-probabilities (the sampled token may be among them)
};

// Appends the tokens of `j` to `out` (streams call it once per chunk). Returns false and sets
// `error` when `j` is none of the shapes above or a value is not a finite number <= 0 (a tiny
// positive rounding error, up to 1e-6, is clamped to 0). null is an empty list.
bool parse_logprobs(const nlohmann::json& j, std::vector<TokenLogprob>& out, std::string& error);
bool parse_logprobs(const nlohmann::ordered_json& j, std::vector<TokenLogprob>& out, std::string& error);

}  // namespace dg
