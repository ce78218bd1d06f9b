#include "threat/catalog.h"

#include <array>
#include <cctype>

namespace dg::threat {
namespace {

// The runtime taxonomy's categories (config/taxonomy.yaml, same ATLAS / OWASP ids) and the
// design-time ones a threat model needs but no detector emits. A user's taxonomy may add more
// categories; those map to nothing here unless the risk names atlas / owasp ids itself.
const std::vector<CategoryEntry> kCategories{
    // security, runtime
    {"prompt_injection", "security", {"AML.T0051.000", "AML.T0051.001"}, {"LLM01:2025"}},
    {"jailbreak", "security", {"AML.T0054"}, {"LLM01:2025"}},
    {"prompt_attack", "security", {"AML.T0051.000", "AML.T0051.001", "AML.T0054"}, {"LLM01:2025"}},
    {"system_prompt_extraction", "security", {"AML.T0056"}, {"LLM07:2025"}},
    {"encoding_smuggling", "security", {"AML.T0068"}, {"LLM01:2025"}},
    {"data_exfiltration", "security", {"AML.T0057", "AML.T0077"}, {"LLM02:2025", "LLM05:2025"}},
    {"canary_leak", "security", {"AML.T0056"}, {"LLM07:2025"}},
    {"system_prompt_leak", "security", {"AML.T0056"}, {"LLM07:2025"}},
    {"insecure_output", "security", {"AML.T0050"}, {"LLM05:2025"}},
    {"harmful_request", "security", {"AML.T0054"}, {"LLM01:2025"}},
    {"model_extraction", "security", {"AML.T0024.002"}, {"LLM10:2025"}},
    {"auth_failure", "security", {"AML.T0012"}, {"LLM06:2025"}},
    {"rate_abuse", "security", {"AML.T0029", "AML.T0034"}, {"LLM10:2025"}},
    {"tampered_artifact", "security", {"AML.T0010", "AML.T0018"}, {"LLM03:2025", "LLM04:2025"}},
    // security, design time
    {"data_poisoning", "security", {"AML.T0020"}, {"LLM04:2025"}},
    {"model_poisoning", "security", {"AML.T0018.000", "AML.T0043.004"}, {"LLM04:2025"}},
    {"supply_chain", "security", {"AML.T0010"}, {"LLM03:2025"}},
    {"rag_poisoning", "security", {"AML.T0070", "AML.T0071"}, {"LLM08:2025", "LLM04:2025"}},
    {"adversarial_example", "security", {"AML.T0043", "AML.T0015"}, {}},
    {"physical_adversarial", "security", {"AML.T0041", "AML.T0043"}, {}},
    {"sensor_spoofing", "security", {"AML.T0041", "AML.T0015"}, {}},
    {"membership_inference", "security", {"AML.T0024.000"}, {"LLM02:2025"}},
    {"model_inversion", "security", {"AML.T0024.001"}, {"LLM02:2025"}},
    {"excessive_agency", "security", {"AML.T0053"}, {"LLM06:2025"}},
    {"denial_of_service", "security", {"AML.T0029"}, {"LLM10:2025"}},
    {"credential_theft", "security", {"AML.T0055", "AML.T0012"}, {}},
    {"hallucination_exploit", "security", {"AML.T0062", "AML.T0060"}, {"LLM09:2025"}},
    // safety, runtime
    {"harmful_output", "safety", {}, {"LLM05:2025"}},
    {"toxicity", "safety", {}, {}},
    {"hallucination_risk", "safety", {}, {"LLM09:2025"}},
    {"ungrounded_answer", "safety", {}, {"LLM09:2025"}},
    {"out_of_distribution", "safety", {}, {}},
    {"drift", "safety", {}, {}},
    {"refusal", "safety", {}, {}},
    {"over_refusal", "safety", {}, {}},
    {"pii_exposure", "safety", {}, {"LLM02:2025"}},
    {"secret_exposure", "safety", {}, {"LLM02:2025"}},
    {"format_violation", "safety", {}, {"LLM05:2025"}},
    // safety, design time
    {"bias", "safety", {}, {}},
    {"misalignment", "safety", {}, {}},
    {"sensor_failure", "safety", {}, {}},
    {"edge_case", "safety", {}, {}},
    {"automation_bias", "safety", {}, {"LLM09:2025"}},
    {"unsafe_action", "safety", {}, {"LLM06:2025"}},
};

constexpr std::array<std::pair<std::string_view, std::string_view>, 10> kOwasp{{
    {"LLM01:2025", "Prompt Injection"},
    {"LLM02:2025", "Sensitive Information Disclosure"},
    {"LLM03:2025", "Supply Chain"},
    {"LLM04:2025", "Data and Model Poisoning"},
    {"LLM05:2025", "Improper Output Handling"},
    {"LLM06:2025", "Excessive Agency"},
    {"LLM07:2025", "System Prompt Leakage"},
    {"LLM08:2025", "Vector and Embedding Weaknesses"},
    {"LLM09:2025", "Misinformation"},
    {"LLM10:2025", "Unbounded Consumption"},
}};

// Detector names follow src/detect/registry.cc; the gateway.* and integrity entries are the
// gateway's own controls (config gateway.abuse / gateway.monitor, integrity.mode).
const std::vector<ControlEntry> kControls{
    {"encoding", {"encoding_smuggling"}, {}, false},
    {"signatures",
     {"prompt_injection", "jailbreak", "system_prompt_extraction", "data_exfiltration", "insecure_output"},
     {},
     false},
    {"secrets", {"secret_exposure"}, {}, false},
    {"pii", {"pii_exposure"}, {"membership_inference", "model_inversion"}, false},
    {"canary", {"canary_leak"}, {"system_prompt_extraction", "system_prompt_leak"}, false},
    {"prompt_leak", {"system_prompt_leak"}, {"system_prompt_extraction"}, false},
    {"prompt_attack", {"prompt_attack"}, {"prompt_injection", "jailbreak", "rag_poisoning"}, false},
    {"harmful_request", {"harmful_request"}, {}, false},
    {"toxicity", {"toxicity"}, {}, false},
    {"harmful_response", {"harmful_output"}, {"misalignment"}, false},
    {"ood", {"out_of_distribution"}, {"edge_case", "adversarial_example"}, false},
    {"uncertainty", {"hallucination_risk"}, {"hallucination_exploit"}, false},
    {"groundedness", {"ungrounded_answer"}, {"hallucination_risk", "rag_poisoning"}, false},
    {"refusal", {"refusal"}, {"over_refusal"}, false},
    {"gateway.abuse", {"rate_abuse", "model_extraction"}, {"denial_of_service"}, false},
    {"gateway.auth", {"auth_failure"}, {}, true},
    {"gateway.monitor", {"drift"}, {}, true},
    {"integrity", {"tampered_artifact"}, {"supply_chain", "model_poisoning"}, true},
};

}  // namespace

std::span<const CategoryEntry> categories() noexcept { return kCategories; }

const CategoryEntry* find_category(std::string_view name) noexcept {
  for (const auto& c : kCategories)
    if (c.name == name) return &c;
  return nullptr;
}

std::string_view owasp_name(std::string_view id) noexcept {
  for (const auto& [k, v] : kOwasp)
    if (k == id) return v;
  return {};
}

std::string normalize_owasp(std::string_view s) {
  std::string up;
  for (char c : s) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (up.size() == 5) up += ":2025";
  return owasp_name(up).empty() ? std::string() : up;
}

std::span<const ControlEntry> controls() noexcept { return kControls; }

}  // namespace dg::threat
