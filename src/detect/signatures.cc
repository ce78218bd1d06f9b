#include "detect/signatures.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/errors.h"

namespace dg::detect {
namespace fs = std::filesystem;

namespace {

class SigScratch final : public Scratch {
 public:
  explicit SigScratch(const std::vector<const HsDatabase*>& dbs) : hs(dbs) {
    md = pcre2_match_data_create(1, nullptr);
    mc = pcre2_match_context_create(nullptr);
    // Bound backtracking: a rule that PCRE2 cannot settle within the limit keeps an approximate span.
    if (mc) pcre2_set_match_limit(mc, 200000);
  }
  ~SigScratch() override {
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
  }
  HsScratch hs;
  std::vector<HsMatch> matches;
  pcre2_match_data* md = nullptr;
  pcre2_match_context* mc = nullptr;
};

std::uint32_t pcre_options(unsigned hs_flags) {
  std::uint32_t o = 0;
  if (hs_flags & HS_FLAG_CASELESS) o |= PCRE2_CASELESS;
  if (hs_flags & HS_FLAG_DOTALL) o |= PCRE2_DOTALL;
  if (hs_flags & HS_FLAG_MULTILINE) o |= PCRE2_MULTILINE;
  if (hs_flags & HS_FLAG_UTF8) o |= PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
  if (hs_flags & HS_FLAG_UCP) o |= PCRE2_UCP;
  return o;
}

unsigned parse_flags(yaml::Reader& r, const YAML::Node& rule) {
  // Flags add to the default (caseless); `case_sensitive` is the one way to remove it, so that
  // `flags: [dotall]` cannot silently make a rule case-sensitive.
  unsigned flags = HS_FLAG_CASELESS;
  const YAML::Node n = rule["flags"];
  if (!n.IsDefined()) return flags;
  for (const auto& f : r.str_list(rule, "flags")) {
    if (f == "caseless") flags |= HS_FLAG_CASELESS;
    else if (f == "dotall") flags |= HS_FLAG_DOTALL;
    else if (f == "multiline") flags |= HS_FLAG_MULTILINE;
    else if (f == "ucp") flags |= HS_FLAG_UCP | HS_FLAG_UTF8;
    else if (f == "utf8") flags |= HS_FLAG_UTF8;
    else if (f == "case_sensitive") flags &= ~static_cast<unsigned>(HS_FLAG_CASELESS);
    else r.error(n, errc::kConfigInvalidValue, "unknown flag '" + f + "' (caseless, case_sensitive, dotall, multiline, ucp, utf8)");
  }
  return flags;
}

}  // namespace

std::vector<SignatureRule> parse_signature_file(const std::string& yaml_text, const std::string& name,
                                                LoadErrors& errors) {
  std::vector<SignatureRule> rules;
  YAML::Node root = yaml::load_string(yaml_text, name, errors);
  if (!root.IsDefined()) return rules;
  yaml::Reader r(name, errors);
  if (!r.check_keys(root, {"rules"}, "signature file")) return rules;
  const YAML::Node list = root["rules"];
  if (!list.IsSequence()) {
    r.error(root, errc::kConfigMissingKey, "'rules' must be a list");
    return rules;
  }
  for (const auto& n : list) {
    SignatureRule rule;
    rule.file = name;
    rule.line = n.Mark().line + 1;
    if (!r.check_keys(n, {"id", "category", "severity", "score", "roles", "views", "flags", "pattern", "prefilter",
                          "description",
                          "atlas", "owasp", "examples", "counter_examples"},
                      "signature rule"))
      continue;
    rule.id = r.str(n, "id", true).value_or("");
    rule.category = r.str(n, "category", true).value_or("");
    if (auto s = r.str(n, "severity")) {
      if (auto v = parse_severity(*s)) rule.severity = *v;
      else r.error(n["severity"], errc::kConfigInvalidValue, "severity must be low, medium, high or critical");
    }
    rule.score = r.number(n, "score", 0.9, 0.0, 1.0);
    rule.roles = parse_roles(r, n, "roles", rule.roles);
    const std::string views = r.str_or(n, "views", "folded");
    if (views == "raw") rule.raw_view = true;
    else if (views != "folded") r.error(n["views"], errc::kConfigInvalidValue, "views must be folded or raw");
    rule.flags = parse_flags(r, n);
    rule.pattern = r.str(n, "pattern", true).value_or("");
    rule.prefilter = r.str_or(n, "prefilter", "");
    rule.description = r.str_or(n, "description", "");
    rule.atlas = r.str_list(n, "atlas");
    rule.owasp = r.str_list(n, "owasp");
    rule.examples = r.str_list(n, "examples");
    rule.counter_examples = r.str_list(n, "counter_examples");
    rules.push_back(std::move(rule));
  }
  return rules;
}

LoadResult<std::unique_ptr<SignatureDetector>> SignatureDetector::from_rules(std::vector<SignatureRule> rules,
                                                                             const Config& cfg) {
  using R = LoadResult<std::unique_ptr<SignatureDetector>>;
  LoadErrors errors;
  auto err = [&](const SignatureRule& rule, std::string_view code, std::string msg) {
    errors.push_back(LoadError{rule.file, rule.line, 0, std::string(code), "rule " + rule.id + ": " + std::move(msg)});
  };
  std::set<std::string> ids;
  for (const auto& rule : rules) {
    if (!ids.insert(rule.id).second) err(rule, errc::kConfigDuplicate, "duplicate rule id");
    if (rule.pattern.empty()) err(rule, errc::kConfigMissingKey, "empty pattern");
  }
  if (cfg.max_scan_bytes < 1024) errors.push_back({"", 0, 0, std::string(errc::kConfigInvalidValue), "signatures: max_scan_bytes must be at least 1024"});
  if (!errors.empty()) return R::failure(std::move(errors));

  auto det = std::unique_ptr<SignatureDetector>(new SignatureDetector());
  det->cfg_ = cfg;
  for (const auto& rule : rules) det->roles_ |= rule.roles;
  auto compile = [&](const std::vector<HsPattern>& pats, const std::vector<std::size_t>& idx,
                     std::shared_ptr<const HsDatabase>& db) {
    if (pats.empty()) return;
    int bad = -1;
    std::string msg;
    db = HsDatabase::compile_cached(pats, cfg.cache_dir, bad, msg, Som::none);
    if (db) return;
    if (bad >= 0) {
      err(rules[idx[static_cast<std::size_t>(bad)]], errc::kPatternCompile, msg);
      // Report every bad pattern, not only the first: compile the others one by one.
      for (std::size_t k = 0; k < pats.size(); ++k) {
        if (static_cast<int>(k) == bad) continue;
        int b2 = -1;
        std::string m2;
        if (!HsDatabase::compile({pats[k]}, b2, m2, Som::none)) err(rules[idx[k]], errc::kPatternCompile, m2);
      }
    } else {
      errors.push_back({"", 0, 0, std::string(errc::kPatternCompile), msg});
    }
  };
  for (const bool raw_view : {false, true}) {
    auto& dbs = raw_view ? det->raw_db_ : det->folded_db_;
    std::array<std::vector<std::size_t>, kRoles> members;
    for (std::size_t role = 0; role < kRoles; ++role)
      for (std::size_t i = 0; i < rules.size(); ++i)
        if (rules[i].raw_view == raw_view && (rules[i].roles & role_bit(static_cast<Role>(role)))) members[role].push_back(i);
    for (std::size_t role = 0; role < kRoles; ++role) {
      const auto same = std::find(members.begin(), members.begin() + static_cast<std::ptrdiff_t>(role), members[role]);
      if (same != members.begin() + static_cast<std::ptrdiff_t>(role)) {
        dbs[role] = dbs[static_cast<std::size_t>(same - members.begin())];
        continue;
      }
      // One match per rule and view is all the prefilter needs (PCRE2 finds every span of a matching
      // rule): a rule that matches at many end offsets cannot exhaust max_matches and hide later rules.
      std::vector<HsPattern> pats;
      for (const std::size_t i : members[role])
        pats.push_back({rules[i].prefilter.empty() ? rules[i].pattern : rules[i].prefilter,
                        rules[i].flags | HS_FLAG_SINGLEMATCH, static_cast<unsigned>(i)});
      compile(pats, members[role], dbs[role]);
      if (!errors.empty()) break;  // a bad pattern is reported once, not once per role
    }
  }
  if (!errors.empty()) return R::failure(std::move(errors));  // one report per bad pattern
  for (const auto& rule : rules) {
    int code = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rule.pattern.data()), rule.pattern.size(),
                                   pcre_options(rule.flags), &code, &offset, nullptr);
    if (!re) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(code, msg, sizeof msg);
      err(rule, errc::kPatternCompile,
          "PCRE2 (span finder) rejects the pattern at offset " + std::to_string(offset) + ": " +
              reinterpret_cast<const char*>(msg));
    } else {
      pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);  // falls back to the interpreter when JIT is unavailable
    }
    det->span_re_.push_back(re);
  }
  if (!errors.empty()) return R::failure(std::move(errors));
  det->rules_ = std::move(rules);
  return R::success(std::move(det));
}

