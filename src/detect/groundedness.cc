#include "detect/groundedness.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <unordered_set>

#include "core/errors.h"
#include "detect/hash.h"

namespace dg::detect {
namespace {

// Function words and the boilerplate of answers about documents ("according to the provided
// context ..."): never evidence of grounding or of its absence.
constexpr std::array<std::string_view, 130> kStopWords{
    "about",     "above",    "according", "actually", "after",    "again",      "against",   "also",
    "although",  "among",    "another",   "answer",   "anyone",   "anything",   "around",    "based",
    "because",   "been",     "before",    "being",    "below",    "between",    "both",      "cannot",
    "certain",   "clearly",  "context",   "could",    "does",     "doing",      "done",      "down",
    "during",    "each",     "either",    "else",     "enough",   "even",       "ever",      "every",
    "example",   "following","from",      "further",  "generally","given",      "have",      "having",
    "help",      "here",     "however",   "important","include",  "including",  "information","into",
    "itself",    "just",     "know",      "least",    "less",     "like",       "made",      "make",
    "many",      "mentioned","might",     "more",     "most",     "much",       "must",      "need",
    "note",      "often",    "only",      "other",    "over",     "please",     "provide",   "provided",
    "question",  "rather",   "really",    "same",     "says",     "should",     "since",     "some",
    "something", "specific", "state",     "states",   "such",     "sure",       "than",      "that",
    "their",     "them",     "then",      "there",    "therefore","these",      "they",      "thing",
    "things",    "this",     "those",     "though",   "through",  "thus",       "under",     "until",
    "upon",      "very",     "well",      "were",     "what",     "when",       "where",     "whether",
    "which",     "while",    "will",      "with",     "within",   "without",    "would",     "your",
    "yours",     "document",
};

bool is_stop_word(std::string_view w) {
  static const std::unordered_set<std::string_view> set(kStopWords.begin(), kStopWords.end());
  return set.contains(w);
}

bool word_byte(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80; }
bool digit(unsigned char c) { return c >= '0' && c <= '9'; }

struct Token {
  std::uint32_t start, end;  // in the tokenised text
  std::string text;          // ASCII-lowercased; digit-group commas removed from numbers
  bool number = false;       // digits with optional internal . or ,
};

// Words and numbers of `s` ("3.5" and "1,200" are one token each).
void tokenize(std::string_view s, std::vector<Token>& out) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (!word_byte(static_cast<unsigned char>(s[i]))) {
      ++i;
      continue;
    }
    const std::size_t a = i;
    bool all_digits = true;
    while (i < s.size()) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (word_byte(c)) {
        all_digits = all_digits && digit(c);
        ++i;
      } else if ((c == '.' || c == ',') && all_digits && i > a && i + 1 < s.size() &&
                 digit(static_cast<unsigned char>(s[i + 1])) && digit(static_cast<unsigned char>(s[i - 1]))) {
        ++i;
      } else {
        break;
      }
    }
    Token t{static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(i), {}, all_digits};
    t.text.reserve(i - a);
    for (std::size_t k = a; k < i; ++k) {
      char c = s[k];
      if (t.number && c == ',') continue;
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      t.text.push_back(c);
    }
    out.push_back(std::move(t));
  }
}

// A light suffix stripper applied alike to answer and context: consistency matters, not linguistics.
std::string_view stem(std::string_view w) {
  auto ends = [&](std::string_view suf) { return w.size() > suf.size() && w.substr(w.size() - suf.size()) == suf; };
  if (w.size() > 5 && ends("ing")) return w.substr(0, w.size() - 3);
  if (w.size() > 4 && ends("ied")) return w.substr(0, w.size() - 3);
  if (w.size() > 4 && ends("ies")) return w.substr(0, w.size() - 3);
  if (w.size() > 4 && ends("ed")) return w.substr(0, w.size() - 2);
  if (w.size() > 5 && ends("ly")) return w.substr(0, w.size() - 2);
  if (w.size() > 4 && ends("es")) return w.substr(0, w.size() - 2);
  if (w.size() > 3 && ends("s") && !ends("ss")) return w.substr(0, w.size() - 1);
  return w;
}

