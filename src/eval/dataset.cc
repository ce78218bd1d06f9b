#include "eval/dataset.h"

#include <sodium.h>

#include <fstream>
#include <sstream>

#include "core/errors.h"

namespace dg::eval {
namespace {

LoadError error_at(const std::string& file, std::size_t line, std::string_view code, std::string message) {
  return LoadError{file, static_cast<int>(line), 0, std::string(code), std::move(message)};
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
      return false;
  return true;
}

bool read_all(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return false;
  out = std::move(ss).str();
  return true;
}

// "category" / "source": a string, or absent / null. Anything else is an error (strict input).
bool optional_string(const ojson& j, const char* key, std::string& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

}  // namespace

LoadResult<SetSpec> parse_set_spec(std::string_view arg) {
  auto fail = [&](std::string msg) {
    return LoadResult<SetSpec>::failure({error_at("--set", 0, errc::kEvalSetSpec, "'" + std::string(arg) + "': " + msg)});
  };
  const auto eq = arg.find('=');
  if (eq == std::string_view::npos) return fail("expected NAME=PATH:positive or NAME=PATH:negative");
  SetSpec s;
  s.name = std::string(arg.substr(0, eq));
  if (!valid_name(s.name)) return fail("set name must be 1-64 characters of letters, digits, '_', '-', '.'");
  const std::string_view rest = arg.substr(eq + 1);
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) return fail("missing ':positive' or ':negative' after the path");
  const std::string_view label = rest.substr(colon + 1);
  if (label == "positive") s.positive = true;
  else if (label == "negative") s.positive = false;
  else return fail("unknown label '" + std::string(label) + "' (positive or negative)");
  s.path = std::string(rest.substr(0, colon));
  if (s.path.empty()) return fail("empty path");
  return LoadResult<SetSpec>::success(std::move(s));
}

LoadErrors check_set_specs(const std::vector<SetSpec>& specs) {
  LoadErrors errors;
  if (specs.empty()) errors.push_back(error_at("--set", 0, errc::kEvalSetSpec, "no evaluation set given"));
  for (std::size_t i = 0; i < specs.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (specs[i].name == specs[j].name) {
        errors.push_back(error_at("--set", 0, errc::kEvalDuplicateSet,
                                  "set name '" + specs[i].name + "' is used twice (" + specs[j].path + ", " + specs[i].path + ")"));
        break;
      }
  return errors;
}

std::size_t Sample::scanned_bytes() const noexcept {
  if (!rec.exchange) return rec.text.size();
  std::size_t n = rec.prompt.size() + rec.response.size();
  for (const auto& c : rec.context) n += c.size();
  return n;
}

LoadResult<Dataset> load_dataset(const SetSpec& spec, const LoadOptions& opt) {
  std::string data;
  if (!read_all(spec.path, data))
    return LoadResult<Dataset>::failure(
        {error_at(spec.path, 0, errc::kInputIo, "cannot read set '" + spec.name + "' (missing or unreadable file)")});
  Dataset ds;
  ds.spec = spec;
  ds.sha256 = sha256_hex(data);
  std::size_t line_no = 0;
  for (std::size_t pos = 0; pos < data.size();) {
    std::size_t end = data.find('\n', pos);
    if (end == std::string::npos) end = data.size();
    std::string_view line(data.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      ++ds.skipped_blank;
      continue;
    }
    if (opt.limit && ds.samples.size() >= opt.limit) {
      ds.limited = true;
      break;
    }
    Sample s;
    s.line = line_no;
    s.rec = parse_jsonl_line(line, line_no - 1, opt.input);
    if (!s.rec.ok()) return LoadResult<Dataset>::failure({error_at(spec.path, line_no, s.rec.error_code, s.rec.error_message)});
    // The record parser keeps only the fields it scans; category and source are read from a second
    // parse of the (already validated) line. Loading is a small share of an evaluation's time.
    const ojson j = ojson::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) {
      if (!optional_string(j, "category", s.category))
        return LoadResult<Dataset>::failure({error_at(spec.path, line_no, errc::kFieldNotString, "field 'category' is not a string")});
      if (!optional_string(j, "source", s.source))
        return LoadResult<Dataset>::failure({error_at(spec.path, line_no, errc::kFieldNotString, "field 'source' is not a string")});
    }
    ds.bytes += s.scanned_bytes();
    ds.samples.push_back(std::move(s));
  }
  if (ds.samples.empty())
    return LoadResult<Dataset>::failure({error_at(spec.path, 0, errc::kEvalEmptySet, "set '" + spec.name + "' has no inputs")});
  return LoadResult<Dataset>::success(std::move(ds));
}

LoadResult<std::vector<Dataset>> load_datasets(const std::vector<std::string>& set_args, const LoadOptions& opt) {
  using R = LoadResult<std::vector<Dataset>>;
  LoadErrors errors;
  std::vector<SetSpec> specs;
  for (const auto& a : set_args) {
    auto s = parse_set_spec(a);
    if (s.ok()) specs.push_back(std::move(*s.value));
    else errors.insert(errors.end(), s.errors.begin(), s.errors.end());
  }
  if (errors.empty()) errors = check_set_specs(specs);
  if (!errors.empty()) return R::failure(std::move(errors));
  std::vector<Dataset> sets;
  for (const auto& spec : specs) {
    auto ds = load_dataset(spec, opt);
    if (ds.ok()) sets.push_back(std::move(*ds.value));
    else errors.insert(errors.end(), ds.errors.begin(), ds.errors.end());
  }
  if (!errors.empty()) return R::failure(std::move(errors));
  return R::success(std::move(sets));
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof digest);
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

std::string sha256_file(const std::string& path) {
  std::string data;
  return read_all(path, data) ? sha256_hex(data) : std::string();
}

}  // namespace dg::eval
