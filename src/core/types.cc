#include "core/types.h"

#include <array>
#include <utility>

namespace dg {
namespace {

template <typename E, std::size_t N>
std::optional<E> lookup(const std::array<std::pair<std::string_view, E>, N>& table,
                        std::string_view s) noexcept {
  for (const auto& [name, value] : table) {
    if (name == s) return value;
  }
  return std::nullopt;
}

constexpr std::array<std::pair<std::string_view, Domain>, 2> kDomains{
    {{"safety", Domain::safety}, {"security", Domain::security}}};
constexpr std::array<std::pair<std::string_view, Intent>, 3> kIntents{
    {{"adversarial", Intent::adversarial},
     {"unintentional", Intent::unintentional},
     {"unknown", Intent::unknown}}};
constexpr std::array<std::pair<std::string_view, Severity>, 4> kSeverities{
    {{"low", Severity::low},
     {"medium", Severity::medium},
     {"high", Severity::high},
     {"critical", Severity::critical}}};
constexpr std::array<std::pair<std::string_view, Action>, 5> kActions{{{"allow", Action::allow},
                                                                        {"redact", Action::redact},
                                                                        {"review", Action::review},
                                                                        {"safe_mode", Action::safe_mode},
                                                                        {"block", Action::block}}};
constexpr std::array<std::pair<std::string_view, VerdictClass>, 4> kClasses{
    {{"clean", VerdictClass::clean},
     {"safety", VerdictClass::safety},
     {"security", VerdictClass::security},
     {"hybrid", VerdictClass::hybrid}}};
constexpr std::array<std::pair<std::string_view, Role>, 3> kRoles{
    {{"prompt", Role::prompt}, {"context", Role::context}, {"response", Role::response}}};

template <typename E, std::size_t N>
std::string_view name_of(const std::array<std::pair<std::string_view, E>, N>& table, E e) noexcept {
  for (const auto& [name, value] : table) {
    if (value == e) return name;
  }
  return "unknown";
}

}  // namespace

std::string_view to_string(Domain d) noexcept { return name_of(kDomains, d); }
std::string_view to_string(Intent i) noexcept { return name_of(kIntents, i); }
std::string_view to_string(Severity s) noexcept { return name_of(kSeverities, s); }
std::string_view to_string(Action a) noexcept { return name_of(kActions, a); }
std::string_view to_string(VerdictClass c) noexcept { return name_of(kClasses, c); }
std::string_view to_string(Role r) noexcept { return name_of(kRoles, r); }

std::optional<Domain> parse_domain(std::string_view s) noexcept { return lookup(kDomains, s); }
std::optional<Intent> parse_intent(std::string_view s) noexcept { return lookup(kIntents, s); }
std::optional<Severity> parse_severity(std::string_view s) noexcept { return lookup(kSeverities, s); }
std::optional<Action> parse_action(std::string_view s) noexcept { return lookup(kActions, s); }
std::optional<VerdictClass> parse_verdict_class(std::string_view s) noexcept {
  return lookup(kClasses, s);
}
std::optional<Role> parse_role(std::string_view s) noexcept { return lookup(kRoles, s); }

}  // namespace dg
