// Micro-benchmarks of the gateway's per-request building blocks (src/gateway), no networking:
//
//   BM_LimiterAdmit/<keys>        Limiter::admit + Permit::charge_tokens + release, every limit set,
//                                 round robin over <keys> keys (1: one hot key; 1000: many)
//   BM_LimiterAdmit_Threads       the same, 1000 keys, two threads (contention on shard locks)
//   BM_AbuseObserve/<bytes>       AbuseDetector::observe on varied prose prompts of ~<bytes> bytes,
//                                 100 keys, full 32-prompt histories, time advancing 50 ms per call
//   BM_AbuseObserve_Extraction    the same on templated prompts that fire model_extraction every call
//   BM_MetricsWithInc             Family::with({route, code}).inc() (lock-free lookup + atomic add)
//   BM_RequestPath                admit + observe (~300 B prompt) + two metric updates: the gateway's
//                                 per-request overhead outside the engine and the network
//   BM_MonitorSubmit              what the monitors cost a request: building the MonitorEvent of a
//                                 verdict with findings (highlight segments of a 1 KB prompt, dominant
//                                 script) and MonitorHub::submit into a running hub (SQLite store)
//   BM_CorrelatorObserve          Correlator::observe, 1000 actors, half the verdicts notable
//   BM_DriftObserve               DriftMonitor::observe (frozen baseline, sliding window)
//
//   dg_gateway_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "bench/textgen.h"
#include "gateway/abuse.h"
#include "gateway/clock.h"
#include "gateway/limiter.h"
#include "gateway/metrics.h"
#include "gateway/monitor_hub.h"
#include "gateway/openai.h"
#include "monitor/correlator.h"
#include "monitor/drift.h"

