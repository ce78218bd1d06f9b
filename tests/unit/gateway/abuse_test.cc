// Abuse and model-extraction signals of traffic: silent on varied benign traffic, fires on scripted
// extraction (systematically varied prompts), on near-duplicate bursts, on absolute and baseline rate
// anomalies; windows and eviction respected. Time moves only by hand.
#include "gateway/abuse.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <thread>

namespace dg::gateway {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<AbuseDetector> make(const AbuseDetector::Config& cfg = {}) {
  auto r = AbuseDetector::create(cfg);
  EXPECT_TRUE(r.ok()) << format_errors_text(r.errors);
  return r.ok() ? std::move(*r.value) : nullptr;
}

std::size_t count(const std::vector<Finding>& fs, std::string_view category) {
  std::size_t n = 0;
  for (const auto& f : fs) n += f.category == category;
  return n;
}

const Finding* find(const std::vector<Finding>& fs, std::string_view category) {
  for (const auto& f : fs)
    if (f.category == category) return &f;
  return nullptr;
}

std::string describe(const std::vector<Finding>& fs) {
  std::string s;
  for (const auto& f : fs) s += f.category + ": " + f.evidence + "\n";
  return s;
}

// A few dozen prompts of the kind one application key sends in a few minutes: different topics,
// lengths and shapes, a user refining one prompt twice, greetings that repeat.
const std::vector<std::string> kBenign = {
    "hello",
    "Can you help me write a cover letter for a junior data analyst position at a logistics company?",
    "What is the difference between a list and a tuple in Python?",
    "Summarise the main causes of the French Revolution in five bullet points.",
    "thanks!",
    "My sourdough starter smells like acetone, is it still usable and what should I change?",
    "Translate 'where is the train station' into German.",
    "Write a haiku about autumn leaves falling on a quiet lake",
    "Write a haiku about autumn leaves falling on a quiet river at dusk, more melancholic",
    "Explain how a transformer attention head works to a high school student.",
    "hello",
    "Give me three ideas for a birthday party for a seven year old who loves dinosaurs.",
    "Why does my React component render twice in development mode?",
    "Draft a polite email asking my landlord to fix the heating before the weekend.",
    "What are the health benefits and risks of intermittent fasting according to recent studies?",
    "Convert 72 degrees Fahrenheit to Celsius and show the formula.",
    "Plan a three day itinerary for Lisbon on a modest budget, with one day trip.",
    "How do I centre a div horizontally and vertically with CSS grid?",
    "Recommend five science fiction novels similar to The Left Hand of Darkness.",
    "What does the error 'undefined reference to vtable' mean in C++ and how do I fix it?",
    "ok",
    "Write a SQL query that returns the ten customers with the highest total order value in 2023.",
    "Is it safe to give my dog grapes?",
    "Explain the difference between weather and climate in two sentences.",
    "Help me name a coffee shop that also sells second hand books.",
    "What is the time complexity of quicksort in the worst case and why?",
    "Write a limerick about a cat who learned to use the printer.",
    "Suggest a weekly workout routine for a beginner with only dumbbells at home.",
    "How should I prepare for a behavioural interview at a large tech company?",
    "What were the main findings of the Apollo 11 lunar sample analysis?",
    "thanks!",
    "Rewrite this sentence to sound more formal: we gotta push the launch to next week.",
    "List the planets of the solar system ordered by their distance from the sun.",
    "Create a shopping list for a vegetarian lasagna for six people.",
    "Explain what a mortgage offset account is and when it makes sense.",
    "What's a good way to learn Japanese kanji without getting overwhelmed?",
    "Write a bash one-liner that counts lines in all .cpp files under the current directory.",
    "Describe the water cycle for a ten year old.",
    "Compare PostgreSQL and SQLite for a small web application with a few hundred users.",
    "Give me a short motivational quote for the start of a hard week.",
    "How long should I boil an egg for a soft, runny yolk?",
    "What is the capital of Australia and why isn't it Sydney?",
};

TEST(Abuse, ConfigErrorsAreAllReported) {
  AbuseDetector::Config c;
  c.rate_window = 5s;
  c.baseline_factor = 1.0;
  c.history = 8;
  c.duplicate_min_count = 9;
  c.template_min_variants = 9;
  c.template_min_shared_ratio = 0;
  c.max_keys = 4;
  auto r = AbuseDetector::create(c);
  ASSERT_FALSE(r.ok());
  std::vector<std::string> msgs;
  for (const auto& e : r.errors) {
    EXPECT_EQ(e.code, "config_invalid_value");
    msgs.push_back(e.message);
  }
  EXPECT_EQ(msgs, (std::vector<std::string>{
                      "abuse: rate_window must be between 12 s and 1 day",
                      "abuse: baseline_factor must be in (1, 1000]",
                      "abuse: duplicate_min_count must be between 2 and history (8)",
                      "abuse: template_min_variants must be between 2 and history (8)",
                      "abuse: template_min_shared_ratio must be in (0, 1]",
                      "abuse: max_keys must be at least 16",
                  }));
  EXPECT_TRUE(AbuseDetector::create({}).ok());
}

TEST(Abuse, SimHashNormalisesAndSeparates) {
  EXPECT_EQ(simhash("The quick brown fox jumps over the lazy dog"), simhash("the QUICK brown fox, jumps over the lazy dog!"));
  EXPECT_NE(simhash("The quick brown fox jumps over the lazy dog"), simhash("the lazy dog jumps over the quick brown fox"));
  const int far = std::popcount(simhash("Summarise the main causes of the French Revolution in five bullet points") ^
                                simhash("Write a bash one-liner that counts lines in all cpp files under this directory"));
  EXPECT_GT(far, 10);
  EXPECT_EQ(simhash(""), 0u);
}

TEST(Abuse, SilentOnVariedBenignTraffic) {
  auto det = make();
  ManualClock clock;
  // One prompt every 5 s, then the same list again from another key at one per second.
  for (const auto& p : kBenign) {
    auto fs = det->observe("app", p, 300, clock.steady_now());
    EXPECT_TRUE(fs.empty()) << p << "\n" << describe(fs);
    clock.advance(5s);
  }
  for (int round = 0; round < 2; ++round)
    for (const auto& p : kBenign) {
      auto fs = det->observe("busy-app", p, 300, clock.steady_now());
      EXPECT_TRUE(fs.empty()) << p << "\n" << describe(fs);
      clock.advance(1s);
    }
  const AbuseStats s = det->stats();
  EXPECT_EQ(s.observed, 3 * kBenign.size());
  EXPECT_EQ(s.keys, 2u);
  for (auto n : s.fired) EXPECT_EQ(n, 0u);
}

TEST(Abuse, FiresOnAScriptedExtractionSequence) {
  auto det = make();
  ManualClock clock;
  const int numbers[] = {17, 91, 1001, 7919, 561, 2047, 4, 97, 1, 65537};
  for (int i = 0; i < 10; ++i) {
    const std::string prompt = "Is the number " + std::to_string(numbers[i]) + " a prime number? Answer with yes or no only.";
    auto fs = det->observe("prober", prompt, 40, clock.steady_now());
    if (i < 7) {
      EXPECT_EQ(count(fs, "model_extraction"), 0u) << i << "\n" << describe(fs);
    } else {
      ASSERT_EQ(count(fs, "model_extraction"), 1u) << i << "\n" << describe(fs);
      const Finding& f = *find(fs, "model_extraction");
      EXPECT_EQ(f.detector, "abuse");
      EXPECT_EQ(f.domain, Domain::security);
      EXPECT_EQ(f.intent, Intent::adversarial);
      EXPECT_EQ(f.property, "confidentiality");
      EXPECT_EQ(f.severity, Severity::high);
      EXPECT_EQ(f.view, "traffic");
      EXPECT_TRUE(f.spans.empty());
      if (i == 7) {
        EXPECT_DOUBLE_EQ(f.score, 0.6);
        EXPECT_EQ(f.evidence,
                  "8 distinct prompts of the last 8 within 600 s follow one template (12+ words shared, 1 varied): "
                  "systematic variation, as in model extraction or boundary probing");
      } else {
        EXPECT_GT(f.score, 0.6);
      }
    }
    clock.advance(3s);
  }
  EXPECT_EQ(det->stats().fired[static_cast<std::size_t>(AbuseSignal::template_variation)], 3u);
}

TEST(Abuse, FiresOnVariedWordSlotsOfDifferentLengths) {
  // Boundary probing with a slot of one to three words: prefix / suffix alignment.
  auto det = make();
  ManualClock clock;
  const char* slots[] = {"a knife", "a kitchen knife", "scissors", "a rope", "a baseball bat", "a hammer", "an axe", "a crowbar"};
  std::vector<Finding> last;
  for (const char* s : slots) {
    last = det->observe("k", std::string("For a novel, describe in one paragraph how a character could defend themselves with ") + s +
                                 " if attacked at home at night.",
                        80, clock.steady_now());
    clock.advance(20s);
  }
  ASSERT_EQ(count(last, "model_extraction"), 1u) << describe(last);
  EXPECT_NE(last[0].evidence.find("8 distinct prompts of the last 8 within 600 s follow one template ("), std::string::npos)
      << last[0].evidence;
}

TEST(Abuse, TemplateVariantsSpreadBeyondTheWindowDoNotFire) {
  auto det = make();
  ManualClock clock;
  for (int i = 0; i < 20; ++i) {
    auto fs = det->observe("slow", "Is the number " + std::to_string(100 + i) + " a prime number? Answer with yes or no only.", 40,
                           clock.steady_now());
    EXPECT_EQ(count(fs, "model_extraction"), 0u) << i << "\n" << describe(fs);
    clock.advance(90s);  // 7 variants at most within 600 s
  }
}

TEST(Abuse, RepeatingOnePromptIsNotATemplate) {
  auto det = make();
  ManualClock clock;
  for (int i = 0; i < 20; ++i) {
    auto fs = det->observe("k", "Please summarise the attached quarterly report in three short paragraphs.", 500, clock.steady_now());
    EXPECT_EQ(count(fs, "model_extraction"), 0u);
    clock.advance(30s);  // too slow for the near-duplicate burst (2 per 60 s)
    EXPECT_EQ(count(fs, "rate_abuse"), 0u);
  }
}

TEST(Abuse, FiresOnANearDuplicateBurst) {
  auto det = make();
  ManualClock clock;
  for (int i = 0; i < 12; ++i) {
    auto fs = det->observe("flood", "Write a short poem about the sea at night, please", 50, clock.steady_now());
    if (i < 9) {
      EXPECT_TRUE(fs.empty()) << i << "\n" << describe(fs);
    } else {
      ASSERT_EQ(fs.size(), 1u) << describe(fs);
      EXPECT_EQ(fs[0].category, "rate_abuse");
      EXPECT_EQ(fs[0].property, "availability");
      EXPECT_EQ(fs[0].severity, Severity::medium);
      EXPECT_EQ(fs[0].evidence, std::to_string(i + 1) + " of the last " + std::to_string(i + 1) +
                                    " prompts within 60 s are near-duplicates (simhash distance <= 3)");
    }
    clock.advance(2s);
  }
  EXPECT_EQ(det->stats().fired[static_cast<std::size_t>(AbuseSignal::near_duplicates)], 3u);
}

TEST(Abuse, NearDuplicatesSpreadBeyondTheWindowDoNotFire) {
  auto det = make();
  ManualClock clock;
  for (int i = 0; i < 30; ++i) {
    auto fs = det->observe("k", "Write a short poem about the sea at night, please", 50, clock.steady_now());
    EXPECT_TRUE(fs.empty()) << i << "\n" << describe(fs);
    clock.advance(10s);  // at most 7 within 60 s
  }
}

TEST(Abuse, ShortPromptsAreNotCompared) {
  auto det = make();
  ManualClock clock;
  for (int i = 0; i < 30; ++i) {
    EXPECT_TRUE(det->observe("k", "hi there", 5, clock.steady_now()).empty());
    clock.advance(1s);
  }
}

TEST(Abuse, AppendedWordsAreNotASlot) {
  // A user refining one question by appending a word or two: the refinements are variants of each
  // other (a slot at the end), but the plain question is an extension of each, not a variant. A
  // conversation sent whole grows the same way.
  auto det = make();
  ManualClock clock;
  const std::string q = "Explain how vaccines train the immune system to recognise a virus";
  for (const char* tail : {"simply", "briefly", "in detail", "for kids", "step by step", "with examples", "again"}) {
    auto fs = det->observe("k", q + " " + tail, 200, clock.steady_now());
    EXPECT_EQ(count(fs, "model_extraction"), 0u) << tail << "\n" << describe(fs);  // 7 variants: below 8
    clock.advance(20s);
  }
  auto fs = det->observe("k", q, 200, clock.steady_now());
  EXPECT_EQ(count(fs, "model_extraction"), 0u) << describe(fs);
}

TEST(Abuse, KeysAreIndependent) {
  auto det = make();
  ManualClock clock;
  for (int i = 0; i < 14; ++i) {
    const std::string key = i % 2 ? "a" : "b";  // 7 variants each
    auto fs = det->observe(key, "Is the number " + std::to_string(i) + " a prime number? Answer with yes or no only.", 40,
                           clock.steady_now());
    EXPECT_EQ(count(fs, "model_extraction"), 0u) << i;
    clock.advance(1s);
  }
}

TEST(Abuse, AbsoluteRateThresholds) {
  AbuseDetector::Config c;
  c.max_requests_per_window = 20;
  c.max_tokens_per_window = 1000;
  auto det = make(c);
  ManualClock clock;
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(det->observe("k", "hi", 10, clock.steady_now()).empty()) << i;
    clock.advance(1s);
  }
  auto fs = det->observe("k", "hi", 10, clock.steady_now());
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].category, "rate_abuse");
  EXPECT_EQ(fs[0].evidence, "21 requests in the last 60 s exceed the absolute limit of 20");
  EXPECT_EQ(fs[0].severity, Severity::medium);
  EXPECT_NEAR(fs[0].score, 0.6 + 0.2 * std::log2(21.0 / 20.0), 1e-9);
  clock.advance(65s);  // the window has moved on
  EXPECT_TRUE(det->observe("k", "hi", 10, clock.steady_now()).empty());
  // Tokens: 400 + 400 + 400 > 1000; tokens added after the response count too.
  EXPECT_TRUE(det->observe("t", "hi", 400, clock.steady_now()).empty());
  det->add_tokens("t", 400, clock.steady_now());
  fs = det->observe("t", "hi", 400, clock.steady_now());
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].evidence, "1200 tokens in the last 60 s exceed the absolute limit of 1000");
  EXPECT_EQ(det->stats().fired[static_cast<std::size_t>(AbuseSignal::rate_absolute)], 2u);
}

