// core/signature.h and core/manifest.h (verification, formats) with src/integrity (keys, signing):
// round trips and every tamper case: changed byte, wrong key, missing signature, swapped file,
// forged fields; folders: added, removed, changed files, symlinks.
#include "core/signature.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/manifest.h"
#include "integrity/keys.h"
#include "integrity/sign.h"

namespace dg {
namespace {
namespace fs = std::filesystem;
using integrity::SecretKey;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
void spit(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

class Sig : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dg-sig-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string file(const std::string& name, const std::string& text) {
    spit(dir_ / name, text);
    return (dir_ / name).string();
  }
  std::vector<sig::PublicKey> trust(const SecretKey& k) { return {k.public_key()}; }

  fs::path dir_;
  SecretKey a_ = SecretKey::generate(), b_ = SecretKey::generate();
};

TEST_F(Sig, SignVerifyRoundTrip) {
  const auto f = file("policy.yaml", "rules: []\n");
  auto s = integrity::sign_file(f, a_);
  ASSERT_TRUE(s.ok()) << format_errors_text(s.errors);
  EXPECT_EQ(s.value->sig_path, f + ".sig");
  EXPECT_EQ(s.value->sha256, sig::sha256_hex("rules: []\n"));
  const auto c = sig::verify_file(f, trust(a_));
  EXPECT_TRUE(c.ok()) << c.message;
  EXPECT_EQ(c.key_id, a_.id());
  EXPECT_TRUE(sig::is_signed(f, trust(a_)));
  // Either of several trusted keys.
  EXPECT_TRUE(sig::verify_file(f, std::vector<sig::PublicKey>{b_.public_key(), a_.public_key()}).ok());
}

TEST_F(Sig, EmptyFileRoundTrip) {
  const auto f = file("empty", "");
  ASSERT_TRUE(integrity::sign_file(f, a_).ok());
  EXPECT_TRUE(sig::verify_file(f, trust(a_)).ok());
}

TEST_F(Sig, ChangedByteIsTampered) {
  const auto f = file("model.bin", std::string(1000, 'x'));
  ASSERT_TRUE(integrity::sign_file(f, a_).ok());
  std::string t = slurp(f);
  t[500] = 'y';
  spit(f, t);
  const auto c = sig::verify_file(f, trust(a_));
  EXPECT_EQ(c.status, sig::Status::tampered);
  EXPECT_EQ(c.code, "tampered_artifact");
  EXPECT_NE(c.message.find("content changed since it was signed"), std::string::npos) << c.message;
  EXPECT_FALSE(sig::is_signed(f, trust(a_)));
  // Appending is a change too.
  spit(f, std::string(1000, 'x') + "\n");
  EXPECT_EQ(sig::verify_file(f, trust(a_)).status, sig::Status::tampered);
}

TEST_F(Sig, WrongKeyIsUntrusted) {
  const auto f = file("policy.yaml", "x\n");
  ASSERT_TRUE(integrity::sign_file(f, a_).ok());
  const auto c = sig::verify_file(f, trust(b_));
  EXPECT_EQ(c.status, sig::Status::untrusted_key);
  EXPECT_EQ(c.code, "untrusted_key");
  EXPECT_NE(c.message.find(a_.id()), std::string::npos) << c.message;
  EXPECT_NE(c.message.find(b_.id()), std::string::npos) << c.message;
  EXPECT_EQ(sig::verify_file(f, {}).status, sig::Status::untrusted_key);
}

TEST_F(Sig, MissingSignature) {
  const auto f = file("policy.yaml", "x\n");
  const auto c = sig::verify_file(f, trust(a_));
  EXPECT_EQ(c.status, sig::Status::missing);
  EXPECT_EQ(c.code, "signature_missing");
  EXPECT_EQ(c.message, "no signature (policy.yaml.sig not found)");
}

TEST_F(Sig, SwappedFileFails) {
  // A valid .sig of one file copied next to another file must not pass, even with the same content.
  const auto x = file("allow.yaml", "same\n");
  const auto y = file("block.yaml", "same\n");
  ASSERT_TRUE(integrity::sign_file(x, a_).ok());
  fs::copy_file(x + ".sig", y + ".sig");
  auto c = sig::verify_file(y, trust(a_));
  EXPECT_EQ(c.status, sig::Status::swapped);
  EXPECT_EQ(c.code, "signature_invalid");
  EXPECT_EQ(c.message, "the signature is for 'allow.yaml', not 'block.yaml' (swapped file?)");
  // Editing the name in the .sig does not help: the signature binds the name.
  std::string s = slurp(y + ".sig");
  s.replace(s.find("file: allow.yaml"), 16, "file: block.yaml");
  spit(y + ".sig", s);
  c = sig::verify_file(y, trust(a_));
  EXPECT_EQ(c.status, sig::Status::bad_signature);
  EXPECT_EQ(c.code, "signature_invalid");
  // A swapped file (the content of another, signed file moved in under this name) is tampered.
  const auto z = file("z.yaml", "other\n");
  ASSERT_TRUE(integrity::sign_file(z, a_).ok());
  fs::copy_file(x, z, fs::copy_options::overwrite_existing);
  EXPECT_EQ(sig::verify_file(z, trust(a_)).status, sig::Status::tampered);
}

TEST_F(Sig, ForgedFieldsDoNotVerify) {
  const auto f = file("policy.yaml", "original\n");
  ASSERT_TRUE(integrity::sign_file(f, a_).ok());
  const std::string good = slurp(f + ".sig");
  // Content changed and the digest in the .sig updated to match: the signature no longer covers it.
  spit(f, "evil\n");
  std::string s = good;
  s.replace(s.find(sig::sha256_hex("original\n")), 64, sig::sha256_hex("evil\n"));
  spit(f + ".sig", s);
  EXPECT_EQ(sig::verify_file(f, trust(a_)).status, sig::Status::bad_signature);
  // Signed by b, relabelled as a's key: does not verify with a's public key.
  spit(f, "original\n");
  ASSERT_TRUE(integrity::sign_file(f, b_).ok());
  s = slurp(f + ".sig");
  s.replace(s.find(b_.id()), 16, a_.id());
  spit(f + ".sig", s);
  EXPECT_EQ(sig::verify_file(f, trust(a_)).status, sig::Status::bad_signature);
  // One flipped signature digit.
  s = good;
  const auto at = s.find("signature: ") + 11;
  s[at] = s[at] == '0' ? '1' : '0';
  spit(f + ".sig", s);
  EXPECT_EQ(sig::verify_file(f, trust(a_)).status, sig::Status::bad_signature);
  spit(f + ".sig", good);
  EXPECT_TRUE(sig::verify_file(f, trust(a_)).ok());
}

TEST_F(Sig, MalformedSignatureFiles) {
  const auto f = file("p.yaml", "x\n");
  ASSERT_TRUE(integrity::sign_file(f, a_).ok());
  const std::string good = slurp(f + ".sig");
  auto parse_error = [](const std::string& text) {
    std::string err;
    EXPECT_FALSE(sig::parse_signature(text, &err).has_value()) << text;
    return err;
  };
  EXPECT_TRUE(sig::parse_signature(good, nullptr).has_value());
  EXPECT_EQ(parse_error(""), "empty (expected 'dualguard-signature v1')");
  EXPECT_EQ(parse_error("dualguard-signature v2\n"), "line 1: expected 'dualguard-signature v1'");
  EXPECT_EQ(parse_error(good + "extra: 1\n"), "line 8: unknown field 'extra'");
  EXPECT_EQ(parse_error(good + "file: p.yaml\n"), "line 8: duplicate field 'file'");
  EXPECT_EQ(parse_error(good.substr(0, good.find("signature: "))), "missing field 'signature'");
  std::string s = good;
  s.replace(s.find("ed25519"), 7, "rsa2048");
  EXPECT_EQ(parse_error(s), "unsupported algorithm 'rsa2048' (expected ed25519)");
  s = good;
  s.replace(s.find("file: p.yaml"), 12, "file: ../p.y");
  EXPECT_EQ(parse_error(s), "file must be a base name");
  s = good;
  s.insert(s.find("signature: ") + 11, "ab");
  EXPECT_EQ(parse_error(s), "signature must be 128 lowercase hex digits");
  EXPECT_EQ(parse_error(std::string(5000, '#')), "larger than 4096 bytes");
  EXPECT_EQ(parse_error("dualguard-signature v1\nno colon here\n"), "line 2: expected 'key: value'");
  // CRLF line ends are accepted (a file edited on Windows still verifies).
  s.clear();
  for (char c : good) s += c == '\n' ? std::string("\r\n") : std::string(1, c);
  EXPECT_TRUE(sig::parse_signature(s, nullptr).has_value());
  spit(f + ".sig", "garbage\n");
  const auto c = sig::verify_file(f, trust(a_));
  EXPECT_EQ(c.status, sig::Status::malformed);
  EXPECT_EQ(c.code, "signature_invalid");
  EXPECT_EQ(c.message, "p.yaml.sig is not a dualguard signature: line 1: expected 'dualguard-signature v1'");
}

TEST_F(Sig, KeyFilesRoundTripAndParseErrors) {
  ASSERT_TRUE(integrity::write_key_pair(a_, (dir_ / "k").string(), false).empty());
  struct stat st{};
  ASSERT_EQ(::stat((dir_ / "k").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto sk = integrity::load_secret_key((dir_ / "k").string());
  ASSERT_TRUE(sk.ok()) << format_errors_text(sk.errors);
  EXPECT_EQ(sk.value->id(), a_.id());
  auto pk = sig::load_public_key((dir_ / "k.pub").string());
  ASSERT_TRUE(pk.ok()) << format_errors_text(pk.errors);
  EXPECT_EQ(pk.value->id, a_.id());
  EXPECT_EQ(pk.value->bytes, a_.public_key().bytes);
  EXPECT_EQ(pk.value->source, (dir_ / "k.pub").string());
  // Not overwritten without asking; overwritten with.
  auto again = integrity::write_key_pair(b_, (dir_ / "k").string(), false);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].code, "config_io");
  EXPECT_EQ(again[0].message, "already exists (not overwritten)");
  EXPECT_TRUE(integrity::write_key_pair(b_, (dir_ / "k").string(), true).empty());
  EXPECT_EQ(integrity::load_secret_key((dir_ / "k").string()).value->id(), b_.id());

  const std::string pub = sig::format_public_key(a_.public_key());
  std::string err;
  std::string s = pub;
  s.replace(s.find("key-id: ") + 8, 16, std::string(16, '0'));
  EXPECT_FALSE(sig::parse_public_key(s, &err));
  EXPECT_EQ(err, "key-id 0000000000000000 does not match the key (" + a_.id() + ")");
  s = pub;
  s.erase(s.find("public-key: ") + 12, 2);
  EXPECT_FALSE(sig::parse_public_key(s, &err));
  EXPECT_EQ(err, "public-key must be 64 lowercase hex digits");
  EXPECT_FALSE(sig::parse_public_key(a_.format(), &err));
  EXPECT_EQ(err, "line 1: expected 'dualguard-public-key v1'");
  EXPECT_FALSE(integrity::parse_secret_key(pub, &err));
  EXPECT_EQ(err, "this is a public key file; signing needs the secret key (PREFIX, not PREFIX.pub)");
  s = a_.format();
  s.replace(s.find("secret-key: ") + 12, 1, "G");
  EXPECT_FALSE(integrity::parse_secret_key(s, &err));
  EXPECT_EQ(err, "secret-key must be 64 lowercase hex digits");
  s = a_.format();
  s.replace(s.find("key-id: ") + 8, 16, b_.id());
  EXPECT_FALSE(integrity::parse_secret_key(s, &err));
  EXPECT_EQ(err, "key-id " + b_.id() + " does not match the key (" + a_.id() + ")");

  auto missing = sig::load_public_key((dir_ / "nope.pub").string());
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_EQ(missing.errors[0].format(), (dir_ / "nope.pub").string() + ": config_io: cannot read the public key file");
  spit(dir_ / "bad.pub", "hello\n");
  auto bad = sig::load_public_key((dir_ / "bad.pub").string());
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].code, "key_invalid");
}