namespace {

using namespace dg::gateway;
using namespace dg;  // Finding, Action, ... (monitor benchmarks)
using namespace std::chrono_literals;

std::vector<std::string> keys(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back("dg_" + std::to_string(100000000000 + i));
  return out;
}

std::unique_ptr<Limiter> limiter(const Clock& clock) {
  Limiter::Config c;
  // Every limit on, none reached: the benchmark measures the admitted path.
  c.defaults = {.requests_per_minute = 60'000'000, .tokens_per_day = std::uint64_t{1} << 50, .concurrent = 1'000'000,
                .max_body_bytes = 1 << 20};
  c.burst = 1'000'000;
  return std::move(*Limiter::create(c, clock).value);
}

void BM_LimiterAdmit(benchmark::State& state) {
  const auto ks = keys(static_cast<std::size_t>(state.range(0)));
  // A manual clock moving 1 µs per request: one hot key stays within 60 000 000 per minute.
  ManualClock clock;
  auto lim = limiter(clock);
  std::size_t i = 0;
  for (auto _ : state) {
    Admission a = lim->admit(ks[i++ % ks.size()], {}, {.body_bytes = 2048, .estimated_tokens = 500});
    if (!a) {
      state.SkipWithError("rejected: the limits above should never be reached");
      break;
    }
    a.permit.charge_tokens(420);
    benchmark::DoNotOptimize(a);
    clock.advance(1us);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_LimiterAdmit)->Arg(1)->Arg(1000)->Unit(benchmark::kNanosecond);

void BM_LimiterAdmit_Threads(benchmark::State& state) {
  static const auto ks = keys(1000);
  static std::unique_ptr<Limiter> lim;
  if (state.thread_index() == 0) lim = limiter(Clock::real());
  // Google Benchmark starts all threads' loops together, after thread 0's setup above.
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 500;
  for (auto _ : state) {
    Admission a = lim->admit(ks[i++ % ks.size()], {}, {.body_bytes = 2048, .estimated_tokens = 500});
    a.permit.charge_tokens(420);
    benchmark::DoNotOptimize(a);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_LimiterAdmit_Threads)->Threads(2)->UseRealTime()->Unit(benchmark::kNanosecond);

std::vector<std::string> prose_prompts(std::size_t n, std::size_t bytes) {
  dg::bench::TextGen gen(42);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(gen.make(dg::bench::Kind::prose, bytes));
  return out;
}

void run_observe(benchmark::State& state, const std::vector<std::string>& prompts) {
  auto det = std::move(*AbuseDetector::create({}).value);
  const auto ks = keys(100);
  ManualClock clock;
  // Fill every key's history first so that each call compares against 32 remembered prompts.
  for (std::size_t i = 0; i < ks.size() * 32; ++i) {
    det->observe(ks[i % ks.size()], prompts[i % prompts.size()], 300, clock.steady_now());
    clock.advance(50ms);
  }
  std::size_t i = 0, findings = 0;
  for (auto _ : state) {
    auto fs = det->observe(ks[i % ks.size()], prompts[i % prompts.size()], 300, clock.steady_now());
    findings += fs.size();
    clock.advance(50ms);
    ++i;
  }
  state.counters["findings_per_call"] = static_cast<double>(findings) / static_cast<double>(std::max<std::size_t>(i, 1));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_AbuseObserve(benchmark::State& state) {
  static const auto small = prose_prompts(97, 300);
  static const auto large = prose_prompts(97, 1024);
  run_observe(state, state.range(0) <= 300 ? small : large);
}
BENCHMARK(BM_AbuseObserve)->Arg(300)->Arg(1024)->Unit(benchmark::kMicrosecond);

void BM_AbuseObserve_Extraction(benchmark::State& state) {
  std::vector<std::string> prompts;
  for (int n = 0; n < 97; ++n)
    prompts.push_back("Is the number " + std::to_string(1000 + n * 7) + " a prime number? Answer with yes or no only.");
  run_observe(state, prompts);
}
BENCHMARK(BM_AbuseObserve_Extraction)->Unit(benchmark::kMicrosecond);

void BM_MetricsWithInc(benchmark::State& state) {
  metrics::Registry r;
  auto& f = r.counter_family("dualguard_gateway_requests_total", "Requests.",
                             {{"route", {"/v1/scan", "/v1/chat/completions", "/v1/completions"}}, {"code", {}}});
  const char* codes[] = {"ok", "rate_limited", "blocked_by_policy", "upstream_error"};
  std::size_t i = 0;
  for (auto _ : state) {
    f.with({"/v1/chat/completions", codes[i++ & 3]}).inc();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_MetricsWithInc)->Unit(benchmark::kNanosecond);

void BM_RequestPath(benchmark::State& state) {
  static const auto prompts = prose_prompts(97, 300);
  const auto ks = keys(100);
  ManualClock clock;
  Limiter::Config lc;
  lc.defaults = {.requests_per_minute = 60'000'000, .tokens_per_day = std::uint64_t{1} << 50, .concurrent = 1000,
                 .max_body_bytes = 1 << 20};
  lc.burst = 1'000'000;
  auto lim = std::move(*Limiter::create(lc, clock).value);
  auto det = std::move(*AbuseDetector::create({}).value);
  metrics::Registry r;
  auto& requests = r.counter_family("dualguard_gateway_requests_total", "Requests.", {{"route", {"/v1/chat/completions"}}, {"code", {}}});
  auto& latency = r.histogram_family("dualguard_gateway_request_seconds", "Latency.", {{"route", {"/v1/chat/completions"}}},
                                     metrics::Registry::latency_buckets());
  for (std::size_t i = 0; i < ks.size() * 32; ++i) {
    det->observe(ks[i % ks.size()], prompts[i % prompts.size()], 300, clock.steady_now());
    clock.advance(50ms);
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const std::string& key = ks[i % ks.size()];
    const std::string& prompt = prompts[i % prompts.size()];
    Admission a = lim->admit(key, {}, {.body_bytes = prompt.size() + 200, .estimated_tokens = 400});
    auto fs = det->observe(key, prompt, 400, clock.steady_now());
    benchmark::DoNotOptimize(fs);
    a.permit.charge_tokens(350);
    requests.with({"/v1/chat/completions", "ok"}).inc();
    latency.with({"/v1/chat/completions"}).observe(0.0123);
    clock.advance(50ms);
    ++i;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_RequestPath)->Unit(benchmark::kMicrosecond);

void BM_MonitorSubmit(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / ("dg_bench_hub_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    auto store = store::IncidentStore::open(dir);
    if (!store.ok()) {
      state.SkipWithError(store.error().message.c_str());
      return;
    }
    MonitorOptions mo;
    mo.queue = 1 << 20;
    MonitorHub hub(mo, {}, std::move(*store));
    hub.start();
    bench::TextGen gen(7);
    const std::string prompt = gen.make(bench::Kind::prose, 1024);
    Finding f;
    f.category = "prompt_injection";
    f.domain = Domain::security;
    f.severity = Severity::high;
    f.score = 0.9;
    f.spans = {{100, 180}, {400, 420}};
    const std::vector<Finding> fs{f};
    std::int64_t i = 0;
    for (auto _ : state) {
      MonitorEvent m;
      m.v.action = Action::allow;  // allowed with a high finding: notable, joins its actor's incident
      m.v.cls = VerdictClass::security;
      m.v.key_id = "k" + std::to_string(i % 100);
      m.v.ts_ms = 1'700'000'000'000 + i;
      m.v.findings.push_back({f.category, f.domain, f.role, f.severity});
      m.language = monitor::dominant_script(prompt);
      m.has_prompt = true;
      m.prompt_bytes = prompt.size();
      m.texts = nlohmann::ordered_json::object();
      m.texts["prompt"] = highlight_segments(prompt, fs, Role::prompt, true);
      hub.submit(std::move(m));
      ++i;
    }
    state.SetItemsProcessed(state.iterations());
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_MonitorSubmit)->Unit(benchmark::kMicrosecond);

void BM_CorrelatorObserve(benchmark::State& state) {
  monitor::Correlator c;
  std::int64_t i = 0;
  for (auto _ : state) {
    monitor::VerdictEvent v;
    v.key_id = "k" + std::to_string(i % 1000);
    v.ts_ms = i;
    v.action = i % 2 ? Action::block : Action::allow;
    v.findings.push_back({i % 3 ? "prompt_injection" : "pii_exposure", i % 3 ? Domain::security : Domain::safety,
                          i % 3 ? Role::prompt : Role::response, Severity::medium});
    benchmark::DoNotOptimize(c.observe(v));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CorrelatorObserve)->Unit(benchmark::kMicrosecond);

void BM_DriftObserve(benchmark::State& state) {
  monitor::DriftMonitor m;
  std::int64_t t = 0;
  auto one = [&](std::int64_t i) {
    monitor::DriftObservation o;
    o.ts_ms = t;
    t += 100;
    o.prompt_bytes = 100 + static_cast<std::size_t>(i % 900);
    o.language = "latin";
    if (i % 7 == 0) o.categories = {"prompt_injection"};
    o.violation = i % 7 == 0;
    m.observe(o);
  };
  for (std::int64_t i = 0; i < 40000; ++i) one(i);  // past the baseline hour
  std::int64_t i = 0;
  for (auto _ : state) one(i++);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DriftObserve)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
