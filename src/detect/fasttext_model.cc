#include "detect/fasttext_model.h"

#include <fasttext/fasttext.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>

#include "core/errors.h"
#include "core/signature.h"

namespace dg::detect {

std::uint32_t fasttext_hash(std::string_view s) noexcept {
  std::uint32_t h = 2166136261u;
  for (const char c : s) {
    h = h ^ static_cast<std::uint32_t>(static_cast<std::int8_t>(c));  // fastText hashes signed bytes
    h = h * 16777619u;
  }
  return h;
}

bool is_long_token(std::string_view token) noexcept {
  if (token.size() <= kLongTokenBytes) return false;
  for (const char c : token)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

std::string model_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  auto ws = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' || c == '\0'; };
  while (i < text.size()) {
    while (i < text.size() && ws(text[i])) ++i;
    if (i >= text.size()) break;
    std::size_t j = i;
    while (j < text.size() && !ws(text[j])) ++j;
    const std::string_view tok = text.substr(i, j - i);
    if (!is_long_token(tok)) {
      if (!out.empty()) out.push_back(' ');
      out.append(tok);
    }
    i = j;
  }
  return out;
}

std::string FastTextModel::file_sha256(const std::string& path) {
  return sig::file_sha256(path).value_or("");  // one implementation (core/signature.h)
}

namespace {
bool ft_space(char c) noexcept {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' || c == '\0';
}
constexpr std::string_view kEos = "</s>";
constexpr std::string_view kLabelPrefix = "__label__";
}  // namespace

LoadResult<std::shared_ptr<const FastTextModel>> FastTextModel::load(const Options& opt) {
  using R = LoadResult<std::shared_ptr<const FastTextModel>>;
  auto fail = [&](std::string_view code, std::string msg) {
    return R::failure({LoadError{opt.path, 0, 0, std::string(code), std::move(msg)}});
  };
  if (sodium_init() < 0) return fail(errc::kModelInvalid, "libsodium failed to initialise");
  const std::string digest = file_sha256(opt.path);
  if (digest.empty()) return fail(errc::kConfigIo, "model file is missing or unreadable");
  if (!opt.sha256.empty() && digest != opt.sha256)
    return fail(errc::kTamperedArtifact, "model sha256 is " + digest + ", the config expects " + opt.sha256 +
                                             " (retrain with `dualguard train`, or update the pinned digest)");
  auto m = std::shared_ptr<FastTextModel>(new FastTextModel());
  m->sha256_ = digest;
  try {
    fasttext::FastText ft;
    ft.loadModel(opt.path);
    const fasttext::Args args = ft.getArgs();
    if (args.model != fasttext::model_name::sup) return fail(errc::kModelInvalid, "not a supervised fastText model");
    if (args.loss != fasttext::loss_name::softmax)
      return fail(errc::kModelInvalid, "only softmax-loss models are supported (exact explanations need it)");
    auto dict = ft.getDictionary();
    if (const_cast<fasttext::Dictionary&>(*dict).isPruned())
      return fail(errc::kModelInvalid, "pruned dictionary (quantised with -cutoff): retrain without cutoff");
    for (std::int32_t i = 0; i < dict->nlabels(); ++i) m->labels_.push_back(dict->getLabel(i));
    const auto pos = std::find(m->labels_.begin(), m->labels_.end(), opt.positive_label);
    if (pos == m->labels_.end()) return fail(errc::kModelInvalid, "the model has no label " + opt.positive_label);
    if (m->labels_.size() != 2)
      return fail(errc::kModelInvalid, "a detector model has exactly two labels (the positive class and the rest)");
    m->positive_ = static_cast<std::size_t>(pos - m->labels_.begin());
    std::shared_ptr<const fasttext::DenseMatrix> out;
    try {
      out = ft.getOutputMatrix();
    } catch (const std::exception&) {
      return fail(errc::kModelInvalid, "quantised output matrix: quantise with qout=false");
    }
    if (!out) return fail(errc::kModelInvalid, "no output matrix");
    m->dim_ = static_cast<std::size_t>(args.dim);
    m->nwords_ = dict->nwords();
    m->bucket_ = args.bucket;
    m->minn_ = args.minn;
    m->maxn_ = args.maxn;
    m->word_ngrams_ = args.wordNgrams;
    m->rows_ = static_cast<std::size_t>(m->nwords_) + static_cast<std::size_t>(std::max(0, m->bucket_));
    // With two labels softmax is a sigmoid of the logit margin: one number per row is all scoring
    // needs (half the memory traffic of both logits).
    const std::int64_t neg = 1 - static_cast<std::int64_t>(m->positive_);
    m->row_margin_.assign(m->rows_, 0.0f);
    fasttext::Vector v(args.dim);
    for (std::size_t i = 0; i < m->rows_; ++i) {
      ft.getInputVector(v, static_cast<std::int32_t>(i));
      double s = 0;
      for (std::int64_t j = 0; j < args.dim; ++j)
        s += (static_cast<double>(out->at(static_cast<std::int64_t>(m->positive_), j)) - out->at(neg, j)) * v[j];
      m->row_margin_[i] = static_cast<float>(s);
    }
    m->words_.reserve(static_cast<std::size_t>(m->nwords_));
    for (std::int32_t w = 0; w < m->nwords_; ++w) {
      const auto& rows = dict->getSubwords(w);
      WordInfo info;
      info.rows = static_cast<std::uint32_t>(rows.size());
      double s = 0;
      for (const std::int32_t r : rows) s += m->row_margin_[static_cast<std::size_t>(r)];
      info.margin = static_cast<float>(s);
      std::string word = dict->getWord(w);
      if (word == kEos) m->eos_ = info;
      const std::uint32_t h = fasttext_hash(word);
      m->words_.push_back({h, std::move(word), info});
    }
    std::size_t cap = 16;
    while (cap < m->words_.size() * 2) cap *= 2;
    m->slots_.assign(cap, -1);
    for (std::size_t k = 0; k < m->words_.size(); ++k) {
      std::size_t slot = m->words_[k].hash & (cap - 1);
      while (m->slots_[slot] >= 0) slot = (slot + 1) & (cap - 1);
      m->slots_[slot] = static_cast<std::int32_t>(k);
    }
    if (m->eos_.rows == 0) return fail(errc::kModelInvalid, "the dictionary has no end-of-sentence token");
  } catch (const std::exception& e) {
    return fail(errc::kModelInvalid, std::string("libfasttext cannot load the model: ") + e.what());
  }
  return R::success(std::move(m));
}

const FastTextModel::WordInfo* FastTextModel::find_word(std::string_view w, std::uint32_t h) const noexcept {
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t slot = h & mask;; slot = (slot + 1) & mask) {
    const std::int32_t k = slots_[slot];
    if (k < 0) return nullptr;
    const VocabEntry& e = words_[static_cast<std::size_t>(k)];
    if (e.hash == h && e.word == w) return &e.info;
  }
}


