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
// Artifact signatures (core/signature.h, `dualguard sign | verify`, the integrity: config section)
inline constexpr std::string_view kSignatureMissing = "signature_missing";  // no FILE.sig / DIR/MANIFEST.sig
inline constexpr std::string_view kSignatureInvalid = "signature_invalid";  // malformed, swapped, or does not verify
inline constexpr std::string_view kUntrustedKey = "untrusted_key";          // signed by a key that is not trusted
inline constexpr std::string_view kKeyInvalid = "key_invalid";              // a key file that does not parse

// Input path (scan)
inline constexpr std::string_view kInputIo = "input_io";
inline constexpr std::string_view kInvalidJson = "invalid_json";
inline constexpr std::string_view kMissingField = "missing_field";
inline constexpr std::string_view kFieldNotString = "field_not_string";
inline constexpr std::string_view kInvalidLogprobs = "invalid_logprobs";  // "logprobs" is not a token log-probability list
inline constexpr std::string_view kInputTooLarge = "input_too_large";
inline constexpr std::string_view kDetectorError = "detector_error";

// Evaluation (eval, eval sweep, eval diff)
inline constexpr std::string_view kEvalSetSpec = "eval_set_spec";            // --set not NAME=PATH:positive|negative
inline constexpr std::string_view kEvalDuplicateSet = "eval_duplicate_set";  // two sets with one name
inline constexpr std::string_view kEvalEmptySet = "eval_empty_set";          // a set without inputs
inline constexpr std::string_view kEvalParam = "eval_param";                 // bad --param or grid too large
inline constexpr std::string_view kEvalReport = "eval_report";               // unreadable / incompatible report

// Threat models (dualguard threat analyze; docs/threat-model.md)
inline constexpr std::string_view kThreatSchema = "threat_schema";              // a value the schema does not allow
inline constexpr std::string_view kThreatUnknownRef = "threat_unknown_ref";     // an id that names no asset / component / mechanism / risk
inline constexpr std::string_view kAtlasUnknownTechnique = "atlas_unknown_technique";  // not in the supplied ATLAS.yaml

// State (src/store: audit log, API keys)
inline constexpr std::string_view kStoreIo = "store_io";                      // database unreadable / write failed
inline constexpr std::string_view kStoreSchema = "store_schema";              // not ours, or an unknown schema version
inline constexpr std::string_view kAuditChainBroken = "audit_chain_broken";   // verify found an edited/missing record
inline constexpr std::string_view kUnknownKeyId = "unknown_key_id";           // no API key with that id
inline constexpr std::string_view kInvalidKeySpec = "invalid_key_spec";       // bad role, name or limit for a new key

// Gateway (HTTP error bodies `error.code`, audit records, metric labels; docs/gateway.md)
inline constexpr std::string_view kInvalidRequest = "invalid_request";               // 400: the body parses but is not a valid request for the route
inline constexpr std::string_view kMissingApiKey = "missing_api_key";                // 401: no Authorization: Bearer header
inline constexpr std::string_view kInvalidApiKey = "invalid_api_key";                // 401: unknown or revoked key
inline constexpr std::string_view kInsufficientRole = "insufficient_role";           // 403: the key's role may not use the route
inline constexpr std::string_view kBlockedByPolicy = "blocked_by_policy";            // 403 (or an error event in a stream): the verdict's action is block
inline constexpr std::string_view kNotFound = "not_found";                           // 404: no such route
inline constexpr std::string_view kMethodNotAllowed = "method_not_allowed";          // 405
inline constexpr std::string_view kRequestTooLarge = "request_too_large";            // 413: body over the key's or the route's limit
inline constexpr std::string_view kRateLimited = "rate_limited";                     // 429: requests per minute (Retry-After)
inline constexpr std::string_view kTokenBudgetExceeded = "token_budget_exceeded";    // 429: tokens per day (Retry-After)
inline constexpr std::string_view kTooManyConcurrentRequests = "too_many_concurrent_requests";// 429: concurrent requests (Retry-After)
inline constexpr std::string_view kUpstreamError = "upstream_error";                 // 502: the upstream failed or answered something unusable
inline constexpr std::string_view kNoUpstream = "no_upstream";                       // 503: a proxy route without a configured upstream
inline constexpr std::string_view kUpstreamUnavailable = "upstream_unavailable";     // 503: the upstream's circuit breaker is open
inline constexpr std::string_view kKillSwitchEngaged = "kill_switch_engaged";        // 503: an operator engaged the kill switch for the route
inline constexpr std::string_view kDraining = "draining";                            // 503: shutting down (SIGTERM)
inline constexpr std::string_view kUpstreamTimeout = "upstream_timeout";             // 504: connect or read timeout
inline constexpr std::string_view kUpstreamStatus = "upstream_status";               // the upstream's own error status, passed through
inline constexpr std::string_view kClientClosed = "client_closed";                   // the client went away before the answer (audit only)
inline constexpr std::string_view kAuditUnavailable = "audit_unavailable";           // 503: the audit log cannot be written (fail closed)
inline constexpr std::string_view kDashboardNotBuilt = "dashboard_not_built";       // 404: / without the built dashboard (web/dist)
inline constexpr std::string_view kMonitorDisabled = "monitor_disabled";             // 503: /api/* with gateway.monitor.enabled: false

}  // namespace dg::errc
