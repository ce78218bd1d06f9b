// The engine: normalise once, run the detectors in registry order, decide with the policy, redact.
// One immutable Engine (a snapshot of config, taxonomy, policy, normaliser and detectors) is shared
// by all threads; each thread owns a ThreadState with its detectors' scratch. A reload builds a new
// Engine and swaps the shared_ptr.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/finding.h"
#include "core/input_record.h"
#include "core/taxonomy.h"
#include "detect/detector.h"
#include "policy/config.h"
#include "policy/policy.h"

namespace dg::policy {

// One exchange with a model: any of the parts may be absent.
struct Exchange {
  std::string_view system;                // protected system prompt (leak / canary reference)
  std::string_view prompt;                // what the user sent
  std::vector<std::string_view> context;  // retrieved documents, tool results
  std::string_view response;              // what the model answered
  std::span<const TokenLogprob> logprobs; // the response's token log-probabilities, when known
  bool has_system = false, has_prompt = false, has_response = false;
  // A system prompt prepared once by the caller (e.g. `scan --system-file` for every line); used
  // when the exchange carries no system text of its own.
  const detect::ProtectedPrompt* prepared_system = nullptr;
};

// The exchange described by a JSONL input record (views into `rec`, which must outlive it).
Exchange exchange_of(const InputRecord& rec);

class Engine {
 public:
  // Loads config, taxonomy, policy, rules and detectors; reports every problem.
  static LoadResult<std::shared_ptr<const Engine>> load(const std::string& config_path,
                                                        const std::vector<std::string>& overrides = {});
  static LoadResult<std::shared_ptr<const Engine>> from_config(Config cfg);

  class ThreadState {
   public:
    std::vector<std::unique_ptr<detect::Scratch>> scratch;  // one per detector
  };
  std::unique_ptr<ThreadState> make_thread_state() const;

  // Scans one text in one role. `system` may be null. Never throws.
  Verdict scan(ThreadState& ts, Role role, std::string_view text, const detect::ProtectedPrompt* system = nullptr) const;
  // Scans every part of an exchange; cross-domain escalations see request and response together.
  // Redaction applies to the response when present, else to the prompt.
  Verdict scan_exchange(ThreadState& ts, const Exchange& ex) const;
  // The second half of scan_exchange() for a caller that already holds the request's verdict (a
  // gateway that scanned the request before forwarding it): keeps the request's findings and errors
  // (plus any the caller added, e.g. abuse), scans only `response` and decides again over all of
  // them. The result equals scan_exchange() over the whole exchange when `request` came from
  // scan_exchange() of its request parts with this engine (the policy never lets a request-only
  // verdict change a finding's severity: escalations need a response finding), without scanning
  // the prompt and context twice. Redaction applies to the response. Never throws.
  // `context` (the request's context documents, for groundedness) and `logprobs` (for uncertainty)
  // are what scan_exchange() would have seen in Exchange::context and Exchange::logprobs.
  Verdict scan_response(ThreadState& ts, const Verdict& request, std::string_view response,
                        const detect::ProtectedPrompt* system = nullptr,
                        std::span<const std::string_view> context = {},
                        std::span<const TokenLogprob> logprobs = {}) const;

  detect::ProtectedPrompt prepare_system(std::string_view system) const;

  const Config& config() const noexcept { return cfg_; }
  const Taxonomy& taxonomy() const noexcept { return taxonomy_; }
  const Policy& policy() const noexcept { return policy_; }
  const text::Normalizer& normalizer() const noexcept { return *normalizer_; }
  const std::vector<std::unique_ptr<detect::Detector>>& detectors() const noexcept { return detectors_; }

 private:
  Engine() = default;
  static LoadResult<std::shared_ptr<const Engine>> from_config_impl(Config cfg);
  void run_detectors(ThreadState& ts, Role role, std::string_view text, const detect::ProtectedPrompt* system,
                     int context_index, Verdict& v, std::span<const std::string_view> context = {},
                     std::span<const TokenLogprob> logprobs = {}) const;
  void finish(Verdict& v, std::string_view redact_target, Role redact_role) const;
  // Runs `body` on a fresh verdict; an exception becomes a detector error decided by the policy's
  // fail mode; sets latency_us.
  template <typename Body>
  Verdict timed(Body&& body) const;

  Config cfg_;
  Taxonomy taxonomy_;
  Policy policy_;
  std::shared_ptr<const text::Normalizer> normalizer_;
  std::vector<std::unique_ptr<detect::Detector>> detectors_;
  std::size_t shingle_words_ = 5;
};

// Replaces the spans of redactable findings in `text` (spans of that role) with "[REDACTED:LABEL]".
std::string redact(std::string_view text, const std::vector<Finding>& findings, Role role);

}  // namespace dg::policy