namespace {

// The tokens of a text and their character n-gram hashes, shared by the models that score the same
// text on one thread (every learned detector scores the same views): the n-gram hashes depend only
// on minn / maxn, each model then applies its own bucket count. A few entries, checked by address,
// length and content hash, so that a freed and reused buffer is never mistaken for the old text.
struct Tokenized {
  struct Tok {
    std::uint32_t start, end, hash;
    std::int32_t ngram_begin;  // into ngrams; -1 until first needed (an out-of-vocabulary token)
    std::uint32_t ngram_count;
  };
  const char* data = nullptr;
  std::size_t size = 0, content = 0;
  int minn = -1, maxn = -1;
  std::vector<Tok> toks;
  std::vector<std::uint32_t> ngrams;
};

void ngram_hashes(std::string_view token, int minn, int maxn, std::vector<std::uint32_t>& out) {
  // Dictionary::computeSubwords over "<" token ">": UTF-8 aware character n-grams of length
  // minn..maxn, without the single-character n-grams at the word's edges. The hash of each n-gram
  // is extended byte by byte (FNV-1a is a running hash), so no n-gram string is built.
  const std::size_t len = token.size() + 2;
  auto at = [&](std::size_t k) -> char { return k == 0 ? '<' : k == len - 1 ? '>' : token[k - 1]; };
  auto cont = [&](std::size_t k) { return (static_cast<unsigned char>(at(k)) & 0xC0) == 0x80; };
  for (std::size_t i = 0; i < len; ++i) {
    if (cont(i)) continue;
    std::uint32_t h = 2166136261u;
    std::size_t j = i;
    for (int n = 1; j < len && n <= maxn; ++n) {
      do {
        h = (h ^ static_cast<std::uint32_t>(static_cast<std::int8_t>(at(j)))) * 16777619u;
        ++j;
      } while (j < len && cont(j));
      if (n >= minn && !(n == 1 && (i == 0 || j == len))) out.push_back(h);
    }
  }
}

Tokenized& tokenize(std::string_view text, int minn, int maxn) {
  thread_local std::array<Tokenized, 8> cache;
  thread_local std::size_t next = 0;
  const std::size_t content = std::hash<std::string_view>{}(text);
  for (auto& c : cache)
    if (c.data == text.data() && c.size == text.size() && c.content == content && c.minn == minn && c.maxn == maxn)
      return c;
  Tokenized& t = cache[next];
  next = (next + 1) % cache.size();
  t.data = text.data();
  t.size = text.size();
  t.content = content;
  t.minn = minn;
  t.maxn = maxn;
  t.toks.clear();
  t.ngrams.clear();
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && ft_space(text[i])) ++i;
    if (i >= text.size()) break;
    std::size_t j = i;
    while (j < text.size() && !ft_space(text[j])) ++j;
    const std::string_view w = text.substr(i, j - i);
    // A token that looks like a label is not a word for fastText (and not a label in a text to score).
    if (!w.starts_with(kLabelPrefix) && !is_long_token(w))
      t.toks.push_back({static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(j), fasttext_hash(w), -1, 0});
    i = j;
  }
  return t;
}

}  // namespace

