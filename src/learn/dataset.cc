#include "learn/dataset.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "core/errors.h"
#include "detect/fasttext_model.h"
#include "detect/learned.h"

namespace dg::learn {
namespace {

// Recipes. Positives are scarce next to the Alpaca-derived benign instructions: they are augmented,
// and the negatives are capped per source so that one source cannot define "benign". Borderline
// prompts (safe prompts that look risky) are the hard negatives: repeated.
const std::vector<Task>& tasks() {
  static const std::vector<Task> t = [] {
    std::vector<Task> v;
    {
      Task k;
      k.name = "prompt_attack";
      k.positive_label = "__label__attack";
      k.negative_label = "__label__benign";
      k.description = "prompt injection and jailbreak attempts (attacks on the AI system) vs ordinary, risky-looking "
                      "and plainly harmful requests";
      k.parts = {{"injection", {"attack"}, {}, 1, 0, false},
                 {"benign", {}, {"benign"}, 1, 8000, true, 1000, 8},
                 {"borderline", {}, {"benign"}, 4, 0, false},
                 {"harmful", {}, {"harmful"}, 1, 0, false}};
      k.augment = 2;
      k.reform = 0.5;
      k.rule = ThresholdRule::target_fpr;
      // measured: 92.4% dev detection at 1% benign FPR with 15 epochs / lr 0.3, 88.9% at 5 / 0.1; with
      // JailbreakBench and BIPIA held out of training, 83.8% vs 81.7% (the gain is not dev overfitting)
      k.epoch = 15;
      k.lr = 0.3;
      // measured (same data, 1% benign FPR on dev): logistic regression over character 2-6-grams,
      // words and word pairs detects more than fastText, in-source and on held-out sources
      // (docs/learned.md); fastText stays available with --learner fasttext.
      k.learner = "linear";
      k.C = 16.0;
      k.smooth = 1000.0;  // measured: hand-written short benign prompts blocked 10/20 -> 6/20, dev within one item
      // Block at 0.5% of benign/dev, review up to 1%: the score tail is steep (measured: 95.8% of
      // injection/dev blocked at 0.5%, 96.3% flagged at 1%), so half the false blocks cost 0.5 points.
      k.block_fpr = 0.005;
      // benign/ is 97% instructions: the code, e-mail, table and chat categories (RAG contexts,
      // pasted answers) are repeated x8 so that instructions alone do not define "benign"
      // (measured with the first, bucket-normalised linear features: benign/dev code contexts flagged
      // 6/11 -> 4/11, non-instruction benign 10/159 -> 6/159, detection 96.5% -> 96.8%).
      v.push_back(k);
    }
    {
      Task k;
      k.name = "harmful_request";
      k.positive_label = "__label__harmful";
      k.negative_label = "__label__benign";
      k.description = "requests for harmful content (misuse) vs ordinary and risky-looking but safe requests";
      k.parts = {{"harmful", {"harmful"}, {}, 1, 0, false},
                 {"benign", {}, {"benign"}, 1, 8000, true},
                 {"borderline", {}, {"benign"}, 6, 0, false}};
      k.augment = 1;
      k.reform = 0.5;
      // measured (dev, 1% benign FPR): 0 -> 89.1%, 0.001 -> 89.8%, 0.002 -> 90.6% detected, borderline
      // unchanged at 10/95; with a source held out of training, AdvBench 69.1% -> 76.6%, do-not-answer
      // 35.8% -> 37.8%, StrongREJECT 49 -> 50 of 51, jailbreak_llms forbidden questions 68 -> 67 of 83.
      k.frame_df = 0.002;
      k.rule = ThresholdRule::target_fpr;
      // measured: 89.1% of harmful/dev at 1% benign FPR (borderline 10.5%), fastText 81.9% (12.6%)
      k.learner = "linear";
      k.smooth = 1000.0;
      v.push_back(k);
    }
    {
      Task k;
      k.name = "toxicity";
      k.positive_label = "__label__toxic";
      k.negative_label = "__label__clean";
      k.description = "hateful, offensive or abusive language vs clean text, including neutral statements about groups";
      k.parts = {{"toxicity", {"toxic"}, {"clean"}, 1, 0, true}};
      k.augment = 0;
      // Dev is 82% toxic: the F1-optimal threshold there flags 17% of clean text. Deployed traffic is
      // mostly clean, so the threshold bounds false positives on the clean class instead.
      k.rule = ThresholdRule::target_fpr;
      k.target_fpr = 0.05;
      v.push_back(k);
    }
    {
      Task k;
      k.name = "harmful_response";
      k.positive_label = "__label__harmful";
      k.negative_label = "__label__safe";
      k.description = "model responses that comply with a harmful request vs refusals and harmless answers";
      k.parts = {{"responses", {"harmful"}, {"not_harmful"}, 1, 0, true}};
      k.augment = 0;
      k.rule = ThresholdRule::target_fpr;
      k.target_fpr = 0.05;
      k.epoch = 25;  // measured: F1 0.93 on dev at 25 epochs / lr 0.5, 0.79 at 5 / 0.1
      k.lr = 0.5;
      v.push_back(k);
    }
    return v;
  }();
  return t;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

const Task* find_task(const std::string& name) {
  for (const auto& t : tasks())
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<std::string> task_names() {
  std::vector<std::string> out;
  for (const auto& t : tasks()) out.push_back(t.name);
  return out;
}

LoadResult<std::vector<Example>> read_split(const std::string& corpora, const Task& task, const std::string& split) {
  using R = LoadResult<std::vector<Example>>;
  std::vector<Example> out;
  LoadErrors errors;
  for (const auto& part : task.parts) {
    const std::string path = corpora + "/" + part.folder + "/" + split + ".jsonl";
    std::ifstream in(path);
    if (!in) {
      errors.push_back({path, 0, 0, std::string(errc::kInputIo), "cannot read the corpus file"});
      continue;
    }
    std::string line;
    int no = 0;
    while (std::getline(in, line)) {
      ++no;
      if (line.empty()) continue;
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) {
        errors.push_back({path, no, 0, std::string(errc::kInvalidJson), "not a JSON object"});
        continue;
      }
      if (!j.contains("text") || !j["text"].is_string() || !j.contains("label") || !j["label"].is_string()) {
        errors.push_back({path, no, 0, std::string(errc::kMissingField), "needs string fields \"text\" and \"label\""});
        continue;
      }
      Example e;
      e.text = j["text"].get<std::string>();
      const std::string label = j["label"].get<std::string>();
      if (contains(part.positive_labels, label)) e.positive = true;
      else if (contains(part.negative_labels, label)) e.positive = false;
      else {
        errors.push_back({path, no, 0, std::string(errc::kConfigInvalidValue),
                          "label '" + label + "' is neither a positive nor a negative label of task " + task.name});
        continue;
      }
      if (j.contains("source") && j["source"].is_string()) e.source = j["source"].get<std::string>();
      if (j.contains("category") && j["category"].is_string()) e.category = j["category"].get<std::string>();
      e.set = part.folder + "/" + split;
      out.push_back(std::move(e));
    }
  }
  if (!errors.empty()) return R::failure(std::move(errors));
  return R::success(std::move(out));
}

std::string model_text(const text::Normalizer& norm, std::string_view text) {
  return detect::model_line(norm.fold(text));
}

std::string augment(std::string_view text, int kind, std::uint64_t seed, const std::vector<std::string>& covers) {
  std::mt19937_64 rng(seed);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % std::max<std::size_t>(n, 1)); };
  std::vector<std::string> words;
  {
    std::string w;
    for (const char c : text) {
      if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
        if (!w.empty()) words.push_back(std::move(w));
        w.clear();
      } else {
        w.push_back(c);
      }
    }
    if (!w.empty()) words.push_back(std::move(w));
  }
  auto join = [&] {
    std::string s;
    for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
    return s;
  };
  switch (kind % kAugmentKinds) {
    case 0: {  // the payload inside benign text: indirect injection, a request in a longer message
      if (covers.empty()) return std::string(text);
      return covers[pick(covers.size())] + " " + std::string(text) + " " + covers[pick(covers.size())];
    }
    case 1: {  // word dropout
      std::vector<std::string> kept;
      for (auto& w : words)
        if (rng() % 10 != 0) kept.push_back(std::move(w));
      if (kept.empty()) return std::string(text);
      words = std::move(kept);
      return join();
    }
    case 2: {  // typos: swap two adjacent letters in some words
      for (auto& w : words)
        if (w.size() >= 4 && rng() % 5 == 0) {
          const std::size_t k = 1 + pick(w.size() - 2);
          std::swap(w[k], w[k - 1]);
        }
      return join();
    }
    case 3: {  // emoji between words
      static const char* kEmoji[] = {"\xF0\x9F\x98\x80", "\xF0\x9F\x94\xA5", "\xE2\x9C\xA8", "\xF0\x9F\x91\x89",
                                     "\xF0\x9F\x99\x8F"};
      std::string s;
      for (const auto& w : words) {
        if (!s.empty()) s += rng() % 3 == 0 ? std::string(" ") + kEmoji[pick(5)] + " " : " ";
        s += w;
      }
      return s;
    }
    default: {  // leetspeak on some words (the leet view undoes it; the folded text does not)
      for (auto& w : words) {
        if (rng() % 3 != 0) continue;
        for (auto& c : w) {
          switch (c) {
            case 'e': c = '3'; break;
            case 'a': c = '4'; break;
            case 'o': c = '0'; break;
            case 'i': c = '1'; break;
            case 's': c = '5'; break;
            default: break;
          }
        }
      }
      return join();
    }
  }
}

