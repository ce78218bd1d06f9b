#include "monitor/profile_builder.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>

#include "core/errors.h"
#include "detect/ood.h"
#include "store/audit_log.h"

namespace dg::monitor {
namespace {

using detect::OodProfile;

double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0.0;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(sorted.size() - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

LoadResult<std::shared_ptr<const OodProfile>> build_profile(const std::vector<std::string>& texts,
                                                            const text::Normalizer& normalizer,
                                                            const ProfileBuildOptions& opt, const std::string& source) {
  using R = LoadResult<std::shared_ptr<const OodProfile>>;
  auto fail = [&](std::string msg) {
    return R::failure({LoadError{source, 0, 0, std::string(errc::kConfigInvalidValue), std::move(msg)}});
  };
  if (!(opt.holdout > 0.0 && opt.holdout < 1.0)) return fail("holdout must be in (0, 1)");
  std::vector<std::vector<OodProfile::Feature>> feats;
  feats.reserve(texts.size());
  for (const auto& t : texts) {
    const auto n = normalizer.normalize(t);
    if (n.views.empty()) continue;
    const auto& v = n.views[detect::ood_view(n)];
    std::vector<OodProfile::Feature> f;
    const std::size_t words = OodProfile::features(std::string_view(v.text).substr(0, opt.max_scan_bytes), f);
    if (words < opt.min_words || words == 0) continue;
    feats.push_back(std::move(f));
  }
  if (opt.progress)
    opt.progress("read " + std::to_string(feats.size()) + " of " + std::to_string(texts.size()) +
                 " texts (the rest have fewer than " + std::to_string(opt.min_words) + " words)");
  if (feats.size() < opt.min_texts)
    return fail("only " + std::to_string(feats.size()) + " texts with at least " + std::to_string(opt.min_words) +
                " words; a profile needs " + std::to_string(opt.min_texts));
  std::mt19937_64 rng(opt.seed);
  std::shuffle(feats.begin(), feats.end(), rng);
  const auto held = std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(feats.size()) * opt.holdout));
  const std::size_t train = feats.size() - held;
  // Document frequencies of the training part only, so that the held-out calibration measures
  // texts the profile has not seen, as the detector will.
  std::vector<std::uint32_t> df(OodProfile::kIdfBuckets, 0);
  std::vector<std::size_t> seen(OodProfile::kIdfBuckets, SIZE_MAX);
  for (std::size_t doc = 0; doc < train; ++doc)
    for (const auto& x : feats[doc]) {
      const std::size_t b = OodProfile::bucket(x.hash);
      if (seen[b] != doc) {
        seen[b] = doc;
        ++df[b];
      }
    }
  std::vector<float> idf(OodProfile::kIdfBuckets);
  const double n = static_cast<double>(train);
  for (std::size_t b = 0; b < idf.size(); ++b) idf[b] = static_cast<float>(1.0 + std::log((n + 1.0) / (df[b] + 1.0)));
  std::vector<double> nov;
  nov.reserve(held);
  for (std::size_t i = train; i < feats.size(); ++i) nov.push_back(OodProfile::novelty(feats[i], idf));
  std::sort(nov.begin(), nov.end());
  OodProfile::Meta meta;
  meta.texts = feats.size();
  meta.holdout = held;
  meta.q50 = quantile(nov, 0.5);
  meta.q90 = quantile(nov, 0.9);
  meta.q99 = quantile(nov, 0.99);
  meta.q999 = quantile(nov, 0.999);
  meta.source = source;
  meta.created = utc_now();
  meta.seed = opt.seed;
  if (opt.progress)
    opt.progress("idf from " + std::to_string(train) + " texts; novelty of " + std::to_string(held) +
                 " held-out texts: median " + std::to_string(meta.q50) + ", 99th percentile " + std::to_string(meta.q99));
  return R::success(OodProfile::make(std::move(meta), std::move(idf)));
}

LoadResult<std::vector<std::string>> read_jsonl_texts(const std::string& path, const std::string& field) {
  using R = LoadResult<std::vector<std::string>>;
  std::ifstream in(path);
  if (!in) return R::failure({LoadError{path, 0, 0, std::string(errc::kInputIo), "cannot read the file"}});
  std::vector<std::string> out;
  std::string line;
  int no = 0;
  while (std::getline(in, line)) {
    ++no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      return R::failure({LoadError{path, no, 0, std::string(errc::kInvalidJson), std::string("not JSON: ") + e.what()}});
    }
    if (!j.is_object())
      return R::failure({LoadError{path, no, 0, std::string(errc::kInvalidJson), "a line must be a JSON object"}});
    const auto it = j.find(field);
    if (it == j.end())
      return R::failure({LoadError{path, no, 0, std::string(errc::kMissingField), "no field '" + field + "'"}});
    if (!it->is_string())
      return R::failure({LoadError{path, no, 0, std::string(errc::kFieldNotString), "field '" + field + "' is not a string"}});
    out.push_back(it->get<std::string>());
  }
  return R::success(std::move(out));
}

LoadResult<std::vector<std::string>> read_audit_prompts(const std::string& data_dir) {
  using R = LoadResult<std::vector<std::string>>;
  store::AuditLog::Options o;
  o.read_only = true;
  auto log = store::AuditLog::open(data_dir, o);
  const std::string file = data_dir + "/audit.db";
  if (!log.ok()) return R::failure({LoadError{file, 0, 0, log.error().code, log.error().message}});
  std::stringstream ss;
  if (auto st = (*log)->export_jsonl(ss); !st.ok())
    return R::failure({LoadError{file, 0, 0, st.error().code, st.error().message}});
  std::vector<std::string> out;
  std::string line;
  while (std::getline(ss, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) continue;
    const auto it = j.find("prompt_text");
    if (it != j.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) out.push_back(it->get<std::string>());
  }
  return R::success(std::move(out));
}

}  // namespace dg::monitor
