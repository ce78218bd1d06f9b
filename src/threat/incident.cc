#include "threat/incident.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/signature.h"
#include "core/yaml_util.h"

namespace dg::threat {
namespace {

bool word_byte(unsigned char c) { return std::isalnum(c) || c >= 0x80; }

// A phrase written in the cue file, split into its tokens with the same tokeniser as the text (so
// "non-consensual" in a phrase means the two tokens it produces); "..." and trailing '*' kept.
std::optional<std::vector<std::string>> parse_phrase(const std::string& phrase, std::string* why) {
  std::vector<std::string> out;
  std::istringstream in(phrase);
  std::string part;
  while (in >> part) {
    if (part == "...") {
      if (out.empty() || out.back() == "...") {
        *why = "a gap '...' must follow a word";
        return std::nullopt;
      }
      out.push_back(part);
      continue;
    }
    const bool prefix = part.size() > 1 && part.back() == '*';
    const std::string body = prefix ? part.substr(0, part.size() - 1) : part;
    auto toks = incident_tokens(body);
    if (toks.empty()) {
      *why = "'" + part + "' has no letters or digits";
      return std::nullopt;
    }
    for (std::size_t i = 0; i < toks.size(); ++i) out.push_back(toks[i].text + (prefix && i + 1 == toks.size() ? "*" : ""));
  }
  if (out.empty()) {
    *why = "empty phrase";
    return std::nullopt;
  }
  if (out.back() == "...") {
    *why = "a gap '...' must be followed by a word";
    return std::nullopt;
  }
  // Bounds that keep matching linear in the text: the gaps backtrack (kCueGap + 1)^gaps ways.
  if (std::count(out.begin(), out.end(), "...") > kMaxCueGaps || out.size() > kMaxCueTokens) {
    *why = "at most " + std::to_string(kMaxCueGaps) + " gaps and " + std::to_string(kMaxCueTokens) + " tokens";
    return std::nullopt;
  }
  return out;
}

bool token_matches(const std::string& pattern, const std::string& token) {
  if (!pattern.empty() && pattern.back() == '*')
    return token.size() >= pattern.size() - 1 && token.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
  return token == pattern;
}

// Sentence ends between two tokens: a '.', '!', '?' or ';' in the bytes between them.
bool sentence_break(std::string_view text, const IncidentToken& a, const IncidentToken& b) {
  for (std::uint32_t i = a.end; i < b.start && i < text.size(); ++i)
    if (text[i] == '.' || text[i] == '!' || text[i] == '?' || text[i] == ';') return true;
  return false;
}

// Matches phrase tokens p[pi..] at text token ti; returns one past the last matched token, or 0.
// Backtracks over gaps: at most kCueGap + 1 choices per gap, and a phrase has few gaps.
std::size_t match_from(const std::vector<std::string>& p, std::size_t pi, std::string_view text,
                       const std::vector<IncidentToken>& t, std::size_t ti) {
  if (pi == p.size()) return ti;
  if (p[pi] == "...") {
    for (int gap = 0; gap <= kCueGap; ++gap) {
      const std::size_t tj = ti + static_cast<std::size_t>(gap);
      if (tj >= t.size() || (tj > 0 && sentence_break(text, t[tj - 1], t[tj]))) break;
      if (token_matches(p[pi + 1], t[tj].text))
        if (const std::size_t end = match_from(p, pi + 2, text, t, tj + 1)) return end;
    }
    return 0;
  }
  if (ti >= t.size() || !token_matches(p[pi], t[ti].text)) return 0;
  if (pi > 0 && sentence_break(text, t[ti - 1], t[ti])) return 0;
  return match_from(p, pi + 1, text, t, ti + 1);
}

std::string class_key(VerdictClass c) { return std::string(to_string(c)); }

}  // namespace

std::vector<IncidentToken> incident_tokens(std::string_view text) {
  if (text.size() > kMaxIncidentBytes) text = text.substr(0, kMaxIncidentBytes);
  std::vector<IncidentToken> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !word_byte(static_cast<unsigned char>(text[i]))) ++i;
    const std::size_t s = i;
    while (i < text.size() && word_byte(static_cast<unsigned char>(text[i]))) ++i;
    if (i > s) {
      IncidentToken t;
      t.start = static_cast<std::uint32_t>(s);
      t.end = static_cast<std::uint32_t>(i);
      t.text.assign(text.substr(s, i - s));
      for (auto& c : t.text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.push_back(std::move(t));
    }
  }
  return out;
}