LoadResult<std::unique_ptr<SignatureDetector>> SignatureDetector::create(const Config& cfg) {
  LoadErrors errors;
  std::vector<std::string> files;
  for (const auto& p : cfg.rule_paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> dir;
      for (const auto& e : fs::directory_iterator(p, ec))
        if (e.path().extension() == ".yaml" || e.path().extension() == ".yml") dir.push_back(e.path().string());
      std::sort(dir.begin(), dir.end());
      files.insert(files.end(), dir.begin(), dir.end());
    } else if (fs::exists(p, ec)) {
      files.push_back(p);
    } else {
      errors.push_back({p, 0, 0, std::string(errc::kConfigIo), "signature rule path does not exist"});
    }
  }
  std::vector<SignatureRule> rules;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    auto part = parse_signature_file(ss.str(), f, errors);
    rules.insert(rules.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
  }
  if (rules.empty() && errors.empty())
    errors.push_back({"", 0, 0, std::string(errc::kConfigInvalidValue), "signatures: no rules found"});
  if (!errors.empty()) return LoadResult<std::unique_ptr<SignatureDetector>>::failure(std::move(errors));
  return from_rules(std::move(rules), cfg);
}

std::unique_ptr<Detector> SignatureDetector::load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx) {
  Config cfg;
  if (!r.check_keys(node, {"enabled", "rules", "max_scan_bytes", "max_matches", "cache_dir"}, "detectors.signatures"))
    return nullptr;
  std::vector<std::string> paths = r.str_list(node, "rules");
  if (paths.empty()) paths.push_back("signatures");
  for (auto& p : paths)
    cfg.rule_paths.push_back(fs::path(p).is_absolute() ? p : (fs::path(ctx.config_dir) / p).string());
  cfg.max_scan_bytes = static_cast<std::size_t>(r.integer(node, "max_scan_bytes", 256 * 1024, 1024, 64ll << 20));
  cfg.max_matches = static_cast<std::size_t>(r.integer(node, "max_matches", 4096, 16, 1 << 20));
  if (auto dir = r.str(node, "cache_dir")) cfg.cache_dir = *dir == "none" ? "" : *dir;
  // A rule folder is one artifact (DIR/MANIFEST + MANIFEST.sig): a removed rule file is detected too.
  for (const auto& p : cfg.rule_paths) ctx.check_artifact(p, r.errors());
  auto res = create(cfg);
  for (auto& e : res.errors) r.errors().push_back(std::move(e));
  return res.value ? std::move(*res.value) : nullptr;
}