std::string reform(std::string_view text, std::uint64_t seed) {
  std::string t(text);
  while (!t.empty() && (t.back() == '.' || t.back() == '?' || t.back() == '!' || t.back() == ' ' || t.back() == '\n'))
    t.pop_back();
  if (t.empty()) return std::string(text);
  // Questions that already ask ("how do i ...", "what is ...") become requests; the rest questions.
  std::string lower = t;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const char* kQuestionStarts[] = {"how ", "what ", "why ", "can ", "could ", "is ", "are ", "do ", "does ",
                                          "where ", "when ", "which ", "who ", "should ", "would "};
  bool question = false;
  for (const char* q : kQuestionStarts) question |= lower.rfind(q, 0) == 0;
  if (t.size() > 1 && std::isupper(static_cast<unsigned char>(t[0])) && std::islower(static_cast<unsigned char>(t[1])))
    t[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(t[0])));
  static const char* kAsk[] = {"How do I %s?", "Can you %s?", "Could you please %s?", "What is the best way to %s?",
                               "I need to %s. How?", "Is it possible to %s?", "Help me %s."};
  static const char* kTell[] = {"Please answer this: %s?", "Tell me: %s?", "Quick question: %s?",
                                "I was wondering, %s?", "Answer briefly: %s?"};
  const auto& forms = question ? kTell : kAsk;
  const std::size_t n = question ? std::size(kTell) : std::size(kAsk);
  const std::string f = forms[seed % n];
  const auto at = f.find("%s");
  return f.substr(0, at) + t + f.substr(at + 2);
}

