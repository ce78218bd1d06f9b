// `dualguard sign keygen | sign PATH | verify PATH`: flags and output; the work is in src/integrity
// (keys, signing) and core/signature.h (verification, shared with the load path).
// Output contract (scripts rely on it, docs/integrity.md):
//   sign keygen --out PREFIX   writes PREFIX (secret, mode 0600) and PREFIX.pub
//   sign FILE --key K          writes FILE.sig;  sign DIR --key K writes DIR/MANIFEST and DIR/MANIFEST.sig
//   verify PATH --pub P...     exit 0 only for an intact PATH signed by one of the keys; 1 and a one-line
//                              reason on stderr otherwise ("PATH: code: message"); 2 usage; 3 an unreadable
//                              key or artifact (or a symlink in a folder)
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "core/signature.h"
#include "integrity/sign.h"

namespace dg::cli {
namespace {

struct SignOpts {
  std::string path;
  std::string key;
};
struct KeygenOpts {
  std::string out;
  bool force = false;
};
struct VerifyOpts {
  std::string path;
  std::vector<std::string> pubs;
};

void print_errors(const char* cmd, const LoadErrors& errors) {
  for (const auto& e : errors) std::cerr << "dualguard " << cmd << ": " << e.format() << "\n";
}

}  // namespace

void add_integrity(CLI::App& app, int& exit_code) {
  auto so = std::make_shared<SignOpts>();
  auto* sign = app.add_subcommand(
      "sign", "sign an artifact with an Ed25519 key: FILE gets FILE.sig; a folder (dataset, rule folder) gets "
              "DIR/MANIFEST (sha256 of every file) and DIR/MANIFEST.sig. `sign keygen --out PREFIX` makes a key pair");
  sign->add_option("path", so->path, "file or folder to sign");
  sign->add_option("-k,--key", so->key, "secret key file (from `dualguard sign keygen`)");
  sign->require_subcommand(0, 1);

  auto ko = std::make_shared<KeygenOpts>();
  auto* keygen = sign->add_subcommand("keygen", "make an Ed25519 key pair: the secret key in PREFIX (mode 0600), the "
                                                "public key in PREFIX.pub; prints the key id");
  keygen->add_option("-o,--out", ko->out, "path prefix of the key files")->required();
  keygen->add_flag("--force", ko->force, "overwrite existing key files");
  keygen->callback([ko, &exit_code] {
    const auto key = integrity::SecretKey::generate();
    auto errors = integrity::write_key_pair(key, ko->out, ko->force);
    if (!errors.empty()) {
      print_errors("sign keygen", errors);
      exit_code = kExitInput;
      return;
    }
    std::cout << "key-id: " << key.id() << "\nsecret key: " << ko->out << " (mode 0600; keep it private)\npublic key: "
              << ko->out << ".pub (list it in integrity.trusted_keys)\n";
  });

  sign->callback([sign, keygen, so, &exit_code] {
    if (sign->got_subcommand(keygen)) return;
    if (so->path.empty() || so->key.empty()) {
      std::cerr << "dualguard sign: needs PATH and --key SECRET_KEY (or: dualguard sign keygen --out PREFIX)\n";
      exit_code = kExitUsage;
      return;
    }
    auto key = integrity::load_secret_key(so->key);
    if (!key.ok()) {
      print_errors("sign", key.errors);
      exit_code = kExitInput;
      return;
    }
    auto s = integrity::sign(so->path, *key.value);
    if (!s.ok()) {
      print_errors("sign", s.errors);
      exit_code = kExitInput;
      return;
    }
    std::cout << "wrote " << s.value->sig_path << " (key " << key.value->id() << ", " << s.value->files
              << (s.value->files == 1 ? " file" : " files") << ")\n";
  });

  auto vo = std::make_shared<VerifyOpts>();
  auto* verify = app.add_subcommand(
      "verify", "check an artifact's signature (FILE.sig, or DIR/MANIFEST and DIR/MANIFEST.sig for a folder); exit 0 "
                "only when it is intact and signed by one of the --pub keys, 1 with a one-line reason otherwise "
                "(signature_missing, signature_invalid, untrusted_key, tampered_artifact), 3 when a key or the artifact cannot be "
                "read");
  verify->add_option("path", vo->path, "file or folder to verify")->required();
  verify->add_option("-p,--pub", vo->pubs, "trusted public key file (repeatable)")->required();
  verify->callback([vo, &exit_code] {
    std::vector<sig::PublicKey> keys;
    LoadErrors errors;
    for (const auto& p : vo->pubs) {
      auto k = sig::load_public_key(p);
      errors.insert(errors.end(), k.errors.begin(), k.errors.end());
      if (k.value) keys.push_back(std::move(*k.value));
    }
    if (!errors.empty()) {
      print_errors("verify", errors);
      exit_code = kExitInput;
      return;
    }
    const sig::Check c = sig::verify(vo->path, keys);
    if (!c.ok()) {
      std::cerr << "dualguard verify: " << vo->path << ": " << c.code << ": " << c.message << "\n";
      for (const auto& ch : c.changes) std::cerr << "  " << ch << "\n";
      exit_code = c.status == sig::Status::io ? kExitInput : kExitFailOn;
      return;
    }
    std::cout << vo->path << ": OK (" << c.message << ")\n";
  });
}

}  // namespace dg::cli
