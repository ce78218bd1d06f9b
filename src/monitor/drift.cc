#include "monitor/drift.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

namespace dg::monitor {

namespace {

// Categories rarer than this in both windows are pooled for PSI: each sparse bin adds about
// 1/n + 1/m of noise to the index, and a dozen of them would pass the threshold on their own.
constexpr double kRareShare = 0.02;

// Decodes one UTF-8 code point at s[i]; advances i. Invalid bytes decode to U+FFFD, one byte each.
char32_t next_cp(std::string_view s, std::size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (len == 0 || i + len > s.size()) {
    ++i;
    return 0xFFFD;
  }
  char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (int k = 1; k < len; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc >> 6) != 2) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  i += len;
  return cp;
}

const char* script_of(char32_t cp) {
  if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7) ||
      (cp >= 0x1E00 && cp <= 0x1EFF))
    return "latin";
  if (cp >= 0x370 && cp <= 0x3FF) return "greek";
  if (cp >= 0x400 && cp <= 0x52F) return "cyrillic";
  if (cp >= 0x590 && cp <= 0x5FF) return "hebrew";
  if ((cp >= 0x600 && cp <= 0x6FF) || (cp >= 0x750 && cp <= 0x77F)) return "arabic";
  if (cp >= 0x900 && cp <= 0x97F) return "devanagari";
  if (cp >= 0xE00 && cp <= 0xE7F) return "thai";
  if ((cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
      (cp >= 0xF900 && cp <= 0xFAFF))
    return "cjk";
  if (cp < 0x80) return nullptr;  // digits, punctuation, spaces
  // Letters of other scripts; symbols and emoji are not letters.
  if ((cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x1F000 && cp <= 0x1FAFF) || cp == 0xFFFD || (cp >= 0x80 && cp < 0xC0))
    return nullptr;
  return "other";
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

std::string pct(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f%%", 100.0 * x);
  return b;
}

void add_numeric(std::vector<double>& sample, std::size_t& seen, double value, std::size_t cap, std::mt19937_64& rng) {
  ++seen;
  if (sample.size() < cap) {
    sample.push_back(value);
  } else {
    std::uniform_int_distribution<std::size_t> pick(0, seen - 1);
    const std::size_t j = pick(rng);
    if (j < cap) sample[j] = value;
  }
}

}  // namespace

std::string dominant_script(std::string_view s) {
  std::map<std::string_view, std::size_t> n;
  for (std::size_t i = 0; i < s.size();) {
    if (const char* sc = script_of(next_cp(s, i))) ++n[sc];
  }
  if (n.empty()) return "none";
  return std::string(std::max_element(n.begin(), n.end(), [](const auto& a, const auto& b) { return a.second < b.second; })->first);
}

double psi(const std::vector<double>& base, const std::vector<double>& cur) {
  double tb = 0, tc = 0;
  for (double x : base) tb += x + 0.5;
  for (double x : cur) tc += x + 0.5;
  double v = 0.0;
  for (std::size_t i = 0; i < base.size() && i < cur.size(); ++i) {
    const double pb = (base[i] + 0.5) / tb, pc = (cur[i] + 0.5) / tc;
    v += (pc - pb) * std::log(pc / pb);
  }
  return v;
}

double wasserstein(std::vector<double>& a, std::vector<double>& b) {
  if (a.empty() || b.empty()) return 0.0;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  auto q = [](const std::vector<double>& v, double p) { return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))]; };
  double sum = 0.0;
  for (int i = 0; i < 100; ++i) {
    const double p = (i + 0.5) / 100.0;
    sum += std::fabs(q(a, p) - q(b, p));
  }
  return sum / 100.0;
}

