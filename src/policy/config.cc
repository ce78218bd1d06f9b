#include "policy/config.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/errors.h"
#include "core/yaml_util.h"
#include "detect/registry.h"

#ifndef DG_SOURCE_CONFIG_DIR
#define DG_SOURCE_CONFIG_DIR ""
#endif

namespace dg::policy {
namespace fs = std::filesystem;

std::string find_default_config() {
  if (const char* env = std::getenv("DUALGUARD_CONFIG"); env && *env) return env;
  std::error_code ec;
  if (fs::exists("config/dualguard.yaml", ec)) return "config/dualguard.yaml";
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    buf[n] = 0;
    const fs::path exe_dir = fs::path(buf).parent_path();
    for (const fs::path& p : {exe_dir / "../share/dualguard/config/dualguard.yaml", exe_dir / "../config/dualguard.yaml",
                              exe_dir / "../../config/dualguard.yaml"})
      if (fs::exists(p, ec)) return fs::weakly_canonical(p, ec).string();
  }
  const fs::path src = fs::path(DG_SOURCE_CONFIG_DIR) / "dualguard.yaml";
  if (fs::exists(src, ec)) return src.string();
  return "config/dualguard.yaml";
}

namespace {

void apply_override(YAML::Node root, const std::string& kv, LoadErrors& errors) {
  const auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) {
    errors.push_back({"--set", 0, 0, std::string(errc::kConfigInvalidValue), "override '" + kv + "' must be key.path=value"});
    return;
  }
  const std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
  std::vector<std::string> parts;
  for (std::size_t s = 0, e; s <= key.size(); s = e + 1) {
    e = key.find('.', s);
    if (e == std::string::npos) e = key.size();
    parts.push_back(key.substr(s, e - s));
  }
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value);
  } catch (const YAML::Exception&) {
    parsed = YAML::Node(value);
  }
  // yaml-cpp nodes are handles: walk down by reassigning a handle, creating maps as needed.
  std::vector<YAML::Node> path{root};
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node next = path.back()[parts[i]];
    if (!next.IsDefined() || next.IsNull()) {
      path.back()[parts[i]] = YAML::Node(YAML::NodeType::Map);
      next.reset(path.back()[parts[i]]);  // reset() rebinds; operator= would assign into the node
    }
    if (!next.IsMap()) {
      errors.push_back({"--set", 0, 0, std::string(errc::kConfigInvalidValue), "override '" + key + "': '" + parts[i] + "' is not a mapping"});
      return;
    }
    path.push_back(next);
  }
  path.back()[parts.back()] = parsed;
}

}  // namespace

LoadResult<Config> load_config_impl(const std::string& path, const std::vector<std::string>& overrides);

