// The one explicit table of detectors (no static self-registration). Order is execution order:
// cheap detectors first.
#pragma once

#include <span>

#include "detect/detector.h"

namespace dg::detect {

struct RegistryEntry {
  std::string_view name;  // key under `detectors:` in the config
  std::string_view help;  // one line for --help and docs
  // Parses the detector's config section and creates it; returns null after recording errors in `r`.
  std::unique_ptr<Detector> (*load)(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx);
};

std::span<const RegistryEntry> registry() noexcept;
const RegistryEntry* find_detector(std::string_view name) noexcept;

}  // namespace dg::detect