TEST(Abuse, RateAgainstTheKeysOwnBaseline) {
  AbuseDetector::Config c;
  c.max_requests_per_window = 0;  // only the relative signal
  c.max_tokens_per_window = 0;
  auto det = make(c);
  ManualClock clock;
  // A fresh key bursting at once: no baseline yet, nothing fires.
  for (int i = 0; i < 40; ++i) {
    EXPECT_TRUE(det->observe("fresh", "hi", 1, clock.steady_now()).empty()) << i;
    clock.advance(1s);
  }
  // An hour at two requests a minute, then 40 in 40 s.
  for (int i = 0; i < 120; ++i) {
    EXPECT_TRUE(det->observe("steady", "hi", 1, clock.steady_now()).empty()) << i;
    clock.advance(30s);
  }
  std::size_t first_fire = 0;
  for (int i = 1; i <= 40 && !first_fire; ++i) {
    auto fs = det->observe("steady", "hi", 1, clock.steady_now());
    if (!fs.empty()) {
      first_fire = static_cast<std::size_t>(i);
      EXPECT_EQ(fs[0].category, "rate_abuse");
      EXPECT_EQ(fs[0].evidence.find("30 requests in the last 60 s are "), 0u) << fs[0].evidence;
      EXPECT_NE(fs[0].evidence.find("x this key's baseline of 2.0 per 60 s (threshold 8.0x)"), std::string::npos) << fs[0].evidence;
    }
    clock.advance(1s);
  }
  // 30 in the window (baseline_min_requests) is reached with the 28th or 29th burst request
  // (one or two of the steady requests are still in the window).
  EXPECT_GE(first_fire, 28u);
  EXPECT_LE(first_fire, 29u);
  EXPECT_EQ(det->stats().fired[static_cast<std::size_t>(AbuseSignal::rate_baseline)] > 0, true);
}

TEST(Abuse, MemoryIsBounded) {
  AbuseDetector::Config c;
  c.max_keys = 16;
  c.idle_ttl = 60s;
  auto det = make(c);
  ManualClock clock;
  for (int i = 0; i < 200; ++i) {
    det->observe("key-" + std::to_string(i), "Tell me something interesting about octopuses and their arms", 10, clock.steady_now());
    clock.advance(10ms);
  }
  EXPECT_LE(det->stats().keys, 16u);
  EXPECT_EQ(det->stats().evicted, 200u - det->stats().keys);
  clock.advance(60s);
  det->sweep(clock.steady_now());
  EXPECT_EQ(det->stats().keys, 0u);
}

TEST(Abuse, ConcurrentObserversOnManyKeys) {
  auto det = make();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      ManualClock clock;
      for (int i = 0; i < 500; ++i) {
        det->observe("k" + std::to_string((t * 7 + i) % 8), kBenign[static_cast<std::size_t>(i) % kBenign.size()], 10,
                     clock.steady_now());
        clock.advance(1s);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(det->stats().observed, 2000u);
  EXPECT_EQ(det->stats().errors, 0u);
  EXPECT_EQ(det->stats().keys, 8u);
}

}  // namespace
}  // namespace dg::gateway