namespace {

// Calls fn(word, start) for each space-separated word of a model text (model_text's output: one
// line, single spaces) until fn returns false; returns where the walk stopped (text.size() at the end).
template <typename Fn>
std::size_t walk_words(std::string_view text, Fn fn) {
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = text.find(' ', i);
    if (j == std::string_view::npos) j = text.size();
    if (j > i && !fn(text.substr(i, j - i))) return i;
    i = j + 1;
  }
  return text.size();
}

}  // namespace

std::pair<std::string, std::string> split_frame(std::string_view text,
                                                const std::function<bool(std::string_view)>& is_frame_word) {
  const std::size_t i = walk_words(text, is_frame_word);
  if (i >= text.size()) return {std::string(text), ""};
  return {std::string(text.substr(0, i > 0 ? i - 1 : 0)), std::string(text.substr(i))};
}

namespace {

// Frame words of a training split: words in at least `share` of its negative examples' model texts.
std::set<std::string, std::less<>> frame_words(const std::vector<std::string>& negatives, double share) {
  std::map<std::string, std::size_t, std::less<>> df;
  for (const auto& t : negatives) {
    std::set<std::string_view> seen;
    walk_words(t, [&](std::string_view w) {
      seen.insert(w);
      return true;
    });
    for (auto w : seen) ++df[std::string(w)];
  }
  const double need = share * static_cast<double>(negatives.size());
  std::set<std::string, std::less<>> out;
  for (const auto& [w, n] : df)
    if (static_cast<double>(n) >= need) out.insert(w);
  return out;
}

std::size_t word_count(std::string_view s) {
  if (s.empty()) return 0;
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), ' ')) + 1;
}

