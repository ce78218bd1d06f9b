// Labelled evaluation sets: `--set NAME=PATH:positive|negative` specifications and the JSONL files
// they name. A positive set holds inputs the policy should flag (attacks); a negative set holds
// inputs it should let through (benign, borderline). The label belongs to the whole set; a line's
// own "label" field is not read.
//
// Lines are read with the scan input contract (core/input_record.h): `{"text"}` (or the field named
// by InputOptions::field) or an exchange `{"prompt"?, "context"?, "response"?, "system"?}`. The
// optional "category" and "source" string fields group results in the report.
//
// Errors name the file and the 1-based line: "corpora/x.jsonl:17: invalid_json: line is not valid
// JSON". Loading stops at the first bad line of a file (a corrupt set must not be half-measured).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/input_record.h"
#include "core/load_result.h"

namespace dg::eval {

// One `--set` argument.
struct SetSpec {
  std::string name;
  std::string path;
  bool positive = false;  // true: inputs should be flagged
};

// Parses "NAME=PATH:positive" or "NAME=PATH:negative". The label is after the LAST ':' so that
// paths may contain ':'. NAME is 1..64 characters of [A-Za-z0-9_.-].
LoadResult<SetSpec> parse_set_spec(std::string_view arg);

// Checks a list of specs: at least one, unique names. Errors carry code eval_duplicate_set.
LoadErrors check_set_specs(const std::vector<SetSpec>& specs);

// One labelled input.
struct Sample {
  std::size_t line = 0;  // 1-based line number in the file
  std::string category;  // "" when the line has none
  std::string source;    // "" when the line has none
  InputRecord rec;       // text or exchange (rec.ok() is always true here)

  // Bytes of text the engine scans for this sample (text, or prompt + context + response).
  std::size_t scanned_bytes() const noexcept;
};

struct Dataset {
  SetSpec spec;
  std::string sha256;             // hex digest of the whole file (also when --limit cut it short)
  std::vector<Sample> samples;    // file order
  std::uint64_t bytes = 0;        // sum of scanned_bytes()
  std::size_t skipped_blank = 0;  // blank lines (not inputs)
  bool limited = false;           // --limit stopped reading before the end of the file
};

struct LoadOptions {
  InputOptions input;     // field selection ("" = auto) and the line-size limit
  std::size_t limit = 0;  // read at most this many inputs per set; 0 = all
};

// Reads one set. Errors: input_io (missing / unreadable file), invalid_json, missing_field,
// field_not_string, input_too_large (each with file:line), eval_empty_set.
LoadResult<Dataset> load_dataset(const SetSpec& spec, const LoadOptions& opt);

// Parses every spec and reads every set, collecting the errors of all of them (usage errors in the
// specs first: when a spec is wrong no file is read).
LoadResult<std::vector<Dataset>> load_datasets(const std::vector<std::string>& set_args, const LoadOptions& opt);

// Hex SHA-256 of a file's bytes, or "" when it cannot be read.
std::string sha256_file(const std::string& path);
// Hex SHA-256 of a byte string.
std::string sha256_hex(std::string_view bytes);

}  // namespace dg::eval
