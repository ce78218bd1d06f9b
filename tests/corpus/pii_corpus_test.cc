// The PII detector measured on ../shared/corpora/pii/dev.jsonl (synthetic sentences from
// microsoft/presidio-research with gold spans). Span-level recall and precision per type for the
// types a pattern-and-validator detector can find: EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, US_SSN,
// IP_ADDRESS, IBAN_CODE. PERSON, ADDRESS, LOCATION, ORGANIZATION, TITLE, ... need named-entity
// recognition: out of scope (reported, not scored). Skips when the corpora are absent.
//
//   recall    a gold in-scope span is found when a finding span of the same type overlaps it
//   precision a predicted span is correct when it overlaps a gold span of the same type; one that
//             overlaps an out-of-scope gold span (DATE_TIME, ...) or nothing is a false positive
//
// Gold offsets are Python character offsets; they are converted to UTF-8 byte offsets.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "detect/pii.h"

namespace dg::detect {
namespace {

// Byte offset of each code point index (size = code points + 1).
std::vector<std::uint32_t> char_to_byte(const std::string& s) {
  std::vector<std::uint32_t> map;
  for (std::uint32_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) map.push_back(i);
  map.push_back(static_cast<std::uint32_t>(s.size()));
  return map;
}

const std::map<std::string, std::string> kLabelToType{{"EMAIL", "EMAIL_ADDRESS"}, {"PHONE", "PHONE_NUMBER"},
                                                      {"CARD", "CREDIT_CARD"},    {"SSN", "US_SSN"},
                                                      {"IP", "IP_ADDRESS"},       {"IBAN", "IBAN_CODE"}};

struct Counts {
  std::size_t gold = 0, found = 0, predicted = 0, correct = 0;
};

struct Gold {
  std::string type;
  Span span;
  bool in_scope;
};

bool overlaps(const Span& a, const Span& b) { return a.start < b.end && b.start < a.end; }

double ratio(std::size_t a, std::size_t b) { return b ? static_cast<double>(a) / static_cast<double>(b) : 1.0; }

}  // namespace

TEST(PiiCorpus, PresidioSyntheticSpans) {
  const std::string path = DG_CORPORA_DIR "/pii/dev.jsonl";
  if (!std::filesystem::exists(path))
    GTEST_SKIP() << "corpus absent: " << path << " (set up ../shared/corpora to measure)";
  auto norm = *text::Normalizer::create({}).value;
  auto det = PiiDetector::create({});
  ASSERT_TRUE(det.ok()) << format_errors_text(det.errors);
  const auto& pii = **det.value;
  auto scratch = pii.make_scratch();

  std::map<std::string, Counts> per_type;
  for (const auto& [label, type] : kLabelToType) per_type[type];
  std::map<std::string, std::size_t> out_of_scope;
  std::vector<std::string> misses, false_alarms;
  std::ifstream in(path);
  std::string line;
  std::size_t rows = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++rows;
    const auto j = nlohmann::json::parse(line);
    const std::string text = j.value("text", "");
    const auto offsets = char_to_byte(text);
    std::vector<Gold> gold;
    for (const auto& s : j.value("spans", nlohmann::json::array())) {
      const std::string type = s.value("type", "");
      const auto cs = s.value("start", std::size_t{0}), ce = s.value("end", std::size_t{0});
      ASSERT_LE(ce, offsets.size() - 1) << line;
      bool in_scope = false;
      for (const auto& [label, t] : kLabelToType) in_scope |= t == type;
      gold.push_back({type, {offsets[cs], offsets[ce]}, in_scope});
      if (in_scope) ++per_type[type].gold;
      else ++out_of_scope[type];
    }
    const auto normalized = norm->normalize(text);
    std::vector<Finding> out;
    ASSERT_TRUE(pii.scan(ScanInput{Role::prompt, normalized, nullptr, {}, {}}, scratch.get(), out));
    std::vector<std::pair<std::string, Span>> predicted;
    for (const auto& f : out)
      for (const auto& sp : f.spans) predicted.emplace_back(kLabelToType.at(f.redact_label), sp);
    for (const auto& g : gold) {
      if (!g.in_scope) continue;
      const bool hit = std::any_of(predicted.begin(), predicted.end(),
                                   [&](const auto& p) { return p.first == g.type && overlaps(p.second, g.span); });
      if (hit) ++per_type[g.type].found;
      else misses.push_back(g.type + " \"" + text.substr(g.span.start, g.span.end - g.span.start) + "\"");
    }
    for (const auto& [type, sp] : predicted) {
      ++per_type[type].predicted;
      const bool ok = std::any_of(gold.begin(), gold.end(),
                                  [&](const Gold& g) { return g.in_scope && g.type == type && overlaps(g.span, sp); });
      if (ok) ++per_type[type].correct;
      else false_alarms.push_back(type + " \"" + text.substr(sp.start, sp.end - sp.start) + "\"");
    }
  }

  Counts all;
  std::printf("pii/dev.jsonl: %zu rows\n%-14s %6s %6s %6s %6s %8s %9s\n", rows, "type", "gold", "found", "pred",
              "right", "recall", "precision");
  auto cell = [](std::size_t a, std::size_t b) {
    char buf[16];
    if (b) std::snprintf(buf, sizeof buf, "%.3f", ratio(a, b));
    else std::snprintf(buf, sizeof buf, "-");  // nothing to measure
    return std::string(buf);
  };
  for (const auto& [type, c] : per_type) {
    std::printf("%-14s %6zu %6zu %6zu %6zu %8s %9s\n", type.c_str(), c.gold, c.found, c.predicted, c.correct,
                cell(c.found, c.gold).c_str(), cell(c.correct, c.predicted).c_str());
    all.gold += c.gold;
    all.found += c.found;
    all.predicted += c.predicted;
    all.correct += c.correct;
  }
  const double recall = ratio(all.found, all.gold), precision = ratio(all.correct, all.predicted);
  std::printf("%-14s %6zu %6zu %6zu %6zu %8.3f %9.3f\n", "overall", all.gold, all.found, all.predicted, all.correct,
              recall, precision);
  std::string oos;
  for (const auto& [type, n] : out_of_scope) oos += (oos.empty() ? "" : ", ") + type + " " + std::to_string(n);
  std::printf("out of scope (need named-entity recognition, not scored): %s\n", oos.c_str());
  for (const auto& m : misses) std::printf("  missed: %s\n", m.c_str());
  for (const auto& f : false_alarms) std::printf("  false positive: %s\n", f.c_str());

  EXPECT_GE(recall, 0.85);
  EXPECT_GE(precision, 0.85);
}

}  // namespace dg::detect
