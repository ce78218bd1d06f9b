#include "store/audit_journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

#include "core/errors.h"

namespace dg::store {
namespace {

[[noreturn]] void fail(const std::string& message) { throw StoreError(errc::kStoreIo, message); }

std::string sys_error(const std::filesystem::path& p, const char* what) {
  return p.string() + ": " + what + ": " + std::strerror(errno);
}

struct Segment {
  std::filesystem::path path;
  std::int64_t first_seq;
};

// "<20 digits>.jsonl" -> first seq; anything else -> 0 (not a segment: the lock, an editor's file).
std::int64_t segment_seq(const std::string& name) {
  if (name.size() != 26 || name.compare(20, 6, ".jsonl") != 0) return 0;
  std::int64_t v = 0;
  for (int i = 0; i < 20; ++i) {
    const char c = name[static_cast<std::size_t>(i)];
    if (c < '0' || c > '9' || v > (INT64_MAX - 9) / 10) return 0;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::vector<Segment> list(const std::filesystem::path& jdir) {
  std::vector<Segment> out;
  std::error_code ec;
  if (!std::filesystem::exists(jdir, ec)) return out;
  for (std::filesystem::directory_iterator it(jdir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::int64_t seq = segment_seq(it->path().filename().string());
    if (seq > 0) out.push_back({it->path(), seq});
  }
  if (ec) fail(jdir.string() + ": cannot list the audit journal: " + ec.message());
  std::sort(out.begin(), out.end(), [](const Segment& a, const Segment& b) { return a.first_seq < b.first_seq; });
  return out;
}

std::string segment_name(std::int64_t first_seq) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020lld.jsonl", static_cast<long long>(first_seq));
  return buf;
}

}  // namespace

std::vector<AuditRecord> Journal::read(const std::filesystem::path& jdir, std::vector<std::string>* where_out) {
  std::vector<AuditRecord> out;
  for (const Segment& seg : list(jdir)) {
    std::ifstream in(seg.path, std::ios::binary);
    if (!in) {
      std::error_code ec;
      if (!std::filesystem::exists(seg.path, ec)) {  // removed meanwhile: it and all before it are committed
        out.clear();
        if (where_out) where_out->clear();
        continue;
      }
      fail(seg.path.string() + ": cannot read the audit journal");
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) fail(seg.path.string() + ": cannot read the audit journal");
    std::size_t pos = 0;
    for (int line_no = 1; pos < text.size(); ++line_no) {
      const std::size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) break;  // torn last line: never acknowledged
      const std::string at = seg.path.string() + ":" + std::to_string(line_no);
      const std::string where = at + ": ";
      AuditRecord r;
      std::string error;
      if (!parse_canonical_json(std::string_view(text.data() + pos, nl - pos), r, error))
        fail(where + "not an audit record: " + error);
      const std::int64_t expected = line_no == 1 ? seg.first_seq : out.back().seq + 1;
      if (r.seq != expected)
        fail(where + "record seq " + std::to_string(r.seq) + " where seq " + std::to_string(expected) + " belongs");
      if (line_no == 1 && !out.empty() && r.seq != out.back().seq + 1)
        fail(where + "the segment starts at seq " + std::to_string(r.seq) + " but the one before ends at seq " +
             std::to_string(out.back().seq));
      out.push_back(std::move(r));
      if (where_out) where_out->push_back(at);
      pos = nl + 1;
    }
  }
  return out;
}

bool Journal::has_segments(const std::filesystem::path& jdir) { return !list(jdir).empty(); }

void Journal::remove_segments(const std::filesystem::path& jdir) {
  for (const Segment& seg : list(jdir)) {
    std::error_code ec;
    std::filesystem::remove(seg.path, ec);
    if (ec) fail(seg.path.string() + ": cannot remove a replayed audit journal segment: " + ec.message());
  }
}

Journal::Lock::Lock(const std::filesystem::path& jdir, Kind kind) : path_(jdir / "lock") {
  std::error_code ec;
  if (std::filesystem::create_directory(jdir, ec)) ::chmod(jdir.c_str(), 0700);
  if (ec) fail(jdir.string() + ": cannot create the audit journal directory: " + ec.message());
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) fail(sys_error(path_, "cannot open the audit log's lock"));
  if (::flock(fd_, (kind == Kind::exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    if (e == EWOULDBLOCK)
      fail(path_.string() + ": the audit log is in use by another writer (a running gateway on this data "
                            "directory); one gateway per data directory");
    errno = e;
    fail(sys_error(path_, "cannot lock the audit log"));
  }
}

Journal::Lock::~Lock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

void Journal::Lock::downgrade() {
  if (::flock(fd_, LOCK_SH | LOCK_NB) != 0) fail(sys_error(path_, "cannot downgrade the audit log's lock"));
}

Journal::Journal(std::filesystem::path jdir, std::int64_t next_seq) : dir_(std::move(jdir)) { open_segment(next_seq); }

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

void Journal::open_segment(std::int64_t first_seq) {
  const std::filesystem::path p = dir_ / segment_name(first_seq);
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) fail(sys_error(p, "cannot create an audit journal segment"));
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  size_ = 0;
  path_ = p;
}

void Journal::append(std::string_view line, std::int64_t seq) {
  if (broken_) fail(path_.string() + ": the audit journal could not be repaired after a failed write");
  if (size_ >= kSegmentBytes) {
    const std::filesystem::path full = path_;
    open_segment(seq);
    std::lock_guard lk(closed_mu_);
    closed_.push_back({full, seq - 1});
  }
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    const std::string why = sys_error(path_, "cannot write the audit journal");
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) broken_ = true;
    fail(why);
  }
  size_ += line.size();
}

void Journal::release(std::int64_t committed) {
  std::vector<std::filesystem::path> gone;
  {
    std::lock_guard lk(closed_mu_);
    while (!closed_.empty() && closed_.front().last_seq <= committed) {
      gone.push_back(std::move(closed_.front().path));
      closed_.pop_front();
    }
  }
  for (std::size_t i = 0; i < gone.size(); ++i) {
    std::error_code ec;
    std::filesystem::remove(gone[i], ec);
    if (ec) {  // keep it and the rest for the next commit to try again
      std::lock_guard lk(closed_mu_);
      for (std::size_t k = gone.size(); k-- > i;) closed_.push_front({gone[k], committed});
      return;
    }
  }
}

}  // namespace dg::store