TEST_F(Sig, SeedDeterminesTheKey) {
  unsigned char seed[32] = {1, 2, 3};
  EXPECT_EQ(SecretKey::from_seed(seed).id(), SecretKey::from_seed(seed).id());
  EXPECT_NE(SecretKey::from_seed(seed).id(), a_.id());
  EXPECT_NE(a_.id(), b_.id());
}

TEST_F(Sig, FolderRoundTripAndEveryChange) {
  const fs::path d = dir_ / "data";
  fs::create_directories(d / "sub");
  spit(d / "a.jsonl", "{\"text\":\"a\"}\n");
  spit(d / "sub" / "b.jsonl", "{\"text\":\"b\"}\n");
  spit(d / "c.txt", "c\n");
  auto s = integrity::sign_dir(d.string(), a_);
  ASSERT_TRUE(s.ok()) << format_errors_text(s.errors);
  EXPECT_EQ(s.value->files, 3u);
  EXPECT_EQ(s.value->sig_path, (d / "MANIFEST.sig").string());
  EXPECT_EQ(slurp(d / "MANIFEST"), "dualguard-manifest v1\n" + sig::sha256_hex("{\"text\":\"a\"}\n") + "  a.jsonl\n" +
                                       sig::sha256_hex("c\n") + "  c.txt\n" + sig::sha256_hex("{\"text\":\"b\"}\n") +
                                       "  sub/b.jsonl\n");
  auto c = sig::verify(d.string(), trust(a_));
  EXPECT_TRUE(c.ok()) << c.message;
  EXPECT_EQ(c.message, "signed by key " + a_.id() + " (3 files)");
  EXPECT_EQ(sig::verify_dir(d.string(), trust(b_)).status, sig::Status::untrusted_key);

  spit(d / "sub" / "b.jsonl", "{\"text\":\"B\"}\n");  // changed
  fs::remove(d / "c.txt");                            // removed
  spit(d / "new.jsonl", "{}\n");                      // added
  c = sig::verify(d.string(), trust(a_));
  EXPECT_EQ(c.status, sig::Status::tampered);
  EXPECT_EQ(c.code, "tampered_artifact");
  EXPECT_EQ(c.changes, (std::vector<std::string>{"removed: c.txt", "added: new.jsonl", "changed: sub/b.jsonl"}));
  EXPECT_EQ(c.message, "the folder changed since it was signed: removed: c.txt, added: new.jsonl, changed: sub/b.jsonl");
  // Re-signing accepts the new state.
  ASSERT_TRUE(integrity::sign(d.string(), a_).ok());
  EXPECT_TRUE(sig::verify(d.string(), trust(a_)).ok());

  // An edited MANIFEST (an attacker "blessing" a change) no longer matches its signature.
  std::string m = slurp(d / "MANIFEST");
  m.replace(0, 22, "dualguard-manifest v1\n");
  spit(d / "MANIFEST", m + sig::sha256_hex("x") + "  zz\n");
  EXPECT_EQ(sig::verify(d.string(), trust(a_)).status, sig::Status::tampered);
  EXPECT_EQ(sig::verify(d.string(), trust(a_)).message.rfind("MANIFEST: content changed", 0), 0u);
  fs::remove(d / "MANIFEST.sig");
  EXPECT_EQ(sig::verify(d.string(), trust(a_)).status, sig::Status::missing);
  fs::remove(d / "MANIFEST");
  c = sig::verify(d.string(), trust(a_));
  EXPECT_EQ(c.status, sig::Status::missing);
  EXPECT_EQ(c.message, "no signed manifest (MANIFEST not found in the folder)");
}

