// The load path refuses artifacts whose signature does not verify, naming the file: the config itself,
// taxonomy, policy, a signature rule folder and a model; and the shipped, development-signed config.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/manifest.h"
#include "core/signature.h"
#include "integrity/keys.h"
#include "integrity/sign.h"
#include "policy/engine.h"

namespace dg {
namespace {
namespace fs = std::filesystem;

void spit(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }
void append(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary | std::ios::app) << s; }

bool has_error(const LoadErrors& errors, const std::string& file, const std::string& code) {
  for (const auto& e : errors)
    if (e.file == file && e.code == code) return true;
  return false;
}

class Loader : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("DUALGUARD_TRUSTED_KEYS");
    dir_ = fs::temp_directory_path() / ("dg-loader-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const fs::path src = DG_SOURCE_DIR;
    fs::copy_file(src / "config/taxonomy.yaml", dir_ / "taxonomy.yaml");
    fs::copy_file(src / "config/policy.yaml", dir_ / "policy.yaml");
    fs::create_directories(dir_ / "signatures");
    for (const auto& e : fs::directory_iterator(src / "config/signatures"))
      if (e.path().extension() == ".yaml") fs::copy_file(e.path(), dir_ / "signatures" / e.path().filename());
    fs::copy_file(src / "models/prompt_attack.dglm", dir_ / "prompt_attack.dglm");
    ASSERT_TRUE(integrity::write_key_pair(key_, (dir_ / "test").string(), false).empty());
    spit(dir_ / "dualguard.yaml",
         "version: 1\n"
         "integrity:\n"
         "  mode: enforce\n"
         "  trusted_keys: [test.pub]\n"
         "detectors:\n"
         "  signatures:\n"
         "    rules: [signatures]\n"
         "  prompt_attack:\n"
         "    model: prompt_attack.dglm\n"
         "    sha256: " + *sig::file_sha256((dir_ / "prompt_attack.dglm").string()) + "\n"
         "    threshold: 0.3\n");
    for (const char* f : {"dualguard.yaml", "taxonomy.yaml", "policy.yaml", "signatures", "prompt_attack.dglm"})
      EXPECT_TRUE(integrity::sign((dir_ / f).string(), key_).ok()) << f;
  }
  void TearDown() override {
    fs::remove_all(dir_);
    ::unsetenv("DUALGUARD_TRUSTED_KEYS");
  }
  LoadResult<std::shared_ptr<const policy::Engine>> load(const std::vector<std::string>& overrides = {}) {
    return policy::Engine::load(cfg(), overrides);
  }
  std::string cfg() const { return (dir_ / "dualguard.yaml").string(); }
  std::string at(const char* name) const { return (dir_ / name).string(); }

  fs::path dir_;
  integrity::SecretKey key_ = integrity::SecretKey::generate();
};

TEST_F(Loader, SignedArtifactsLoad) {
  auto r = load();
  ASSERT_TRUE(r.ok()) << format_errors_text(r.errors);
  EXPECT_EQ((*r.value)->config().integrity.mode, sig::Mode::enforce);
  ASSERT_EQ((*r.value)->config().integrity.trusted.size(), 1u);
  EXPECT_EQ((*r.value)->config().integrity.trusted[0].id, key_.id());
}

TEST_F(Loader, TamperedPolicyIsRefusedAndNamed) {
  append(dir_ / "policy.yaml", "\n# an edit\n");
  auto r = load();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_error(r.errors, at("policy.yaml"), "tampered_artifact")) << format_errors_text(r.errors);
  EXPECT_EQ(r.errors.size(), 1u) << format_errors_text(r.errors);
}

TEST_F(Loader, MissingSignatureOnTaxonomy) {
  fs::remove(dir_ / "taxonomy.yaml.sig");
  auto r = load();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_error(r.errors, at("taxonomy.yaml"), "signature_missing")) << format_errors_text(r.errors);
}

TEST_F(Loader, TamperedModelIsRefusedAndNamed) {
  // The model's sha256 pin would catch a changed byte as well; a swapped .sig shows the signature check.
  spit(dir_ / "prompt_attack.dglm.sig", "dualguard-signature v1\n");
  auto r = load();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_error(r.errors, at("prompt_attack.dglm"), "signature_invalid")) << format_errors_text(r.errors);
  fs::remove(dir_ / "prompt_attack.dglm.sig");
  r = load();
  EXPECT_TRUE(has_error(r.errors, at("prompt_attack.dglm"), "signature_missing")) << format_errors_text(r.errors);
}

TEST_F(Loader, RuleFolderRemovedFileIsDetected) {
  const auto first = fs::directory_iterator(dir_ / "signatures")->path();
  std::vector<fs::path> yamls;
  for (const auto& e : fs::directory_iterator(dir_ / "signatures"))
    if (e.path().extension() == ".yaml") yamls.push_back(e.path());
  ASSERT_GT(yamls.size(), 1u);
  fs::remove(yamls[0]);  // deleting a rule file disables rules: the manifest notices
  auto r = load();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_error(r.errors, at("signatures"), "tampered_artifact")) << format_errors_text(r.errors);
  EXPECT_NE(format_errors_text(r.errors).find("removed: " + yamls[0].filename().string()), std::string::npos)
      << format_errors_text(r.errors);
  (void)first;
}

