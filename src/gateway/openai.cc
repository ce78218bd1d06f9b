#include "gateway/openai.h"

#include <algorithm>

namespace dg::gateway {

using json = nlohmann::ordered_json;

bool content_text(const json& content, std::string& out) {
  if (content.is_string()) {
    out += content.get_ref<const std::string&>();
    return true;
  }
  if (content.is_null()) return true;
  if (!content.is_array()) return false;
  bool first = true;
  for (const auto& part : content) {
    if (!part.is_object()) return false;
    const auto t = part.find("text");
    if (t == part.end()) continue;  // image_url, input_audio, ...
    if (!t->is_string()) return false;
    if (!first) out += "\n";
    out += t->get_ref<const std::string&>();
    first = false;
  }
  return true;
}

namespace {

void add_piece(std::string& joined, std::vector<Piece>& pieces, std::string param, const std::string& text) {
  if (!joined.empty()) joined += "\n\n";
  pieces.push_back({std::move(param), joined.size(), text.size()});
  joined += text;
}

void estimate(const json& body, RequestParts& out, std::size_t bytes) {
  std::uint64_t max_out = 256;
  for (const char* k : {"max_completion_tokens", "max_tokens"}) {
    const auto it = body.find(k);
    if (it != body.end() && it->is_number_unsigned()) {
      max_out = it->get<std::uint64_t>();
      break;
    }
  }
  out.estimated_tokens = bytes / 4 + max_out;
}

std::string common(const json& body, RequestParts& out) {
  if (const auto s = body.find("stream"); s != body.end()) {
    if (!s->is_boolean()) return "'stream' must be a boolean";
    out.stream = s->get<bool>();
  }
  if (const auto m = body.find("model"); m != body.end()) {
    if (!m->is_string()) return "'model' must be a string";
    out.model = m->get<std::string>();
  }
  return "";
}

}  // namespace

std::string parse_chat_request(const json& body, RequestParts& out) {
  out = {};
  if (!body.is_object()) return "the body must be a JSON object";
  if (auto e = common(body, out); !e.empty()) return e;
  const auto msgs = body.find("messages");
  if (msgs == body.end()) return "'messages' is required";
  if (!msgs->is_array() || msgs->empty()) return "'messages' must be a non-empty array";
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    const std::string param = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return param + " must be an object";
    const auto role = m.find("role");
    if (role == m.end() || !role->is_string()) return param + ".role must be a string";
    const std::string& r = role->get_ref<const std::string&>();
    std::string text;
    if (const auto c = m.find("content"); c != m.end() && !content_text(*c, text))
      return param + ".content must be a string or an array of content parts";
    // Tool calls the client replays in earlier assistant turns carry attacker-controllable text too.
    if (const auto tc = m.find("tool_calls"); tc != m.end() && tc->is_array())
      for (const auto& call : *tc)
        if (call.is_object() && call.contains("function") && call["function"].is_object()) {
          const auto a = call["function"].find("arguments");
          if (a != call["function"].end() && a->is_string()) text += (text.empty() ? "" : "\n") + a->get<std::string>();
        }
    bytes += text.size();
    if (r == "system" || r == "developer") {
      if (!out.system.empty()) out.system += "\n\n";
      out.system += text;
      out.has_system = true;
    } else if (r == "user" || r == "assistant") {
      add_piece(out.prompt, out.prompt_pieces, param, text);
    } else if (r == "tool" || r == "function") {
      out.context.push_back(std::move(text));
      out.context_params.push_back(param);
    } else {
      return param + ".role '" + r + "' is not one of system, developer, user, assistant, tool, function";
    }
  }
  estimate(body, out, bytes);
  return "";
}

std::string parse_completion_request(const json& body, RequestParts& out) {
  out = {};
  if (!body.is_object()) return "the body must be a JSON object";
  if (auto e = common(body, out); !e.empty()) return e;
  const auto p = body.find("prompt");
  if (p == body.end()) return "'prompt' is required";
  if (p->is_string()) {
    add_piece(out.prompt, out.prompt_pieces, "prompt", p->get<std::string>());
  } else if (p->is_array()) {
    for (std::size_t i = 0; i < p->size(); ++i) {
      if (!(*p)[i].is_string()) return "'prompt' must be a string or an array of strings (token arrays are not scanned)";
      add_piece(out.prompt, out.prompt_pieces, "prompt[" + std::to_string(i) + "]", (*p)[i].get<std::string>());
    }
  } else {
    return "'prompt' must be a string or an array of strings";
  }
  estimate(body, out, out.prompt.size());
  return "";
}

