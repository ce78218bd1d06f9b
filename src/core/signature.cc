#include "core/signature.h"

#include <sodium.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/errors.h"
#include "core/manifest.h"

namespace dg::sig {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSigHeader = "dualguard-signature v1";
constexpr std::string_view kPubHeader = "dualguard-public-key v1";
constexpr std::string_view kContext = "dualguard-signature-v1";  // domain separation of the signed message
constexpr std::string_view kAlgorithm = "ed25519";

void init_sodium() {
  static const int rc = sodium_init();  // thread-safe once; sodium_init() is idempotent anyway
  (void)rc;
}

std::string to_hex(const unsigned char* p, std::size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), p, n);
  out.pop_back();
  return out;
}

bool is_lower_hex(std::string_view s, std::size_t n) {
  if (s.size() != n) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool from_hex(std::string_view s, unsigned char* out, std::size_t n) {
  if (!is_lower_hex(s, n * 2)) return false;
  std::size_t len = 0;
  return sodium_hex2bin(out, n, s.data(), s.size(), nullptr, &len, nullptr) == 0 && len == n;
}

// Reads at most `max` bytes; nullopt when unreadable or larger.
std::optional<std::string> read_small(const std::string& path, std::size_t max) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string s(max + 1, '\0');
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  if (in.bad()) return std::nullopt;
  s.resize(static_cast<std::size_t>(in.gcount()));
  if (s.size() > max) return std::nullopt;
  return s;
}

}  // namespace

bool parse_fields(std::string_view text, std::string_view header, std::initializer_list<std::string_view> allowed,
                  std::map<std::string, std::string, std::less<>>& fields, std::string* error) {
  auto fail = [&](std::string m) {
    if (error) *error = std::move(m);
    return false;
  };
  if (text.size() > kMaxSigFileBytes) return fail("larger than " + std::to_string(kMaxSigFileBytes) + " bytes");
  std::size_t pos = 0;
  int line_no = 0;
  bool seen_header = false;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (!seen_header) {
      if (line != header) return fail("line " + std::to_string(line_no) + ": expected '" + std::string(header) + "'");
      seen_header = true;
      continue;
    }
    const auto colon = line.find(": ");
    if (colon == std::string_view::npos) return fail("line " + std::to_string(line_no) + ": expected 'key: value'");
    const std::string_view key = line.substr(0, colon), value = line.substr(colon + 2);
    bool known = false;
    for (auto a : allowed) known |= a == key;
    if (!known) return fail("line " + std::to_string(line_no) + ": unknown field '" + std::string(key) + "'");
    if (!fields.emplace(std::string(key), std::string(value)).second)
      return fail("line " + std::to_string(line_no) + ": duplicate field '" + std::string(key) + "'");
  }
  if (!seen_header) return fail("empty (expected '" + std::string(header) + "')");
  for (auto a : allowed)
    if (!fields.count(a)) return fail("missing field '" + std::string(a) + "'");
  if (fields.find("algorithm")->second != kAlgorithm)
    return fail("unsupported algorithm '" + fields.find("algorithm")->second + "' (expected ed25519)");
  return true;
}

std::string sha256_hex(std::string_view data) {
  init_sodium();
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return to_hex(h, sizeof h);
}

std::optional<std::string> file_sha256(const std::string& path) {
  init_sodium();
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = in.gcount();
    if (n > 0) crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(buf.data()), static_cast<unsigned long long>(n));
  }
  if (in.bad()) return std::nullopt;
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, h);
  return to_hex(h, sizeof h);
}

std::string key_id(std::span<const unsigned char, 32> pk) {
  init_sodium();
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, pk.data(), pk.size());
  return to_hex(h, 8);
}

std::optional<PublicKey> parse_public_key(std::string_view text, std::string* error) {
  std::map<std::string, std::string, std::less<>> f;
  if (!parse_fields(text, kPubHeader, {"algorithm", "key-id", "public-key"}, f, error)) return std::nullopt;
  PublicKey k;
  if (!from_hex(f["public-key"], k.bytes.data(), k.bytes.size())) {
    if (error) *error = "public-key must be 64 lowercase hex digits";
    return std::nullopt;
  }
  k.id = key_id(k.bytes);
  if (f["key-id"] != k.id) {
    if (error) *error = "key-id " + f["key-id"] + " does not match the key (" + k.id + ")";
    return std::nullopt;
  }
  return k;
}

