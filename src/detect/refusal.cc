#include "detect/refusal.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "core/errors.h"

namespace dg::detect {
namespace {

#define DG_APOS "(?:'|\\xe2\\x80\\x99)"
#define DG_NOT "(?:can" DG_APOS "?t|cannot|can not|won" DG_APOS "?t|will not|must not|shouldn" DG_APOS "?t|am not able to|" \
               "am unable to|" DG_APOS "m not able to|" DG_APOS "m unable to)"
#define DG_ACT "(?:help|assist|provide|comply|fulfill?|support|create|write|generate|produce|give|share|offer|engage|" \
               "participate|do that|do this|answer|discuss|condone|promote|encourage|facilitate|continue|respond)"

struct Phrase {
  const char* id;
  const char* expression;
};

// Each phrase a refusal on its own; ids name them in the evidence.
constexpr std::array kPhrases{
    Phrase{"i-cannot-act", "\\bi " DG_NOT " (?:really |in good conscience |ethically )?" DG_ACT "\\b"},
    Phrase{"i-am-not-able", "\\bi(?:" DG_APOS "m| am) (?:not able|unable|not going|not comfortable|not willing|not allowed|"
                            "not permitted) to " DG_ACT "\\b"},
    Phrase{"i-must-decline", "\\bi (?:must|have to|need to|will have to|(?:would|" DG_APOS "d) have to) (?:respectfully |politely )?"
                             "(?:decline|refuse)\\b"},
    Phrase{"as-an-ai", "\\bas an ai(?: language model| assistant| model| developed by [a-z]+)?,? i (?:can" DG_APOS "?t|cannot|"
                       "don" DG_APOS "?t|do not|am not|" DG_APOS "m not|won" DG_APOS "?t|am unable|must)"},
    Phrase{"cannot-fulfil-request", "\\b(?:can" DG_APOS "?t|cannot|unable to|not able to|won" DG_APOS "?t|will not) "
                                    "(?:fulfill?|comply with|assist with|help with|help you with|accommodate|honou?r) "
                                    "(?:this|that|your|such|the) (?:request|ask|task|question)"},
    Phrase{"against-my-guidelines", "\\b(?:against|violates?|outside) (?:my|the) (?:ethical )?(?:guidelines|programming|"
                                    "policies|policy|principles|content polic(?:y|ies)|usage polic(?:y|ies))"},
    Phrase{"apologise-but", "\\b(?:i apologi[sz]e|i" DG_APOS "m sorry|i am sorry|sorry),? but (?:i|that|this|as an ai)\\b"},
    Phrase{"not-appropriate", "\\bit (?:is|would be|" DG_APOS "s|would not be|wouldn" DG_APOS "t be) (?:not )?"
                              "(?:appropriate|inappropriate|unethical|responsible|irresponsible) (?:for me )?to "
                              "(?:help|assist|provide|create|write|generate|share|give)"},
};

#undef DG_ACT
#undef DG_NOT
#undef DG_APOS

class RefusalScratch : public Scratch {
 public:
  explicit RefusalScratch(const HsDatabase* db) : hs(std::vector<const HsDatabase*>{db}) {}
  HsScratch hs;
  std::vector<HsMatch> matches;
};

}  // namespace

LoadResult<std::unique_ptr<RefusalDetector>> RefusalDetector::create(const Config& cfg) {
  using R = LoadResult<std::unique_ptr<RefusalDetector>>;
  LoadErrors errors;
  auto bad = [&](std::string msg) {
    errors.push_back(LoadError{"", 0, 0, std::string(errc::kConfigInvalidValue), "detectors.refusal: " + std::move(msg)});
  };
  if (cfg.max_scan_bytes < 64) bad("max_scan_bytes must be at least 64");
  if (cfg.lead_bytes < 1 || cfg.lead_bytes > cfg.max_scan_bytes) bad("lead_bytes must be in [1, max_scan_bytes]");
  if (!errors.empty()) return R::failure(std::move(errors));
  std::vector<HsPattern> patterns;
  for (unsigned i = 0; i < kPhrases.size(); ++i) patterns.push_back({kPhrases[i].expression, HS_FLAG_CASELESS, i});
  int bad_index = -1;
  std::string msg;
  auto db = HsDatabase::compile_cached(patterns, default_cache_dir(), bad_index, msg);
  if (!db)
    return R::failure({LoadError{"", 0, 0, std::string(errc::kPatternCompile),
                                 "detectors.refusal: phrase " + std::to_string(bad_index) + " does not compile: " + msg}});
  return R::success(std::unique_ptr<RefusalDetector>(new RefusalDetector(cfg, std::move(db))));
}

std::unique_ptr<Detector> RefusalDetector::load(const YAML::Node& node, yaml::Reader& r, const LoadContext&) {
  if (!r.check_keys(node, {"enabled", "lead_bytes", "report_partial", "max_scan_bytes"}, "detectors.refusal")) return nullptr;
  Config cfg;
  cfg.max_scan_bytes = static_cast<std::size_t>(r.integer(node, "max_scan_bytes", 4096, 64, 16ll << 20));
  cfg.lead_bytes = static_cast<std::size_t>(r.integer(node, "lead_bytes", 400, 1, 16ll << 20));
  cfg.report_partial = r.boolean(node, "report_partial", true);
  auto res = create(cfg);
  for (auto& e : res.errors) {
    if (e.file.empty()) e.file = r.file();
    r.errors().push_back(std::move(e));
  }
  return res.value ? std::move(*res.value) : nullptr;
}

std::unique_ptr<Scratch> RefusalDetector::make_scratch() const { return std::make_unique<RefusalScratch>(db_.get()); }

bool RefusalDetector::scan(const ScanInput& in, Scratch* scratch, std::vector<Finding>& out) const noexcept {
  counters_.scans.fetch_add(1, std::memory_order_relaxed);
  try {
    auto* s = dynamic_cast<RefusalScratch*>(scratch);
    if (!s || in.text.views.empty()) {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (in.role != Role::response) return true;
    const text::View* v = in.text.find("nfkc");
    if (!v) v = &in.text.views[0];
    const std::string_view t = std::string_view(v->text).substr(0, std::min(v->text.size(), cfg_.max_scan_bytes));
    s->matches.clear();
    if (!db_->scan(t, s->hs.get(), s->matches, 64)) {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (s->matches.empty()) return true;
    // The earliest match decides (an opening refusal, or the first partial one).
    const auto first = std::min_element(s->matches.begin(), s->matches.end(),
                                        [](const HsMatch& a, const HsMatch& b) { return a.from < b.from; });
    const Span orig_first = v->to_original(first->from, first->to);
    const bool opening = orig_first.start < cfg_.lead_bytes;
    if (!opening && !cfg_.report_partial) return true;
    Finding fd;
    fd.detector = "refusal";
    fd.category = "refusal";
    fd.score = opening ? kOpeningScore : kPartialScore;
    fd.severity = Severity::low;
    fd.role = in.role;
    fd.view = v->name;
    char where[64];
    std::snprintf(where, sizeof where, " at byte %u", orig_first.start);
    fd.evidence = std::string(opening ? "refusal" : "partial refusal") + " (" + kPhrases[first->id].id + where + "): \"" +
                  excerpt(t.substr(first->from, first->to - first->from), 60) + "\"";
    for (const auto& m : s->matches) fd.spans.push_back(v->to_original(m.from, m.to));
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