bool upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }

// Whether the word starting at `pos` of the original text begins a sentence.
bool sentence_start(std::string_view orig, std::size_t pos) {
  while (pos > 0) {
    const char c = orig[pos - 1];
    if (c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '(' || c == '*' || c == '#' || c == '-') {
      --pos;
      continue;
    }
    return c == '.' || c == '!' || c == '?' || c == ':' || c == '\n' || c == '\r';
  }
  return true;
}

}  // namespace

LoadResult<std::unique_ptr<GroundednessDetector>> GroundednessDetector::create(const Config& cfg,
                                                                             const text::Normalizer* normalizer) {
  using R = LoadResult<std::unique_ptr<GroundednessDetector>>;
  LoadErrors errors;
  auto bad = [&](std::string msg) {
    errors.push_back(LoadError{"", 0, 0, std::string(errc::kConfigInvalidValue), "detectors.groundedness: " + std::move(msg)});
  };
  if (!(cfg.threshold > 0.0 && cfg.threshold <= 1.0)) bad("threshold must be in (0, 1]");
  if (!(cfg.review_threshold > 0.0 && cfg.review_threshold <= cfg.threshold))
    bad("review_threshold must be in (0, threshold]");
  if (cfg.min_terms < 1) bad("min_terms must be at least 1");
  if (cfg.min_word_length < 2) bad("min_word_length must be at least 2");
  if (cfg.max_context_bytes < 64) bad("max_context_bytes must be at least 64");
  if (!normalizer) bad("a normaliser is required");
  if (!errors.empty()) return R::failure(std::move(errors));
  return R::success(std::unique_ptr<GroundednessDetector>(new GroundednessDetector(cfg, normalizer)));
}

std::unique_ptr<Detector> GroundednessDetector::load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx) {
  if (!r.check_keys(node, {"enabled", "threshold", "review_threshold", "min_terms", "min_word_length", "max_context_bytes"},
                    "detectors.groundedness"))
    return nullptr;
  Config cfg;
  cfg.threshold = r.number(node, "threshold", cfg.threshold, 0.0, 1.0);
  cfg.review_threshold = r.number(node, "review_threshold", std::min(cfg.review_threshold, cfg.threshold), 0.0, 1.0);
  cfg.min_terms = static_cast<std::size_t>(r.integer(node, "min_terms", 8, 1, 100000));
  cfg.min_word_length = static_cast<std::size_t>(r.integer(node, "min_word_length", 4, 2, 64));
  cfg.max_context_bytes = static_cast<std::size_t>(r.integer(node, "max_context_bytes", 256 * 1024, 64, 64ll << 20));
  auto res = create(cfg, ctx.normalizer);
  for (auto& e : res.errors) {
    if (e.file.empty()) e.file = r.file();
    r.errors().push_back(std::move(e));
  }
  return res.value ? std::move(*res.value) : nullptr;
}

