// `encoding`: turns the normaliser's anomalies into `encoding_smuggling` findings: invisible
// (zero-width) characters, bidi controls, Unicode tag characters (ASCII smuggling), invalid UTF-8,
// and readable text hidden in an encoding (a base64 / hex payload that decodes to
// words): the decoded text is scanned by every detector anyway, and its being encoded at all is the
// smuggling signal even when the words themselves look harmless ("b64: QWNjZXNzIGdyYW50ZWQ=").
// Uses with a legitimate reading (emoji ZWJ sequences, ZWNJ in Persian, flag tags, a leading BOM) are
// not reported.
#pragma once

#include "detect/detector.h"

namespace dg::detect {

class EncodingDetector final : public Detector {
 public:
  struct Config {
    std::size_t min_invisible = 1;  // suspicious invisible characters needed for a finding
    bool report_invalid_utf8 = true;
    // Encoded payloads (base64, hex) whose decoded text has at least this many words
    // are reported (medium on prompts and context, low on responses); 0 turns it off.
    std::size_t min_encoded_words = 2;
  };
  static LoadResult<std::unique_ptr<EncodingDetector>> create(const Config& cfg);
  static std::unique_ptr<Detector> load(const YAML::Node& node, yaml::Reader& r, const LoadContext& ctx);

  std::string_view name() const noexcept override { return "encoding"; }
  bool applies_to(Role) const noexcept override { return true; }
  bool scan(const ScanInput& in, Scratch* scratch, std::vector<Finding>& out) const noexcept override;
  std::vector<std::string> categories() const override { return {"encoding_smuggling"}; }

 private:
  explicit EncodingDetector(Config cfg) : cfg_(cfg) {}
  Config cfg_;
};

}  // namespace dg::detect