SignatureDetector::~SignatureDetector() {
  for (auto* re : span_re_) pcre2_code_free(re);
}

namespace {
// How far before Hyperscan's end offset a rule's match is looked for first (a few sentences).
constexpr std::uint32_t kSpanWindow = 512;
}  // namespace

std::vector<Span> SignatureDetector::spans_of(std::size_t rule, std::string_view text, Scratch& scratch,
                                              std::uint32_t hs_end) const {
  auto& s = static_cast<SigScratch&>(scratch);
  std::vector<Span> spans;
  pcre2_code* re = rule < span_re_.size() ? span_re_[rule] : nullptr;
  bool failed = !re || !s.md;
  // Without a prefilter, Hyperscan's end offset is where the rule's first match ends: PCRE2 starts a
  // window before it (and from 0 when the match is longer than the window). With a prefilter, the
  // end offset says nothing about the rule's match: the whole view is searched.
  const bool windowed = rules_[rule].prefilter.empty() && hs_end > kSpanWindow;
  PCRE2_SIZE start = windowed ? hs_end - kSpanWindow : 0;
  while (!failed) {
    const int rc = pcre2_match(re, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), start, 0, s.md, s.mc);
    if (rc == PCRE2_ERROR_NOMATCH && start > 0) {
      start = 0;
      continue;
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      failed = true;
      break;
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.md);
    spans.push_back({static_cast<std::uint32_t>(ov[0]), static_cast<std::uint32_t>(std::max(ov[1], ov[0] + 1))});
    break;  // one span per rule and view: the first match is the explanation; a rescan per rule of
            // the rest of the view would cost more than the whole Hyperscan pass
  }
  if (spans.empty() && failed) {
    // PCRE2 could not decide (match limit): keep the finding, with the end Hyperscan reported and
    // the sentence-sized stretch before it. Failing open here would let a crafted input hide a rule.
    spans.push_back({hs_end > 80 ? hs_end - 80 : 0, hs_end});
  }
  return spans;
}

