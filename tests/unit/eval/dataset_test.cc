#include "eval/dataset.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace dg::eval {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("dg_eval_dataset_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& content) const {
    const auto p = path_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

 private:
  fs::path path_;
};

std::string first_error(const LoadErrors& e) { return e.empty() ? std::string("<no error>") : e[0].format(); }

}  // namespace

TEST(EvalSetSpec, ParsesNamePathAndLabel) {
  auto p = parse_set_spec("attacks=../corpora/injection/dev.jsonl:positive");
  ASSERT_TRUE(p.ok()) << first_error(p.errors);
  EXPECT_EQ(p.value->name, "attacks");
  EXPECT_EQ(p.value->path, "../corpora/injection/dev.jsonl");
  EXPECT_TRUE(p.value->positive);
  auto n = parse_set_spec("benign.v2=/data/a:b.jsonl:negative");  // ':' in the path: the label is after the last one
  ASSERT_TRUE(n.ok()) << first_error(n.errors);
  EXPECT_EQ(n.value->path, "/data/a:b.jsonl");
  EXPECT_FALSE(n.value->positive);
}

TEST(EvalSetSpec, ErrorsSayWhatIsWrong) {
  EXPECT_EQ(first_error(parse_set_spec("attacks=x.jsonl:attack").errors),
            "--set: eval_set_spec: 'attacks=x.jsonl:attack': unknown label 'attack' (positive or negative)");
  EXPECT_EQ(first_error(parse_set_spec("attacks=x.jsonl").errors),
            "--set: eval_set_spec: 'attacks=x.jsonl': missing ':positive' or ':negative' after the path");
  EXPECT_EQ(first_error(parse_set_spec("x.jsonl:positive").errors),
            "--set: eval_set_spec: 'x.jsonl:positive': expected NAME=PATH:positive or NAME=PATH:negative");
  EXPECT_EQ(first_error(parse_set_spec("bad name=x:positive").errors),
            "--set: eval_set_spec: 'bad name=x:positive': set name must be 1-64 characters of letters, digits, '_', '-', '.'");
  EXPECT_EQ(first_error(parse_set_spec("a=:positive").errors), "--set: eval_set_spec: 'a=:positive': empty path");
}

TEST(EvalSetSpec, DuplicateNamesAreRejected) {
  const std::vector<SetSpec> specs{{"a", "x.jsonl", true}, {"b", "y.jsonl", false}, {"a", "z.jsonl", false}};
  EXPECT_EQ(first_error(check_set_specs(specs)), "--set: eval_duplicate_set: set name 'a' is used twice (x.jsonl, z.jsonl)");
  EXPECT_EQ(first_error(check_set_specs({})), "--set: eval_set_spec: no evaluation set given");
  EXPECT_TRUE(check_set_specs({{"a", "x", true}, {"b", "x", false}}).empty());
}

TEST(EvalDataset, ReadsTextsExchangesCategoriesAndSources) {
  TempDir d;
  const std::string path = d.write("set.jsonl",
                                   "{\"text\":\"one\",\"category\":\"jailbreak/dan\",\"source\":\"garak\"}\n"
                                   "\n"
                                   "{\"prompt\":\"two\",\"response\":\"three\",\"category\":null}\r\n"
                                   "\"four\"\n");
  auto ds = load_dataset({"s", path, true}, {});
  ASSERT_TRUE(ds.ok()) << first_error(ds.errors);
  ASSERT_EQ(ds.value->samples.size(), 3u);
  const auto& s = ds.value->samples;
  EXPECT_EQ(s[0].line, 1u);
  EXPECT_EQ(s[0].rec.text, "one");
  EXPECT_EQ(s[0].category, "jailbreak/dan");
  EXPECT_EQ(s[0].source, "garak");
  EXPECT_EQ(s[1].line, 3u);
  EXPECT_TRUE(s[1].rec.exchange);
  EXPECT_EQ(s[1].category, "");
  EXPECT_EQ(s[1].scanned_bytes(), 8u);  // "two" + "three"
  EXPECT_EQ(s[2].rec.text, "four");
  EXPECT_EQ(ds.value->bytes, 3u + 8u + 4u);
  EXPECT_EQ(ds.value->skipped_blank, 1u);
  EXPECT_EQ(ds.value->sha256.size(), 64u);
  EXPECT_FALSE(ds.value->limited);
}