LoadResult<CueSet> load_cues(const std::string& path) {
  LoadResult<CueSet> r;
  const YAML::Node root = yaml::load_file(path, r.errors);
  if (!r.errors.empty()) return r;
  yaml::Reader rd(path, r.errors);
  CueSet cues;
  if (!rd.check_keys(root, {"version", "families"}, "cue file")) return r;
  cues.version = static_cast<int>(rd.integer(root, "version", 1, 1, 1));
  const YAML::Node fams = root["families"];
  if (!fams || !fams.IsSequence() || fams.size() == 0) {
    rd.error(root, errc::kConfigMissingKey, "'families' must be a non-empty list");
    return r;
  }
  for (const auto& f : fams) {
    if (!rd.check_keys(f, {"name", "meaning", "phrases"}, "cue family")) continue;
    CueFamily fam;
    fam.name = rd.str(f, "name", true).value_or("");
    fam.meaning = rd.str(f, "meaning", true).value_or("");
    for (const auto& other : cues.families)
      if (!fam.name.empty() && other.name == fam.name) rd.error(f["name"], errc::kConfigDuplicate, "cue family '" + fam.name + "' is defined twice");
    fam.phrases = rd.str_list(f, "phrases");
    if (fam.phrases.empty()) rd.error(f, errc::kConfigMissingKey, "cue family '" + fam.name + "' has no phrases");
    const YAML::Node ps = f["phrases"];
    for (std::size_t i = 0; i < fam.phrases.size(); ++i) {
      std::string why;
      auto p = parse_phrase(fam.phrases[i], &why);
      if (!p) {
        rd.error(ps && ps.IsSequence() && i < ps.size() ? ps[i] : f, errc::kConfigInvalidValue,
                 "cue phrase '" + fam.phrases[i] + "': " + why);
        continue;
      }
      fam.parsed.push_back(std::move(*p));
    }
    cues.families.push_back(std::move(fam));
  }
  if (r.errors.empty()) r.value = std::move(cues);
  return r;
}

nlohmann::json cues_to_json(const CueSet& cues) {
  nlohmann::json fams = nlohmann::json::array();
  for (const auto& f : cues.families) fams.push_back({{"name", f.name}, {"meaning", f.meaning}, {"phrases", f.phrases}});
  return {{"version", cues.version}, {"families", fams}};
}

LoadResult<CueSet> cues_from_json(const nlohmann::json& j, const std::string& file) {
  LoadResult<CueSet> r;
  CueSet cues;
  if (!j.is_object() || !j.contains("families") || !j["families"].is_array()) {
    r.errors = one_error(file, errc::kConfigInvalidValue, "'cues' must be an object with a 'families' list");
    return r;
  }
  cues.version = j.value("version", 1);
  for (const auto& f : j["families"]) {
    if (!f.is_object() || !f.contains("name") || !f["name"].is_string() || !f.contains("phrases") || !f["phrases"].is_array()) {
      r.errors = one_error(file, errc::kConfigInvalidValue, "a cue family needs 'name' and a 'phrases' list");
      return r;
    }
    CueFamily fam;
    fam.name = f["name"].get<std::string>();
    fam.meaning = f.value("meaning", std::string());
    for (const auto& p : f["phrases"]) {
      if (!p.is_string()) {
        r.errors = one_error(file, errc::kConfigInvalidValue, "cue family '" + fam.name + "': phrases must be strings");
        return r;
      }
      std::string why;
      auto parsed = parse_phrase(p.get<std::string>(), &why);
      if (!parsed) {
        r.errors = one_error(file, errc::kConfigInvalidValue, "cue phrase '" + p.get<std::string>() + "': " + why);
        return r;
      }
      fam.phrases.push_back(p.get<std::string>());
      fam.parsed.push_back(std::move(*parsed));
    }
    cues.families.push_back(std::move(fam));
  }
  r.value = std::move(cues);
  return r;
}