GroundednessDetector::Judgement GroundednessDetector::judge(const text::Normalized& answer,
                                                          std::span<const std::string_view> context) const {
  Judgement j;
  // The context's vocabulary: stems of words, exact folded words (entities), numbers.
  std::unordered_set<std::uint64_t> stems, words, numbers;
  std::size_t budget = cfg_.max_context_bytes;
  std::vector<Token> toks;
  for (const std::string_view doc : context) {
    if (budget == 0) break;
    const std::string_view part = doc.substr(0, std::min(doc.size(), budget));
    budget -= part.size();
    toks.clear();
    tokenize(normalizer_->fold(part), toks);
    for (const auto& t : toks) {
      if (t.number) {
        numbers.insert(hash64(t.text));
      } else {
        words.insert(hash64(t.text));
        stems.insert(hash64(stem(t.text)));
      }
    }
  }
  const text::View* v = answer.find("nfkc");
  if (!v) v = &answer.views[0];
  const std::string_view orig = answer.original;
  toks.clear();
  tokenize(v->text, toks);
  for (const auto& t : toks) {
    const Span sp = v->to_original(t.start, t.end);
    Term term{TermKind::word, {}, sp, false};
    if (t.number) {
      term.kind = TermKind::number;
      term.key = t.text;
      term.supported = numbers.contains(hash64(t.text));
    } else {
      const std::string_view o = sp.end <= orig.size() && sp.end > sp.start ? orig.substr(sp.start, sp.end - sp.start)
                                                                          : std::string_view{};
      const bool acronym = o.size() >= 2 && std::all_of(o.begin(), o.end(), [](char c) {
        return upper(static_cast<unsigned char>(c)) || digit(static_cast<unsigned char>(c));
      }) && upper(static_cast<unsigned char>(o[0]));
      const bool capitalised = !o.empty() && upper(static_cast<unsigned char>(o[0])) && !sentence_start(orig, sp.start);
      if ((acronym || capitalised) && !is_stop_word(t.text) && t.text.size() >= 2) {
        term.kind = TermKind::entity;
        term.key = t.text;
        term.supported = words.contains(hash64(t.text)) || stems.contains(hash64(stem(t.text)));
      } else {
        if (t.text.size() < cfg_.min_word_length || is_stop_word(t.text)) continue;
        const std::string_view st = stem(t.text);
        term.key = std::string(st);
        term.supported = stems.contains(hash64(st)) || words.contains(hash64(t.text));
      }
    }
    const auto k = static_cast<std::size_t>(term.kind);
    ++j.total[k];
    if (term.supported) ++j.supported[k];
    j.terms.push_back(std::move(term));
  }
  constexpr double kWeight[3] = {3.0, 2.0, 1.0};
  double all = 0.0, ok = 0.0;
  for (std::size_t k = 0; k < 3; ++k) {
    all += kWeight[k] * static_cast<double>(j.total[k]);
    ok += kWeight[k] * static_cast<double>(j.supported[k]);
  }
  j.support = all > 0 ? ok / all : 1.0;
  return j;
}

bool GroundednessDetector::scan(const ScanInput& in, Scratch*, std::vector<Finding>& out) const noexcept {
  counters_.scans.fetch_add(1, std::memory_order_relaxed);
  try {
    if (in.role != Role::response || in.context.empty() || in.text.views.empty()) return true;
    const Judgement j = judge(in.text, in.context);
    if (j.terms.size() < cfg_.min_terms) return true;
    const double score = 1.0 - j.support;
    if (score < cfg_.review_threshold) return true;
    Finding fd;
    fd.detector = "groundedness";
    fd.category = "ungrounded_answer";
    fd.score = score;
    fd.severity = score >= cfg_.threshold ? Severity::medium : Severity::low;
    fd.role = in.role;
    const std::size_t n = static_cast<std::size_t>(TermKind::number), e = static_cast<std::size_t>(TermKind::entity),
                      w = static_cast<std::size_t>(TermKind::word);
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "support %.2f against %zu context document(s): numbers %zu/%zu, named entities %zu/%zu, content "
                  "words %zu/%zu found in the context",
                  j.support, in.context.size(), j.supported[n], j.total[n], j.supported[e], j.total[e], j.supported[w],
                  j.total[w]);
    fd.evidence = buf;
    // Unsupported numbers, then entities, then words, in answer order within each kind.
    std::vector<const Term*> missing;
    for (const TermKind kind : {TermKind::number, TermKind::entity, TermKind::word})
      for (const auto& t : j.terms)
        if (!t.supported && t.kind == kind && missing.size() < kExplainTop) missing.push_back(&t);
    std::string names;
    for (const Term* t : missing) {
      const std::string_view o = in.text.original.substr(t->span.start, t->span.end - t->span.start);
      names += (names.empty() ? "\"" : ", \"") + excerpt(o, 40) + "\"";
      fd.spans.push_back(t->span);
    }
    if (!names.empty()) fd.evidence += "; unsupported: " + names;
    merge_spans(fd.spans);
    out.push_back(std::move(fd));
    counters_.findings.fetch_add(1, std::memory_order_relaxed);
    return true;
  } catch (...) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
}

}  // namespace dg::detect
