// Enumerations of the domain model (DESIGN.md "The domain model") and their stable spellings.
// The spellings are part of the output contract: scan JSON, audit records and metric labels use them.
#pragma once

#include <optional>
#include <string_view>

namespace dg {

enum class Domain { safety, security };
enum class Intent { adversarial, unintentional, unknown };
enum class Severity { low = 0, medium = 1, high = 2, critical = 3 };
// Ordered by strength: a verdict's action is the strongest action any rule asks for.
enum class Action { allow = 0, redact = 1, review = 2, safe_mode = 3, block = 4 };
enum class VerdictClass { clean, safety, security, hybrid };
// Where a text sits in an exchange: what the user sent, what the application supplied as context
// (retrieved documents, tool results: the indirect-injection surface), what the model answered.
enum class Role { prompt, context, response };

std::string_view to_string(Domain d) noexcept;
std::string_view to_string(Intent i) noexcept;
std::string_view to_string(Severity s) noexcept;
std::string_view to_string(Action a) noexcept;
std::string_view to_string(VerdictClass c) noexcept;
std::string_view to_string(Role r) noexcept;

std::optional<Domain> parse_domain(std::string_view s) noexcept;
std::optional<Intent> parse_intent(std::string_view s) noexcept;
std::optional<Severity> parse_severity(std::string_view s) noexcept;
std::optional<Action> parse_action(std::string_view s) noexcept;
std::optional<VerdictClass> parse_verdict_class(std::string_view s) noexcept;
std::optional<Role> parse_role(std::string_view s) noexcept;

}  // namespace dg
