// A small RAII layer over Hyperscan: an immutable compiled database shared by all threads, and a
// per-thread scratch. Matches are reported with leftmost start offsets (HS_FLAG_SOM_LEFTMOST).
#pragma once

#include <hs/hs.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "detect/detector.h"

namespace dg::detect {

struct HsPattern {
  std::string expression;
  unsigned flags = 0;  // HS_FLAG_*
  unsigned id = 0;
};

// Start-of-match tracking: exact spans from Hyperscan, at a cost in database size (about 8x for
// complex rule sets). Without it, HsMatch::from is 0 and callers find starts another way.
enum class Som { leftmost, none };

struct HsMatch {
  unsigned id;
  std::uint32_t from;
  std::uint32_t to;
};

class HsDatabase {
 public:
  // Compiles all patterns into one block-mode database. On failure returns null and sets
  // `error_index` (the failing pattern's index in `patterns`, or -1) and `error`.
  static std::shared_ptr<const HsDatabase> compile(const std::vector<HsPattern>& patterns, int& error_index,
                                                   std::string& error, Som som = Som::leftmost);
  // As compile(), but first looks for the serialised database in `cache_dir` under a name derived
  // from the SHA-256 of the Hyperscan version and every pattern (expression, flags, id), and stores
  // it there after compiling. Compiling large rule sets takes seconds; loading a cached database
  // takes milliseconds. An empty `cache_dir`, an unreadable cache or a database built for another
  // Hyperscan / CPU falls back to compiling. The cache is as trusted as the rule files: keep it in
  // a directory only the deployment can write. After a store, the cache keeps the
  // kMaxCachedDatabases most recently written databases and deletes older ones.
  static constexpr std::size_t kMaxCachedDatabases = 64;
  static std::shared_ptr<const HsDatabase> compile_cached(const std::vector<HsPattern>& patterns,
                                                          const std::string& cache_dir, int& error_index,
                                                          std::string& error, Som som = Som::leftmost);
  ~HsDatabase();
  HsDatabase(const HsDatabase&) = delete;
  HsDatabase& operator=(const HsDatabase&) = delete;

  const hs_database_t* raw() const noexcept { return db_; }

  // Scans `text`, appending every match to `out` (at most `max_matches`). False on a Hyperscan error.
  bool scan(std::string_view text, hs_scratch_t* scratch, std::vector<HsMatch>& out,
            std::size_t max_matches = 4096) const noexcept;

 private:
  explicit HsDatabase(hs_database_t* db) : db_(db) {}
  hs_database_t* db_;
};

// Per-thread scratch big enough for every database given to it.
class HsScratch : public Scratch {
 public:
  explicit HsScratch(const std::vector<const HsDatabase*>& dbs);
  ~HsScratch() override;
  hs_scratch_t* get() const noexcept { return scratch_; }

 private:
  hs_scratch_t* scratch_ = nullptr;
};


// The default cache folder for compiled databases: $DUALGUARD_CACHE_DIR, else $XDG_CACHE_HOME/dualguard,
// else $HOME/.cache/dualguard; "" when none is set.
std::string default_cache_dir();

}  // namespace dg::detect
