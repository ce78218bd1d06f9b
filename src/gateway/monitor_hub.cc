#include "gateway/monitor_hub.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

namespace dg::gateway {

using ojson = nlohmann::ordered_json;

namespace {

constexpr std::size_t kSubscriberQueue = 2000;

std::int64_t system_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int cls_index(VerdictClass c) {
  switch (c) {
    case VerdictClass::safety: return 0;
    case VerdictClass::security: return 1;
    case VerdictClass::hybrid: return 2;
    default: return -1;
  }
}

// Half-octave latency bins from 10 us: bin b covers [0.01 * 2^(b/2), 0.01 * 2^((b+1)/2)) ms.
int latency_bin(double ms, int bins) {
  if (!(ms > 0.01)) return 0;
  return std::clamp(static_cast<int>(std::floor(2.0 * std::log2(ms / 0.01))), 0, bins - 1);
}

double bin_upper_ms(int b) { return 0.01 * std::exp2((b + 1) / 2.0); }

ojson verdict_json(const MonitorEvent& e, const std::string& incident_id) {
  ojson j = ojson::object();
  j["request_id"] = e.v.request_id;
  j["ts_ms"] = e.v.ts_ms;
  j["route"] = e.route;
  j["key_id"] = e.v.key_id;
  j["session"] = e.v.session;
  j["action"] = to_string(e.v.action);
  j["class"] = to_string(e.v.cls);
  j["chain"] = e.chain;
  ojson cats = ojson::array();
  for (const auto& f : e.v.findings)
    if (std::find(cats.begin(), cats.end(), f.category) == cats.end()) cats.push_back(f.category);
  j["categories"] = std::move(cats);
  j["latency_ms"] = std::round(e.latency_ms * 1000.0) / 1000.0;
  j["incident_id"] = incident_id.empty() ? ojson(nullptr) : ojson(incident_id);
  return j;
}

ojson alert_json(const monitor::Alert& a) {
  ojson j = ojson::object();
  j["id"] = a.id;
  j["rule"] = a.rule;
  j["severity"] = to_string(a.severity);
  j["ts_ms"] = a.ts_ms;
  j["summary"] = a.summary;
  j["key_id"] = a.key_id;
  j["incident_id"] = a.incident_id.empty() ? ojson(nullptr) : ojson(a.incident_id);
  j["domain"] = a.domain ? ojson(to_string(*a.domain)) : ojson(nullptr);
  j["merged"] = a.merged;
  return j;
}

std::string sse(const std::string& event, const ojson& data) {
  return "event: " + event + "\ndata: " + data.dump(-1, ' ', false, ojson::error_handler_t::replace) + "\n\n";
}

}  // namespace

std::vector<std::string> Subscriber::take() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out(std::make_move_iterator(q_.begin()), std::make_move_iterator(q_.end()));
  q_.clear();
  return out;
}

void Subscriber::push(const std::string& ev) {
  std::lock_guard lock(mu_);
  if (q_.size() >= kSubscriberQueue) {  // a slow client loses its oldest events, never blocks the hub
    q_.pop_front();
    dropped_.fetch_add(1);
  }
  q_.push_back(ev);
}

ojson MonitorHub::summary_json(const monitor::Incident& inc) {
  ojson j = ojson::object();
  j["id"] = inc.id;
  j["class"] = to_string(inc.cls);
  j["kind"] = monitor::to_string(inc.kind);
  j["status"] = monitor::to_string(inc.status);
  j["severity"] = to_string(inc.severity);
  j["title"] = inc.title();
  ojson chain = ojson::array();
  for (const auto& l : inc.chain)
    chain.push_back({{"category", l.category}, {"domain", to_string(l.domain)}, {"role", to_string(l.role)},
                     {"request_id", l.request_id}, {"ts_ms", l.ts_ms}, {"count", l.count}});
  j["chain"] = std::move(chain);
  j["key_id"] = inc.key_id;
  j["session"] = inc.session;
  j["first_ms"] = inc.first_ms;
  j["last_ms"] = inc.last_ms;
  j["verdicts"] = inc.verdicts;
  return j;
}

