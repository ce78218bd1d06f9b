// Small decoders shared by the normaliser and the detectors.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

namespace dg::text {

// Decodes base64 in either alphabet (standard "+/" or URL-safe "-_"), padding optional. Stops at the
// first character outside the alphabet ('=' included) or after `max_out` bytes.
std::string decode_base64(std::string_view s, std::size_t max_out = std::numeric_limits<std::size_t>::max());

}  // namespace dg::text
