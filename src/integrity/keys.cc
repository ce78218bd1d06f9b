#include "integrity/keys.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include "core/errors.h"

namespace dg::integrity {
namespace {

constexpr std::string_view kSecretHeader = "dualguard-secret-key v1";

void init_sodium() {
  static const int rc = sodium_init();
  (void)rc;
}

// Writes `text` to `path` with `mode`; O_EXCL unless `overwrite`. Returns "" or an error message.
std::string write_file(const std::string& path, std::string_view text, mode_t mode, bool overwrite) {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
  const int fd = ::open(path.c_str(), flags, mode);
  if (fd < 0) return errno == EEXIST ? "already exists (not overwritten)" : std::string("cannot create: ") + std::strerror(errno);
  std::string err;
  if (::fchmod(fd, mode) != 0) err = std::string("cannot set its mode: ") + std::strerror(errno);
  for (std::size_t off = 0; err.empty() && off < text.size();) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) err = std::string("cannot write: ") + std::strerror(errno);
    else off += static_cast<std::size_t>(n);
  }
  if (err.empty() && ::fsync(fd) != 0) err = std::string("cannot sync: ") + std::strerror(errno);
  ::close(fd);
  return err;
}

}  // namespace

SecretKey::SecretKey(SecretKey&& o) noexcept : seed_(o.seed_), sk_(o.sk_), pub_(std::move(o.pub_)) {
  sodium_memzero(o.seed_.data(), o.seed_.size());
  sodium_memzero(o.sk_.data(), o.sk_.size());
}

SecretKey& SecretKey::operator=(SecretKey&& o) noexcept {
  if (this != &o) {
    seed_ = o.seed_;
    sk_ = o.sk_;
    pub_ = std::move(o.pub_);
    sodium_memzero(o.seed_.data(), o.seed_.size());
    sodium_memzero(o.sk_.data(), o.sk_.size());
  }
  return *this;
}

SecretKey::~SecretKey() {
  sodium_memzero(seed_.data(), seed_.size());
  sodium_memzero(sk_.data(), sk_.size());
}

SecretKey SecretKey::from_seed(const unsigned char* seed32) {
  init_sodium();
  SecretKey k;
  std::memcpy(k.seed_.data(), seed32, k.seed_.size());
  crypto_sign_seed_keypair(k.pub_.bytes.data(), k.sk_.data(), k.seed_.data());
  k.pub_.id = sig::key_id(k.pub_.bytes);
  return k;
}

SecretKey SecretKey::generate() {
  init_sodium();
  unsigned char seed[crypto_sign_SEEDBYTES];
  randombytes_buf(seed, sizeof seed);
  SecretKey k = from_seed(seed);
  sodium_memzero(seed, sizeof seed);
  return k;
}

std::array<unsigned char, 64> SecretKey::sign(std::string_view message) const {
  std::array<unsigned char, 64> out{};
  crypto_sign_detached(out.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       sk_.data());
  return out;
}

std::string SecretKey::format() const {
  char hex[2 * 32 + 1];
  sodium_bin2hex(hex, sizeof hex, seed_.data(), seed_.size());
  std::string out = std::string(kSecretHeader) +
                    "\n# dualguard Ed25519 SECRET key: keep it private (mode 0600); the public half is in the .pub file\n"
                    "algorithm: ed25519\nkey-id: " + pub_.id + "\nsecret-key: " + hex + "\n";
  sodium_memzero(hex, sizeof hex);
  return out;
}

std::optional<SecretKey> parse_secret_key(std::string_view text, std::string* error) {
  if (text.find("dualguard-public-key v1") != std::string_view::npos) {
    if (error) *error = "this is a public key file; signing needs the secret key (PREFIX, not PREFIX.pub)";
    return std::nullopt;
  }
  std::map<std::string, std::string, std::less<>> f;
  if (!sig::parse_fields(text, kSecretHeader, {"algorithm", "key-id", "secret-key"}, f, error)) return std::nullopt;
  std::string& hex = f["secret-key"];
  unsigned char seed[crypto_sign_SEEDBYTES];
  std::size_t len = 0;
  bool ok = hex.size() == 64 && hex.find_first_not_of("0123456789abcdef") == std::string::npos &&
            sodium_hex2bin(seed, sizeof seed, hex.data(), hex.size(), nullptr, &len, nullptr) == 0 && len == sizeof seed;
  sodium_memzero(hex.data(), hex.size());
  if (!ok) {
    if (error) *error = "secret-key must be 64 lowercase hex digits";
    return std::nullopt;
  }
  SecretKey k = SecretKey::from_seed(seed);
  sodium_memzero(seed, sizeof seed);
  if (f["key-id"] != k.id()) {
    if (error) *error = "key-id " + f["key-id"] + " does not match the key (" + k.id() + ")";
    return std::nullopt;
  }
  return k;
}

LoadResult<SecretKey> load_secret_key(const std::string& path) {
  using R = LoadResult<SecretKey>;
  std::ifstream in(path, std::ios::binary);
  if (!in) return R::failure({{path, 0, 0, std::string(errc::kConfigIo), "cannot read the secret key file"}});
  std::string text(sig::kMaxSigFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  std::string err;
  auto k = parse_secret_key(text, &err);
  sodium_memzero(text.data(), text.size());
  if (!k) return R::failure({{path, 0, 0, std::string(errc::kKeyInvalid), "not a secret key: " + err}});
  return R::success(std::move(*k));
}

LoadErrors write_key_pair(const SecretKey& key, const std::string& prefix, bool overwrite) {
  LoadErrors errors;
  const std::string pub = prefix + ".pub";
  std::string secret = key.format();
  if (auto e = write_file(prefix, secret, 0600, overwrite); !e.empty())
    errors.push_back({prefix, 0, 0, std::string(errc::kConfigIo), e});
  sodium_memzero(secret.data(), secret.size());
  if (!errors.empty()) return errors;
  if (auto e = write_file(pub, sig::format_public_key(key.public_key()), 0644, overwrite); !e.empty())
    errors.push_back({pub, 0, 0, std::string(errc::kConfigIo), e});
  return errors;
}

}  // namespace dg::integrity
