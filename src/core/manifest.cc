#include "core/manifest.h"

#include <algorithm>
#include <filesystem>

#include "core/signature.h"

namespace dg::sig {
namespace fs = std::filesystem;

std::optional<std::vector<ManifestEntry>> scan_tree(const std::string& dir, std::string* error) {
  auto fail = [&](std::string m) {
    if (error) *error = std::move(m);
    return std::nullopt;
  };
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return fail(dir + ": not a folder");
  std::vector<ManifestEntry> out;
  // recursive_directory_iterator does not follow directory symlinks by default; every entry's own
  // type is checked with symlink_status, so a symlinked file is refused rather than hashed.
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  if (ec) return fail(dir + ": cannot list the folder: " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return fail(dir + ": cannot list the folder: " + ec.message());
    const fs::path& p = it->path();
    const std::string rel = p.lexically_relative(dir).generic_string();
    const auto st = it->symlink_status(ec);
    if (ec) return fail(rel + ": cannot stat: " + ec.message());
    if (fs::is_symlink(st)) return fail(rel + ": a symlink (a signed folder must not point outside itself)");
    if (fs::is_directory(st)) continue;
    if (!fs::is_regular_file(st)) return fail(rel + ": not a regular file");
    if (rel.find('\n') != std::string::npos || rel.find('\r') != std::string::npos)
      return fail("a file name with a line break cannot be listed in a manifest");
    if (rel == kManifestName || rel == std::string(kManifestName) + std::string(kSigSuffix)) continue;
    auto h = file_sha256(p.string());
    if (!h) return fail(rel + ": cannot read");
    out.push_back({rel, std::move(*h)});
  }
  std::sort(out.begin(), out.end(), [](const ManifestEntry& a, const ManifestEntry& b) { return a.path < b.path; });
  return out;
}

std::string format_manifest(const std::vector<ManifestEntry>& entries) {
  std::string out(kManifestHeader);
  out += '\n';
  for (const auto& e : entries) out += e.sha256 + "  " + e.path + "\n";
  return out;
}

std::optional<std::vector<ManifestEntry>> parse_manifest(std::string_view text, std::string* error) {
  int line_no = 0;
  auto fail = [&](std::string m) {
    if (error) *error = "line " + std::to_string(line_no) + ": " + std::move(m);
    return std::nullopt;
  };
  if (text.size() > kMaxManifestBytes) return fail("larger than " + std::to_string(kMaxManifestBytes) + " bytes");
  std::vector<ManifestEntry> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) return ++line_no, fail("the last line does not end with a newline");
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line_no == 1) {
      if (line != kManifestHeader) return fail("expected '" + std::string(kManifestHeader) + "'");
      continue;
    }
    if (line.size() < 67 || line[64] != ' ' || line[65] != ' ') return fail("expected '<sha256>  <path>'");
    ManifestEntry e{std::string(line.substr(66)), std::string(line.substr(0, 64))};
    if (e.sha256.find_first_not_of("0123456789abcdef") != std::string::npos) return fail("sha256 must be lowercase hex");
    const fs::path rel(e.path);
    if (rel.is_absolute() || e.path.find('\r') != std::string::npos) return fail("not a relative path");
    for (const auto& part : rel)
      if (part == ".." || part == ".") return fail("'.' or '..' in a path");
    if (!out.empty() && !(out.back().path < e.path)) return fail("paths must be sorted and unique");
    out.push_back(std::move(e));
  }
  if (line_no == 0) return fail("empty");
  return out;
}

std::vector<std::string> diff_manifest(const std::vector<ManifestEntry>& expected, const std::vector<ManifestEntry>& actual) {
  std::vector<std::string> out;
  std::size_t i = 0, j = 0;
  while (i < expected.size() || j < actual.size()) {
    if (j == actual.size() || (i < expected.size() && expected[i].path < actual[j].path)) {
      out.push_back("removed: " + expected[i++].path);
    } else if (i == expected.size() || actual[j].path < expected[i].path) {
      out.push_back("added: " + actual[j++].path);
    } else {
      if (expected[i].sha256 != actual[j].sha256) out.push_back("changed: " + actual[j].path);
      ++i, ++j;
    }
  }
  return out;
}

}  // namespace dg::sig