namespace {

void load_keys(const std::vector<std::string>& paths, std::vector<sig::PublicKey>& out, LoadErrors& errors) {
  for (const auto& p : paths) {
    auto k = sig::load_public_key(p);
    errors.insert(errors.end(), k.errors.begin(), k.errors.end());
    if (k.value) out.push_back(std::move(*k.value));
  }
}

// The integrity: section, the trust anchor from the environment, and the config file's own signature.
template <typename Resolve>
void load_integrity(const YAML::Node& root, yaml::Reader& r, const Resolve& resolve, const std::string& path,
                    sig::Integrity& out) {
  const YAML::Node ig = root["integrity"];
  std::vector<std::string> key_paths;
  if (ig.IsDefined() && !ig.IsNull() && r.check_keys(ig, {"mode", "trusted_keys"}, "integrity")) {
    const std::string m = r.str_or(ig, "mode", "enforce");
    if (auto mode = sig::parse_mode(m)) out.mode = *mode;
    else r.error(ig["mode"], errc::kConfigInvalidValue, "integrity.mode must be enforce, warn or off, not '" + m + "'");
    for (const auto& p : r.str_list(ig, "trusted_keys")) key_paths.push_back(resolve(p));
    if (out.mode != sig::Mode::off && key_paths.empty())
      r.error(ig, errc::kConfigMissingKey,
              "integrity.trusted_keys is empty: nothing could verify an artifact (integrity.mode: " +
                  std::string(sig::mode_name(out.mode)) + ")");
  }
  std::vector<sig::PublicKey> anchors;
  const char* env = std::getenv("DUALGUARD_TRUSTED_KEYS");
  const bool anchored = env && *env;
  if (anchored) {
    std::vector<std::string> env_paths;
    for (std::string_view rest(env); !rest.empty();) {
      const auto colon = rest.find(':');
      const std::string_view item = rest.substr(0, colon);
      if (!item.empty()) env_paths.emplace_back(item);
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    }
    load_keys(env_paths, anchors, r.errors());
  }
  if (out.mode != sig::Mode::off || anchored) load_keys(key_paths, out.trusted, r.errors());
  if (anchored) {
    // The anchor lives outside the config: the config must be signed by an anchor key, and neither
    // the config nor an override can weaken enforcement. The keys it names are trusted because an
    // anchor signed it.
    sig::Integrity anchor{sig::Mode::enforce, anchors};
    anchor.check(path, r.errors());
    out.mode = sig::Mode::enforce;
    out.trusted.insert(out.trusted.end(), anchors.begin(), anchors.end());
  } else {
    out.check(path, r.errors());
  }
}

}  // namespace

LoadResult<Config> load_config(const std::string& path, const std::vector<std::string>& overrides) {
  // yaml-cpp throws on some malformed trees (e.g. a scalar where a map is walked); a config must never
  // crash the program, so anything thrown becomes a located error.
  try {
    return load_config_impl(path, overrides);
  } catch (const YAML::Exception& e) {
    return LoadResult<Config>::failure({{path, e.mark.line + 1, e.mark.column + 1, std::string(errc::kConfigInvalidValue), e.msg}});
  } catch (const std::exception& e) {
    return LoadResult<Config>::failure({{path, 0, 0, std::string(errc::kConfigInvalidValue), e.what()}});
  }
}