std::vector<CueHit> match_cues(const CueSet& cues, std::string_view text, const std::vector<IncidentToken>& tokens) {
  std::vector<CueHit> hits;
  for (std::size_t i = 0; i < tokens.size(); ++i)
    for (std::size_t f = 0; f < cues.families.size(); ++f)
      for (const auto& p : cues.families[f].parsed)
        if (const std::size_t end = match_from(p, 0, text, tokens, i)) {
          hits.push_back({f, tokens[i].start, tokens[end - 1].end});
          break;  // one match per family and start token
        }
  return hits;
}

IncidentFeatures incident_features(const CueSet& cues, std::string_view text) {
  if (text.size() > kMaxIncidentBytes) text = text.substr(0, kMaxIncidentBytes);
  IncidentFeatures f;
  const auto tokens = incident_tokens(text);
  f.hits = match_cues(cues, text, tokens);
  f.cue_counts.assign(cues.families.size(), 0);
  for (const auto& h : f.hits) ++f.cue_counts[h.family];
  // Terms: tokens of two or more bytes (a single letter carries no intent), and pairs of them.
  std::vector<const std::string*> words;
  for (const auto& t : tokens)
    if (t.text.size() >= 2) words.push_back(&t.text);
  std::vector<std::string> all;
  for (std::size_t i = 0; i < words.size(); ++i) {
    all.push_back(*words[i]);
    if (i > 0) all.push_back(*words[i - 1] + " " + *words[i]);
  }
  std::sort(all.begin(), all.end());
  std::vector<std::pair<std::string, std::uint32_t>> counted;
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    while (j < all.size() && all[j] == all[i]) ++j;
    counted.emplace_back(all[i], static_cast<std::uint32_t>(j - i));
    i = j;
  }
  f.terms = std::move(counted);
  return f;
}

void incident_vector(const IncidentFeatures& f, const TermFinder& find, std::size_t n_terms, double cue_weight,
                     std::vector<std::pair<std::size_t, double>>& out) {
  out.clear();
  double z2 = 0.0;
  for (const auto& [term, count] : f.terms) {
    const auto hit = find(term);
    if (!hit) continue;
    const double v = (1.0 + std::log(static_cast<double>(count))) * hit->idf;
    out.emplace_back(hit->index, v);
    z2 += v * v;
  }
  if (z2 > 0) {
    const double z = std::sqrt(z2);
    for (auto& [i, v] : out) v /= z;
  }
  for (std::size_t c = 0; c < f.cue_counts.size(); ++c)
    if (f.cue_counts[c]) out.emplace_back(n_terms + c, cue_weight * std::log1p(static_cast<double>(f.cue_counts[c])));
  std::sort(out.begin(), out.end());
}

nlohmann::json incident_model_json(const IncidentWeights& w) {
  nlohmann::json j;
  j["format"] = kIncidentModelFormat;
  j["classes"] = nlohmann::json::array();
  for (auto c : kIncidentClasses) j["classes"].push_back(class_key(c));
  j["cue_weight"] = w.cue_weight;
  j["cues"] = cues_to_json(w.cues);
  j["bias"] = w.bias;
  nlohmann::json cw = nlohmann::json::object();
  for (std::size_t f = 0; f < w.cues.families.size() && f < w.cue_weights.size(); ++f) cw[w.cues.families[f].name] = w.cue_weights[f];
  j["cue_weights"] = cw;
  nlohmann::json terms = nlohmann::json::object();
  auto r6 = [](double x) { return std::round(x * 1e6) / 1e6; };
  for (const auto& t : w.terms) terms[t.text] = {r6(t.idf), r6(t.w[0]), r6(t.w[1]), r6(t.w[2])};
  j["terms"] = std::move(terms);
  if (w.training) j["training"] = *w.training;
  return j;
}

