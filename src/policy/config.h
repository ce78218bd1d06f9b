// The top-level config file (config/dualguard.yaml): found, parsed strictly, overridden with
// `--set key.path=value`, and printable with secrets redacted.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "core/load_result.h"
#include "core/signature.h"
#include "text/normalizer.h"

namespace dg::policy {

struct ScanSettings {
  unsigned threads = 0;                    // 0: one per core
  std::size_t max_input_bytes = 1u << 20;  // longer inputs are cut and flagged
};

struct DetectorSection {
  std::string name;
  bool enabled = true;
  YAML::Node node;  // the section as written (empty map when absent)
};

struct Config {
  std::string path;  // the file it came from ("" for built-in defaults)
  std::string dir;   // relative paths resolve here
  std::string taxonomy_path;
  std::string policy_path;
  text::NormalizerConfig normalizer;
  std::vector<DetectorSection> detectors;  // registry order
  ScanSettings scan;
  // The integrity: section with its trusted keys loaded (mode off when the section is absent). With
  // $DUALGUARD_TRUSTED_KEYS set, mode is enforce and those keys are trusted too (docs/integrity.md).
  sig::Integrity integrity;
  YAML::Node root;  // effective tree after overrides (for printing)
};

// Where the default config lives when none is given: $DUALGUARD_CONFIG, ./config/dualguard.yaml,
// <exe>/../share/dualguard/config/dualguard.yaml, then the source tree's config/ (developer builds).
std::string find_default_config();

// Loads `path` and applies overrides ("detectors.pii.enabled=false"). Every problem is reported.
// With integrity enforced, the config file itself must verify (FILE.sig): against the keys named in
// $DUALGUARD_TRUSTED_KEYS (':'-separated public key files) when set, else against its own
// integrity.trusted_keys.
LoadResult<Config> load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// The effective config as YAML with values of keys that look secret ("token", "key", "secret",
// "password") replaced by "<redacted>".
std::string dump_effective(const Config& cfg);

}  // namespace dg::policy