MonitorHub::MonitorHub(MonitorOptions options, monitor::AlertsConfig alerts, std::unique_ptr<store::IncidentStore> store)
    : opt_(std::move(options)),
      store_(std::move(store)),
      correlator_(opt_.correlator),
      drift_(opt_.drift),
      alert_engine_(std::move(alerts)),
      series_(kBuckets) {
  if (!opt_.now_ms) opt_.now_ms = system_ms;
  // Incidents still active in the correlation window continue after a restart.
  if (auto next = store_->next_id(); next.ok()) {
    monitor::CorrelatorOptions co = opt_.correlator;
    co.first_id = *next;
    correlator_ = monitor::Correlator(co);
  }
  if (auto rows = store_->active_since(opt_.now_ms() - opt_.correlator.window_ms); rows.ok()) {
    for (const auto& r : *rows) {
      const ojson j = ojson::parse(r.json, nullptr, false);
      if (!j.is_object()) continue;
      monitor::Incident inc;
      inc.id = r.id;
      inc.key_id = r.key_id;
      inc.session = r.session;
      inc.first_ms = r.first_ms;
      inc.last_ms = r.last_ms;
      inc.status = monitor::parse_incident_status(r.status).value_or(monitor::IncidentStatus::open);
      inc.cls = parse_verdict_class(j.value("class", "")).value_or(VerdictClass::security);
      inc.kind = monitor::parse_incident_kind(j.value("kind", "")).value_or(monitor::IncidentKind::security);
      inc.severity = parse_severity(j.value("severity", "")).value_or(Severity::low);
      inc.verdicts = j.value("verdicts", 0);
      if (const auto c = j.find("chain"); c != j.end() && c->is_array()) {
        for (const auto& l : *c) {
          if (!l.is_object()) continue;
          monitor::ChainLink link;
          link.category = l.value("category", "");
          link.domain = parse_domain(l.value("domain", "")).value_or(Domain::safety);
          link.role = parse_role(l.value("role", "")).value_or(Role::prompt);
          link.request_id = l.value("request_id", "");
          link.ts_ms = l.value("ts_ms", std::int64_t{0});
          link.count = l.value("count", 1);
          inc.chain.push_back(std::move(link));
        }
      }
      correlator_.restore(std::move(inc));
    }
  }
}

MonitorHub::~MonitorHub() {
  {
    std::lock_guard lock(qmu_);
    stop_ = true;
  }
  qcv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MonitorHub::add_sink(AlertSink sink) { sinks_.push_back(std::move(sink)); }

void MonitorHub::start() { thread_ = std::thread([this] { run(); }); }

void MonitorHub::submit(MonitorEvent ev) {
  {
    std::unique_lock lock(qmu_, std::try_to_lock);
    if (!lock.owns_lock()) lock.lock();  // held only for a push or a swap: never long
    if (queue_.size() >= opt_.queue) {
      counters_.dropped.fetch_add(1);
      return;
    }
    queue_.push_back(std::move(ev));
  }
  qcv_.notify_one();
}

std::shared_ptr<Subscriber> MonitorHub::subscribe() {
  auto s = std::make_shared<Subscriber>();
  std::lock_guard lock(sub_mu_);
  subs_.erase(std::remove_if(subs_.begin(), subs_.end(), [](const auto& w) { return w.expired(); }), subs_.end());
  if (subs_.size() >= opt_.max_subscribers) return nullptr;
  subs_.push_back(s);
  return s;
}

void MonitorHub::broadcast(const std::string& event, const ojson& data) {
  const std::string text = sse(event, data);
  std::lock_guard lock(sub_mu_);
  for (const auto& w : subs_)
    if (auto s = w.lock()) s->push(text);
}

void MonitorHub::publish(const std::string& event, const ojson& data) { broadcast(event, data); }

void MonitorHub::run() {
  std::int64_t next_drift = opt_.now_ms() + opt_.drift_every_ms;
  for (;;) {
    std::deque<MonitorEvent> batch;
    {
      std::unique_lock lock(qmu_);
      qcv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stop_ || !queue_.empty(); });
      batch.swap(queue_);
      if (stop_ && batch.empty()) return;
    }
    {
      std::vector<std::pair<std::string, monitor::IncidentStatus>> changes;
      {
        std::lock_guard lock(status_mu_);
        changes.swap(status_changes_);
      }
      for (const auto& [id, st] : changes) correlator_.set_status(id, st);
    }
    if (!batch.empty()) {
      // One commit for the whole batch (the writes inside report their own errors).
      if (!store_->batch([&] {
            for (auto& ev : batch) process(ev);
          }).ok())
        counters_.store_errors.fetch_add(1);
    }
    const std::int64_t now = opt_.now_ms();
    if (now >= next_drift) {
      next_drift = now + opt_.drift_every_ms;
      auto stats = drift_.evaluate(now);
      emit(alert_engine_.on_drift(stats, now));
      std::lock_guard lock(view_mu_);
      drift_stats_ = std::move(stats);
    }
  }
}

