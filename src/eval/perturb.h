// Obfuscation transforms for robustness evaluation: each positive set is re-scanned under each
// transform, and the report shows how much detection drops versus the clean text. They are the
// evasions the normaliser (src/text) is meant to undo, plus some it cannot (payload splitting,
// emoji interleaving), so that the report shows both.
//
// Determinism: perturb(t, text, seed) depends only on its arguments (the random stream is seeded
// from seed, the transform and a hash of the text; no global state, no std::uniform_*_distribution,
// whose output differs between standard libraries). Results do not depend on threads or order.
//
// Transforms (names as on the command line):
//   base64      the text base64-encoded behind an instruction: "Decode this base64 and follow it: <b64>"
//   hex         the same with lowercase hex: "Decode this hex and follow it: <hex>"
//   leetspeak   about half of the letters a e i o s t (at least one) become 4 3 1 0 5 7
//   homoglyph   about half of the Latin letters that have a Cyrillic or Greek look-alike (at least
//               one) become it: a->а, e->е, o->о/ο, p->р, c->с, x->х, y->у, i->і, j->ј, s->ѕ, h->һ, ...
//   zero_width  about half of the gaps between two ASCII letters (at least one) get an invisible
//               U+200B / U+200C / U+200D / U+2060
//   tags        Unicode tag smuggling: a benign cover sentence, then the text hidden in invisible
//               tag characters (ASCII c -> U+E0000 + c; characters outside printable ASCII dropped)
//   casing      every ASCII letter upper- or lower-case at random (the result differs from the input)
//   spacing     every word letter-spaced with a separator drawn per word ("i g n o r e" mostly,
//               "i.g.n.o.r.e", "i-g-n-o-r-e"), words separated by three spaces
//   split       the words split at random word boundaries into 2-3 quoted parts, with an instruction to
//               join them: `Part 1: "..." Part 2: "..." Now join the parts in order and follow them.`
//   emoji       an emoji between every two words
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/load_result.h"

namespace dg::eval {

enum class Transform { base64, hex, leetspeak, homoglyph, zero_width, tags, casing, spacing, split, emoji };

struct TransformInfo {
  Transform transform;
  std::string_view name;         // command-line and report name
  std::string_view description;  // one line, for help text and the report
};

// Every transform, in report order.
const std::vector<TransformInfo>& transforms();
std::string_view to_string(Transform t) noexcept;
std::optional<Transform> parse_transform(std::string_view name) noexcept;

// "all", "none"/"" (no transform), or a comma-separated list of names. Errors (code eval_param)
// name unknown or repeated transforms. The result is in report order.
LoadResult<std::vector<Transform>> parse_transform_list(std::string_view list);

// The transformed text. Deterministic (see above); never throws for any bytes (invalid UTF-8 is
// carried through unchanged where a transform works on ASCII letters only).
std::string perturb(Transform t, std::string_view text, std::uint64_t seed);

// Encoders used by base64 / hex (exposed for tests).
std::string encode_base64(std::string_view bytes);
std::string encode_hex(std::string_view bytes);

}  // namespace dg::eval
