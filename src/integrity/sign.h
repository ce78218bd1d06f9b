// Signing artifacts: a file gets FILE.sig; a folder gets DIR/MANIFEST (per-file sha256) and
// DIR/MANIFEST.sig. Formats: core/signature.h, core/manifest.h, docs/integrity.md.
#pragma once

#include <string>

#include "core/load_result.h"
#include "integrity/keys.h"

namespace dg::integrity {

struct Signed {
  std::string sig_path;  // the .sig written
  std::string sha256;    // of the signed file (the MANIFEST for a folder)
  std::size_t files = 1; // files covered (a folder: the manifest's entries)
};

// Signs FILE (writes FILE.sig, replacing an old one atomically). Errors name the file.
LoadResult<Signed> sign_file(const std::string& path, const SecretKey& key);
// Writes DIR/MANIFEST, then signs it. Refuses a folder with a symlink or special file in it.
LoadResult<Signed> sign_dir(const std::string& dir, const SecretKey& key);
// sign_dir for a folder, sign_file otherwise.
LoadResult<Signed> sign(const std::string& path, const SecretKey& key);

}  // namespace dg::integrity