TEST_F(Sig, FolderWithSymlinkIsRefused) {
  const fs::path d = dir_ / "data";
  fs::create_directories(d);
  spit(d / "a.txt", "a\n");
  spit(dir_ / "outside.txt", "secret\n");
  fs::create_symlink(dir_ / "outside.txt", d / "link.txt");
  auto s = integrity::sign_dir(d.string(), a_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.errors[0].code, "config_io");
  EXPECT_EQ(s.errors[0].message, "link.txt: a symlink (a signed folder must not point outside itself)");
  fs::remove(d / "link.txt");
  ASSERT_TRUE(integrity::sign_dir(d.string(), a_).ok());
  fs::create_directory_symlink(dir_, d / "up");
  const auto c = sig::verify(d.string(), trust(a_));
  EXPECT_EQ(c.status, sig::Status::io);
  EXPECT_EQ(c.message, "up: a symlink (a signed folder must not point outside itself)");
}

TEST(Manifest, ParseErrors) {
  std::string err;
  const std::string h(64, 'a');
  EXPECT_TRUE(sig::parse_manifest("dualguard-manifest v1\n" + h + "  a\n" + h + "  b/c\n", &err)) << err;
  EXPECT_TRUE(sig::parse_manifest("dualguard-manifest v1\n", &err)) << err;
  auto bad = [&](const std::string& text) {
    EXPECT_FALSE(sig::parse_manifest(text, &err)) << text;
    return err;
  };
  EXPECT_EQ(bad(""), "line 0: empty");
  EXPECT_EQ(bad("dualguard-manifest v2\n"), "line 1: expected 'dualguard-manifest v1'");
  EXPECT_EQ(bad("dualguard-manifest v1\n" + h + "  b\n" + h + "  a\n"), "line 3: paths must be sorted and unique");
  EXPECT_EQ(bad("dualguard-manifest v1\n" + h + "  a\n" + h + "  a\n"), "line 3: paths must be sorted and unique");
  EXPECT_EQ(bad("dualguard-manifest v1\n" + h + "  ../etc/passwd\n"), "line 2: '.' or '..' in a path");
  EXPECT_EQ(bad("dualguard-manifest v1\n" + h + "  /etc/passwd\n"), "line 2: not a relative path");
  EXPECT_EQ(bad("dualguard-manifest v1\n" + std::string(64, 'G') + "  a\n"), "line 2: sha256 must be lowercase hex");
  EXPECT_EQ(bad("dualguard-manifest v1\n" + h + " a\n"), "line 2: expected '<sha256>  <path>'");
  EXPECT_EQ(bad("dualguard-manifest v1\n" + h + "  a"), "line 2: the last line does not end with a newline");
}

TEST_F(Sig, LoadPathGuardModes) {
  const auto f = file("policy.yaml", "x\n");
  sig::Integrity g{sig::Mode::enforce, trust(a_)};
  LoadErrors errors;
  g.check(f, errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].format(), f + ": signature_missing: no signature (policy.yaml.sig not found)");
  ASSERT_TRUE(integrity::sign_file(f, a_).ok());
  errors.clear();
  g.check(f, errors);
  EXPECT_TRUE(errors.empty());
  spit(f, "y\n");
  g.check(f, errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, "tampered_artifact");
  errors.clear();
  g.mode = sig::Mode::warn;  // reported on stderr, loading goes on
  g.check(f, errors);
  EXPECT_TRUE(errors.empty());
  g.mode = sig::Mode::off;
  g.check(f, errors);
  EXPECT_TRUE(errors.empty());
  g.mode = sig::Mode::enforce;
  g.check((dir_ / "absent.yaml").string(), errors);  // the loader reports a missing file itself
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(sig::parse_mode("enforce"), sig::Mode::enforce);
  EXPECT_EQ(sig::parse_mode("Enforce"), std::nullopt);
}

}  // namespace
}  // namespace dg
