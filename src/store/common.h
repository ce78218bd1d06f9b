// Shared vocabulary of src/store: the non-throwing result types its public APIs return, and small
// helpers (UTC timestamps, SHA-256 hex, the data directory) that the audit log and the key store share.
//
// Error model: the SQLite wrapper (sqlite.h) throws StoreError; every public entry point of
// AuditLog and KeyStore catches at its boundary and returns Status / Result<T>, so no exception
// reaches the gateway's request path. Error codes are the stable strings of core/errors.h.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace dg::store {

// A failure: `code` is a stable code from core/errors.h, `message` is for people (it names the file
// and carries SQLite's own message when SQLite failed).
struct Error {
  std::string code;
  std::string message;
  // "code: message"
  std::string format() const { return code + ": " + message; }
};

// The outcome of an operation without a value. Default-constructed = success.
class Status {
 public:
  Status() = default;
  Status(Error e) : error_(std::move(e)) {}  // NOLINT(google-explicit-constructor): `return Error{...};`
  bool ok() const noexcept { return !error_.has_value(); }
  // Precondition: !ok().
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

// A value or an error (std::expected is C++23).
template <typename T>
class Result {
 public:
  Result(T v) : value_(std::move(v)) {}          // NOLINT(google-explicit-constructor)
  Result(Error e) : error_(std::move(e)) {}      // NOLINT(google-explicit-constructor)
  bool ok() const noexcept { return value_.has_value(); }
  // Preconditions: ok() for the value accessors, !ok() for error().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  const Error& error() const { return *error_; }

 private:
  std::optional<T> value_;
  std::optional<Error> error_;
};

// Thrown inside src/store only (by the SQLite wrapper and the schema checks); converted to Error at
// the public API boundary.
class StoreError : public std::runtime_error {
 public:
  StoreError(std::string_view code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  const std::string& code() const noexcept { return code_; }
  Error to_error() const { return Error{code_, what()}; }

 private:
  std::string code_;
};

// Wall clock used for record and key timestamps; injectable for tests.
using WallClock = std::function<std::chrono::system_clock::time_point()>;
// Monotonic clock used for refresh intervals; injectable for tests.
using MonoClock = std::function<std::chrono::steady_clock::time_point()>;

// RFC 3339 UTC with milliseconds, e.g. "2026-11-23T10:04:05.123Z".
std::string format_utc_ms(std::chrono::system_clock::time_point t);

// SHA-256 (libsodium crypto_hash_sha256). Thread-safe.
std::array<unsigned char, 32> sha256(std::string_view data);
// Lowercase hex of sha256(data): 64 characters.
std::string sha256_hex(std::string_view data);
std::string to_hex(const unsigned char* data, std::size_t n);

// Calls sodium_init() once (thread-safe). Throws StoreError(store_io) when libsodium cannot start.
void ensure_sodium();

// Creates `dir` (mode 0700 for the directories it creates) when `create` is true, and checks that it
// is a directory. Throws StoreError(store_io).
void prepare_data_dir(const std::filesystem::path& dir, bool create);

}  // namespace dg::store