TEST(EvalDataset, LimitReadsTheFirstInputs) {
  TempDir d;
  const std::string path = d.write("set.jsonl", "{\"text\":\"a\"}\n{\"text\":\"b\"}\n{\"text\":\"c\"}\n");
  LoadOptions opt;
  opt.limit = 2;
  auto ds = load_dataset({"s", path, false}, opt);
  ASSERT_TRUE(ds.ok());
  EXPECT_EQ(ds.value->samples.size(), 2u);
  EXPECT_TRUE(ds.value->limited);
  EXPECT_EQ(ds.value->sha256, sha256_file(path));  // the whole file's digest, whatever the limit
}

TEST(EvalDataset, FieldOption) {
  TempDir d;
  const std::string path = d.write("set.jsonl", "{\"body\":\"x\",\"text\":\"y\"}\n{\"text\":\"z\"}\n");
  LoadOptions opt;
  opt.input.field = "body";
  auto ds = load_dataset({"s", path, false}, opt);
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(first_error(ds.errors), path + ":2: missing_field: no field 'body'");
}

TEST(EvalDataset, ErrorsNameFileAndLine) {
  TempDir d;
  const std::string bad_json = d.write("bad.jsonl", "{\"text\":\"ok\"}\n\n{\"text\": \"unterminated}\n");
  EXPECT_EQ(first_error(load_dataset({"s", bad_json, true}, {}).errors), bad_json + ":3: invalid_json: line is not valid JSON");

  const std::string no_text = d.write("no_text.jsonl", "{\"text\":\"ok\"}\n{\"label\":\"attack\"}\n");
  EXPECT_EQ(first_error(load_dataset({"s", no_text, true}, {}).errors),
            no_text + ":2: missing_field: no 'text' field (nor prompt / response / context); use --field to name one");

  const std::string not_string = d.write("num.jsonl", "{\"text\":42}\n");
  EXPECT_EQ(first_error(load_dataset({"s", not_string, true}, {}).errors), not_string + ":1: field_not_string: field 'text' is not a string");

  const std::string bad_category = d.write("cat.jsonl", "{\"text\":\"a\",\"category\":[1]}\n");
  EXPECT_EQ(first_error(load_dataset({"s", bad_category, true}, {}).errors),
            bad_category + ":1: field_not_string: field 'category' is not a string");

  const std::string missing = d.write("x", "") + ".nope";
  EXPECT_EQ(first_error(load_dataset({"s", missing, true}, {}).errors),
            missing + ": input_io: cannot read set 's' (missing or unreadable file)");

  const std::string blank = d.write("blank.jsonl", "\n  \n\t\n");
  EXPECT_EQ(first_error(load_dataset({"s", blank, false}, {}).errors), blank + ": eval_empty_set: set 's' has no inputs");
}

TEST(EvalDataset, LoadDatasetsCollectsEveryError) {
  TempDir d;
  const std::string good = d.write("good.jsonl", "{\"text\":\"a\"}\n");
  const std::string bad = d.write("bad.jsonl", "nope\n");
  auto r = load_datasets({"a=" + good + ":positive", "b=" + bad + ":negative", "c=" + d.write("e.jsonl", "") + ":negative"}, {});
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].code, "invalid_json");
  EXPECT_EQ(r.errors[1].code, "eval_empty_set");
  // Usage errors come first and stop before any file is read.
  auto u = load_datasets({"a=" + good + ":positive", "a=" + good + ":negative", "c=nofile:maybe"}, {});
  ASSERT_EQ(u.errors.size(), 1u);
  EXPECT_EQ(u.errors[0].code, "eval_set_spec");
  auto dup = load_datasets({"a=" + good + ":positive", "a=" + good + ":negative"}, {});
  ASSERT_EQ(dup.errors.size(), 1u);
  EXPECT_EQ(dup.errors[0].code, "eval_duplicate_set");
}

TEST(EvalDataset, Sha256OfKnownInput) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_file("/nonexistent/file"), "");
}

}  // namespace dg::eval
