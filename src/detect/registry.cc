#include "detect/registry.h"

#include <array>

#include "detect/canary.h"
#include "detect/encoding.h"
#include "detect/groundedness.h"
#include "detect/harmful_request.h"
#include "detect/harmful_response.h"
#include "detect/ood.h"
#include "detect/pii.h"
#include "detect/prompt_attack.h"
#include "detect/prompt_leak.h"
#include "detect/refusal.h"
#include "detect/secrets.h"
#include "detect/signatures.h"
#include "detect/toxicity.h"
#include "detect/uncertainty.h"

namespace dg::detect {
namespace {

const std::array kRegistry{
    RegistryEntry{"encoding", "invisible, bidi-control and tag characters; invalid UTF-8; text hidden in base64 / hex (encoding_smuggling)",
                  &EncodingDetector::load},
    RegistryEntry{"signatures", "Hyperscan rule sets: injection, jailbreak templates, special tokens, extraction, "
                                "exfiltration markup, SQL/shell/XSS in output",
                  &SignatureDetector::load},
    RegistryEntry{"secrets", "provider API keys, private keys, JWTs, high-entropy secret assignments (secret_exposure)",
                  &SecretsDetector::load},
    RegistryEntry{"pii", "e-mail, phone, payment card (Luhn), IBAN (mod-97), SSN, IP addresses (pii_exposure)",
                  &PiiDetector::load},
    RegistryEntry{"canary", "per-deployment canary tokens appearing in responses (canary_leak)", &CanaryDetector::load},
    RegistryEntry{"prompt_leak", "responses reproducing the protected system prompt (shingle overlap)",
                  &PromptLeakDetector::load},
    // Learned (fastText) detectors: after the patterns and validators.
    RegistryEntry{"prompt_attack", "learned: prompt injection and jailbreak attempts, paraphrased or templated",
                  &PromptAttackDetector::load},
    RegistryEntry{"harmful_request", "learned: requests for harmful content (misuse)", &HarmfulRequestDetector::load},
    RegistryEntry{"toxicity", "learned: hateful, offensive or abusive language", &ToxicityDetector::load},
    RegistryEntry{"harmful_response", "learned: responses that comply with a harmful request (harmful_output)",
                  &HarmfulResponseDetector::load},
    // Safety monitors: scored against the deployment's own reference traffic.
    RegistryEntry{"ood", "out-of-distribution prompts: distance to a profile of the deployment's own traffic",
                  &OodDetector::load},
    RegistryEntry{"uncertainty", "low model confidence from the answer's token log-probabilities (hallucination_risk)",
                  &UncertaintyDetector::load},
    RegistryEntry{"groundedness", "answers whose numbers, names and content words the supplied context does not "
                                  "support (ungrounded_answer)",
                  &GroundednessDetector::load},
    RegistryEntry{"refusal", "responses in which the model declines (refusal; over-refusal and compliance measured)",
                  &RefusalDetector::load},
};

}  // namespace

std::span<const RegistryEntry> registry() noexcept { return kRegistry; }

const RegistryEntry* find_detector(std::string_view name) noexcept {
  for (const auto& e : kRegistry)
    if (e.name == name) return &e;
  return nullptr;
}

}  // namespace dg::detect