void MonitorHub::process(MonitorEvent& ev) {
  counters_.events.fetch_add(1);
  std::string incident_id;
  if (auto up = correlator_.observe(ev.v)) {
    const monitor::Incident& inc = up->incident;
    incident_id = inc.id;
    const ojson summary = summary_json(inc);
    store::IncidentRow row{inc.id, std::string(monitor::to_string(inc.status)), std::string(to_string(inc.cls)), inc.key_id,
                           inc.session, inc.first_ms, inc.last_ms, summary.dump(-1, ' ', false, ojson::error_handler_t::replace)};
    ojson detail = verdict_json(ev, incident_id);
    detail["rule"] = ev.rule;
    detail["explanation"] = ev.explanation;
    detail["http_status"] = ev.http_status;
    detail["findings"] = ev.findings.is_null() ? ojson::array() : ev.findings;
    detail["texts"] = ev.texts.is_null() ? ojson::object() : ev.texts;
    bool ok = store_->upsert(row).ok();
    ok = store_->add_verdict(inc.id, ev.v.request_id, ev.v.ts_ms, detail.dump(-1, ' ', false, ojson::error_handler_t::replace)).ok() && ok;
    ok = store_->add_history(inc.id, {ev.v.ts_ms, "", up->created ? "opened" : "verdict_added", std::string(monitor::to_string(inc.status)),
                                      up->created ? inc.title() : (up->escalated ? "escalated: " + inc.title() : ev.v.request_id)})
             .ok() &&
         ok;
    if (!ok) {
      counters_.store_errors.fetch_add(1);
      spdlog::error("monitor: could not store incident {}", inc.id);
    }
    if (up->created) counters_.incidents_opened.fetch_add(1);
    broadcast("incident", summary);
    emit(alert_engine_.on_incident(inc, up->created, up->escalated, ev.v.ts_ms));
  }
  emit(alert_engine_.on_verdict(ev.v, incident_id));

  monitor::DriftObservation o;
  o.ts_ms = ev.v.ts_ms;
  o.prompt_bytes = ev.prompt_bytes;
  o.has_prompt = ev.has_prompt;
  o.language = ev.language;
  for (const auto& f : ev.v.findings)
    if (std::find(o.categories.begin(), o.categories.end(), f.category) == o.categories.end()) o.categories.push_back(f.category);
  o.finding_score = ev.max_score;
  o.has_response = ev.has_response;
  o.refused = ev.refused;
  o.violation = ev.v.action != Action::allow;
  drift_.observe(o);

  const ojson vj = verdict_json(ev, incident_id);
  record_series(ev);
  {
    std::lock_guard lock(view_mu_);
    feed_.push_front(vj);
    while (feed_.size() > opt_.feed) feed_.pop_back();
  }
  broadcast("verdict", vj);
}

