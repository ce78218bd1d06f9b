#include "eval/runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "core/errors.h"

namespace dg::eval {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The outcome of one clean scan, kept until aggregation.
struct Outcome {
  Action action = Action::allow;
  VerdictClass cls = VerdictClass::clean;
  bool error = false;
  std::uint64_t latency_us = 0;
  std::vector<std::pair<std::string, double>> max_scores;  // per detector with findings, sorted by name
};

Outcome outcome_of(const Verdict& v) {
  Outcome o;
  o.action = v.action;
  o.cls = v.cls;
  o.error = !v.errors.empty();
  o.latency_us = v.latency_us;
  for (const auto& f : v.findings) {
    auto it = std::find_if(o.max_scores.begin(), o.max_scores.end(), [&](const auto& p) { return p.first == f.detector; });
    if (it == o.max_scores.end()) o.max_scores.emplace_back(f.detector, f.score);
    else it->second = std::max(it->second, f.score);
  }
  std::sort(o.max_scores.begin(), o.max_scores.end());
  return o;
}

// Runs body(i, state) for every i in [0, n) on one thread per state (the caller's thread is one of
// them). Work is handed out in small chunks so that a slow input does not stall a thread's queue.
template <typename Body>
void parallel_for(std::size_t n, std::vector<std::unique_ptr<policy::Engine::ThreadState>>& states, const RunOptions& opt,
                  std::size_t& done, std::size_t total, Body&& body) {
  constexpr std::size_t kChunk = 16;
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> finished{0};
  auto work = [&](policy::Engine::ThreadState& ts, bool report) {
    for (std::size_t b = next.fetch_add(kChunk); b < n; b = next.fetch_add(kChunk)) {
      const std::size_t e = std::min(n, b + kChunk);
      for (std::size_t i = b; i < e; ++i) body(i, ts);
      const std::size_t f = finished.fetch_add(e - b) + (e - b);
      if (report && opt.progress) opt.progress(done + f, total);
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < states.size() && t * kChunk < n + kChunk; ++t) pool.emplace_back(work, std::ref(*states[t]), false);
  work(*states[0], true);
  for (auto& th : pool) th.join();
  done += n;
  if (opt.progress) opt.progress(done, total);
}

std::vector<GroupStats> groups(const Dataset& ds, const std::vector<Outcome>& out, ActionMask mask, bool by_category) {
  std::map<std::string, GroupStats> m;
  bool any = false;
  for (std::size_t i = 0; i < ds.samples.size(); ++i) {
    const std::string& key = by_category ? ds.samples[i].category : ds.samples[i].source;
    any |= !key.empty();
    GroupStats& g = m[key.empty() ? "(none)" : key];
    ++g.n;
    g.flagged += (mask & action_bit(out[i].action)) != 0;
  }
  std::vector<GroupStats> v;
  if (!any) return v;
  for (auto& [name, g] : m) {
    g.name = name;
    v.push_back(std::move(g));
  }
  return v;
}

LatencyStats latency_of(const std::vector<double>& us) {
  LatencyStats l;
  if (us.empty()) return l;
  l.p50_us = percentile(us, 50);
  l.p99_us = percentile(us, 99);
  double sum = 0;
  for (double x : us) {
    sum += x;
    l.max_us = std::max(l.max_us, x);
  }
  l.mean_us = sum / static_cast<double>(us.size());
  return l;
}

}  // namespace

LoadResult<ActionMask> parse_flag_on(std::string_view list) {
  if (list == "any") return LoadResult<ActionMask>::success(kFlagNotAllow);
  ActionMask m = 0;
  LoadErrors errors;
  for (std::size_t s = 0, e; s <= list.size(); s = e + 1) {
    e = list.find(',', s);
    if (e == std::string_view::npos) e = list.size();
    const std::string_view name = list.substr(s, e - s);
    const auto a = parse_action(name);
    if (!a || *a == Action::allow)
      errors.push_back({"--flag-on", 0, 0, std::string(errc::kEvalParam),
                        "'" + std::string(name) + "' is not a flagging action (any, or: redact, review, safe_mode, block)"});
    else m |= action_bit(*a);
  }
  if (!errors.empty()) return LoadResult<ActionMask>::failure(std::move(errors));
  return LoadResult<ActionMask>::success(m);
}

std::vector<Action> actions_of(ActionMask m) {
  std::vector<Action> v;
  for (Action a : {Action::allow, Action::redact, Action::review, Action::safe_mode, Action::block})
    if (m & action_bit(a)) v.push_back(a);
  return v;
}

Verdict scan_record(const policy::Engine& engine, policy::Engine::ThreadState& ts, const InputRecord& rec, Role role) {
  if (rec.exchange) return engine.scan_exchange(ts, policy::exchange_of(rec));
  if (rec.has_system) {
    const detect::ProtectedPrompt sys = engine.prepare_system(rec.system);
    return engine.scan(ts, role, rec.text, &sys);
  }
  return engine.scan(ts, role, rec.text);
}

InputRecord perturb_record(const InputRecord& rec, Transform t, std::uint64_t seed) {
  InputRecord r = rec;
  if (!r.exchange) {
    r.text = perturb(t, r.text, seed);
    return r;
  }
  if (!r.has_prompt && r.context.empty()) {
    if (r.has_response) r.response = perturb(t, r.response, seed);
    return r;
  }
  if (r.has_prompt) r.prompt = perturb(t, r.prompt, seed);
  for (auto& c : r.context) c = perturb(t, c, seed);
  return r;
}

TransformStats EvalReport::clean_positive() const noexcept {
  TransformStats s;
  for (const auto& set : sets)
    if (set.spec.positive) {
      s.n += set.n;
      s.flagged += set.flagged;
    }
  return s;
}

TransformStats EvalReport::pooled(Transform t) const noexcept {
  TransformStats s;
  s.transform = t;
  for (const auto& set : sets)
    for (const auto& p : set.perturbations)
      if (p.transform == t) {
        s.n += p.n;
        s.flagged += p.flagged;
      }
  return s;
}

std::vector<Transform> EvalReport::transforms_run() const {
  for (const auto& set : sets)
    if (!set.perturbations.empty()) {
      std::vector<Transform> v;
      for (const auto& p : set.perturbations) v.push_back(p.transform);
      return v;
    }
  return {};
}

EvalReport evaluate(const policy::Engine& engine, const std::vector<Dataset>& sets, const RunOptions& opt) {
  EvalReport rep;
  std::vector<std::unique_ptr<policy::Engine::ThreadState>> states;
  for (unsigned t = 0; t < std::max(1u, opt.threads); ++t) states.push_back(engine.make_thread_state());

  std::size_t positives = 0, total = 0;
  for (const auto& ds : sets) {
    total += ds.samples.size();
    if (ds.spec.positive) positives += ds.samples.size();
  }
  const std::size_t grand_total = total + positives * opt.perturb.size();
  std::size_t done = 0;

  // Clean pass: every set, one outcome per input.
  std::vector<std::vector<Outcome>> outcomes(sets.size());
  const auto t_clean = Clock::now();
  for (std::size_t s = 0; s < sets.size(); ++s) {
    const auto& samples = sets[s].samples;
    outcomes[s].resize(samples.size());
    parallel_for(samples.size(), states, opt, done, grand_total, [&](std::size_t i, policy::Engine::ThreadState& ts) {
      outcomes[s][i] = outcome_of(scan_record(engine, ts, samples[i].rec, opt.role));
    });
  }
  rep.timing.clean_s = seconds_since(t_clean);

  std::vector<double> all_latency;
  for (std::size_t s = 0; s < sets.size(); ++s) {
    const Dataset& ds = sets[s];
    SetResult r;
    r.spec = ds.spec;
    r.sha256 = ds.sha256;
    r.limited = ds.limited;
    r.n = ds.samples.size();
    r.bytes = ds.bytes;
    std::vector<double> latency;
    latency.reserve(r.n);
    for (const Outcome& o : outcomes[s]) {
      const bool flagged = (opt.flag_on & action_bit(o.action)) != 0;
      r.flagged += flagged;
      r.errors += o.error;
      ++r.classes[static_cast<std::size_t>(o.cls)];
      ++r.actions[static_cast<std::size_t>(o.action)];
      latency.push_back(static_cast<double>(o.latency_us));
      if (ds.spec.positive) (flagged ? rep.overall.tp : rep.overall.fn)++;
      else (flagged ? rep.overall.fp : rep.overall.tn)++;
    }
    r.categories = groups(ds, outcomes[s], opt.flag_on, true);
    r.sources = groups(ds, outcomes[s], opt.flag_on, false);
    r.latency = latency_of(latency);
    all_latency.insert(all_latency.end(), latency.begin(), latency.end());
    rep.texts += r.n;
    rep.bytes += r.bytes;
    rep.sets.push_back(std::move(r));
  }
  rep.latency = latency_of(all_latency);

  if (opt.detector_roc) {
    std::vector<std::string> names;
    for (const auto& set_out : outcomes)
      for (const Outcome& o : set_out)
        for (const auto& [name, score] : o.max_scores) names.push_back(name);
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    for (const auto& name : names) {
      std::vector<double> pos, neg;
      for (std::size_t s = 0; s < sets.size(); ++s)
        for (const Outcome& o : outcomes[s]) {
          double score = 0.0;
          for (const auto& [n, sc] : o.max_scores)
            if (n == name) score = sc;
          (sets[s].spec.positive ? pos : neg).push_back(score);
        }
      rep.detectors.push_back({name, roc_curve(pos, neg, opt.roc_points)});
    }
  }

  // Robustness: every positive set again under each transform (the perturbed text is made on the
  // worker thread and dropped after its scan).
  const auto t_perturb = Clock::now();
  for (std::size_t s = 0; s < sets.size(); ++s) {
    if (!sets[s].spec.positive || opt.perturb.empty()) continue;
    const auto& samples = sets[s].samples;
    const std::size_t n = samples.size(), k = opt.perturb.size();
    std::vector<unsigned char> flagged(n * k);
    parallel_for(n * k, states, opt, done, grand_total, [&](std::size_t j, policy::Engine::ThreadState& ts) {
      const Transform t = opt.perturb[j / n];
      const InputRecord rec = perturb_record(samples[j % n].rec, t, opt.seed);
      flagged[j] = (opt.flag_on & action_bit(scan_record(engine, ts, rec, opt.role).action)) != 0;
    });
    for (std::size_t ti = 0; ti < k; ++ti) {
      TransformStats ts;
      ts.transform = opt.perturb[ti];
      ts.n = n;
      for (std::size_t i = 0; i < n; ++i) ts.flagged += flagged[ti * n + i];
      rep.sets[s].perturbations.push_back(ts);
    }
  }
  rep.timing.perturb_s = opt.perturb.empty() ? 0.0 : seconds_since(t_perturb);
  return rep;
}

}  // namespace dg::eval
