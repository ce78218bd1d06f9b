// The artifact signature formats (core/signature.h, core/manifest.h, integrity/keys.h) on arbitrary
// bytes: a .sig, a public key, a secret key and a folder MANIFEST are outside input (a .sig travels
// with the artifact it signs). Each parser either refuses with a message or yields a value whose
// rendering parses back to the same value (a manifest renders to the very same bytes).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/manifest.h"
#include "core/signature.h"
#include "integrity/keys.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dg;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string err;

  if (auto s = sig::parse_signature(text, &err)) {
    auto again = sig::parse_signature(sig::format_signature(*s), &err);
    if (!again || again->key_id != s->key_id || again->file != s->file || again->sha256 != s->sha256 ||
        again->sig != s->sig)
      std::abort();
    // The message binds what it is given; verifying a random signature must simply fail.
    (void)sig::signed_message(s->key_id, s->file, s->sha256);
  } else if (err.empty()) {
    std::abort();  // a refusal always says why
  }

  err.clear();
  if (auto k = sig::parse_public_key(text, &err)) {
    auto again = sig::parse_public_key(sig::format_public_key(*k), &err);
    if (!again || again->bytes != k->bytes || again->id != k->id || k->id != sig::key_id(k->bytes)) std::abort();
  } else if (err.empty()) {
    std::abort();
  }

  err.clear();
  if (auto k = integrity::parse_secret_key(text, &err)) {
    auto again = integrity::parse_secret_key(k->format(), &err);
    if (!again || again->id() != k->id()) std::abort();
  } else if (err.empty()) {
    std::abort();
  }

  err.clear();
  if (auto m = sig::parse_manifest(text, &err)) {
    if (sig::format_manifest(*m) != text) std::abort();
    if (!sig::diff_manifest(*m, *m).empty()) std::abort();
  } else if (err.empty()) {
    std::abort();
  }
  return 0;
}
