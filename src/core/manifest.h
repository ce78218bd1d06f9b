// Folder manifests: how a folder (a dataset, a signature rule folder) is signed as one artifact.
// DIR/MANIFEST is a header line `dualguard-manifest v1` followed by one `<sha256 hex>  <path>` line
// per regular file under DIR (paths relative to DIR, '/'-separated, sorted bytewise; the lines are
// `sha256sum` lines, so `tail -n +2 MANIFEST | sha256sum -c` checks them too). DIR/MANIFEST and
// DIR/MANIFEST.sig themselves are not listed. A symlink or special file anywhere under DIR is an
// error: a signed folder must not reach outside itself.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dg::sig {

inline constexpr std::string_view kManifestName = "MANIFEST";
inline constexpr std::string_view kManifestHeader = "dualguard-manifest v1";
inline constexpr std::size_t kMaxManifestBytes = 64u << 20;

struct ManifestEntry {
  std::string path;    // relative to the folder
  std::string sha256;  // lowercase hex
  bool operator==(const ManifestEntry&) const = default;
};

// Hashes every regular file under `dir` (recursively, symlinks not followed), sorted by path.
// nullopt and `*error` (one line naming the offending path) on a symlink, special file, a path with a
// newline, or an unreadable file.
std::optional<std::vector<ManifestEntry>> scan_tree(const std::string& dir, std::string* error);

std::string format_manifest(const std::vector<ManifestEntry>& entries);
// Strict: header, then sorted unique lines of 64 hex, two spaces, a relative path without "..".
std::optional<std::vector<ManifestEntry>> parse_manifest(std::string_view text, std::string* error);

// "added: p" (in actual only), "removed: p", "changed: p", sorted by path.
std::vector<std::string> diff_manifest(const std::vector<ManifestEntry>& expected,
                                       const std::vector<ManifestEntry>& actual);

}  // namespace dg::sig
