#include "detect/hyperscan.h"

#include <algorithm>

namespace dg::detect {

std::shared_ptr<const HsDatabase> HsDatabase::compile(const std::vector<HsPattern>& patterns, int& error_index,
                                                      std::string& error) {
  error_index = -1;
  if (patterns.empty()) {
    error = "no patterns";
    return nullptr;
  }
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  for (const auto& p : patterns) {
    exprs.push_back(p.expression.c_str());
    flags.push_back(p.flags | HS_FLAG_SOM_LEFTMOST);
    ids.push_back(p.id);
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK,
                       nullptr, &db, &err) != HS_SUCCESS) {
    error = err && err->message ? err->message : "hyperscan compile failed";
    error_index = err ? err->expression : -1;
    hs_free_compile_error(err);
    return nullptr;
  }
  return std::shared_ptr<const HsDatabase>(new HsDatabase(db));
}

HsDatabase::~HsDatabase() { hs_free_database(db_); }

namespace {
struct Ctx {
  std::vector<HsMatch>* out;
  std::size_t max;
};
int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned, void* p) {
  auto* c = static_cast<Ctx*>(p);
  if (c->out->size() >= c->max) return 1;  // stop scanning: bounded work under adversarial input
  c->out->push_back({id, static_cast<std::uint32_t>(from), static_cast<std::uint32_t>(to)});
  return 0;
}
}  // namespace

bool HsDatabase::scan(std::string_view text, hs_scratch_t* scratch, std::vector<HsMatch>& out,
                      std::size_t max_matches) const noexcept {
  Ctx ctx{&out, max_matches};
  const hs_error_t rc = hs_scan(db_, text.data(), static_cast<unsigned>(text.size()), 0, scratch, on_match, &ctx);
  return rc == HS_SUCCESS || rc == HS_SCAN_TERMINATED;
}

HsScratch::HsScratch(const std::vector<const HsDatabase*>& dbs) {
  for (const auto* db : dbs)
    if (db) hs_alloc_scratch(db->raw(), &scratch_);
}

HsScratch::~HsScratch() {
  if (scratch_) hs_free_scratch(scratch_);
}

std::vector<Span> maximal_spans(std::vector<HsMatch>& matches, unsigned id) {
  std::vector<Span> spans;
  for (const auto& m : matches)
    if (m.id == id) spans.push_back({m.from, m.to});
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.start < b.start || (a.start == b.start && a.end > b.end); });
  std::vector<Span> out;
  for (const auto& s : spans) {
    if (!out.empty() && s.start < out.back().end) continue;  // contained in or overlapping a kept span
    out.push_back(s);
  }
  return out;
}

}  // namespace dg::detect
