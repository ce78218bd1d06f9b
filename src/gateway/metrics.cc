#include "gateway/metrics.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <type_traits>

namespace dg::gateway::metrics {

namespace {

constexpr std::size_t kMaxValueBytes = 128;
constexpr std::size_t kMaxSeriesCap = 10000;

bool valid_metric_name(std::string_view n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool valid_label_name(std::string_view n) {
  if (n.empty() || n.starts_with("__")) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = cp << 6 | (cc & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

[[noreturn]] void bad(std::string_view name, std::string_view what) {
  throw std::invalid_argument("metric " + std::string(name) + ": " + std::string(what));
}

void check_family(std::string_view name, const std::vector<LabelDef>& labels, std::size_t max_series,
                  std::size_t max_labels, bool histogram) {
  if (!valid_metric_name(name)) bad(name, "invalid metric name");
  if (labels.size() > max_labels) bad(name, "too many labels (at most 8)");
  if (max_series < 1 || max_series > kMaxSeriesCap) bad(name, "max_series must be between 1 and 10000");
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (!valid_label_name(labels[i].name)) bad(name, "invalid label name '" + labels[i].name + "'");
    if (histogram && labels[i].name == "le") bad(name, "a histogram may not have a label 'le'");
    for (std::size_t j = 0; j < i; ++j)
      if (labels[j].name == labels[i].name) bad(name, "duplicate label '" + labels[i].name + "'");
    for (const auto& v : labels[i].allowed)
      if (!valid_utf8(v)) bad(name, "allowed value of '" + labels[i].name + "' is not valid UTF-8");
  }
}

}  // namespace

// Formatting -------------------------------------------------------------------------------------

std::string format_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void append_escaped_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

void append_escaped_help(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

void FamilyBase::render_header(std::string& out, std::string_view type) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  append_escaped_help(out, help_);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += type;
  out += '\n';
}

// Histogram --------------------------------------------------------------------------------------

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(&bounds), counts_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  for (std::size_t i = 0; i <= bounds.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) noexcept {
  if (std::isnan(v)) return;
  const auto& b = *bounds_;
  const std::size_t i = static_cast<std::size_t>(std::lower_bound(b.begin(), b.end(), v) - b.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::counts() const {
  std::vector<std::uint64_t> out(bounds_->size() + 1);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

// Family -----------------------------------------------------------------------------------------

template <typename S>
struct Family<S>::Entry {
  template <typename... A>
  Entry(std::vector<std::string> v, std::uint64_t h, bool u, A&&... a)
      : values(std::move(v)), hash(h), used(u), series(std::forward<A>(a)...) {}
  std::vector<std::string> values;
  std::uint64_t hash;
  std::atomic<bool> used;
  S series;
};

template <typename S>
Family<S>::Family(std::string name, std::string help, std::vector<LabelDef> labels, std::size_t max_series,
                  std::vector<double> bounds)
    : FamilyBase(std::move(name), std::move(help)),
      labels_(std::move(labels)),
      max_series_(max_series),
      bounds_(std::move(bounds)) {
  check_family(name_, labels_, max_series_, kMaxLabels, std::is_same_v<S, Histogram>);
  // Entries: max_series normal + max_series overflow + the all-"other" one; load factor <= 1/2.
  const std::size_t cap = std::bit_ceil(4 * max_series_ + 4);
  mask_ = cap - 1;
  slots_.reset(new std::atomic<Entry*>[cap]);
  for (std::size_t i = 0; i < cap; ++i) slots_[i].store(nullptr, std::memory_order_relaxed);
  std::vector<std::string_view> other(labels_.size(), kOther);
  std::lock_guard lock(mu_);
  all_other_ = create_locked(other, hash(other));
  // An unlabelled metric is its all-"other" series, printed from the start.
  all_other_->used.store(labels_.empty(), std::memory_order_relaxed);
}

template <typename S>
Family<S>::~Family() = default;

template <typename S>
std::uint64_t Family<S>::hash(std::span<const std::string_view> v) const noexcept {
  std::uint64_t h = 1469598103934665603ull;
  for (std::string_view s : v) {
    for (char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
    h ^= 0xff;  // separator: ("ab","c") != ("a","bc")
    h *= 1099511628211ull;
  }
  return h ^ (h >> 29);
}

template <typename S>
typename Family<S>::Entry* Family<S>::find(std::span<const std::string_view> v, std::uint64_t h) const noexcept {
  for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
    Entry* e = slots_[i].load(std::memory_order_acquire);
    if (!e) return nullptr;
    if (e->hash != h) continue;
    bool eq = true;
    for (std::size_t k = 0; k < v.size() && eq; ++k) eq = e->values[k] == v[k];
    if (eq) return e;
  }
}

template <typename S>
typename Family<S>::Entry* Family<S>::create_locked(std::span<const std::string_view> v, std::uint64_t h) {
  std::vector<std::string> values(v.begin(), v.end());
  Entry* e;
  if constexpr (std::is_same_v<S, Histogram>)
    e = &entries_.emplace_back(std::move(values), h, true, bounds_);
  else
    e = &entries_.emplace_back(std::move(values), h, true);
  std::size_t i = h & mask_;
  while (slots_[i].load(std::memory_order_relaxed)) i = (i + 1) & mask_;
  slots_[i].store(e, std::memory_order_release);
  return e;
}

template <typename S>
S& Family<S>::with(std::span<const std::string_view> values) noexcept {
  auto mark = [](Entry* e) -> S& {
    if (!e->used.load(std::memory_order_relaxed)) e->used.store(true, std::memory_order_relaxed);
    return e->series;
  };
  if (values.size() != labels_.size()) return mark(all_other_);
  std::array<std::string_view, kMaxLabels> key;
  bool has_free = false;
  for (std::size_t i = 0; i < labels_.size(); ++i) {
    std::string_view v = values[i];
    const auto& allowed = labels_[i].allowed;
    if (!allowed.empty()) {
      if (v != kOther && std::find(allowed.begin(), allowed.end(), v) == allowed.end()) v = kOther;
    } else {
      has_free = true;
      if (v.size() > kMaxValueBytes || !valid_utf8(v)) v = kOther;
    }
    key[i] = v;
  }
  const std::span<const std::string_view> k(key.data(), labels_.size());
  const std::uint64_t h = hash(k);
  if (Entry* e = find(k, h)) return mark(e);
  try {
    std::lock_guard lock(mu_);
    if (Entry* e = find(k, h)) return mark(e);
    if (normal_ < max_series_) {
      ++normal_;
      return create_locked(k, h)->series;
    }
    if (has_free) {
      for (std::size_t i = 0; i < labels_.size(); ++i)
        if (labels_[i].allowed.empty()) key[i] = kOther;
      const std::uint64_t h2 = hash(k);
      if (Entry* e = find(k, h2)) return mark(e);
      if (overflow_ < max_series_) {
        ++overflow_;
        return create_locked(k, h2)->series;
      }
    }
  } catch (...) {
  }
  return mark(all_other_);
}

template <typename S>
std::size_t Family<S>::series_count() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const Entry& e : entries_) n += e.used.load(std::memory_order_relaxed);
  return n;
}

namespace {

void append_labels(std::string& out, const std::vector<LabelDef>& defs, const std::vector<std::string>& values,
                   std::string_view le = {}) {
  if (defs.empty() && le.empty()) return;
  out += '{';
  for (std::size_t i = 0; i < defs.size(); ++i) {
    if (i) out += ',';
    out += defs[i].name;
    out += "=\"";
    append_escaped_label_value(out, values[i]);
    out += '"';
  }
  if (!le.empty()) {
    if (!defs.empty()) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}

}  // namespace

template <typename S>
void Family<S>::render_series(std::string& out, const Entry& e) const {
  if constexpr (std::is_same_v<S, Counter>) {
    out += name_;
    append_labels(out, labels_, e.values);
    out += ' ';
    out += std::to_string(e.series.value());
    out += '\n';
  } else if constexpr (std::is_same_v<S, Gauge>) {
    out += name_;
    append_labels(out, labels_, e.values);
    out += ' ';
    out += format_number(e.series.value());
    out += '\n';
  } else {
    const std::vector<std::uint64_t> counts = e.series.counts();
    const double sum = e.series.sum();
    std::uint64_t cum = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      cum += counts[i];
      out += name_;
      out += "_bucket";
      append_labels(out, labels_, e.values, i < bounds_.size() ? format_number(bounds_[i]) : "+Inf");
      out += ' ';
      out += std::to_string(cum);
      out += '\n';
    }
    out += name_;
    out += "_sum";
    append_labels(out, labels_, e.values);
    out += ' ';
    out += format_number(sum);
    out += '\n';
    out += name_;
    out += "_count";
    append_labels(out, labels_, e.values);
    out += ' ';
    out += std::to_string(cum);
    out += '\n';
  }
}

template <typename S>
void Family<S>::render(std::string& out) const {
  std::vector<const Entry*> used;
  {
    std::lock_guard lock(mu_);
    for (const Entry& e : entries_)
      if (e.used.load(std::memory_order_relaxed)) used.push_back(&e);
  }
  if (used.empty()) return;
  std::sort(used.begin(), used.end(), [](const Entry* a, const Entry* b) { return a->values < b->values; });
  render_header(out, std::is_same_v<S, Counter> ? "counter" : std::is_same_v<S, Gauge> ? "gauge" : "histogram");
  for (const Entry* e : used) render_series(out, *e);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// Info -------------------------------------------------------------------------------------------

Info::Info(std::string name, std::string help, std::vector<std::string> label_names)
    : FamilyBase(std::move(name), std::move(help)), label_names_(std::move(label_names)) {
  if (!valid_metric_name(name_) || !name_.ends_with("_info")) bad(name_, "an info metric's name must end in _info");
  for (const auto& l : label_names_)
    if (!valid_label_name(l)) bad(name_, "invalid label name '" + l + "'");
}

void Info::set(std::vector<std::string> values) {
  if (values.size() != label_names_.size()) return;
  std::lock_guard lock(mu_);
  values_ = std::move(values);
}

void Info::render(std::string& out) const {
  std::vector<std::string> values;
  {
    std::lock_guard lock(mu_);
    values = values_;
  }
  if (values.empty() && !label_names_.empty()) return;
  render_header(out, "gauge");
  out += name_;
  if (!label_names_.empty()) {
    out += '{';
    for (std::size_t i = 0; i < label_names_.size(); ++i) {
      if (i) out += ',';
      out += label_names_[i];
      out += "=\"";
      append_escaped_label_value(out, values[i]);
      out += '"';
    }
    out += '}';
  }
  out += " 1\n";
}

// Registry ---------------------------------------------------------------------------------------

template <typename F>
F& Registry::add(std::unique_ptr<F> f) {
  std::lock_guard lock(mu_);
  for (const auto& g : families_)
    if (g->name() == f->name()) bad(f->name(), "declared twice");
  F& ref = *f;
  families_.push_back(std::move(f));
  return ref;
}

Family<Counter>& Registry::counter_family(std::string name, std::string help, std::vector<LabelDef> labels,
                                          std::size_t max_series) {
  if (!name.ends_with("_total")) bad(name, "a counter's name must end in _total");
  return add(std::make_unique<Family<Counter>>(std::move(name), std::move(help), std::move(labels), max_series));
}

Family<Gauge>& Registry::gauge_family(std::string name, std::string help, std::vector<LabelDef> labels,
                                      std::size_t max_series) {
  return add(std::make_unique<Family<Gauge>>(std::move(name), std::move(help), std::move(labels), max_series));
}

Family<Histogram>& Registry::histogram_family(std::string name, std::string help, std::vector<LabelDef> labels,
                                              std::vector<double> buckets, std::size_t max_series) {
  if (buckets.empty()) bad(name, "a histogram needs at least one bucket");
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (!std::isfinite(buckets[i])) bad(name, "bucket bounds must be finite (+Inf is implied)");
    if (i > 0 && !(buckets[i] > buckets[i - 1])) bad(name, "bucket bounds must be strictly increasing");
  }
  return add(std::make_unique<Family<Histogram>>(std::move(name), std::move(help), std::move(labels), max_series,
                                                 std::move(buckets)));
}

Counter& Registry::counter(std::string name, std::string help) {
  return counter_family(std::move(name), std::move(help), {}, 1).with({});
}
Gauge& Registry::gauge(std::string name, std::string help) {
  return gauge_family(std::move(name), std::move(help), {}, 1).with({});
}
Histogram& Registry::histogram(std::string name, std::string help, std::vector<double> buckets) {
  return histogram_family(std::move(name), std::move(help), {}, std::move(buckets), 1).with({});
}

Info& Registry::info(std::string name, std::string help, std::vector<std::string> label_names) {
  return add(std::make_unique<Info>(std::move(name), std::move(help), std::move(label_names)));
}

void Registry::on_collect(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(fn));
}

std::string Registry::render() const {
  std::vector<const FamilyBase*> families;
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mu_);
    for (const auto& f : families_) families.push_back(f.get());
    collectors = collectors_;
  }
  for (const auto& c : collectors) c();
  std::sort(families.begin(), families.end(), [](const FamilyBase* a, const FamilyBase* b) { return a->name() < b->name(); });
  std::string out;
  for (const FamilyBase* f : families) f->render(out);
  return out;
}

std::vector<double> Registry::latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

}  // namespace dg::gateway::metrics
