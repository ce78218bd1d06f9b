// libFuzzer target: the audit journal reader. A journal segment is a file on disk that the next
// open() replays into audit.db and that `audit verify` / `audit export` read, so an edited or
// corrupted segment is outside input. The input is fed to parse_canonical_json as one line, then
// written as a segment (and, cut at its first 0xFF byte, as two segments) and read with
// Journal::read. Checks: parse_canonical_json accepts a line only when canonical_json gives it back
// byte for byte, and leaves `out` untouched with an error otherwise; Journal::read either returns
// records in strictly ascending seq order, each the canonical form of a line of the input, or throws
// StoreError(store_io) with a FILE:LINE message; nothing else escapes.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include "store/audit_journal.h"
#include "store/audit_log.h"
#include "store/common.h"

namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_audit_journal: invariant violated: %s\n", what);
  std::abort();
}

void check_line(std::string_view line) {
  dg::store::AuditRecord out;
  out.seq = -42;  // a sentinel: untouched on failure
  std::string error;
  if (dg::store::parse_canonical_json(line, out, error)) {
    if (dg::store::canonical_json(out, true) != line) fail("accepted a line that is not its record's canonical form");
  } else {
    if (error.empty()) fail("refusal without an error");
    if (out.seq != -42) fail("refusal changed the record");
  }
}

void write_file(const fs::path& p, std::string_view bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) fail("cannot write the scratch segment");
}

void check_read(const fs::path& jdir, std::string_view all) {
  std::vector<std::string> where;
  try {
    const auto records = dg::store::Journal::read(jdir, &where);
    if (where.size() != records.size()) fail("one FILE:LINE per record");
    std::int64_t last = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (i > 0 && records[i].seq <= last) fail("seqs not ascending");
      last = records[i].seq;
      const std::string line = dg::store::canonical_json(records[i], true) + "\n";
      if (all.find(line) == std::string_view::npos) fail("a record that is not a line of the input");
    }
  } catch (const dg::store::StoreError& e) {
    if (e.code() != "store_io") fail("journal error with another code");
    if (std::string_view(e.what()).find(".jsonl:") == std::string_view::npos) fail("journal error without FILE:LINE");
  }
}

const fs::path& scratch() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("fuzz_audit_journal." + std::to_string(::getpid()));
    fs::create_directories(d);  // may be left behind (libFuzzer can skip exit handlers); run.sh points TMPDIR at its scratch
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check_line(in.substr(0, in.find('\n')));

  const fs::path jdir = scratch() / "audit.journal";
  std::error_code ec;
  fs::remove_all(jdir, ec);
  fs::create_directories(jdir);
  const std::size_t cut = in.find('\xff');
  if (cut == std::string_view::npos) {
    write_file(jdir / "00000000000000000001.jsonl", in);
  } else {
    // Two segments: the second named by the seq its first line claims when it has one, else 2.
    write_file(jdir / "00000000000000000001.jsonl", in.substr(0, cut));
    const std::string_view rest = in.substr(cut + 1);
    dg::store::AuditRecord first;
    std::string error;
    std::int64_t seq2 = 2;
    if (dg::store::parse_canonical_json(rest.substr(0, rest.find('\n')), first, error) && first.seq > 0) seq2 = first.seq;
    char name[32];
    std::snprintf(name, sizeof name, "%020lld.jsonl", static_cast<long long>(seq2));
    write_file(jdir / name, rest);
  }
  check_read(jdir, in);
  return 0;
}