KsResult ks_two_sample(std::vector<double>& a, std::vector<double>& b) {
  KsResult r;
  if (a.empty() || b.empty()) return r;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  const double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  std::size_t i = 0, j = 0;
  double d = 0.0;
  while (i < a.size() && j < b.size()) {
    const double x = std::min(a[i], b[j]);
    while (i < a.size() && a[i] <= x) ++i;
    while (j < b.size() && b[j] <= x) ++j;
    d = std::max(d, std::fabs(static_cast<double>(i) / na - static_cast<double>(j) / nb));
  }
  r.d = d;
  // Asymptotic Kolmogorov distribution with Stephens' small-sample correction.
  const double en = std::sqrt(na * nb / (na + nb));
  const double lambda = (en + 0.12 + 0.11 / en) * d;
  if (lambda < 1e-3) return r;  // p = 1
  double p = 0.0, sign = 1.0;
  for (int k = 1; k <= 100; ++k) {
    const double term = sign * std::exp(-2.0 * k * k * lambda * lambda);
    p += term;
    if (std::fabs(term) < 1e-10) break;
    sign = -sign;
  }
  r.p = std::clamp(2.0 * p, 0.0, 1.0);
  return r;
}

DriftMonitor::DriftMonitor(DriftOptions options) : opt_(std::move(options)), rng_(opt_.seed) {
  opt_.buckets = std::max(1, opt_.buckets);
}

double decile_psi(const std::vector<double>& base, const std::vector<double>& cur) {
  // Bins at the baseline's deciles (ties merged, so a mostly-zero score has few bins).
  std::vector<double> sorted = base;
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> edges;
  for (int q = 1; q < 10; ++q) {
    const double e = sorted[sorted.size() * static_cast<std::size_t>(q) / 10];
    if (edges.empty() || e > edges.back()) edges.push_back(e);
  }
  auto hist = [&](const std::vector<double>& v) {
    std::vector<double> h(edges.size() + 1, 0.0);
    for (double x : v) h[static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), x) - edges.begin())] += 1.0;
    return h;
  };
  return psi(hist(base), hist(cur));
}

void DriftMonitor::add(Window& w, const DriftObservation& o, std::size_t cap) {
  if (o.has_prompt) {
    const double lx = std::log2(1.0 + static_cast<double>(o.prompt_bytes));
    add_numeric(w.length.sample, w.length.seen, lx, cap, rng_);
    w.language.n[o.language.empty() ? "none" : o.language] += 1.0;
    w.language.total += 1.0;
  }
  const double s = std::clamp(o.finding_score, 0.0, 1.0);
  add_numeric(w.score.sample, w.score.seen, s, cap, rng_);
  if (o.categories.empty()) {
    w.categories.n["none"] += 1.0;
  } else {
    for (const auto& c : o.categories) w.categories.n[c] += 1.0;
  }
  w.categories.total += 1.0;  // per verdict: shares are "verdicts with this category"
  if (o.has_response) {
    w.refusal.n[o.refused ? "yes" : "no"] += 1.0;
    w.refusal.total += 1.0;
  }
  w.violation.n[o.violation ? "yes" : "no"] += 1.0;
  w.violation.total += 1.0;
}

void DriftMonitor::observe(const DriftObservation& o) {
  if (base_start_ < 0) base_start_ = o.ts_ms;
  if (!frozen_) {
    add(base_, o, opt_.reservoir);
    if (o.ts_ms - base_start_ >= opt_.baseline_ms && base_.violation.total >= static_cast<double>(opt_.min_samples))
      frozen_ = true;
    return;  // the baseline's own traffic is not compared with itself
  }
  const std::int64_t width = std::max<std::int64_t>(1, opt_.window_ms / opt_.buckets);
  const std::int64_t start = o.ts_ms - (o.ts_ms % width);
  if (buckets_.empty() || buckets_.back().start_ms < start) {
    Window w;
    w.start_ms = start;
    buckets_.push_back(std::move(w));
  }
  while (!buckets_.empty() && buckets_.front().start_ms + opt_.window_ms <= o.ts_ms) buckets_.pop_front();
  // A late observation lands in the newest bucket: windows are approximate at their edges.
  add(buckets_.back(), o, std::max<std::size_t>(16, opt_.reservoir / static_cast<std::size_t>(opt_.buckets)));
}

DriftMonitor::Window DriftMonitor::current(std::int64_t now_ms) const {
  Window w;
  auto merge_counts = [](Counts& into, const Counts& c) {
    for (const auto& [k, v] : c.n) into.n[k] += v;
    into.total += c.total;
  };
  auto merge_num = [](Numeric& into, const Numeric& n) {
    into.sample.insert(into.sample.end(), n.sample.begin(), n.sample.end());
    into.seen += n.seen;
  };
  for (const auto& b : buckets_) {
    if (b.start_ms + opt_.window_ms <= now_ms) continue;
    merge_num(w.length, b.length);
    merge_num(w.score, b.score);
    merge_counts(w.language, b.language);
    merge_counts(w.categories, b.categories);
    merge_counts(w.refusal, b.refusal);
    merge_counts(w.violation, b.violation);
  }
  return w;
}

