// Prometheus registry: exact text exposition 0.0.4 for a small registry, bounded label sets,
// escaping, declaration errors, concurrent increments.
#include "gateway/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

namespace dg::gateway::metrics {
namespace {

TEST(Metrics, ExactTextOfASmallRegistry) {
  Registry r;
  auto& requests = r.counter_family("dualguard_gateway_requests_total", "Requests answered, by route and code.",
                                    {{"route", {"/v1/scan", "/v1/chat/completions"}}, {"code", {}}});
  auto& latency = r.histogram_family("dualguard_gateway_request_seconds", "Request latency in seconds.",
                                     {{"route", {"/v1/scan"}}}, {0.005, 0.01, 0.1});
  Gauge& inflight = r.gauge("dualguard_gateway_in_flight", "Requests in flight.");
  Counter& reloads = r.counter("dualguard_gateway_reloads_total", "Config reloads.");
  Info& info = r.info("dualguard_policy_info", "The live policy.", {"sha256"});
  r.counter_family("dualguard_gateway_unused_total", "Never used: not printed.", {{"x", {}}});

  requests.with({"/v1/scan", "ok"}).inc();
  requests.with({"/v1/scan", "ok"}).inc(2);
  requests.with({"/v1/chat/completions", "rate_limited"}).inc();
  requests.with({"/admin/reload", "ok"}).inc();  // not an allowed route: "other"
  latency.with({"/v1/scan"}).observe(0.003);
  latency.with({"/v1/scan"}).observe(0.01);   // le is inclusive
  latency.with({"/v1/scan"}).observe(0.25);
  inflight.set(2);
  inflight.add(0.5);
  info.set({"ab12"});
  (void)reloads;

  EXPECT_EQ(r.render(),
            "# HELP dualguard_gateway_in_flight Requests in flight.\n"
            "# TYPE dualguard_gateway_in_flight gauge\n"
            "dualguard_gateway_in_flight 2.5\n"
            "# HELP dualguard_gateway_reloads_total Config reloads.\n"
            "# TYPE dualguard_gateway_reloads_total counter\n"
            "dualguard_gateway_reloads_total 0\n"
            "# HELP dualguard_gateway_request_seconds Request latency in seconds.\n"
            "# TYPE dualguard_gateway_request_seconds histogram\n"
            "dualguard_gateway_request_seconds_bucket{route=\"/v1/scan\",le=\"0.005\"} 1\n"
            "dualguard_gateway_request_seconds_bucket{route=\"/v1/scan\",le=\"0.01\"} 2\n"
            "dualguard_gateway_request_seconds_bucket{route=\"/v1/scan\",le=\"0.1\"} 2\n"
            "dualguard_gateway_request_seconds_bucket{route=\"/v1/scan\",le=\"+Inf\"} 3\n"
            "dualguard_gateway_request_seconds_sum{route=\"/v1/scan\"} 0.263\n"
            "dualguard_gateway_request_seconds_count{route=\"/v1/scan\"} 3\n"
            "# HELP dualguard_gateway_requests_total Requests answered, by route and code.\n"
            "# TYPE dualguard_gateway_requests_total counter\n"
            "dualguard_gateway_requests_total{route=\"/v1/chat/completions\",code=\"rate_limited\"} 1\n"
            "dualguard_gateway_requests_total{route=\"/v1/scan\",code=\"ok\"} 3\n"
            "dualguard_gateway_requests_total{route=\"other\",code=\"ok\"} 1\n"
            "# HELP dualguard_policy_info The live policy.\n"
            "# TYPE dualguard_policy_info gauge\n"
            "dualguard_policy_info{sha256=\"ab12\"} 1\n");

  info.set({"cd34"});  // a reload replaces the one series
  const std::string text = r.render();
  EXPECT_NE(text.find("dualguard_policy_info{sha256=\"cd34\"} 1\n"), std::string::npos);
  EXPECT_EQ(text.find("ab12"), std::string::npos);
}

TEST(Metrics, UnlabelledHistogram) {
  Registry r;
  Histogram& h = r.histogram("x_seconds", "X.", {1, 2.5});
  h.observe(3);
  h.observe(std::nan(""));  // ignored
  EXPECT_EQ(r.render(),
            "# HELP x_seconds X.\n"
            "# TYPE x_seconds histogram\n"
            "x_seconds_bucket{le=\"1\"} 0\n"
            "x_seconds_bucket{le=\"2.5\"} 0\n"
            "x_seconds_bucket{le=\"+Inf\"} 1\n"
            "x_seconds_sum 3\n"
            "x_seconds_count 1\n");
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  Registry r;
  auto& f = r.counter_family("esc_total", "Line one\nback\\slash \"quoted\".", {{"v", {}}});
  f.with({"a\"b\\c\nd"}).inc();
  EXPECT_EQ(r.render(),
            "# HELP esc_total Line one\\nback\\\\slash \"quoted\".\n"
            "# TYPE esc_total counter\n"
            "esc_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(Metrics, FreeLabelsAreBoundedByMaxSeries) {
  Registry r;
  auto& f = r.counter_family("bounded_total", "B.", {{"kind", {"a", "b"}}, {"model", {}}}, 2);
  f.with({"a", "m1"}).inc();
  f.with({"a", "m2"}).inc();
  f.with({"a", "m3"}).inc();  // third free combination: model becomes "other", kind is kept
  f.with({"b", "m4"}).inc();
  f.with({"zzz", "m5"}).inc();  // kind not allowed -> other; model overflow -> other
  f.with({"a", "m1"}).inc();    // existing series keep working
  f.with({"only-one-value"}).inc();  // wrong arity: the all-"other" series
  f.with({"a", std::string(200, 'x')}).inc();  // an over-long free value is "other" (and is overflow here)
  f.with({"b", "\xff\xfe"}).inc();             // invalid UTF-8 is "other"
  EXPECT_EQ(r.render(),
            "# HELP bounded_total B.\n"
            "# TYPE bounded_total counter\n"
            "bounded_total{kind=\"a\",model=\"m1\"} 2\n"
            "bounded_total{kind=\"a\",model=\"m2\"} 1\n"
            "bounded_total{kind=\"a\",model=\"other\"} 2\n"
            "bounded_total{kind=\"b\",model=\"other\"} 2\n"
            "bounded_total{kind=\"other\",model=\"other\"} 2\n");
  EXPECT_EQ(f.series_count(), 5u);
  // However many values arrive, the series stay bounded.
  for (int i = 0; i < 10000; ++i) f.with({i % 2 ? "a" : "b", "model-" + std::to_string(i)}).inc();
  EXPECT_EQ(f.series_count(), 5u);
}

TEST(Metrics, DeclarationErrorsThrow) {
  Registry r;
  r.counter("ok_total", "ok");
  EXPECT_THROW(r.counter("ok_total", "again"), std::invalid_argument);
  EXPECT_THROW(r.counter("no_suffix", "x"), std::invalid_argument);
  EXPECT_THROW(r.gauge("1bad", "x"), std::invalid_argument);
  EXPECT_THROW(r.gauge_family("g", "x", {{"__reserved", {}}}), std::invalid_argument);
  EXPECT_THROW(r.gauge_family("g2", "x", {{"a", {}}, {"a", {}}}), std::invalid_argument);
  EXPECT_THROW(r.histogram_family("h", "x", {{"le", {}}}, {1}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h2", "x", {2, 1}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h3", "x", {}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h4", "x", {1, std::numeric_limits<double>::infinity()}), std::invalid_argument);
  EXPECT_THROW(r.info("policy", "x", {"sha256"}), std::invalid_argument);
  EXPECT_THROW(r.counter_family("wide_total", "x", {{"a", {}}, {"b", {}}, {"c", {}}, {"d", {}}, {"e", {}}, {"f", {}},
                                                    {"g", {}}, {"h", {}}, {"i", {}}}),
               std::invalid_argument);
  try {
    r.counter("no_suffix", "x");
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "metric no_suffix: a counter's name must end in _total");
  }
}

TEST(Metrics, NumberFormat) {
  EXPECT_EQ(format_number(0), "0");
  EXPECT_EQ(format_number(0.005), "0.005");
  EXPECT_EQ(format_number(2.5), "2.5");
  EXPECT_EQ(format_number(10), "10");
  EXPECT_EQ(format_number(1e-05), "1e-05");
  EXPECT_EQ(format_number(-3), "-3");
  EXPECT_EQ(format_number(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_number(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_number(std::nan("")), "NaN");
  EXPECT_EQ(Registry::latency_buckets().front(), 0.001);
  EXPECT_EQ(Registry::latency_buckets().back(), 30);
}

TEST(Metrics, CollectorsRunBeforeRendering) {
  Registry r;
  Gauge& keys = r.gauge("keys", "Keys tracked.");
  int calls = 0;
  r.on_collect([&] { keys.set(++calls * 10); });
  EXPECT_EQ(r.render(), "# HELP keys Keys tracked.\n# TYPE keys gauge\nkeys 10\n");
  EXPECT_EQ(r.render(), "# HELP keys Keys tracked.\n# TYPE keys gauge\nkeys 20\n");
}

TEST(Metrics, ConcurrentIncrementsAreExact) {
  Registry r;
  auto& f = r.counter_family("c_total", "C.", {{"code", {}}}, 16);
  auto& h = r.histogram_family("h_seconds", "H.", {{"code", {}}}, {0.5}, 16);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        const std::string code = "c" + std::to_string(i % 8);
        f.with({code}).inc();
        h.with({code}).observe(t % 2 ? 0.25 : 1.0);
      }
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) {
    const std::string code = "c" + std::to_string(i);
    EXPECT_EQ(f.with({code}).value(), 10000u);
    const auto counts = h.with({code}).counts();
    EXPECT_EQ(counts[0], 5000u);
    EXPECT_EQ(counts[1], 5000u);
    EXPECT_DOUBLE_EQ(h.with({code}).sum(), 5000 * 0.25 + 5000 * 1.0);
  }
  EXPECT_EQ(f.series_count(), 8u);
}

}  // namespace
}  // namespace dg::gateway::metrics