std::string write_incident_model(const std::string& path, const IncidentWeights& w) {
  const nlohmann::json j = incident_model_json(w);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << j.dump(1) << "\n";
    if (!out) return "cannot write " + tmp;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return "cannot rename " + tmp + " to " + path + ": " + ec.message();
  return "";
}

LoadResult<std::shared_ptr<const IncidentModel>> IncidentModel::load(const std::string& path) {
  LoadResult<std::shared_ptr<const IncidentModel>> r;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    r.errors = one_error(path, errc::kConfigIo, "cannot read the incident model");
    return r;
  }
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    r.errors = one_error(path, errc::kConfigSyntax, "the incident model is not JSON");
    return r;
  }
  return from_json(j, path, sig::file_sha256(path).value_or(""));
}

LoadResult<std::shared_ptr<const IncidentModel>> IncidentModel::from_json(const nlohmann::json& j, const std::string& file,
                                                                           std::string sha256) {
  LoadResult<std::shared_ptr<const IncidentModel>> r;
  auto bad = [&](std::string msg) {
    r.errors = one_error(file, errc::kConfigInvalidValue, std::move(msg));
    return r;
  };
  if (!j.is_object() || j.value("format", std::string()) != kIncidentModelFormat)
    return bad("not an incident model (format must be \"" + std::string(kIncidentModelFormat) + "\")");
  std::vector<std::string> want;
  for (auto c : kIncidentClasses) want.push_back(class_key(c));
  if (!j.contains("classes") || j["classes"] != nlohmann::json(want)) return bad("classes must be [\"safety\", \"security\", \"hybrid\"]");
  auto triple = [](const nlohmann::json& v, std::array<double, 3>& out) {
    if (!v.is_array() || v.size() != 3) return false;
    for (std::size_t i = 0; i < 3; ++i) {
      if (!v[i].is_number()) return false;
      out[i] = v[i].get<double>();
      if (!std::isfinite(out[i])) return false;
    }
    return true;
  };
  std::shared_ptr<IncidentModel> m(new IncidentModel());
  m->sha256_ = std::move(sha256);
  if (!j.contains("cues")) return bad("missing 'cues'");
  auto cues = cues_from_json(j["cues"], file);
  if (!cues.ok()) {
    r.errors = cues.errors;
    return r;
  }
  m->cues_ = std::move(*cues.value);
  if (!j.contains("cue_weight") || !j["cue_weight"].is_number()) return bad("missing 'cue_weight'");
  m->cue_weight_ = j["cue_weight"].get<double>();
  if (!j.contains("bias") || !triple(j["bias"], m->bias_)) return bad("'bias' must be three numbers");
  const auto& cw = j.value("cue_weights", nlohmann::json::object());
  for (const auto& f : m->cues_.families) {
    std::array<double, 3> w{};
    if (!cw.contains(f.name) || !triple(cw[f.name], w)) return bad("cue_weights lacks three numbers for family '" + f.name + "'");
    m->cue_w_.push_back(w);
  }
  if (!j.contains("terms") || !j["terms"].is_object()) return bad("missing 'terms'");
  for (const auto& [term, v] : j["terms"].items()) {
    if (!v.is_array() || v.size() != 4 || !v[0].is_number()) return bad("term '" + term + "' must be [idf, w_safety, w_security, w_hybrid]");
    IncidentWeights::Term t;
    t.text = term;
    t.idf = v[0].get<double>();
    if (!triple(nlohmann::json{v[1], v[2], v[3]}, t.w) || !std::isfinite(t.idf)) return bad("term '" + term + "' has a non-numeric weight");
    m->index_.emplace_back(term, m->terms_.size());
    m->terms_.push_back(std::move(t));
  }
  std::sort(m->index_.begin(), m->index_.end());
  r.value = std::move(m);
  return r;
}