void DriftMonitor::rebase(std::int64_t now_ms) {
  base_ = Window{};
  base_start_ = now_ms;
  frozen_ = false;
  buckets_.clear();
}

std::vector<DriftStat> DriftMonitor::evaluate(std::int64_t now_ms) {
  const Window cur = current(now_ms);
  std::vector<DriftStat> out;
  const auto min_n = static_cast<double>(opt_.min_samples);

  auto numeric = [&](std::string name, const Numeric& b, const Numeric& c, double min_shift, auto show) {
    DriftStat s;
    s.statistic = std::move(name);
    s.type = "numeric";
    s.baseline_n = b.seen;
    s.current_n = c.seen;
    s.judged = frozen_ && static_cast<double>(b.seen) >= min_n && static_cast<double>(c.seen) >= min_n;
    if (s.judged) {
      s.psi = decile_psi(b.sample, c.sample);
      std::vector<double> x = b.sample, y = c.sample;
      const KsResult k = ks_two_sample(x, y);
      s.ks_d = k.d;
      s.ks_p = k.p;
      s.shift = wasserstein(x, y);
      s.drifted = (s.psi >= opt_.psi_threshold || (k.p < opt_.ks_alpha && k.d >= opt_.ks_min_d)) && *s.shift >= min_shift;
      s.detail = "median " + show(median(b.sample)) + " -> " + show(median(c.sample));
    }
    out.push_back(std::move(s));
  };
  auto categorical = [&](std::string name, std::string type, const Counts& b, const Counts& c) {
    DriftStat s;
    s.statistic = std::move(name);
    s.type = std::move(type);
    s.baseline_n = static_cast<std::size_t>(b.total);
    s.current_n = static_cast<std::size_t>(c.total);
    s.judged = frozen_ && b.total >= min_n && c.total >= min_n;
    if (s.judged) {
      std::set<std::string> keys;
      for (const auto& [k, v] : b.n) keys.insert(k);
      for (const auto& [k, v] : c.n) keys.insert(k);
      std::vector<double> bv{0.0}, cv{0.0};  // [0] pools the rare categories
      std::string moved;
      double most = -1.0, mb = 0, mc = 0;
      for (const auto& k : keys) {
        const auto ib = b.n.find(k);
        const auto ic = c.n.find(k);
        const double xb = ib == b.n.end() ? 0.0 : ib->second, xc = ic == c.n.end() ? 0.0 : ic->second;
        const double sb = xb / b.total, sc = xc / c.total;
        if (sb < kRareShare && sc < kRareShare) {
          bv[0] += xb;
          cv[0] += xc;
        } else {
          bv.push_back(xb);
          cv.push_back(xc);
        }
        if (std::fabs(sc - sb) > most && !(s.type == "rate" && k == "no")) {
          most = std::fabs(sc - sb);
          moved = k;
          mb = sb;
          mc = sc;
        }
      }
      s.psi = psi(bv, cv);
      s.drifted = s.psi >= opt_.psi_threshold;
      s.detail = (s.type == "rate" ? std::string() : moved + " ") + pct(mb) + " -> " + pct(mc);
    }
    out.push_back(std::move(s));
  };

  numeric("prompt_length", base_.length, cur.length, opt_.min_length_shift, [](double lx) {
    return std::to_string(static_cast<long long>(std::llround(std::exp2(lx) - 1.0))) + " bytes";
  });
  categorical("language", "categorical", base_.language, cur.language);
  categorical("category_mix", "categorical", base_.categories, cur.categories);
  numeric("finding_score", base_.score, cur.score, opt_.min_score_shift, [](double x) {
    char b[16];
    std::snprintf(b, sizeof b, "%.2f", x);
    return std::string(b);
  });
  categorical("refusal_rate", "rate", base_.refusal, cur.refusal);
  categorical("violation_rate", "rate", base_.violation, cur.violation);
  return out;
}

}  // namespace dg::monitor
