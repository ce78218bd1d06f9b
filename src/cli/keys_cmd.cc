// `dualguard keys create | list | revoke`: flags and output; the work is in src/store/key_store.
// Exit codes: 0 ok, 1 the operation failed (revoke: unknown key id), 2 usage (bad flags, a limit
// that is not positive), 3 the key store cannot be opened, read or written.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/errors.h"
#include "store/key_store.h"

namespace dg::cli {
namespace {

constexpr const char* kDataDirHelp =
    "data directory holding keys.db (default ./data; the config's gateway.data_dir is not read yet)";

int store_exit(const store::Error& e) {
  if (e.code == errc::kInvalidKeySpec) return kExitUsage;
  if (e.code == errc::kUnknownKeyId) return kExitFailOn;
  return kExitInput;
}

int report(const char* cmd, const store::Error& e) {
  std::cerr << "dualguard keys " << cmd << ": " << e.format() << "\n";
  return store_exit(e);
}

std::string limit_text(const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : "default"; }

std::string limits_text(const store::KeyLimits& l) {
  return "requests_per_minute=" + limit_text(l.requests_per_minute) + " tokens_per_day=" + limit_text(l.tokens_per_day) +
         " concurrent=" + limit_text(l.concurrent) + " max_body_bytes=" + limit_text(l.max_body_bytes);
}

// Only the limits a key sets; "defaults" when it sets none.
std::string set_limits_text(const store::KeyLimits& l) {
  std::string s;
  auto add = [&](const char* n, const std::optional<std::int64_t>& v) {
    if (v) s += (s.empty() ? "" : " ") + std::string(n) + "=" + std::to_string(*v);
  };
  add("requests_per_minute", l.requests_per_minute);
  add("tokens_per_day", l.tokens_per_day);
  add("concurrent", l.concurrent);
  add("max_body_bytes", l.max_body_bytes);
  return s.empty() ? "defaults" : s;
}

nlohmann::json limit_json(const std::optional<std::int64_t>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

nlohmann::ordered_json key_json(const store::KeyInfo& k) {
  return {{"id", k.id},
          {"name", k.name},
          {"role", store::to_string(k.role)},
          {"created", k.created},
          {"revoked", k.revoked},
          {"revoked_at", k.revoked ? nlohmann::json(k.revoked_at) : nlohmann::json()},
          {"limits",
           {{"requests_per_minute", limit_json(k.limits.requests_per_minute)},
            {"tokens_per_day", limit_json(k.limits.tokens_per_day)},
            {"concurrent", limit_json(k.limits.concurrent)},
            {"max_body_bytes", limit_json(k.limits.max_body_bytes)}}}};
}

struct CreateOpts {
  std::string data_dir = "./data";
  std::string role;
  std::string name;
  std::int64_t rpm = 0, tpd = 0, concurrent = 0, max_body = 0;
};

}  // namespace

void add_keys(CLI::App& app, GlobalOptions& g, int& exit_code) {
  (void)g;
  auto* keys = app.add_subcommand("keys", "API keys of the gateway (stored hashed in DATA_DIR/keys.db)");
  keys->require_subcommand(1);

  auto co = std::make_shared<CreateOpts>();
  auto* create = keys->add_subcommand(
      "create", "create an API key; prints its id, name, role and limits, then the key ALONE on the last line (shown "
                "once, never stored)");
  create->add_option("--role", co->role, "client | operator | admin (admin includes operator includes client)")
      ->required()
      ->check(CLI::IsMember({"client", "operator", "admin"}));
  create->add_option("--name", co->name, "a label for people, e.g. the application's name")->required();
  create->add_option("--data-dir", co->data_dir, kDataDirHelp);
  auto* rpm = create->add_option("--requests-per-minute", co->rpm, "per-key limit (default: the gateway's)");
  auto* tpd = create->add_option("--tokens-per-day", co->tpd, "per-key limit (default: the gateway's)");
  auto* conc = create->add_option("--concurrent", co->concurrent, "per-key concurrent requests (default: the gateway's)");
  auto* body = create->add_option("--max-body-bytes", co->max_body, "per-key request size limit (default: the gateway's)");
  create->callback([co, rpm, tpd, conc, body, &exit_code] {
    auto opt = [](CLI::Option* o, std::int64_t v) { return o->count() ? std::optional<std::int64_t>(v) : std::nullopt; };
    const store::KeyLimits limits{opt(rpm, co->rpm), opt(tpd, co->tpd), opt(conc, co->concurrent),
                                  opt(body, co->max_body)};
    auto ks = store::KeyStore::open(co->data_dir);
    if (!ks.ok()) {
      exit_code = report("create", ks.error());
      return;
    }
    auto k = (*ks)->create(*store::parse_key_role(co->role), co->name, limits);
    if (!k.ok()) {
      exit_code = report("create", k.error());
      return;
    }
    std::cout << "id:      " << k->info.id << "\n"
              << "name:    " << k->info.name << "\n"
              << "role:    " << store::to_string(k->info.role) << "\n"
              << "limits:  " << limits_text(k->info.limits) << "\n"
              << "created: " << k->info.created << "\n"
              << "warning: the key on the next line is shown once; only its SHA-256 is stored, it cannot be recovered\n"
              << k->key << std::endl;
  });

  struct ListOpts {
    std::string data_dir = "./data";
    std::string format = "text";
  };
  auto lo = std::make_shared<ListOpts>();
  auto* list = keys->add_subcommand("list", "list keys (id, name, role, created, revoked, limits; never the key)");
  list->add_option("--data-dir", lo->data_dir, kDataDirHelp);
  list->add_option("--format", lo->format, "text | json")->check(CLI::IsMember({"text", "json"}));
  list->callback([lo, &exit_code] {
    store::KeyStore::Options o;
    o.create_if_missing = false;
    auto ks = store::KeyStore::open(lo->data_dir, o);
    if (!ks.ok()) {
      exit_code = report("list", ks.error());
      return;
    }
    auto all = (*ks)->list();
    if (!all.ok()) {
      exit_code = report("list", all.error());
      return;
    }
    if (lo->format == "json") {
      auto arr = nlohmann::ordered_json::array();
      for (const auto& k : *all) arr.push_back(key_json(k));
      std::cout << arr.dump() << "\n";
      return;
    }
    std::printf("%-12s  %-8s  %-24s  %-24s  %-24s  %s\n", "ID", "ROLE", "CREATED", "REVOKED", "NAME", "LIMITS");
    for (const auto& k : *all) {
      std::printf("%-12s  %-8s  %-24s  %-24s  %-24s  %s\n", k.id.c_str(), std::string(store::to_string(k.role)).c_str(),
                  k.created.c_str(), k.revoked ? k.revoked_at.c_str() : "-", k.name.c_str(),
                  set_limits_text(k.limits).c_str());
    }
    std::fflush(stdout);
  });

  struct RevokeOpts {
    std::string data_dir = "./data";
    std::string id;
  };
  auto ro = std::make_shared<RevokeOpts>();
  auto* revoke = keys->add_subcommand("revoke", "revoke a key by id; a running gateway refuses it within about a second");
  revoke->add_option("id", ro->id, "the key's id (12 hex characters, as printed by create and list)")->required();
  revoke->add_option("--data-dir", ro->data_dir, kDataDirHelp);
  revoke->callback([ro, &exit_code] {
    store::KeyStore::Options o;
    o.create_if_missing = false;
    auto ks = store::KeyStore::open(ro->data_dir, o);
    if (!ks.ok()) {
      exit_code = report("revoke", ks.error());
      return;
    }
    auto r = (*ks)->revoke(ro->id);
    if (!r.ok()) {
      exit_code = report("revoke", r.error());
      return;
    }
    std::cout << (*r ? "revoked " : "already revoked: ") << ro->id << "\n";
  });
}

}  // namespace dg::cli