LoadResult<Config> load_config_impl(const std::string& path, const std::vector<std::string>& overrides) {
  LoadErrors errors;
  Config cfg;
  cfg.path = path;
  cfg.dir = fs::path(path).parent_path().string();
  if (cfg.dir.empty()) cfg.dir = ".";
  YAML::Node root = yaml::load_file(path, errors);
  if (!errors.empty()) return LoadResult<Config>::failure(std::move(errors));
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  for (const auto& o : overrides) apply_override(root, o, errors);
  cfg.root = root;
  yaml::Reader r(path, errors);
  if (!r.check_keys(root, {"version", "taxonomy", "policy", "normalizer", "detectors", "scan", "gateway", "integrity"}, "config"))
    return LoadResult<Config>::failure(std::move(errors));
  r.integer(root, "version", 1, 1, 1);
  auto resolve = [&](const std::string& p) { return fs::path(p).is_absolute() ? p : (fs::path(cfg.dir) / p).string(); };
  cfg.taxonomy_path = resolve(r.str_or(root, "taxonomy", "taxonomy.yaml"));
  cfg.policy_path = resolve(r.str_or(root, "policy", "policy.yaml"));

  const YAML::Node n = root["normalizer"];
  if (n.IsDefined() && !n.IsNull() &&
      r.check_keys(n, {"skeleton", "leetspeak", "despace", "rot13", "decode", "max_decode_depth", "min_encoded_chars",
                       "max_decoded_bytes", "max_views", "max_view_bytes"},
                   "normalizer")) {
    auto& nc = cfg.normalizer;
    nc.skeleton = r.boolean(n, "skeleton", nc.skeleton);
    nc.leetspeak = r.boolean(n, "leetspeak", nc.leetspeak);
    nc.despace = r.boolean(n, "despace", nc.despace);
    nc.rot13 = r.boolean(n, "rot13", nc.rot13);
    nc.decode = r.boolean(n, "decode", nc.decode);
    nc.max_decode_depth = static_cast<int>(r.integer(n, "max_decode_depth", nc.max_decode_depth, 0, 4));
    nc.min_encoded_chars = static_cast<std::size_t>(r.integer(n, "min_encoded_chars", 16, 8, 4096));
    nc.max_decoded_bytes = static_cast<std::size_t>(r.integer(n, "max_decoded_bytes", 65536, 0, 64ll << 20));
    nc.max_views = static_cast<std::size_t>(r.integer(n, "max_views", 16, 2, 64));
    nc.max_view_bytes = static_cast<std::size_t>(r.integer(n, "max_view_bytes", 1 << 20, 1024, 256ll << 20));
  }

  const YAML::Node d = root["detectors"];
  if (d.IsDefined() && !d.IsNull() && !d.IsMap())
    r.error(d, errc::kConfigInvalidValue, "'detectors' must be a mapping of detector name to settings");
  if (d.IsMap()) {
    for (const auto& kv : d) {
      if (!detect::find_detector(kv.first.Scalar())) {
        std::string names;
        for (const auto& e : detect::registry()) names += (names.empty() ? "" : ", ") + std::string(e.name);
        r.error(kv.first, errc::kConfigUnknownKey, "unknown detector '" + kv.first.Scalar() + "' (known: " + names + ")");
      }
    }
  }
  for (const auto& e : detect::registry()) {
    DetectorSection s;
    s.name = std::string(e.name);
    if (d.IsMap() && d[s.name].IsDefined() && !d[s.name].IsNull()) s.node.reset(d[s.name]);
    else s.node.reset(YAML::Node(YAML::NodeType::Map));
    if (s.node.IsMap()) s.enabled = r.boolean(s.node, "enabled", true);
    cfg.detectors.push_back(std::move(s));
  }

  const YAML::Node sc = root["scan"];
  if (sc.IsDefined() && !sc.IsNull() && r.check_keys(sc, {"threads", "max_input_bytes"}, "scan")) {
    cfg.scan.threads = static_cast<unsigned>(r.integer(sc, "threads", 0, 0, 256));
    cfg.scan.max_input_bytes = static_cast<std::size_t>(r.integer(sc, "max_input_bytes", 1 << 20, 1024, 1ll << 30));
  }
  load_integrity(root, r, resolve, path, cfg.integrity);
  // The value is returned even with errors, so that the engine can go on and report problems in the
  // files the config names (taxonomy, policy, rules) in the same pass.
  return LoadResult<Config>{std::move(cfg), std::move(errors)};
}

namespace {
bool secret_key(const std::string& k) {
  if (k == "trusted_keys") return false;  // paths of public keys (integrity:), nothing secret
  for (const char* s : {"token", "tokens", "password", "secret", "api_key", "key", "keys"})
    if (k == s) return true;
  for (const char* s : {"_token", "_tokens", "_password", "_secret", "_key", "_keys"}) {
    const std::string suffix(s);
    if (k.size() > suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0) return true;
  }
  return false;
}
YAML::Node redact(const YAML::Node& n, bool secret) {
  if (n.IsMap()) {
    YAML::Node out(YAML::NodeType::Map);
    for (const auto& kv : n) out[kv.first.Scalar()] = redact(kv.second, secret || secret_key(kv.first.Scalar()));
    return out;
  }
  if (n.IsSequence()) {
    YAML::Node out(YAML::NodeType::Sequence);
    for (const auto& item : n) out.push_back(redact(item, secret));
    return out;
  }
  if (secret && n.IsScalar()) return YAML::Node("<redacted>");
  return YAML::Clone(n);
}
}  // namespace

std::string dump_effective(const Config& cfg) {
  YAML::Emitter out;
  out << redact(cfg.root, false);
  return std::string(out.c_str()) + "\n";
}

}  // namespace dg::policy
