// The incident classifier (src/threat/incident*.h, src/learn/incident_trainer.h): tokens, cue
// phrases, the strict cue loader, a toy model that must learn the intent principle, the model file
// round trip, the explanation, JSONL reading errors, and the shipped model on the corpus when present.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "eval/metrics.h"
#include "learn/incident_trainer.h"
#include "threat/incident.h"
#include "threat/incident_set.h"

namespace dg::threat {
namespace {

std::string write_tmp(const std::string& name, const std::string& body) {
  const auto p = std::filesystem::temp_directory_path() / ("dg_incident_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p, std::ios::binary) << body;
  return p.string();
}

CueSet toy_cues() {
  auto r = load_cues(write_tmp("cues.yaml", R"(version: 1
families:
  - name: attacker
    meaning: an attacker
    phrases: [hack*, scammer*, used ... to steal]
  - name: malfunction
    meaning: a malfunction
    phrases: [malfunction*, error*, crash*]
)"));
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].format());
  return r.ok() ? *r.value : CueSet{};
}

std::vector<std::string> texts(const std::vector<IncidentToken>& t) {
  std::vector<std::string> out;
  for (const auto& x : t) out.push_back(x.text);
  return out;
}

TEST(IncidentTokens, LowerCasesAndSplitsAtPunctuation) {
  const auto t = incident_tokens("Non-Consensual GPT-3 Deepfakes, déjà.");
  EXPECT_EQ(texts(t), (std::vector<std::string>{"non", "consensual", "gpt", "3", "deepfakes", "déjà"}));
  EXPECT_EQ(t[4].start, 21u);  // "Deepfakes"
  EXPECT_EQ(t[4].end, 30u);
}

TEST(IncidentCues, PrefixGapAndSentenceBoundary) {
  const CueSet c = toy_cues();
  auto hits = [&](const std::string& s) {
    std::vector<std::string> out;
    const auto toks = incident_tokens(s);
    for (const auto& h : match_cues(c, s, toks)) out.push_back(c.families[h.family].name + ":" + s.substr(h.start, h.end - h.start));
    return out;
  };
  EXPECT_EQ(hits("Hackers used a cloned voice to steal money."),
            (std::vector<std::string>{"attacker:Hackers", "attacker:used a cloned voice to steal"}));
  // A gap does not cross a sentence end, and is at most kCueGap tokens.
  EXPECT_TRUE(hits("They used it. Then tried to steal.").empty());
  EXPECT_TRUE(hits("used one two three four five six seven to steal").empty());
  EXPECT_EQ(hits("used one two three four five six to steal").size(), 1u);
  EXPECT_EQ(hits("A software error crashed the car"), (std::vector<std::string>{"malfunction:error", "malfunction:crashed"}));
  EXPECT_TRUE(hits("The shack was quiet").empty());  // "hack*" is a prefix of tokens, not a substring
}

TEST(IncidentCues, LoaderReportsEveryProblemWithItsPlace) {
  const std::string p = write_tmp("bad_cues.yaml", R"(version: 1
families:
  - name: a
    meaning: x
    phrases: ["...", "ok", "!!", "a ... b ... c ... d"]
  - name: a
    meaning: y
    phrases: []
    colour: red
)");
  auto r = load_cues(p);
  ASSERT_FALSE(r.ok());
  std::vector<std::string> got;
  for (const auto& e : r.errors) got.push_back(e.format().substr(p.size()));
  EXPECT_EQ(got, (std::vector<std::string>{
                     ":5:15: config_invalid_value: cue phrase '...': a gap '...' must follow a word",
                     ":5:28: config_invalid_value: cue phrase '!!': '!!' has no letters or digits",
                     ":5:34: config_invalid_value: cue phrase 'a ... b ... c ... d': at most 2 gaps and 8 tokens",
                     ":9:5: config_unknown_key: unknown key 'colour' in cue family (expected one of: name, meaning, phrases)",
                     ":6:11: config_duplicate: cue family 'a' is defined twice",
                     ":6:5: config_missing_key: cue family 'a' has no phrases",
                 }));
}

std::vector<IncidentRecord> toy_set() {
  const char* security[] = {"Hackers broke into the bank chatbot", "Scammers cloned a voice", "A hacker stole the weights",
                            "Scammers used a deepfake to steal money", "Hackers hijacked the assistant", "A scammer posed as a CEO"};
  const char* safety[] = {"The car crashed after a sensor error", "A malfunction made the robot stop", "An error in the model gave wrong doses",
                          "The chatbot crashed and gave wrong answers", "A software error flagged the wrong person", "A malfunction in the sorter"};
  std::vector<IncidentRecord> out;
  for (int rep = 0; rep < 3; ++rep) {
    for (const char* s : security) out.push_back({0, "", s, VerdictClass::security});
    for (const char* s : safety) out.push_back({0, "", s, VerdictClass::safety});
  }
  out.push_back({0, "", "The pricing algorithm deliberately lowered pay", VerdictClass::hybrid});
  out.push_back({0, "", "The pricing algorithm deliberately cut pay", VerdictClass::hybrid});
  return out;
}

TEST(IncidentModelTest, ToyModelLearnsIntentAndExplainsItself) {
  learn::IncidentTrainOptions opt;
  opt.min_df = 1;
  std::string err;
  const IncidentWeights w = learn::fit_incident_model(toy_set(), toy_cues(), opt, &err);
  ASSERT_EQ(err, "");
  auto m = IncidentModel::from_json(incident_model_json(w), "toy");
  ASSERT_TRUE(m.ok());
  const auto a = (*m.value)->classify("Scammers hacked the support bot");
  EXPECT_EQ(a.cls, VerdictClass::security);
  EXPECT_EQ(a.intent, "intentional");
  EXPECT_EQ(a.actor, "human");
  EXPECT_NEAR(a.probability[0] + a.probability[1] + a.probability[2], 1.0, 1e-12);
  ASSERT_FALSE(a.reasons.empty());
  bool cue = false;
  for (const auto& r : a.reasons) cue |= r.feature == "cue:attacker" && r.evidence == "Scammers";
  EXPECT_TRUE(cue) << a.rationale;
  EXPECT_NE(a.rationale.find("an attacker (\"Scammers\")"), std::string::npos) << a.rationale;
  const auto b = (*m.value)->classify("A sensor error crashed the drone");
  EXPECT_EQ(b.cls, VerdictClass::safety);
  EXPECT_EQ(b.intent, "unintentional");
  EXPECT_EQ(b.actor, "");
  for (std::size_t i = 1; i < b.reasons.size(); ++i) EXPECT_GE(b.reasons[i - 1].contribution, b.reasons[i].contribution);
}

TEST(IncidentModelTest, FileRoundTripKeepsScoresAndRejectsDamage) {
  learn::IncidentTrainOptions opt;
  opt.min_df = 1;
  std::string err;
  const IncidentWeights w = learn::fit_incident_model(toy_set(), toy_cues(), opt, &err);
  const std::string p = write_tmp("model.json", "");
  ASSERT_EQ(write_incident_model(p, w), "");
  auto mem = IncidentModel::from_json(incident_model_json(w), "mem");
  auto file = IncidentModel::load(p);
  ASSERT_TRUE(file.ok() && mem.ok());
  EXPECT_EQ((*file.value)->sha256().size(), 64u);
  const auto x = (*mem.value)->classify("Hackers caused an error"), y = (*file.value)->classify("Hackers caused an error");
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(x.probability[c], y.probability[c], 1e-4);

  nlohmann::json j = incident_model_json(w);
  j["classes"] = {"safety", "security"};
  auto bad = IncidentModel::from_json(j, "m.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.errors[0].format(), "m.json: config_invalid_value: classes must be [\"safety\", \"security\", \"hybrid\"]");
  j = incident_model_json(w);
  j["cue_weights"].erase("attacker");
  EXPECT_FALSE(IncidentModel::from_json(j, "m.json").ok());
  const std::string junk = write_tmp("junk.json", "{not json");
  auto jk = IncidentModel::load(junk);
  ASSERT_FALSE(jk.ok());
  EXPECT_EQ(jk.errors[0].code, "config_syntax");
  EXPECT_FALSE(IncidentModel::load(junk + ".missing").ok());
}

TEST(IncidentSet, ReadsFieldsAndNamesBadLines) {
  const std::string p = write_tmp("set.jsonl",
                                  "{\"incident_id\": 7, \"title\": \"A\", \"description\": \"B\", \"label\": \"security\"}\n"
                                  "\n"
                                  "{\"id\": \"x\", \"title\": \"C.\", \"description\": \"D\", \"label\": \"clean\"}\n"
                                  "[1]\n"
                                  "{\"title\": \"E\", \"label\": \"safety\"}\n");
  IncidentReadOptions o;
  o.text_fields = {"title", "description"};
  o.label_field = "label";
  auto r = read_incidents(p, o);
  ASSERT_FALSE(r.ok());
  std::vector<std::string> got;
  for (const auto& e : r.errors) got.push_back(e.format().substr(p.size()));
  EXPECT_EQ(got, (std::vector<std::string>{
                     ":3: config_invalid_value: label field 'label' must be safety, security or hybrid (got 'clean')",
                     ":4: config_syntax: not a JSON object",
                     ":5: config_missing_key: field 'description' is missing or not a string",
                 }));
  const std::string q = write_tmp("ok.jsonl", "{\"incident_id\": 7, \"title\": \"A\", \"description\": \"B\"}\n{\"id\":\"x\",\"title\":\"C.\",\"description\":\"D\"}\n");
  o.label_field.clear();
  auto ok = read_incidents(q, o);
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ(ok.value->size(), 2u);
  EXPECT_EQ((*ok.value)[0].id, "7");
  EXPECT_EQ((*ok.value)[0].text, "A. B");
  EXPECT_EQ((*ok.value)[1].text, "C. D");
  EXPECT_FALSE((*ok.value)[1].label);
}

TEST(Agreement, MatchesHandComputedValues) {
  // reference 0 0 1 1 2, predicted 0 1 1 1 0: p_o = 3/5, p_e = .4*.4 + .4*.6 + .2*0 = .4
  const auto a = eval::agreement({0, 0, 1, 1, 2}, {0, 1, 1, 1, 0}, 3);
  EXPECT_EQ(a.n, 5u);
  EXPECT_DOUBLE_EQ(a.accuracy, 0.6);
  EXPECT_NEAR(a.kappa, (0.6 - 0.4) / 0.6, 1e-12);
  EXPECT_DOUBLE_EQ(a.precision[0], 0.5);
  EXPECT_NEAR(a.precision[1], 2.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(a.precision[2], 0.0);
  EXPECT_DOUBLE_EQ(a.recall[1], 1.0);
  EXPECT_EQ(a.matrix[2][0], 1u);
  EXPECT_NEAR(a.f1[1], 0.8, 1e-12);
  const auto same = eval::agreement({1, 1}, {1, 1}, 3);  // one class everywhere: p_e = 1
  EXPECT_DOUBLE_EQ(same.accuracy, 1.0);
  EXPECT_DOUBLE_EQ(same.kappa, 0.0);
  const auto e = evaluate_incidents({0, 1, 2, 0}, {2, 2, 1, 0});  // intent: safety vs the rest
  EXPECT_DOUBLE_EQ(e.intent_accuracy, 0.75);
}

// The shipped model on ../shared/corpora/incidents/dev.jsonl: the numbers of models/incident_class.md
// must still hold (a floor a little under them: retraining with the same seed gives the same model).
TEST(IncidentCorpus, ShippedModelOnDev) {
  const std::filesystem::path root = DG_SOURCE_DIR;
  const auto dev = std::filesystem::path(DG_CORPORA_DIR) / "incidents" / "dev.jsonl";
  if (!std::filesystem::exists(dev)) GTEST_SKIP() << "../shared/corpora is absent";
  auto m = IncidentModel::load((root / "models" / "incident_class.json").string());
  ASSERT_TRUE(m.ok()) << m.errors[0].format();
  IncidentReadOptions o;
  o.label_field = "label";
  auto recs = read_incidents(dev.string(), o);
  ASSERT_TRUE(recs.ok());
  std::vector<int> ref, pred;
  for (const auto& r : *recs.value) {
    ref.push_back(incident_class_index(*r.label));
    pred.push_back(incident_class_index((*m.value)->classify(r.text).cls));
  }
  const auto e = evaluate_incidents(ref, pred);
  EXPECT_GE(e.agreement.accuracy, 0.80) << evaluation_text(e);  // card: 0.810
  EXPECT_GE(e.agreement.kappa, 0.59) << evaluation_text(e);     // card: 0.604
}

}  // namespace
}  // namespace dg::threat