namespace {

// Every text field of an answer, in a fixed order, with a pointer to rewrite it.
template <typename Fn>
void for_each_text(json& answer, Fn&& fn) {
  const auto ch = answer.find("choices");
  if (ch == answer.end() || !ch->is_array()) return;
  for (std::size_t i = 0; i < ch->size(); ++i) {
    json& c = (*ch)[i];
    if (!c.is_object()) continue;
    const std::string base = "choices[" + std::to_string(i) + "]";
    if (auto t = c.find("text"); t != c.end() && t->is_string()) fn(base + ".text", *t);
    auto m = c.find("message");
    if (m == c.end() || !m->is_object()) continue;
    if (auto t = m->find("content"); t != m->end() && t->is_string()) fn(base + ".message.content", *t);
    if (auto t = m->find("refusal"); t != m->end() && t->is_string()) fn(base + ".message.refusal", *t);
    auto tc = m->find("tool_calls");
    if (tc == m->end() || !tc->is_array()) continue;
    for (std::size_t k = 0; k < tc->size(); ++k) {
      json& call = (*tc)[k];
      if (!call.is_object()) continue;
      auto f = call.find("function");
      if (f == call.end() || !f->is_object()) continue;
      if (auto a = f->find("arguments"); a != f->end() && a->is_string())
        fn(base + ".message.tool_calls[" + std::to_string(k) + "].function.arguments", *a);
    }
  }
}

}  // namespace

std::string response_text(const json& answer, std::vector<Piece>& pieces) {
  std::string joined;
  pieces.clear();
  for_each_text(const_cast<json&>(answer), [&](const std::string& param, json& t) {
    if (!joined.empty()) joined += "\n";
    const auto& s = t.get_ref<const std::string&>();
    pieces.push_back({param, joined.size(), s.size()});
    joined += s;
  });
  return joined;
}

bool answer_logprobs(const json& answer, std::vector<TokenLogprob>& out) {
  const auto choices = answer.find("choices");
  if (choices == answer.end() || !choices->is_array()) return true;
  const std::size_t before = out.size();
  std::string why;
  for (const auto& c : *choices) {
    if (!c.is_object()) continue;
    const auto lp = c.find("logprobs");
    if (lp == c.end()) continue;
    if (!parse_logprobs(*lp, out, why)) {
      out.resize(before);
      return false;
    }
  }
  return true;
}

std::string apply_cuts(std::string_view text, std::vector<Cut> cuts) {
  std::sort(cuts.begin(), cuts.end(), [](const Cut& a, const Cut& b) { return a.start < b.start; });
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  for (const auto& c : cuts) {
    const std::size_t s = std::min(c.start, text.size()), e = std::min(c.end, text.size());
    if (e <= s) continue;
    if (s < pos) {
      pos = std::max(pos, e);
      continue;
    }
    out.append(text.substr(pos, s - pos));
    out += "[REDACTED:" + (c.label.empty() ? std::string("DATA") : c.label) + "]";
    pos = e;
  }
  if (pos < text.size()) out.append(text.substr(pos));
  return out;
}

json highlight_segments(std::string_view text, const std::vector<Finding>& findings, Role role, bool redact, std::size_t max_bytes) {
  const bool truncated = text.size() > max_bytes;
  if (truncated) text = text.substr(0, max_bytes);
  const std::size_t n = text.size();
  struct Range {
    std::size_t a, b;
    int finding;
    std::string label;
  };
  std::vector<Range> marks, cuts;
  for (std::size_t i = 0; i < findings.size(); ++i) {
    const Finding& f = findings[i];
    if (f.role != role || f.context_index >= 0) continue;
    for (const auto& sp : f.spans) {
      const std::size_t a = std::min<std::size_t>(sp.start, n), b = std::min<std::size_t>(sp.end, n);
      if (b <= a) continue;
      marks.push_back({a, b, static_cast<int>(i), ""});
      if (redact && f.redactable) cuts.push_back({a, b, -1, f.redact_label.empty() ? "DATA" : f.redact_label});
    }
  }
  // Overlapping cuts become one (the first label), as apply_cuts renders them.
  std::sort(cuts.begin(), cuts.end(), [](const Range& x, const Range& y) { return x.a < y.a; });
  std::vector<Range> merged;
  for (auto& c : cuts) {
    if (!merged.empty() && c.a < merged.back().b) merged.back().b = std::max(merged.back().b, c.b);
    else merged.push_back(std::move(c));
  }
  std::vector<std::size_t> pts{0, n};
  for (const auto& m : marks) pts.insert(pts.end(), {m.a, m.b});
  for (const auto& c : merged) pts.insert(pts.end(), {c.a, c.b});
  std::sort(pts.begin(), pts.end());
  pts.erase(std::unique(pts.begin(), pts.end()), pts.end());
  json out = json::array();
  auto emit = [&](std::string piece, std::vector<int> ids) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    if (!out.empty() && out.back()["findings"].get<std::vector<int>>() == ids) {
      out.back()["text"] = out.back()["text"].get<std::string>() + piece;
      return;
    }
    json seg = json::object();
    seg["text"] = std::move(piece);
    seg["findings"] = std::move(ids);
    out.push_back(std::move(seg));
  };
  std::size_t ci = 0;
  for (std::size_t k = 0; k + 1 < pts.size(); ++k) {
    const std::size_t a = pts[k], b = pts[k + 1];
    std::vector<int> ids;
    for (const auto& m : marks)
      if (m.a <= a && b <= m.b) ids.push_back(m.finding);
    while (ci < merged.size() && merged[ci].b <= a) ++ci;
    if (ci < merged.size() && merged[ci].a <= a) {
      if (a == merged[ci].a) emit("[REDACTED:" + merged[ci].label + "]", ids);
      continue;  // the rest of the cut is already shown by its label
    }
    emit(std::string(text.substr(a, b - a)), ids);
  }
  if (truncated) emit("\u2026", {});
  return out;
}

