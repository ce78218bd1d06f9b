#include "integrity/sign.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/errors.h"
#include "core/manifest.h"

namespace dg::integrity {
namespace fs = std::filesystem;
namespace {

// Writes `text` next to `path` and renames it over: a reader never sees half a .sig or MANIFEST.
std::string write_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return "cannot create " + tmp;
    out << text;
    out.flush();
    if (!out) return "cannot write " + tmp;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return "cannot replace the file: " + ec.message();
  }
  return "";
}

}  // namespace

LoadResult<Signed> sign_file(const std::string& path, const SecretKey& key) {
  using R = LoadResult<Signed>;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    return R::failure({{path, 0, 0, std::string(errc::kConfigIo), "not a regular file"}});
  auto digest = sig::file_sha256(path);
  if (!digest) return R::failure({{path, 0, 0, std::string(errc::kConfigIo), "cannot read the file"}});
  sig::Signature s;
  s.key_id = key.id();
  s.file = fs::path(path).filename().string();
  s.sha256 = *digest;
  s.sig = key.sign(sig::signed_message(s.key_id, s.file, s.sha256));
  Signed out{path + std::string(sig::kSigSuffix), s.sha256, 1};
  if (auto e = write_atomic(out.sig_path, sig::format_signature(s)); !e.empty())
    return R::failure({{out.sig_path, 0, 0, std::string(errc::kConfigIo), e}});
  return R::success(std::move(out));
}

LoadResult<Signed> sign_dir(const std::string& dir, const SecretKey& key) {
  using R = LoadResult<Signed>;
  std::string err;
  auto entries = sig::scan_tree(dir, &err);
  if (!entries) return R::failure({{dir, 0, 0, std::string(errc::kConfigIo), err}});
  const std::string manifest = (fs::path(dir) / sig::kManifestName).string();
  if (auto e = write_atomic(manifest, sig::format_manifest(*entries)); !e.empty())
    return R::failure({{manifest, 0, 0, std::string(errc::kConfigIo), e}});
  auto s = sign_file(manifest, key);
  if (s.value) s.value->files = entries->size();
  return s;
}

LoadResult<Signed> sign(const std::string& path, const SecretKey& key) {
  std::error_code ec;
  return fs::is_directory(path, ec) ? sign_dir(path, key) : sign_file(path, key);
}

}  // namespace dg::integrity