std::string format_public_key(const PublicKey& key) {
  return std::string(kPubHeader) + "\n# dualguard Ed25519 public key: trust it with integrity.trusted_keys\nalgorithm: ed25519\nkey-id: " +
         key.id + "\npublic-key: " + to_hex(key.bytes.data(), key.bytes.size()) + "\n";
}

LoadResult<PublicKey> load_public_key(const std::string& path) {
  auto text = read_small(path, kMaxSigFileBytes);
  if (!text)
    return LoadResult<PublicKey>::failure({{path, 0, 0, std::string(errc::kConfigIo), "cannot read the public key file"}});
  std::string err;
  auto k = parse_public_key(*text, &err);
  if (!k) return LoadResult<PublicKey>::failure({{path, 0, 0, std::string(errc::kKeyInvalid), "not a public key: " + err}});
  k->source = path;
  return LoadResult<PublicKey>::success(std::move(*k));
}

std::optional<Signature> parse_signature(std::string_view text, std::string* error) {
  std::map<std::string, std::string, std::less<>> f;
  if (!parse_fields(text, kSigHeader, {"algorithm", "key-id", "file", "sha256", "signature"}, f, error))
    return std::nullopt;
  auto fail = [&](std::string m) {
    if (error) *error = std::move(m);
    return std::nullopt;
  };
  Signature s;
  s.key_id = f["key-id"];
  s.file = f["file"];
  s.sha256 = f["sha256"];
  if (!is_lower_hex(s.key_id, 16)) return fail("key-id must be 16 lowercase hex digits");
  if (s.file.empty() || s.file.find('/') != std::string::npos || s.file == "." || s.file == "..")
    return fail("file must be a base name");
  if (!is_lower_hex(s.sha256, 64)) return fail("sha256 must be 64 lowercase hex digits");
  if (!from_hex(f["signature"], s.sig.data(), s.sig.size())) return fail("signature must be 128 lowercase hex digits");
  return s;
}

std::string format_signature(const Signature& s) {
  return std::string(kSigHeader) + "\n# verify with: dualguard verify " + s.file +
         " --pub KEY.pub (docs/integrity.md)\nalgorithm: ed25519\nkey-id: " + s.key_id + "\nfile: " + s.file +
         "\nsha256: " + s.sha256 + "\nsignature: " + to_hex(s.sig.data(), s.sig.size()) + "\n";
}

std::string signed_message(std::string_view key_id, std::string_view file, std::string_view sha256) {
  std::string m(kContext);
  m += '\0';
  m += "algorithm: ed25519\nkey-id: ";
  m += key_id;
  m += "\nfile: ";
  m += file;
  m += "\nsha256: ";
  m += sha256;
  m += '\n';
  return m;
}

std::string_view code_of(Status s) noexcept {
  switch (s) {
    case Status::ok: return "";
    case Status::missing: return errc::kSignatureMissing;
    case Status::malformed:
    case Status::swapped:
    case Status::bad_signature: return errc::kSignatureInvalid;
    case Status::untrusted_key: return errc::kUntrustedKey;
    case Status::tampered: return errc::kTamperedArtifact;
    case Status::io: return errc::kConfigIo;
  }
  return errc::kSignatureInvalid;
}

namespace {
Check make(Status st, std::string message) {
  Check c;
  c.status = st;
  c.code = std::string(code_of(st));
  c.message = std::move(message);
  return c;
}
}  // namespace