void redact_answer(json& answer, const std::vector<Piece>& pieces, const std::vector<Finding>& findings) {
  std::size_t i = 0;
  for_each_text(answer, [&](const std::string&, json& t) {
    if (i >= pieces.size()) return;
    const Piece& p = pieces[i++];
    std::vector<Cut> cuts;
    for (const auto& f : findings) {
      if (!f.redactable || f.role != Role::response) continue;
      for (const auto& s : f.spans) {
        const std::size_t a = std::max<std::size_t>(s.start, p.offset), b = std::min<std::size_t>(s.end, p.offset + p.size);
        if (b > a) cuts.push_back({a - p.offset, b - p.offset, f.redact_label});
      }
    }
    if (!cuts.empty()) t = apply_cuts(t.get_ref<const std::string&>(), std::move(cuts));
  });
}

std::uint64_t usage_tokens(const json& answer) {
  const auto u = answer.find("usage");
  if (u == answer.end() || !u->is_object()) return 0;
  const auto t = u->find("total_tokens");
  if (t != u->end() && t->is_number_unsigned()) return t->get<std::uint64_t>();
  std::uint64_t sum = 0;
  for (const char* k : {"prompt_tokens", "completion_tokens"}) {
    const auto v = u->find(k);
    if (v != u->end() && v->is_number_unsigned()) sum += v->get<std::uint64_t>();
  }
  return sum;
}

std::string param_at(const std::vector<Piece>& pieces, std::size_t offset) {
  for (const auto& p : pieces)
    if (offset >= p.offset && offset <= p.offset + p.size) return p.param;
  return "";
}

void SseParser::feed(std::string_view bytes) {
  buf_.append(bytes);
  for (;;) {
    // An event ends at a blank line: "\n\n", "\r\n\r\n" (or mixed).
    std::size_t end = std::string::npos, skip = 0;
    for (std::size_t i = 0; i + 1 < buf_.size(); ++i) {
      if (buf_[i] != '\n') continue;
      if (buf_[i + 1] == '\n') {
        end = i;
        skip = 2;
        break;
      }
      if (buf_[i + 1] == '\r' && i + 2 < buf_.size() && buf_[i + 2] == '\n') {
        end = i;
        skip = 3;
        break;
      }
    }
    if (end == std::string::npos) return;
    std::string data;
    bool has_data = false;
    std::size_t pos = 0;
    const std::string_view ev(buf_.data(), end);
    while (pos <= ev.size()) {
      std::size_t nl = ev.find('\n', pos);
      if (nl == std::string_view::npos) nl = ev.size();
      std::string_view line = ev.substr(pos, nl - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.rfind("data:", 0) == 0) {
        line.remove_prefix(5);
        if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        if (has_data) data += "\n";
        data.append(line);
        has_data = true;
      }
      pos = nl + 1;
    }
    if (has_data) events_.push_back(std::move(data));
    buf_.erase(0, end + skip);
  }
}

std::vector<std::string> SseParser::take() {
  std::vector<std::string> out;
  out.swap(events_);
  return out;
}

bool chunk_text(const json& chunk, std::string& out) {
  const auto ch = chunk.find("choices");
  if (ch == chunk.end() || !ch->is_array()) return false;
  bool any = false;
  for (const auto& c : *ch) {
    if (!c.is_object()) continue;
    if (auto t = c.find("text"); t != c.end() && t->is_string()) {
      out += t->get_ref<const std::string&>();
      any = true;
    }
    const auto d = c.find("delta");
    if (d == c.end() || !d->is_object()) continue;
    if (auto t = d->find("content"); t != d->end() && t->is_string()) {
      out += t->get_ref<const std::string&>();
      any = true;
    }
    if (auto tc = d->find("tool_calls"); tc != d->end() && tc->is_array())
      for (const auto& call : *tc)
        if (call.is_object() && call.contains("function") && call["function"].is_object()) {
          const auto a = call["function"].find("arguments");
          if (a != call["function"].end() && a->is_string()) {
            out += a->get_ref<const std::string&>();
            any = true;
          }
        }
  }
  return any;
}

json rewrite_chunk(const json& chunk, const std::string& text) {
  json c = chunk;
  if (!c.contains("choices") || !c["choices"].is_array() || c["choices"].empty()) return c;
  json& first = c["choices"][0];
  if (first.contains("text")) {
    first["text"] = text;
  } else {
    json delta = json::object();
    delta["content"] = text;
    first["delta"] = delta;
  }
  first["finish_reason"] = nullptr;
  if (c["choices"].size() > 1) c["choices"].erase(c["choices"].begin() + 1, c["choices"].end());
  return c;
}

}  // namespace dg::gateway
