#include "core/logprobs.h"

#include <cmath>

namespace dg {
namespace {

template <typename J>
bool number(const J& v, double& out, std::string& error, const char* what) {
  if (!v.is_number()) {
    error = std::string(what) + " must be a number";
    return false;
  }
  const double d = v.template get<double>();
  if (!std::isfinite(d) || d > 1e-6) {
    error = std::string(what) + " must be a finite log-probability (<= 0)";
    return false;
  }
  out = std::min(d, 0.0);
  return true;
}

template <typename J>
bool chat_entry(const J& e, TokenLogprob& t, std::string& error) {
  if (e.is_number()) return number(e, t.logprob, error, "a token log-probability");
  if (!e.is_object()) {
    error = "each token entry must be an object with \"logprob\" (or a number)";
    return false;
  }
  const auto lp = e.find("logprob");
  if (lp == e.end()) {
    error = "a token entry has no \"logprob\"";
    return false;
  }
  if (!number(*lp, t.logprob, error, "\"logprob\"")) return false;
  if (const auto tok = e.find("token"); tok != e.end() && tok->is_string()) t.token = tok->template get<std::string>();
  if (const auto top = e.find("top_logprobs"); top != e.end() && !top->is_null()) {
    if (!top->is_array()) {
      error = "\"top_logprobs\" must be a list";
      return false;
    }
    for (const auto& alt : *top) {
      double d = 0;
      const auto alp = alt.is_object() ? alt.find("logprob") : alt.end();
      if (alp == alt.end()) {
        error = "each \"top_logprobs\" entry must be an object with \"logprob\"";
        return false;
      }
      if (!number(*alp, d, error, "a top \"logprob\"")) return false;
      t.top.push_back(d);
    }
  }
  return true;
}

template <typename J>
bool parse(const J& j, std::vector<TokenLogprob>& out, std::string& error) {
  if (j.is_null()) return true;
  const J* list = nullptr;
  if (j.is_array()) {
    list = &j;
  } else if (j.is_object()) {
    if (const auto c = j.find("content"); c != j.end()) {
      if (c->is_null()) return true;
      list = &*c;
    } else if (const auto tl = j.find("token_logprobs"); tl != j.end()) {
      if (!tl->is_array()) {
        error = "\"token_logprobs\" must be a list";
        return false;
      }
      const auto top = j.find("top_logprobs");
      const bool has_top = top != j.end() && top->is_array();
      const auto toks = j.find("tokens");
      const bool has_toks = toks != j.end() && toks->is_array();
      for (std::size_t i = 0; i < tl->size(); ++i) {
        TokenLogprob t;
        // The first token of an echoed prompt has no log-probability (null): skipped.
        if ((*tl)[i].is_null()) continue;
        if (!number((*tl)[i], t.logprob, error, "a \"token_logprobs\" item")) return false;
        if (has_toks && i < toks->size() && (*toks)[i].is_string()) t.token = (*toks)[i].template get<std::string>();
        if (has_top && i < top->size() && (*top)[i].is_object())
          for (const auto& [tok, v] : (*top)[i].items()) {
            double d = 0;
            if (!number(v, d, error, "a \"top_logprobs\" value")) return false;
            t.top.push_back(d);
          }
        out.push_back(std::move(t));
      }
      return true;
    } else {
      error = "logprobs must have \"content\" (chat) or \"token_logprobs\" (completions)";
      return false;
    }
  } else {
    error = "logprobs must be an object or a list";
    return false;
  }
  if (!list->is_array()) {
    error = "\"content\" must be a list";
    return false;
  }
  for (const auto& e : *list) {
    TokenLogprob t;
    if (!chat_entry(e, t, error)) return false;
    out.push_back(std::move(t));
  }
  return true;
}

}  // namespace

bool parse_logprobs(const nlohmann::json& j, std::vector<TokenLogprob>& out, std::string& error) {
  return parse(j, out, error);
}
bool parse_logprobs(const nlohmann::ordered_json& j, std::vector<TokenLogprob>& out, std::string& error) {
  return parse(j, out, error);
}

}  // namespace dg