// One counterfactual negative per framed positive (Task::frame_df).
void add_frame_swaps(const Task& task, const std::vector<std::string>& positives,
                     const std::vector<std::string>& negatives, std::mt19937_64& rng,
                     std::vector<std::string>& lines) {
  if (task.frame_df <= 0 || positives.empty() || negatives.empty()) return;
  const auto words = frame_words(negatives, task.frame_df);
  auto is_frame = [&](std::string_view w) { return words.find(w) != words.end(); };
  std::vector<std::string> objects;
  for (const auto& n : negatives) {
    if (n.size() > 200) continue;
    auto [frame, object] = split_frame(n, is_frame);
    if (word_count(object) >= 2) objects.push_back(std::move(object));
  }
  if (objects.empty()) return;
  for (const auto& p : positives) {
    auto [frame, object] = split_frame(p, is_frame);
    if (word_count(frame) < 2 || object.empty()) continue;
    lines.push_back(task.negative_label + " " + frame + " " + objects[rng() % objects.size()]);
  }
}

}  // namespace

std::vector<std::string> training_lines(const Task& task, const std::vector<Example>& train,
                                        const text::Normalizer& norm, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> frame_pos, frame_neg;  // model texts for add_frame_swaps
  // Benign sentences to wrap payloads in (short ones read like the surrounding text of a message).
  std::vector<std::string> covers;
  for (const auto& e : train)
    if (!e.positive && e.text.size() >= 20 && e.text.size() <= 200) covers.push_back(e.text);
  std::vector<std::string> lines;
  std::map<std::pair<std::string, std::string>, std::size_t> per_source;  // (folder, source) -> taken
  std::map<std::pair<std::string, std::string>, std::size_t> category_count;  // (folder, category) -> examples
  for (const auto& e : train) ++category_count[{e.set.substr(0, e.set.find('/')), e.category}];
  // Deterministic order before caps: shuffle once with the seed, then walk.
  std::vector<std::size_t> order(train.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  for (const std::size_t i : order) {
    const Example& e = train[i];
    const std::string folder = e.set.substr(0, e.set.find('/'));
    const Part* part = nullptr;
    for (const auto& p : task.parts)
      if (p.folder == folder) part = &p;
    if (!part) continue;
    if (part->cap && per_source[{folder, e.source}]++ >= part->cap) continue;
    const std::string& label = e.positive ? task.positive_label : task.negative_label;
    const std::string t = model_text(norm, e.text);
    if (t.empty()) continue;
    int weight = part->weight;
    if (part->minority_weight > 1 && category_count[{folder, e.category}] < part->minority_below) weight *= part->minority_weight;
    for (int w = 0; w < weight; ++w) lines.push_back(label + " " + t);
    if (task.frame_df > 0 && e.text.size() < 400) (e.positive ? frame_pos : frame_neg).push_back(t);
    if (task.reform > 0 && e.text.size() < 400 && static_cast<double>(rng() % 1000) < task.reform * 1000.0) {
      const std::string r = model_text(norm, reform(e.text, rng()));
      if (!r.empty()) lines.push_back(label + " " + r);
    }
    if (e.positive)
      for (int a = 0; a < task.augment; ++a) {
        const int kind = static_cast<int>(rng() % kAugmentKinds);
        const std::string aug = model_text(norm, augment(e.text, kind, rng(), covers));
        if (!aug.empty()) lines.push_back(label + " " + aug);
      }
  }
  add_frame_swaps(task, frame_pos, frame_neg, rng, lines);
  std::shuffle(lines.begin(), lines.end(), rng);
  return lines;
}

}  // namespace dg::learn
