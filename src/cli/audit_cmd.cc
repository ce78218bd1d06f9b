// `dualguard audit verify | export`: flags and output; the work is in src/store/audit_log.
// verify exits 0 only when the chain is intact, 1 when it is broken, 2 on usage errors, 3 when the
// log cannot be read.
#include <charconv>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/errors.h"
#include "store/audit_log.h"

namespace dg::cli {
namespace {

constexpr const char* kDataDirHelp =
    "data directory holding audit.db (default ./data; the config's gateway.data_dir is not read yet)";

struct VerifyOpts {
  std::string data_dir = "./data";
  std::string format = "text";
  std::string anchor;  // SEQ:HASH
};

struct ExportOpts {
  std::string data_dir = "./data";
  std::string out;
};

std::optional<store::VerifyOptions::Anchor> parse_anchor(const std::string& s) {
  const auto colon = s.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  store::VerifyOptions::Anchor a;
  const char* end = s.data() + colon;
  if (std::from_chars(s.data(), end, a.seq).ptr != end || a.seq < 1) return std::nullopt;
  a.hash = s.substr(colon + 1);
  if (a.hash.size() != 64 || a.hash.find_first_not_of("0123456789abcdef") != std::string::npos) return std::nullopt;
  return a;
}

std::unique_ptr<store::AuditLog> open_read_only(const std::string& dir, const char* cmd, int& exit_code) {
  store::AuditLog::Options o;
  o.read_only = true;
  auto log = store::AuditLog::open(dir, o);
  if (!log.ok()) {
    std::cerr << "dualguard audit " << cmd << ": " << log.error().format() << "\n";
    exit_code = kExitInput;
    return nullptr;
  }
  return std::move(log).value();
}

}  // namespace

void add_audit(CLI::App& app, GlobalOptions& g, int& exit_code) {
  (void)g;
  auto* audit = app.add_subcommand("audit", "the gateway's hash-chained audit log (DATA_DIR/audit.db)");
  audit->require_subcommand(1);

  auto vo = std::make_shared<VerifyOpts>();
  auto* verify = audit->add_subcommand(
      "verify", "check the hash chain; exit 0 only when intact, 1 when a record was edited, deleted, inserted or "
                "reordered (names the first), 3 when the log cannot be read. Records removed from the END are only "
                "detectable against an anchor: keep the printed last seq and hash and pass them as --anchor");
  verify->add_option("--data-dir", vo->data_dir, kDataDirHelp);
  verify->add_option("--format", vo->format, "text | json")->check(CLI::IsMember({"text", "json"}));
  verify->add_option("--anchor", vo->anchor, "SEQ:HASH from an earlier verify; record SEQ must still have HASH");
  verify->callback([vo, &exit_code] {
    store::VerifyOptions options;
    if (!vo->anchor.empty()) {
      options.anchor = parse_anchor(vo->anchor);
      if (!options.anchor) {
        std::cerr << "dualguard audit verify: --anchor must be SEQ:HASH (seq >= 1, 64 lowercase hex)\n";
        exit_code = kExitUsage;
        return;
      }
    }
    auto log = open_read_only(vo->data_dir, "verify", exit_code);
    if (!log) return;
    auto r = log->verify(options);
    if (!r.ok()) {
      std::cerr << "dualguard audit verify: " << r.error().format() << "\n";
      exit_code = kExitInput;
      return;
    }
    const auto& v = *r;
    if (vo->format == "json") {
      nlohmann::ordered_json j{{"ok", v.ok}, {"records_checked", v.records_checked}, {"last_seq", v.last_seq},
                               {"last_hash", v.last_hash}};
      if (!v.ok) {
        j["code"] = errc::kAuditChainBroken;
        j["first_bad_seq"] = v.first_bad_seq;
        j["reason"] = v.reason;
      }
      std::cout << j.dump() << "\n";
    } else if (v.ok) {
      std::cout << "ok: the audit chain is intact (" << v.records_checked << " records checked)\n"
                << "last seq:  " << v.last_seq << "\n"
                << "last hash: " << v.last_hash << "\n"
                << "note: keep the last seq and hash where the gateway cannot write and pass them back with --anchor "
                   "SEQ:HASH; without an anchor, records removed from the end are not detectable\n";
    } else {
      std::cout << "BROKEN: " << errc::kAuditChainBroken << ": record " << v.first_bad_seq << ": " << v.reason << "\n"
                << "intact before it: " << v.records_checked << " records (last good seq " << v.last_seq << ", hash "
                << v.last_hash << ")\n";
    }
    exit_code = v.ok ? kExitOk : kExitFailOn;
  });

  auto eo = std::make_shared<ExportOpts>();
  auto* exporter = audit->add_subcommand(
      "export", "write every record as one JSON object per line (JSONL), in seq order; each line is the record's "
                "canonical JSON (RFC 8785), so removing \"hash\" and hashing the rest re-checks it");
  exporter->add_option("--data-dir", eo->data_dir, kDataDirHelp);
  exporter->add_option("--out", eo->out, "output file (default: stdout)");
  exporter->callback([eo, &exit_code] {
    auto log = open_read_only(eo->data_dir, "export", exit_code);
    if (!log) return;
    store::Status st;
    if (eo->out.empty()) {
      st = log->export_jsonl(std::cout);
    } else {
      std::ofstream f(eo->out, std::ios::binary | std::ios::trunc);
      if (!f) {
        std::cerr << "dualguard audit export: " << errc::kStoreIo << ": " << eo->out << ": cannot write\n";
        exit_code = kExitInput;
        return;
      }
      st = log->export_jsonl(f);
    }
    if (!st.ok()) {
      std::cerr << "dualguard audit export: " << st.error().format() << "\n";
      exit_code = kExitInput;
    }
  });
}

}  // namespace dg::cli
