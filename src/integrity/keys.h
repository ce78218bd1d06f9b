// Ed25519 signing keys for `dualguard sign`: generation, the secret key file format, writing a key
// pair (secret key mode 0600). Verification and public keys are in core/signature.h (the load path
// needs them); this module is the tooling that holds secrets.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "core/load_result.h"
#include "core/signature.h"

namespace dg::integrity {

// A secret key in memory. Moves copy and wipe; the destructor wipes (sodium_memzero). Not thread-safe
// to mutate; const use is.
class SecretKey {
 public:
  SecretKey() = default;
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;
  SecretKey(SecretKey&& o) noexcept;
  SecretKey& operator=(SecretKey&& o) noexcept;
  ~SecretKey();

  // A fresh key from libsodium's CSPRNG.
  static SecretKey generate();
  // The key for a 32-byte seed (the secret key file stores the seed).
  static SecretKey from_seed(const unsigned char* seed32);

  const sig::PublicKey& public_key() const noexcept { return pub_; }
  const std::string& id() const noexcept { return pub_.id; }
  // Ed25519 detached signature of `message`.
  std::array<unsigned char, 64> sign(std::string_view message) const;

  // The secret key file's text (header, algorithm, key id, seed in hex).
  std::string format() const;

 private:
  std::array<unsigned char, 32> seed_{};
  std::array<unsigned char, 64> sk_{};  // libsodium's expanded secret key (seed || public key)
  sig::PublicKey pub_;
};

// Parses a secret key file's text; the key id must match the key. Errors are one line.
std::optional<SecretKey> parse_secret_key(std::string_view text, std::string* error);
// Reads a secret key file. Errors name the file: config_io (unreadable), key_invalid. A key file
// readable by group or others is accepted (it is the owner's choice) but a public key file given by
// mistake is reported as such.
LoadResult<SecretKey> load_secret_key(const std::string& path);

// Writes the secret key to `prefix` (mode 0600, created exclusively unless `overwrite`) and the public
// key to `prefix`.pub. Errors name the file (config_io).
LoadErrors write_key_pair(const SecretKey& key, const std::string& prefix, bool overwrite);

}  // namespace dg::integrity