std::vector<std::string> SignatureDetector::categories() const {
  std::set<std::string> cats;
  for (const auto& r : rules_) cats.insert(r.category);
  return {cats.begin(), cats.end()};
}

std::unique_ptr<Scratch> SignatureDetector::make_scratch() const {
  std::vector<const HsDatabase*> dbs;
  for (const auto* set : {&folded_db_, &raw_db_})
    for (const auto& db : *set)
      if (db) dbs.push_back(db.get());
  return std::make_unique<SigScratch>(dbs);
}

bool SignatureDetector::scan(const ScanInput& in, Scratch* scratch, std::vector<Finding>& out) const noexcept {
  auto* s = static_cast<SigScratch*>(scratch);
  if (!s || !s->hs.get()) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  counters_.scans.fetch_add(1, std::memory_order_relaxed);
  const std::size_t first_out = out.size();
  const auto role = static_cast<std::size_t>(in.role);
  const HsDatabase* raw_db = role < kRoles ? raw_db_[role].get() : nullptr;
  const HsDatabase* folded_db = role < kRoles ? folded_db_[role].get() : nullptr;
  // rule index -> position in `out` of its finding (one finding per rule, first view wins)
  std::vector<std::pair<std::size_t, std::size_t>> seen;
  bool ok = true;
  try {
    for (std::size_t vi = 0; vi < in.text.views.size(); ++vi) {
      const text::View& view = in.text.views[vi];
      const std::string_view t = std::string_view(view.text).substr(0, cfg_.max_scan_bytes);
      counters_.bytes.fetch_add(t.size(), std::memory_order_relaxed);
      s->matches.clear();
      bool scanned = false;
      if (raw_db && vi == 0) {
        ok &= raw_db->scan(t, s->hs.get(), s->matches, cfg_.max_matches);
        scanned = true;
      }
      if (folded_db && is_folded_view(in.text, vi)) {
        ok &= folded_db->scan(t, s->hs.get(), s->matches, cfg_.max_matches);
        scanned = true;
      }
      if (!scanned || s->matches.empty()) continue;
      std::sort(s->matches.begin(), s->matches.end(), [](const HsMatch& a, const HsMatch& b) { return a.id < b.id; });
      for (std::size_t m = 0; m < s->matches.size();) {
        const unsigned id = s->matches[m].id;
        std::size_t next = m;
        while (next < s->matches.size() && s->matches[next].id == id) ++next;
        const SignatureRule& rule = rules_[id];
        if (!(rule.roles & role_bit(in.role))) { m = next; continue; }
        const std::uint32_t hs_end = s->matches[m].to;
        m = next;
        auto it = std::find_if(seen.begin(), seen.end(), [&](const auto& p) { return p.first == id; });
        if (it != seen.end()) continue;  // an earlier (less folded) view already matched this rule
        const std::vector<Span> local = spans_of(id, t, *s, hs_end);
        if (local.empty()) continue;  // the prefilter matched, the rule did not
        Finding f;
        f.detector = "signatures";
        f.category = rule.category;
        f.score = rule.score;
        f.severity = rule.severity;
        f.view = view.name;
        f.role = in.role;
        for (const auto& sp : local) f.spans.push_back(view.to_original(sp.start, sp.end));
        merge_spans(f.spans);
        const Span& first = local.front();
        f.evidence = rule.id + " \"" + excerpt(std::string_view(view.text).substr(first.start, first.end - first.start), 60) + "\"";
        if (view.name != "raw" && view.name != "nfkc") {
          // Matching only after de-obfuscation is itself evidence of intent.
          f.score = f.score + (1.0 - f.score) / 2.0;
          f.evidence += " (after " + view.name + ")";
        }
        seen.emplace_back(id, out.size());
        out.push_back(std::move(f));
      }
    }
  } catch (...) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  counters_.findings.fetch_add(out.size() - first_out, std::memory_order_relaxed);
  if (!ok) counters_.errors.fetch_add(1, std::memory_order_relaxed);
  return ok;
}

}  // namespace dg::detect
