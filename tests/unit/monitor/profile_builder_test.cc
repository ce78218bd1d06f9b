// The profile builder (src/monitor/profile_builder.h): a profile learns a toy deployment's traffic
// (cooking questions) and the ood detector then tells a code snippet or a contract clause from a
// new cooking question; determinism; errors with file:line; prompts read back from an audit log.
#include "monitor/profile_builder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "detect/ood.h"
#include "store/audit_log.h"

namespace dg::monitor {
namespace {

const text::Normalizer& normalizer() {
  static std::shared_ptr<const text::Normalizer> n = *text::Normalizer::create({}).value;
  return *n;
}

// 400 varied cooking questions: the toy deployment's traffic.
std::vector<std::string> cooking_traffic() {
  const std::vector<std::string> dish = {"pasta", "rice", "soup", "bread", "chicken", "salad", "cake", "curry",
                                         "pancakes", "beans", "fish", "stew", "pie", "noodles", "eggs", "tofu",
                                         "potatoes", "cookies", "risotto", "dumplings"};
  const std::vector<std::string> ask = {"How long should I cook {} for dinner?", "What spices go well with {}?",
                                        "Can I freeze leftover {} for next week?", "Give me a quick recipe for {}.",
                                        "Why does my {} always turn out bland?",  "What wine pairs with {} tonight?",
                                        "How do I make {} without an oven?",      "Is {} healthy for a weeknight meal?",
                                        "What can I add to {} to make it spicy?", "How much salt goes into {}?"};
  const std::vector<std::string> tail = {"", " Thanks!", " I am cooking for four people.", " Keep it simple please."};
  std::vector<std::string> out;
  for (std::size_t i = 0; i < dish.size(); ++i)
    for (std::size_t j = 0; j < ask.size(); ++j) {
      std::string q = ask[j];
      q.replace(q.find("{}"), 2, dish[i]);
      out.push_back(q + tail[(i + j) % tail.size()]);
      out.push_back(q);
    }
  return out;
}

std::unique_ptr<detect::OodDetector> detector(std::shared_ptr<const detect::OodProfile> p) {
  auto d = detect::OodDetector::create(detect::OodDetector::Config{}, std::move(p));
  EXPECT_TRUE(d.value) << format_errors_text(d.errors);
  return std::move(*d.value);
}

double score(const detect::OodDetector& d, std::string_view text) { return d.score(normalizer().normalize(text)); }

TEST(ProfileBuilder, LearnsTheTrafficAndTellsOutOfDistributionTextApart) {
  ProfileBuildOptions opt;
  auto p = build_profile(cooking_traffic(), normalizer(), opt, "toy");
  ASSERT_TRUE(p.ok()) << format_errors_text(p.errors);
  const auto& m = (*p.value)->meta();
  EXPECT_EQ(m.texts, 400u);
  EXPECT_EQ(m.holdout, 80u);
  EXPECT_LE(m.q50, m.q90);
  EXPECT_LE(m.q90, m.q99);
  auto d = detector(*p.value);
  // Questions made of this traffic's own words: ordinary for it. (The toy traffic is so uniform
  // that a single unseen word, "bake", already makes a question unusual: see the next check.)
  EXPECT_LT(score(*d, "What spices go well with dumplings? Keep it simple please."), 0.95);
  EXPECT_LT(score(*d, "Can I freeze leftover stew for next week?"), 0.95);
  EXPECT_GT(score(*d, "How long should I bake cookies for a party?"),
            score(*d, "How long should I cook cookies for dinner?"));
  // Far from it: code, and a contract clause.
  EXPECT_GE(score(*d, "def merge(a, b):\n    return sorted(a + b, key=lambda x: x[0])\n"), 0.99);
  EXPECT_GE(score(*d, "The Licensee shall indemnify and hold harmless the Licensor from all claims arising hereunder."),
            0.99);
}

TEST(ProfileBuilder, IsDeterministicForASeed) {
  ProfileBuildOptions opt;
  auto a = build_profile(cooking_traffic(), normalizer(), opt, "toy");
  auto b = build_profile(cooking_traffic(), normalizer(), opt, "toy");
  opt.seed = 7;
  auto c = build_profile(cooking_traffic(), normalizer(), opt, "toy");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ((*a.value)->meta().q50, (*b.value)->meta().q50);
  EXPECT_EQ((*a.value)->meta().q99, (*b.value)->meta().q99);
  auto da = detector(*a.value), db = detector(*b.value);
  EXPECT_EQ(score(*da, "SELECT * FROM users WHERE id = 1;"), score(*db, "SELECT * FROM users WHERE id = 1;"));
  // Another seed holds out other texts: another calibration.
  EXPECT_NE((*a.value)->meta().q50, (*c.value)->meta().q50);
}

TEST(ProfileBuilder, TooFewUsableTextsIsAnError) {
  std::vector<std::string> texts(100, "hi");  // one word each: below min_words
  texts.push_back("what is the weather like today");
  auto p = build_profile(texts, normalizer(), ProfileBuildOptions{}, "few.jsonl");
  ASSERT_FALSE(p.ok());
  ASSERT_EQ(p.errors.size(), 1u);
  EXPECT_EQ(p.errors[0].format(),
            "few.jsonl: config_invalid_value: only 1 texts with at least 3 words; a profile needs 50");
}

class TempDir {
 public:
  TempDir() : path_(std::filesystem::temp_directory_path() / ("dg_profile_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(ProfileBuilder, ReadsJsonlAndNamesTheBadLine) {
  TempDir dir;
  const auto file = (dir.path() / "t.jsonl").string();
  std::ofstream(file) << "{\"text\": \"one\"}\n\n{\"prompt\": \"two\", \"text\": \"three\"}\n";
  auto ok = read_jsonl_texts(file, "text");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok.value, (std::vector<std::string>{"one", "three"}));
  auto missing = read_jsonl_texts(file, "prompt");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.errors[0].format(), file + ":1: missing_field: no field 'prompt'");
  std::ofstream(file, std::ios::app) << "{\"text\": 5}\nnot json\n";
  auto wrong = read_jsonl_texts(file, "text");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.errors[0].format(), file + ":4: field_not_string: field 'text' is not a string");
  auto none = read_jsonl_texts((dir.path() / "absent.jsonl").string(), "text");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.errors[0].code, "input_io");
}

TEST(ProfileBuilder, ReadsThePromptsOfAnAuditLog) {
  TempDir dir;
  {
    auto log = store::AuditLog::open(dir.path());
    ASSERT_TRUE(log.ok()) << log.error().format();
    for (const char* prompt : {"How do I cook rice?", "", "What goes with [EMAIL]?"}) {
      store::AuditRecord r;
      r.request_id = "r";
      r.prompt_text = prompt;
      ASSERT_TRUE((*log)->append(r).ok());
    }
  }
  auto texts = read_audit_prompts(dir.path().string());
  ASSERT_TRUE(texts.ok()) << format_errors_text(texts.errors);
  EXPECT_EQ(*texts.value, (std::vector<std::string>{"How do I cook rice?", "What goes with [EMAIL]?"}));
  auto absent = read_audit_prompts((dir.path() / "nowhere").string());
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.errors[0].code, "store_io");
}

}  // namespace
}  // namespace dg::monitor