Check verify_file(const std::string& path, std::span<const PublicKey> trusted) {
  init_sodium();
  const std::string base = fs::path(path).filename().string();
  const std::string sig_path = path + std::string(kSigSuffix);
  std::error_code ec;
  if (!fs::exists(sig_path, ec)) return make(Status::missing, "no signature (" + base + ".sig not found)");
  auto text = read_small(sig_path, kMaxSigFileBytes);
  if (!text) return make(Status::malformed, base + ".sig cannot be read or is larger than " + std::to_string(kMaxSigFileBytes) + " bytes");
  std::string err;
  auto s = parse_signature(*text, &err);
  if (!s) return make(Status::malformed, base + ".sig is not a dualguard signature: " + err);
  if (s->file != base)
    return make(Status::swapped, "the signature is for '" + s->file + "', not '" + base + "' (swapped file?)");
  const PublicKey* key = nullptr;
  for (const auto& k : trusted)
    if (k.id == s->key_id) key = &k;
  if (!key) {
    std::string ids;
    for (const auto& k : trusted) ids += (ids.empty() ? "" : ", ") + k.id;
    return make(Status::untrusted_key, "signed by key " + s->key_id + ", which is not trusted (trusted: " +
                                           (ids.empty() ? std::string("none") : ids) + ")");
  }
  auto digest = file_sha256(path);
  if (!digest) return make(Status::io, "cannot read the file");
  if (*digest != s->sha256)
    return make(Status::tampered, "content changed since it was signed (sha256 " + *digest + ", signed " + s->sha256 + ")");
  // Verify over what we computed, not over what the .sig claims: the claim is only a diagnostic.
  const std::string msg = signed_message(key->id, base, *digest);
  if (crypto_sign_verify_detached(s->sig.data(), reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                                  key->bytes.data()) != 0)
    return make(Status::bad_signature, "the Ed25519 signature does not verify with key " + key->id);
  Check ok;
  ok.key_id = key->id;
  ok.message = "signed by key " + key->id;
  return ok;
}

Check verify_dir(const std::string& dir, std::span<const PublicKey> trusted) {
  const std::string manifest = (fs::path(dir) / kManifestName).string();
  std::error_code ec;
  if (!fs::exists(manifest, ec))
    return make(Status::missing, "no signed manifest (" + std::string(kManifestName) + " not found in the folder)");
  Check c = verify_file(manifest, trusted);
  if (!c.ok()) {
    c.message = std::string(kManifestName) + ": " + c.message;
    return c;
  }
  auto text = read_small(manifest, kMaxManifestBytes);
  if (!text) return make(Status::io, "cannot read " + std::string(kManifestName));
  std::string err;
  auto expected = parse_manifest(*text, &err);
  if (!expected) return make(Status::malformed, std::string(kManifestName) + " does not parse: " + err);
  auto actual = scan_tree(dir, &err);
  if (!actual) return make(Status::io, err);
  auto changes = diff_manifest(*expected, *actual);
  if (!changes.empty()) {
    std::string list;
    for (std::size_t i = 0; i < changes.size() && i < 5; ++i) list += (i ? ", " : "") + changes[i];
    if (changes.size() > 5) list += ", ... (" + std::to_string(changes.size()) + " in all)";
    Check t = make(Status::tampered, "the folder changed since it was signed: " + list);
    t.changes = std::move(changes);
    return t;
  }
  c.message = "signed by key " + c.key_id + " (" + std::to_string(actual->size()) + " files)";
  return c;
}

Check verify(const std::string& path, std::span<const PublicKey> trusted) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return verify_dir(path, trusted);
  return verify_file(path, trusted);
}

bool is_signed(const std::string& path, std::span<const PublicKey> trusted) { return verify(path, trusted).ok(); }

std::optional<Mode> parse_mode(std::string_view s) noexcept {
  if (s == "off") return Mode::off;
  if (s == "warn") return Mode::warn;
  if (s == "enforce") return Mode::enforce;
  return std::nullopt;
}

std::string_view mode_name(Mode m) noexcept {
  switch (m) {
    case Mode::off: return "off";
    case Mode::warn: return "warn";
    case Mode::enforce: return "enforce";
  }
  return "off";
}

void Integrity::check(const std::string& path, LoadErrors& errors) const {
  if (mode == Mode::off) return;
  std::error_code ec;
  if (!fs::exists(path, ec)) return;
  const Check c = verify(path, trusted);
  if (c.ok()) return;
  LoadError e{path, 0, 0, c.code, c.message};
  if (mode == Mode::enforce) {
    errors.push_back(std::move(e));
  } else {
    // core has no logger; stderr is where the CLI and the gateway report load problems.
    std::fprintf(stderr, "dualguard: warning (integrity.mode: warn): %s\n", e.format().c_str());
  }
}

}  // namespace dg::sig
