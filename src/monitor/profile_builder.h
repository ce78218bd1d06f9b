// Builds the reference profile of a deployment's traffic that the `ood` detector scores against
// (detect/ood_profile.h): `dualguard profile build --from traffic.jsonl` or `--from-audit DIR`.
//
// Every text goes through the engine's normaliser and the detector's own features (ood_view +
// OodProfile::features), so profile and detector cannot disagree. A seeded shuffle holds out a
// share of the texts; the document frequencies of the rest give the idf table; the held-out texts'
// novelty gives the calibration (q50, q99, ...). Deterministic for a given input, options and seed.
//
// Thread safety: the functions are reentrant; nothing is shared.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/load_result.h"
#include "detect/ood_profile.h"
#include "text/normalizer.h"

namespace dg::monitor {

struct ProfileBuildOptions {
  double holdout = 0.2;          // share of the texts held out for the calibration
  std::uint64_t seed = 1;
  std::size_t min_words = 3;     // as the detector's min_words: shorter texts are not profiled
  std::size_t max_scan_bytes = 16 * 1024;  // as the detector's max_scan_bytes
  std::size_t min_texts = 50;    // fewer usable texts is an error: no profile worth the name
  std::function<void(const std::string&)> progress;  // one line per stage; may be empty
};

// Builds a profile from raw texts (as a client sent them). `source` is recorded in the profile.
// Errors (code config_invalid_value): too few usable texts.
LoadResult<std::shared_ptr<const detect::OodProfile>> build_profile(const std::vector<std::string>& texts,
                                                                    const text::Normalizer& normalizer,
                                                                    const ProfileBuildOptions& options,
                                                                    const std::string& source);

// Reads field `field` of every line of a JSONL file (blank lines skipped). Errors name file:line:
// input_invalid_json (not JSON, not an object), input_missing_field (field absent or not a string).
LoadResult<std::vector<std::string>> read_jsonl_texts(const std::string& path, const std::string& field);

// The prompts of the gateway's audit log in DIR (redacted text unless the gateway stored raw text);
// records without prompt text are skipped. Errors: store_io / store_schema from the log.
LoadResult<std::vector<std::string>> read_audit_prompts(const std::string& data_dir);

}  // namespace dg::monitor