TEST_F(Loader, ConfigItselfMustVerify) {
  append(dir_ / "dualguard.yaml", "# edited\n");
  auto r = load();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_error(r.errors, cfg(), "tampered_artifact")) << format_errors_text(r.errors);
}

TEST_F(Loader, UntrustedKeyAndDevelopmentOverride) {
  const auto other = integrity::SecretKey::generate();
  ASSERT_TRUE(integrity::sign(at("policy.yaml"), other).ok());
  auto r = load();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_error(r.errors, at("policy.yaml"), "untrusted_key")) << format_errors_text(r.errors);
  // Development: warn (reported on stderr) or off load anyway.
  EXPECT_TRUE(load({"integrity.mode=warn"}).ok());
  EXPECT_TRUE(load({"integrity.mode=off"}).ok());
}

TEST_F(Loader, SectionErrors) {
  auto r = policy::load_config(cfg(), {"integrity.mode=strict"});
  EXPECT_FALSE(r.ok());
  EXPECT_NE(format_errors_text(r.errors).find("config_invalid_value: integrity.mode must be enforce, warn or off, not 'strict'"),
            std::string::npos)
      << format_errors_text(r.errors);
  r = policy::load_config(cfg(), {"integrity.trusted_keys=[]"});
  EXPECT_NE(format_errors_text(r.errors).find("config_missing_key: integrity.trusted_keys is empty"), std::string::npos)
      << format_errors_text(r.errors);
  r = policy::load_config(cfg(), {"integrity.trusted_key=x"});
  EXPECT_NE(format_errors_text(r.errors).find("config_unknown_key"), std::string::npos) << format_errors_text(r.errors);
  r = policy::load_config(cfg(), {"integrity.trusted_keys=[nope.pub]"});
  EXPECT_TRUE(has_error(r.errors, at("nope.pub"), "config_io")) << format_errors_text(r.errors);
}

TEST_F(Loader, EnvironmentAnchorCannotBeTurnedOff) {
  // The anchor is another key: the config signed by the test key alone is not enough...
  const auto anchor = integrity::SecretKey::generate();
  ASSERT_TRUE(integrity::write_key_pair(anchor, (dir_ / "anchor").string(), false).empty());
  ::setenv("DUALGUARD_TRUSTED_KEYS", at("anchor.pub").c_str(), 1);
  auto r = load({"integrity.mode=off"});  // ...and an override cannot weaken enforcement
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has_error(r.errors, cfg(), "untrusted_key")) << format_errors_text(r.errors);
  // Once the anchor signs the config, the keys the config names are trusted for the rest.
  ASSERT_TRUE(integrity::sign(cfg(), anchor).ok());
  r = load();
  EXPECT_TRUE(r.ok()) << format_errors_text(r.errors);
}

TEST_F(Loader, NoSectionMeansOff) {
  spit(dir_ / "plain.yaml", "version: 1\n");
  auto r = policy::Engine::load(at("plain.yaml"));
  EXPECT_TRUE(r.ok()) << format_errors_text(r.errors);
  EXPECT_EQ((*r.value)->config().integrity.mode, sig::Mode::off);
}

TEST(ShippedConfig, IsSignedWithTheDevelopmentKeyAndEnforced) {
  ::unsetenv("DUALGUARD_TRUSTED_KEYS");
  auto r = policy::Engine::load(DG_SOURCE_DIR "/config/dualguard.yaml");
  ASSERT_TRUE(r.ok()) << format_errors_text(r.errors)
                      << "\n(re-sign the shipped artifacts after an edit: scripts/sign-artifacts.sh)";
  const auto& ig = (*r.value)->config().integrity;
  EXPECT_EQ(ig.mode, sig::Mode::enforce);
  ASSERT_FALSE(ig.trusted.empty());
  // The effective config shows which keys are trusted (public key paths are not redacted).
  EXPECT_NE(policy::dump_effective((*r.value)->config()).find("../keys/dev.pub"), std::string::npos);
  // Every shipped artifact, loaded or not (disabled models too), carries a valid signature.
  for (const char* p : {"/config/dualguard.yaml", "/config/policy.yaml", "/config/taxonomy.yaml", "/config/signatures",
                        "/models/prompt_attack.dglm", "/models/harmful_request.dglm", "/models/toxicity.ftz",
                        "/models/harmful_response.ftz"}) {
    const auto c = sig::verify(std::string(DG_SOURCE_DIR) + p, ig.trusted);
    EXPECT_TRUE(c.ok()) << p << ": " << c.code << ": " << c.message;
  }
}

}  // namespace
}  // namespace dg