std::ptrdiff_t IncidentModel::find(std::string_view term) const noexcept {
  auto it = std::lower_bound(index_.begin(), index_.end(), term, [](const auto& e, std::string_view t) { return e.first < t; });
  if (it == index_.end() || it->first != term) return -1;
  return static_cast<std::ptrdiff_t>(it->second);
}

IncidentResult IncidentModel::classify(std::string_view text) const {
  const IncidentFeatures f = incident_features(cues_, text);
  std::vector<std::pair<std::size_t, double>> x;
  incident_vector(f, [this](std::string_view t) -> std::optional<TermLookup> {
    const auto i = find(t);
    if (i < 0) return std::nullopt;
    return TermLookup{static_cast<std::size_t>(i), terms_[static_cast<std::size_t>(i)].idf};
  }, terms_.size(), cue_weight_, x);

  std::array<double, 3> z = bias_;
  for (const auto& [i, v] : x)
    for (std::size_t c = 0; c < 3; ++c) z[c] += v * (i < terms_.size() ? terms_[i].w[c] : cue_w_[i - terms_.size()][c]);
  IncidentResult res;
  double sum = 0.0;
  for (std::size_t c = 0; c < 3; ++c) sum += res.probability[c] = 1.0 / (1.0 + std::exp(-z[c]));
  for (auto& p : res.probability) p = sum > 0 ? p / sum : 1.0 / 3.0;
  const std::size_t best = static_cast<std::size_t>(std::max_element(res.probability.begin(), res.probability.end()) - res.probability.begin());
  res.cls = kIncidentClasses[best];
  res.confidence = res.probability[best];
  res.intent = res.cls == VerdictClass::safety ? "unintentional" : "intentional";
  res.actor = res.cls == VerdictClass::security ? "human" : res.cls == VerdictClass::hybrid ? "ai" : "";

  // Reasons: the features pushing the winning class's logit up the most.
  for (const auto& [i, v] : x) {
    IncidentResult::Reason r;
    if (i < terms_.size()) {
      r.feature = terms_[i].text;
      r.contribution = v * terms_[i].w[best];
    } else {
      const std::size_t fam = i - terms_.size();
      r.feature = "cue:" + cues_.families[fam].name;
      r.meaning = cues_.families[fam].meaning;
      r.contribution = v * cue_w_[fam][best];
      for (const auto& h : f.hits)
        if (h.family == fam) {
          r.evidence.assign(text.substr(h.start, h.end - h.start));
          break;
        }
    }
    if (r.contribution > 0) res.reasons.push_back(std::move(r));
  }
  std::sort(res.reasons.begin(), res.reasons.end(), [](const auto& a, const auto& b) {
    return a.contribution != b.contribution ? a.contribution > b.contribution : a.feature < b.feature;
  });
  if (res.reasons.size() > 6) res.reasons.resize(6);

  std::string cues_part, terms_part;
  for (const auto& r : res.reasons) {
    if (!r.meaning.empty()) cues_part += (cues_part.empty() ? "" : "; ") + r.meaning + " (\"" + r.evidence + "\")";
    else terms_part += (terms_part.empty() ? "\"" : ", \"") + r.feature + "\"";
  }
  const char* what = res.cls == VerdictClass::safety ? "unintended harm" : res.cls == VerdictClass::security
                                                                              ? "harm meant by a person (attack or deliberate misuse)"
                                                                              : "harm from an AI or automated system acting on purpose";
  res.rationale = std::string(what) + ": " + (cues_part.empty() ? "no intent cue" : cues_part) +
                  (terms_part.empty() ? "" : "; words " + terms_part);
  return res;
}

}  // namespace dg::threat
