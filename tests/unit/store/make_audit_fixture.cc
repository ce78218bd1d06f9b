// Test helper: appends N records to DIR/audit.db through AuditLog, so that the CLI test can verify
// and export a real log before the gateway exists. Not installed.
//
//   make_audit_fixture DIR N     prints the last seq and hash
#include <cstdlib>
#include <iostream>
#include <string>

#include "store/audit_log.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: make_audit_fixture DIR N\n";
    return 2;
  }
  const long n = std::strtol(argv[2], nullptr, 10);
  auto log = dg::store::AuditLog::open(argv[1]);
  if (!log.ok()) {
    std::cerr << "make_audit_fixture: " << log.error().format() << "\n";
    return 3;
  }
  dg::store::AuditRecord r;
  for (long i = 1; i <= n; ++i) {
    r = dg::store::AuditRecord{};
    r.request_id = "fixture-" + std::to_string(i);
    r.key_id = "0123456789ab";
    r.route = i % 5 == 0 ? "/admin/killswitch" : "/v1/chat/completions";
    r.event = i % 5 == 0 ? "admin" : "request";
    r.detail_json = i % 5 == 0 ? R"({"killswitch":{"engaged":true}})" : "{}";
    r.http_status = i % 3 == 0 ? 403 : 200;
    r.error_code = i % 3 == 0 ? "blocked_by_policy" : "";
    r.action = i % 3 == 0 ? "block" : "allow";
    r.verdict_class = i % 3 == 0 ? "security" : "clean";
    r.findings_json = i % 3 == 0 ? R"([{"category":"prompt_injection","score":0.97}])" : "[]";
    r.latency_total_us = 1000 + i;
    r.prompt_text = "prompt number " + std::to_string(i);
    r.prompt_sha256 = dg::store::sha256_hex(r.prompt_text);
    if (auto st = (*log)->append(r); !st.ok()) {
      std::cerr << "make_audit_fixture: " << st.error().format() << "\n";
      return 3;
    }
  }
  std::cout << (*log)->head().seq << " " << (*log)->head().hash << "\n";
  return 0;
}