void MonitorHub::record_series(const MonitorEvent& ev) {
  const std::int64_t s = ev.v.ts_ms / 1000;
  const std::int64_t start = s - s % kBucketS;
  std::lock_guard lock(view_mu_);
  Bucket& b = series_[static_cast<std::size_t>((start / kBucketS) % static_cast<std::int64_t>(kBuckets))];
  if (b.start_s != start) {
    b = Bucket{};
    b.start_s = start;
  }
  b.requests += 1;
  b.latency[static_cast<std::size_t>(latency_bin(ev.latency_ms, kLatencyBins))] += 1;
  const int c = cls_index(ev.v.cls);
  if (c < 0) return;
  auto& k = b.cls[static_cast<std::size_t>(c)];
  k[0] += 1;
  if (ev.v.action == Action::block) k[1] += 1;
  if (ev.v.action == Action::review) k[2] += 1;
  auto& cats = b.categories[c];
  for (std::size_t i = 0; i < ev.v.findings.size(); ++i) {
    const auto& f = ev.v.findings[i];
    bool seen = false;  // a category counts once per verdict
    for (std::size_t j = 0; j < i && !seen; ++j) seen = ev.v.findings[j].category == f.category;
    if (seen) continue;
    auto it = std::find_if(cats.begin(), cats.end(), [&](const auto& p) { return p.first == f.category; });
    if (it == cats.end()) cats.emplace_back(f.category, 1);
    else it->second += 1;
  }
}

void MonitorHub::emit(const std::vector<monitor::Alert>& alerts) {
  for (const auto& a : alerts) {
    counters_.alerts.fetch_add(1);
    const ojson j = alert_json(a);
    {
      std::lock_guard lock(view_mu_);
      alerts_.push_front(j);
      while (alerts_.size() > opt_.alerts) alerts_.pop_back();
    }
    for (const auto& sink : sinks_) sink(a, j);
    broadcast("alert", j);
  }
}

