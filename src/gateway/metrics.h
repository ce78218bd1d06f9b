// A small Prometheus registry for `GET /metrics`: counters, gauges, histograms and info metrics,
// rendered in the text exposition format 0.0.4.
//
// Families are declared once, at start-up, with their label names and, per label, an optional set of
// allowed values. Label sets are bounded: a value outside a label's allowed set becomes "other"; a
// free label (no allowed set) takes any value until the family holds `max_series` series, after which
// new combinations have their free labels set to "other" (closed labels keep their value; such
// overflow series are capped at `max_series` too, then everything lands in the all-"other" series).
// Free values longer than 128 bytes or not valid UTF-8 also become "other".
//
// Hot path: `family.with({...})` finds a series without a lock (an open-addressing table of atomic
// pointers, published once per series) and the series' methods are relaxed atomics; only the first
// use of a combination takes the family's mutex to create it. A series lives as long as the registry;
// callers may keep the reference (the cheapest way: look up once, increment forever).
//
// Output: families sorted by name, series sorted by label values; HELP and TYPE lines; label values
// escaped (\\, \", \n); histograms as cumulative `_bucket{...,le="..."}` lines ending with
// le="+Inf", then `_sum` and `_count`. Counters are integers; other numbers print in the shortest
// form that reads back exactly (0.005, 2.5, 1e-05, +Inf, NaN). A family without any series is not
// printed. Unlabelled metrics print from the start (value 0).
//
// Declaration errors (bad names, duplicates, unsorted buckets, too many labels) are programmer errors
// found at start-up: they throw std::invalid_argument with a message naming the metric.
//
// Thread safety: everything may be called from any thread. render() reads series while they change;
// each number is read atomically, and a histogram's `_count` always equals its `+Inf` bucket.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dg::gateway::metrics {

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view kOther = "other";

struct LabelDef {
  std::string name;
  std::vector<std::string> allowed;  // empty: a free label ("other" is always allowed)
};

class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class Gauge {
 public:
  void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void add(double d) noexcept { v_.fetch_add(d, std::memory_order_relaxed); }
  void sub(double d) noexcept { v_.fetch_sub(d, std::memory_order_relaxed); }
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0.0};
};

class Histogram {
 public:
  // `bounds`: sorted upper bounds (le), without +Inf; owned by the family, outlives the series.
  explicit Histogram(const std::vector<double>& bounds);
  // Counts `v` in the first bucket whose bound is >= v (and in +Inf). NaN is ignored.
  void observe(double v) noexcept;

  // Non-cumulative counts per bucket, the last one for values above every bound.
  std::vector<std::uint64_t> counts() const;
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }
  const std::vector<double>& bounds() const noexcept { return *bounds_; }

 private:
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<double> sum_{0.0};
};

// What every family has in common, for the registry's rendering.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  const std::string& name() const noexcept { return name_; }
  virtual void render(std::string& out) const = 0;

 protected:
  FamilyBase(std::string name, std::string help) : name_(std::move(name)), help_(std::move(help)) {}
  void render_header(std::string& out, std::string_view type) const;
  std::string name_;
  std::string help_;
};

// A metric with labels: one series of type S (Counter, Gauge or Histogram) per label combination.
template <typename S>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, std::vector<LabelDef> labels, std::size_t max_series,
         std::vector<double> bounds = {});
  ~Family() override;

  // The series for these label values, in the order the labels were declared (see the bounding rules
  // above). A wrong number of values is a programmer error: it gets the all-"other" series. Never throws
  // (if a new series cannot be allocated, the all-"other" series is returned).
  S& with(std::span<const std::string_view> values) noexcept;
  S& with(std::initializer_list<std::string_view> values) noexcept {
    return with(std::span<const std::string_view>(values.begin(), values.size()));
  }

  std::size_t series_count() const;  // series in use (rendered)
  void render(std::string& out) const override;

 private:
  struct Entry;
  static constexpr std::size_t kMaxLabels = 8;
  std::uint64_t hash(std::span<const std::string_view> v) const noexcept;
  Entry* find(std::span<const std::string_view> v, std::uint64_t h) const noexcept;
  Entry* create_locked(std::span<const std::string_view> v, std::uint64_t h);
  void render_series(std::string& out, const Entry& e) const;

  std::vector<LabelDef> labels_;
  std::size_t max_series_;
  std::vector<double> bounds_;  // histograms only
  std::size_t mask_;
  std::unique_ptr<std::atomic<Entry*>[]> slots_;
  mutable std::mutex mu_;  // creation; entries_ and the counts below
  std::deque<Entry> entries_;
  std::size_t normal_ = 0, overflow_ = 0;
  Entry* all_other_ = nullptr;
};

// An info metric: one series with value 1 whose labels say what is live, e.g.
// `dualguard_policy_info{sha256="..."} 1`. set() replaces the labels (on reload). Not for the hot path.
class Info final : public FamilyBase {
 public:
  Info(std::string name, std::string help, std::vector<std::string> label_names);
  // `values` in the order of the label names; a wrong count is ignored. Values are not bounded: the
  // series is replaced, so there is only ever one.
  void set(std::vector<std::string> values);
  void render(std::string& out) const override;

 private:
  std::vector<std::string> label_names_;
  mutable std::mutex mu_;
  std::vector<std::string> values_;  // empty until set
};

class Registry {
 public:
  // Counter names must end in "_total". Default max_series: 64.
  Family<Counter>& counter_family(std::string name, std::string help, std::vector<LabelDef> labels,
                                  std::size_t max_series = 64);
  Family<Gauge>& gauge_family(std::string name, std::string help, std::vector<LabelDef> labels,
                              std::size_t max_series = 64);
  // `buckets`: strictly increasing, finite upper bounds (+Inf is implied).
  Family<Histogram>& histogram_family(std::string name, std::string help, std::vector<LabelDef> labels,
                                      std::vector<double> buckets, std::size_t max_series = 64);
  // Unlabelled metrics.
  Counter& counter(std::string name, std::string help);
  Gauge& gauge(std::string name, std::string help);
  Histogram& histogram(std::string name, std::string help, std::vector<double> buckets);
  // Names must end in "_info"; e.g. info("dualguard_policy_info", "...", {"sha256"}).
  Info& info(std::string name, std::string help, std::vector<std::string> label_names);

  // Called by render() before reading, e.g. to copy the limiter's and breakers' state into gauges.
  // Callbacks must not declare metrics or call render().
  void on_collect(std::function<void()> fn);

  // The whole exposition (text format 0.0.4).
  std::string render() const;

  // Latency buckets in seconds, 1 ms to 30 s: 0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30.
  static std::vector<double> latency_buckets();

 private:
  template <typename F>
  F& add(std::unique_ptr<F> f);
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
  std::vector<std::function<void()>> collectors_;
};

// Helpers used by rendering, public for tests.
std::string format_number(double v);           // shortest exact form; +Inf, -Inf, NaN
void append_escaped_label_value(std::string& out, std::string_view v);
void append_escaped_help(std::string& out, std::string_view v);

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

}  // namespace dg::gateway::metrics
