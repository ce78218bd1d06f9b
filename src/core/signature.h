// Artifact signatures: the verification half of `dualguard sign` / `dualguard verify`, small enough
// for the load path (policy/config.cc, the detectors' loaders) to call before it reads a file.
// Ed25519 (libsodium) over a domain-separated message that binds the file's base name and SHA-256.
// Formats (docs/integrity.md), all UTF-8 text, one `key: value` per line, '#' starts a comment line:
//
//   FILE.sig                  public key file              secret key file (src/integrity)
//   dualguard-signature v1    dualguard-public-key v1      dualguard-secret-key v1
//   algorithm: ed25519        algorithm: ed25519           algorithm: ed25519
//   key-id: <16 hex>          key-id: <16 hex>             key-id: <16 hex>
//   file: <base name>         public-key: <64 hex>         secret-key: <64 hex: the 32-byte seed>
//   sha256: <64 hex>
//   signature: <128 hex>
//
// A folder (a dataset, a rule folder) is signed as DIR/MANIFEST (sorted `<sha256>  <relative path>`
// lines after a `dualguard-manifest v1` header; see manifest.h) plus DIR/MANIFEST.sig.
//
// Thread safety: every function is safe to call concurrently (libsodium is initialised once).
#pragma once

#include <array>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/load_result.h"

namespace dg::sig {

inline constexpr std::string_view kSigSuffix = ".sig";
inline constexpr std::size_t kMaxSigFileBytes = 4096;  // a .sig or key file is a few hundred bytes

// Lowercase hex SHA-256 of bytes / of a file's contents (nullopt when the file cannot be read).
std::string sha256_hex(std::string_view data);
std::optional<std::string> file_sha256(const std::string& path);

struct PublicKey {
  std::array<unsigned char, 32> bytes{};
  std::string id;      // first 16 hex of sha256(bytes): names the key in .sig files and messages
  std::string source;  // the file it came from ("" when built in memory)
};

// The key id of a raw Ed25519 public key.
std::string key_id(std::span<const unsigned char, 32> pk);

// Parses / renders a public key file. A parse error is one line without the file name.
std::optional<PublicKey> parse_public_key(std::string_view text, std::string* error);
std::string format_public_key(const PublicKey& key);
// Reads and parses a key file. Errors name the file: config_io (unreadable), key_invalid.
LoadResult<PublicKey> load_public_key(const std::string& path);

struct Signature {
  std::string key_id;
  std::string file;    // base name of the signed file (MANIFEST for a folder)
  std::string sha256;  // of the signed file's contents
  std::array<unsigned char, 64> sig{};
};

std::optional<Signature> parse_signature(std::string_view text, std::string* error);
std::string format_signature(const Signature& s);

// The exact bytes Ed25519 signs: a context string, then algorithm, key id, base name and digest.
// Binding the base name makes a valid FILE.sig copied next to another file fail ("swapped file").
std::string signed_message(std::string_view key_id, std::string_view file, std::string_view sha256);

// Outcome of verifying one artifact; `code` is a stable error code (core/errors.h).
enum class Status {
  ok,
  missing,        // signature_missing: no FILE.sig (or DIR/MANIFEST.sig)
  malformed,      // signature_invalid: the .sig (or MANIFEST) does not parse
  swapped,        // signature_invalid: the .sig names another file
  untrusted_key,  // untrusted_key: signed, but by a key that is not trusted
  tampered,       // tampered_artifact: the content changed since it was signed (or files added/removed)
  bad_signature,  // signature_invalid: the Ed25519 signature does not verify
  io,             // config_io: the artifact cannot be read, or a folder holds a symlink / special file
};

struct Check {
  Status status = Status::ok;
  std::string code;     // "" when ok
  std::string message;  // one line, for people; names the key id or the changed files
  std::string key_id;   // the signer (when ok)
  std::vector<std::string> changes;  // folders: "added: p", "removed: p", "changed: p" (sorted)
  bool ok() const noexcept { return status == Status::ok; }
};

std::string_view code_of(Status s) noexcept;

// Verifies FILE against FILE.sig. `trusted` may be empty (every signature is then untrusted).
Check verify_file(const std::string& path, std::span<const PublicKey> trusted);
// Verifies DIR/MANIFEST against DIR/MANIFEST.sig, then every file of DIR against the manifest.
Check verify_dir(const std::string& dir, std::span<const PublicKey> trusted);
// verify_dir for a folder, verify_file otherwise.
Check verify(const std::string& path, std::span<const PublicKey> trusted);

// For callers that only need the answer (e.g. the threat analysis: an unsigned safety artifact is an
// unprotected safety mechanism): true when `path` verifies against one of `trusted`.
bool is_signed(const std::string& path, std::span<const PublicKey> trusted);

// The line parser shared by the .sig and key file formats (src/integrity reuses it for secret keys):
// skips empty and '#' lines, requires `header` first, then `key: value` lines whose keys are each of
// `allowed` exactly once (unknown or repeated keys are errors); `allowed` must include "algorithm",
// which must be "ed25519". Inputs over kMaxSigFileBytes are refused. Fills `fields`.
bool parse_fields(std::string_view text, std::string_view header, std::initializer_list<std::string_view> allowed,
                  std::map<std::string, std::string, std::less<>>& fields, std::string* error);

// How the load path treats artifact signatures (config `integrity:` section).
enum class Mode { off, warn, enforce };
std::optional<Mode> parse_mode(std::string_view s) noexcept;
std::string_view mode_name(Mode m) noexcept;

// The load path's guard: the config loader fills it, the engine and the detectors call check()
// before reading each artifact. Immutable after loading; check() is const and thread-safe.
struct Integrity {
  Mode mode = Mode::off;
  std::vector<PublicKey> trusted;

  // enforce: a failure becomes a LoadError naming `path` (code from code_of); warn: the same line is
  // printed to stderr as a warning and loading goes on; off: nothing is checked. A path that does not
  // exist is left to the loader, which reports it as missing.
  void check(const std::string& path, LoadErrors& errors) const;
};

}  // namespace dg::sig
