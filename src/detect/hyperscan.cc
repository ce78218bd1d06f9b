#include "detect/hyperscan.h"

#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace dg::detect {

std::shared_ptr<const HsDatabase> HsDatabase::compile(const std::vector<HsPattern>& patterns, int& error_index,
                                                      std::string& error, Som som) {
  error_index = -1;
  if (patterns.empty()) {
    error = "no patterns";
    return nullptr;
  }
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  for (const auto& p : patterns) {
    exprs.push_back(p.expression.c_str());
    flags.push_back(p.flags | (som == Som::leftmost ? HS_FLAG_SOM_LEFTMOST : 0u));
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

std::string default_cache_dir() {
  if (const char* d = std::getenv("DUALGUARD_CACHE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/dualguard";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/dualguard";
  return "";
}

namespace {
std::string cache_key(const std::vector<HsPattern>& patterns, Som som) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  auto feed = [&](std::string_view s) {
    crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(s.data()), s.size());
    crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>("\0"), 1);
  };
  feed(hs_version());
  // The platform a database is built for (CPU features, tuning): a database built under an emulator
  // or on another CPU must not be picked up here.
  hs_platform_info_t plat{};
  if (hs_populate_platform(&plat) == HS_SUCCESS) {
    feed(std::to_string(plat.tune));
    feed(std::to_string(plat.cpu_features));
  }
  for (const auto& p : patterns) {
    feed(p.expression);
    feed(std::to_string(p.flags | (som == Som::leftmost ? HS_FLAG_SOM_LEFTMOST : 0u)));
    feed(std::to_string(p.id));
  }
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, digest);
  char hex[2 * crypto_hash_sha256_BYTES + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}
// Keeps the cache bounded: every rule-set edit, test fixture and config variant adds a database.
// The oldest entries (by modification time; a hit does not refresh it, a rebuild does) go first.
void prune_cache(const std::filesystem::path& dir, std::size_t keep) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::pair<fs::file_time_type, fs::path>> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("hs-", 0) != 0 || e.path().extension() != ".db") continue;
    std::error_code tec;
    const auto t = fs::last_write_time(e.path(), tec);
    if (!tec) files.emplace_back(t, e.path());
  }
  if (files.size() <= keep) return;
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (std::size_t i = keep; i < files.size(); ++i) fs::remove(files[i].second, ec);
}
}  // namespace

std::shared_ptr<const HsDatabase> HsDatabase::compile_cached(const std::vector<HsPattern>& patterns,
                                                             const std::string& cache_dir, int& error_index,
                                                             std::string& error, Som som) {
  if (cache_dir.empty() || patterns.empty()) return compile(patterns, error_index, error, som);
  namespace fs = std::filesystem;
  const fs::path file = fs::path(cache_dir) / ("hs-" + cache_key(patterns, som) + ".db");
  {
    std::ifstream in(file, std::ios::binary);
    if (in) {
      std::ostringstream ss;
      ss << in.rdbuf();
      const std::string bytes = ss.str();
      hs_database_t* db = nullptr;
      if (hs_deserialize_database(bytes.data(), bytes.size(), &db) == HS_SUCCESS)
        return std::shared_ptr<const HsDatabase>(new HsDatabase(db));
    }
  }
  auto db = compile(patterns, error_index, error, som);
  if (!db) return db;
  char* bytes = nullptr;
  std::size_t len = 0;
  if (hs_serialize_database(db->db_, &bytes, &len) == HS_SUCCESS) {
    // Write to a unique temporary name, then rename: concurrent processes never see a partial file.
    std::error_code ec;
    fs::create_directories(cache_dir, ec);
    const fs::path tmp = file.string() + ".tmp." + std::to_string(::getpid());
    {
      std::ofstream out(tmp, std::ios::binary);
      if (out) out.write(bytes, static_cast<std::streamsize>(len));
    }
    fs::rename(tmp, file, ec);
    if (ec) fs::remove(tmp, ec);
    std::free(bytes);
    prune_cache(cache_dir, HsDatabase::kMaxCachedDatabases);
  }
  return db;
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


}  // namespace dg::detect
