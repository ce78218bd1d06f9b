// The one table of stable error codes. The same strings appear in CLI output, HTTP error bodies,
// audit records and metric labels; never rename one, only add.
#pragma once

#include <string_view>

namespace dg::errc {

// Load path
inline constexpr std::string_view kConfigIo = "config_io";                  // file missing/unreadable
inline constexpr std::string_view kConfigSyntax = "config_syntax";          // YAML does not parse
inline constexpr std::string_view kConfigUnknownKey = "config_unknown_key";  // typo protection
inline constexpr std::string_view kConfigInvalidValue = "config_invalid_value";
inline constexpr std::string_view kConfigMissingKey = "config_missing_key";
inline constexpr std::string_view kConfigDuplicate = "config_duplicate";
inline constexpr std::string_view kUnknownCategory = "unknown_category";
inline constexpr std::string_view kPatternCompile = "pattern_compile";
inline constexpr std::string_view kModelInvalid = "model_invalid";          // not a usable detector model
inline constexpr std::string_view kTamperedArtifact = "tampered_artifact";  // digest does not match

// Input path (scan)
inline constexpr std::string_view kInputIo = "input_io";
inline constexpr std::string_view kInvalidJson = "invalid_json";
inline constexpr std::string_view kMissingField = "missing_field";
inline constexpr std::string_view kFieldNotString = "field_not_string";
inline constexpr std::string_view kInputTooLarge = "input_too_large";
inline constexpr std::string_view kDetectorError = "detector_error";

// Evaluation (eval, eval sweep, eval diff)
inline constexpr std::string_view kEvalSetSpec = "eval_set_spec";            // --set not NAME=PATH:positive|negative
inline constexpr std::string_view kEvalDuplicateSet = "eval_duplicate_set";  // two sets with one name
inline constexpr std::string_view kEvalEmptySet = "eval_empty_set";          // a set without inputs
inline constexpr std::string_view kEvalParam = "eval_param";                 // bad --param or grid too large
inline constexpr std::string_view kEvalReport = "eval_report";               // unreadable / incompatible report

// State (src/store: audit log, API keys)
inline constexpr std::string_view kStoreIo = "store_io";                      // database unreadable / write failed
inline constexpr std::string_view kStoreSchema = "store_schema";              // not ours, or an unknown schema version
inline constexpr std::string_view kAuditChainBroken = "audit_chain_broken";   // verify found an edited/missing record
inline constexpr std::string_view kUnknownKeyId = "unknown_key_id";           // no API key with that id
inline constexpr std::string_view kInvalidKeySpec = "invalid_key_spec";       // bad role, name or limit for a new key

}  // namespace dg::errc