double FastTextModel::score(std::string_view text, std::vector<Contribution>* explain, std::size_t* known) const {
  double total = 0.0;
  std::size_t in_vocab = 0;
  std::uint64_t n_rows = 0;
  Tokenized& tk = tokenize(text, minn_, maxn_);
  if (explain) explain->clear();
  for (auto& t : tk.toks) {
    const std::string_view w = text.substr(t.start, t.end - t.start);
    std::uint32_t rows = 0;
    double m = 0.0;
    if (const WordInfo* info = find_word(w, t.hash)) {
      rows = info->rows;
      m = info->margin;
      ++in_vocab;
    } else if (maxn_ > 0 && bucket_ > 0) {
      if (t.ngram_begin < 0) {
        t.ngram_begin = static_cast<std::int32_t>(tk.ngrams.size());
        ngram_hashes(w, minn_, maxn_, tk.ngrams);
        t.ngram_count = static_cast<std::uint32_t>(tk.ngrams.size() - static_cast<std::size_t>(t.ngram_begin));
      }
      const std::uint32_t* h = &tk.ngrams[static_cast<std::size_t>(t.ngram_begin)];
      for (std::uint32_t k = 0; k < t.ngram_count; ++k)
        m += row_margin_[static_cast<std::size_t>(nwords_) + h[k] % static_cast<std::uint32_t>(bucket_)];
      rows = t.ngram_count;
    }
    total += m;
    n_rows += rows;
    if (explain && rows) explain->push_back({t.start, t.end, m});
  }
  // The end-of-line token closes every line fastText reads.
  const auto end = static_cast<std::uint32_t>(text.size());
  total += eos_.margin;
  n_rows += eos_.rows;
  if (explain) explain->push_back({end, end, eos_.margin});  // an empty span: no token to show
  // Word n-grams (Dictionary::addWordNgrams) over the tokens and the end-of-line token: hashes are
  // int32 in fastText and sign-extend into the 64-bit running hash.
  if (word_ngrams_ > 1 && bucket_ > 0) {
    static const std::uint32_t kEosHash = fasttext_hash(kEos);
    const std::size_t n = tk.toks.size() + 1;
    auto hash_at = [&](std::size_t k) { return k < tk.toks.size() ? tk.toks[k].hash : kEosHash; };
    auto end_at = [&](std::size_t k) { return k < tk.toks.size() ? tk.toks[k].end : end; };
    for (std::size_t a = 0; a < n; ++a) {
      std::uint64_t h = static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<std::int32_t>(hash_at(a))));
      for (std::size_t b = a + 1; b < n && b < a + static_cast<std::size_t>(word_ngrams_); ++b) {
        h = h * 116049371u + static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<std::int32_t>(hash_at(b))));
        const double m = row_margin_[static_cast<std::size_t>(nwords_) + static_cast<std::size_t>(h % static_cast<std::uint64_t>(bucket_))];
        total += m;
        ++n_rows;
        if (explain) explain->push_back({a < tk.toks.size() ? tk.toks[a].start : end, end_at(b), m});
      }
    }
  }
  if (known) *known = in_vocab;
  const double inv = 1.0 / static_cast<double>(std::max<std::uint64_t>(n_rows, 1));
  if (explain)
    for (auto& e : *explain) e.weight *= inv;
  return 1.0 / (1.0 + std::exp(-total * inv));
}

}  // namespace dg::detect