ojson MonitorHub::overview(std::int64_t range_s) const {
  range_s = std::clamp<std::int64_t>(range_s, 300, 86400);
  const std::int64_t now_ms = opt_.now_ms();
  const std::int64_t step = std::max<std::int64_t>(kBucketS, (range_s / 60 + kBucketS - 1) / kBucketS * kBucketS);
  const std::int64_t now_s = now_ms / 1000;
  const std::int64_t last = now_s - now_s % step;
  const std::int64_t n = range_s / step;
  const std::int64_t first = last - (n - 1) * step;
  static constexpr const char* kCols[3] = {"safety", "security", "hybrid"};

  ojson t = ojson::array(), req = ojson::array(), p50 = ojson::array(), p99 = ojson::array();
  ojson cols[3][3];
  for (auto& c : cols)
    for (auto& x : c) x = ojson::array();
  std::map<std::string, std::uint64_t> top[3];
  std::vector<monitor::DriftStat> drift;
  {
    std::lock_guard lock(view_mu_);
    drift = drift_stats_;
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t bs = first + i * step;
      std::uint64_t r = 0;
      std::array<std::array<std::uint64_t, 3>, 3> k{};
      std::array<std::uint64_t, kLatencyBins> lat{};
      for (std::int64_t s = bs; s < bs + step; s += kBucketS) {
        const Bucket& b = series_[static_cast<std::size_t>((s / kBucketS) % static_cast<std::int64_t>(kBuckets))];
        if (b.start_s != s) continue;
        r += b.requests;
        for (int c = 0; c < 3; ++c) {
          for (int m = 0; m < 3; ++m) k[c][m] += b.cls[c][m];
          for (const auto& [cat, cnt] : b.categories[c]) top[c][cat] += cnt;
        }
        for (int l = 0; l < kLatencyBins; ++l) lat[l] += b.latency[l];
      }
      t.push_back(bs);
      req.push_back(r);
      auto pct = [&](double q) -> ojson {
        if (r == 0) return nullptr;
        const double want = q * static_cast<double>(r);
        double acc = 0;
        for (int l = 0; l < kLatencyBins; ++l) {
          acc += static_cast<double>(lat[l]);
          if (acc >= want) return std::round(bin_upper_ms(l) * 1000.0) / 1000.0;
        }
        return bin_upper_ms(kLatencyBins - 1);
      };
      p50.push_back(pct(0.5));
      p99.push_back(pct(0.99));
      for (int c = 0; c < 3; ++c)
        for (int m = 0; m < 3; ++m) cols[c][m].push_back(k[c][m]);
    }
  }
  ojson out = ojson::object();
  out["now_ms"] = now_ms;
  out["range_s"] = range_s;
  out["bucket_s"] = step;
  out["t"] = std::move(t);
  out["requests"] = std::move(req);
  out["latency_ms"] = {{"p50", std::move(p50)}, {"p99", std::move(p99)}};
  ojson columns = ojson::object();
  for (int c = 0; c < 3; ++c) {
    std::vector<std::pair<std::string, std::uint64_t>> v(top[c].begin(), top[c].end());
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
    if (v.size() > 8) v.resize(8);
    ojson tc = ojson::array();
    for (const auto& [cat, cnt] : v) tc.push_back({{"category", cat}, {"count", cnt}});
    columns[kCols[c]] = {{"flagged", cols[c][0]}, {"blocked", cols[c][1]}, {"review", cols[c][2]}, {"top_categories", std::move(tc)}};
  }
  out["columns"] = std::move(columns);
  ojson d = ojson::array();
  for (const auto& s : drift) {
    ojson j = {{"statistic", s.statistic}, {"type", s.type}, {"judged", s.judged}, {"drifted", s.drifted},
               {"psi", std::round(s.psi * 1000.0) / 1000.0}, {"threshold_psi", opt_.drift.psi_threshold},
               {"baseline_n", s.baseline_n}, {"current_n", s.current_n}, {"detail", s.detail}};
    j["ks"] = s.ks_d ? ojson(std::round(*s.ks_d * 1000.0) / 1000.0) : ojson(nullptr);
    j["ks_p"] = s.ks_p ? ojson(*s.ks_p) : ojson(nullptr);
    d.push_back(std::move(j));
  }
  out["drift"] = std::move(d);
  const auto open = store_->count({"open", "acknowledged"});
  out["incidents_open"] = open.ok() ? *open : 0;
  return out;
}

ojson MonitorHub::feed(std::size_t limit) const {
  std::lock_guard lock(view_mu_);
  ojson a = ojson::array();
  for (std::size_t i = 0; i < feed_.size() && i < limit; ++i) a.push_back(feed_[i]);
  return {{"verdicts", std::move(a)}};
}

ojson MonitorHub::alerts(std::size_t limit) const {
  std::lock_guard lock(view_mu_);
  ojson a = ojson::array();
  for (std::size_t i = 0; i < alerts_.size() && i < limit; ++i) a.push_back(alerts_[i]);
  return {{"alerts", std::move(a)}};
}

store::Result<ojson> MonitorHub::set_status(const std::string& id, monitor::IncidentStatus status, const std::string& key_id,
                                            const std::string& note) {
  auto cur = store_->get(id);
  if (!cur.ok()) return cur.error();
  if (!cur->has_value()) return store::Error{"not_found", "no incident " + id};
  ojson j = ojson::parse((*cur)->json, nullptr, false);
  if (!j.is_object()) j = ojson::object();
  j["status"] = monitor::to_string(status);
  const std::string action = status == monitor::IncidentStatus::open ? "reopened" : std::string(monitor::to_string(status));
  auto r = store_->set_status(id, std::string(monitor::to_string(status)), j.dump(-1, ' ', false, ojson::error_handler_t::replace),
                              {opt_.now_ms(), key_id, action, std::string(monitor::to_string(status)), note});
  if (!r.ok()) return r.error();
  {
    std::lock_guard lock(status_mu_);
    status_changes_.emplace_back(id, status);
  }
  qcv_.notify_one();
  broadcast("incident", j);
  return j;
}

}  // namespace dg::gateway
