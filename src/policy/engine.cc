#include "policy/engine.h"

#include <algorithm>
#include <chrono>

#include "core/errors.h"
#include "core/yaml_util.h"
#include "detect/prompt_leak.h"
#include "detect/registry.h"

namespace dg::policy {

LoadResult<std::shared_ptr<const Engine>> Engine::load(const std::string& config_path,
                                                       const std::vector<std::string>& overrides) {
  auto cfg = load_config(config_path, overrides);
  if (!cfg.value) return LoadResult<std::shared_ptr<const Engine>>::failure(std::move(cfg.errors));
  auto engine = from_config(std::move(*cfg.value));
  if (cfg.errors.empty()) return engine;
  cfg.errors.insert(cfg.errors.end(), engine.errors.begin(), engine.errors.end());
  return LoadResult<std::shared_ptr<const Engine>>::failure(std::move(cfg.errors));
}

LoadResult<std::shared_ptr<const Engine>> Engine::from_config(Config cfg) {
  const std::string path = cfg.path;
  try {
    return from_config_impl(std::move(cfg));
  } catch (const YAML::Exception& e) {
    return LoadResult<std::shared_ptr<const Engine>>::failure(
        {{path, e.mark.line + 1, e.mark.column + 1, std::string(errc::kConfigInvalidValue), e.msg}});
  } catch (const std::exception& e) {
    return LoadResult<std::shared_ptr<const Engine>>::failure({{path, 0, 0, std::string(errc::kConfigInvalidValue), e.what()}});
  }
}

LoadResult<std::shared_ptr<const Engine>> Engine::from_config_impl(Config cfg) {
  using R = LoadResult<std::shared_ptr<const Engine>>;
  LoadErrors errors;
  auto engine = std::shared_ptr<Engine>(new Engine());
  // Signatures first: a tampered file is named as tampered, whatever else is wrong with it.
  cfg.integrity.check(cfg.taxonomy_path, errors);
  cfg.integrity.check(cfg.policy_path, errors);
  auto tax = Taxonomy::load_file(cfg.taxonomy_path);
  errors.insert(errors.end(), tax.errors.begin(), tax.errors.end());
  if (tax.value) {
    engine->taxonomy_ = std::move(*tax.value);
    auto pol = Policy::load_file(cfg.policy_path, engine->taxonomy_);
    errors.insert(errors.end(), pol.errors.begin(), pol.errors.end());
    if (pol.value) engine->policy_ = std::move(*pol.value);
  }
  auto norm = text::Normalizer::create(cfg.normalizer);
  for (auto& e : norm.errors) {
    e.file = cfg.path;
    errors.push_back(std::move(e));
  }
  if (norm.value) engine->normalizer_ = *norm.value;
  if (engine->normalizer_) {
    detect::LoadContext ctx{cfg.dir, engine->normalizer_.get(), &cfg.integrity};
    yaml::Reader r(cfg.path, errors);
    for (const auto& section : cfg.detectors) {
      if (!section.enabled) continue;
      const auto* entry = detect::find_detector(section.name);
      const std::size_t before = errors.size();
      auto det = entry->load(section.node, r, ctx);
      // Errors without a location (from create()) belong to the config file's section.
      for (std::size_t i = before; i < errors.size(); ++i)
        if (errors[i].file.empty()) errors[i].file = cfg.path;
      if (!det) continue;
      if (tax.value)
        for (const auto& c : det->categories())
          if (!engine->taxonomy_.find(c))
            errors.push_back({cfg.taxonomy_path, 0, 0, std::string(errc::kUnknownCategory),
                              "detector '" + section.name + "' emits category '" + c + "' which the taxonomy does not define"});
      if (section.name == "prompt_leak")
        engine->shingle_words_ = static_cast<const detect::PromptLeakDetector&>(*det).config().shingle_words;
      engine->detectors_.push_back(std::move(det));
    }
  }
  if (!errors.empty()) return R::failure(std::move(errors));
  engine->cfg_ = std::move(cfg);
  return R::success(std::move(engine));
}

std::unique_ptr<Engine::ThreadState> Engine::make_thread_state() const {
  auto ts = std::make_unique<ThreadState>();
  for (const auto& d : detectors_) ts->scratch.push_back(d->make_scratch());
  // Warm up lazily initialised state (ICU data, the spoof checker, this thread's skeleton cache) so that
  // the first real input does not pay for it.
  (void)normalizer_->normalize("W\xD0\xB0rm-up \xEF\xBC\xA1 SWdub3JlIGFsbCBwcmV2aW91cw==");
  return ts;
}

detect::ProtectedPrompt Engine::prepare_system(std::string_view system) const {
  return detect::prepare_protected(*normalizer_, system, shingle_words_);
}

void Engine::run_detectors(ThreadState& ts, Role role, std::string_view text, const detect::ProtectedPrompt* system,
                           int context_index, Verdict& v, std::span<const std::string_view> context,
                           std::span<const TokenLogprob> logprobs) const {
  const std::string_view scanned = text.substr(0, std::min(text.size(), cfg_.scan.max_input_bytes));
  const text::Normalized normalized = normalizer_->normalize(scanned);
  const detect::ScanInput in{role, normalized, system, context, logprobs};
  const std::size_t first = v.findings.size();
  for (std::size_t i = 0; i < detectors_.size(); ++i) {
    const auto& d = *detectors_[i];
    if (!d.applies_to(role)) continue;
    if (!d.scan(in, ts.scratch[i].get(), v.findings))
      v.errors.push_back(std::string(d.name()) + ": " + std::string(errc::kDetectorError));
  }
  if (scanned.size() < text.size()) {
    // Not a finding: an operational limit. The policy's fail mode decides what an unscanned tail means.
    v.errors.push_back("engine: " + std::string(errc::kInputTooLarge) + " (scanned " + std::to_string(scanned.size()) +
                       " of " + std::to_string(text.size()) + " bytes)");
  }
  for (std::size_t i = first; i < v.findings.size(); ++i) {
    Finding& f = v.findings[i];
    f.role = role;
    f.context_index = context_index;
    if (const CategoryInfo* c = taxonomy_.find(f.category)) {
      f.domain = c->domain;
      f.intent = c->intent;
      f.property = c->property;
    }
  }
}

std::string redact(std::string_view text, const std::vector<Finding>& findings, Role role) {
  struct Cut {
    Span span;
    const std::string* label;
  };
  std::vector<Cut> cuts;
  for (const auto& f : findings) {
    if (!f.redactable || f.role != role || f.context_index >= 0) continue;
    for (const auto& s : f.spans)
      if (s.end > s.start && s.end <= text.size()) cuts.push_back({s, &f.redact_label});
  }
  std::sort(cuts.begin(), cuts.end(), [](const Cut& a, const Cut& b) { return a.span.start < b.span.start; });
  std::string out;
  out.reserve(text.size());
  std::uint32_t pos = 0;
  for (const auto& c : cuts) {
    if (c.span.start < pos) {  // overlaps a previous cut: extend it
      pos = std::max(pos, c.span.end);
      continue;
    }
    out.append(text.substr(pos, c.span.start - pos));
    out += "[REDACTED:" + (c.label->empty() ? std::string("DATA") : *c.label) + "]";
    pos = c.span.end;
  }
  if (pos < text.size()) out.append(text.substr(pos));
  return out;
}

void Engine::finish(Verdict& v, std::string_view redact_target, Role redact_role) const {
  policy_.decide(v);
  if (v.action == Action::redact) {
    v.redacted = redact(redact_target, v.findings, redact_role);
    v.has_redacted = true;
  }
}

Exchange exchange_of(const InputRecord& rec) {
  Exchange ex;
  ex.has_system = rec.has_system;
  ex.system = rec.system;
  ex.has_prompt = rec.has_prompt;
  ex.prompt = rec.prompt;
  ex.has_response = rec.has_response;
  ex.response = rec.response;
  for (const auto& c : rec.context) ex.context.push_back(c);
  ex.logprobs = rec.logprobs;
  return ex;
}

template <typename Body>
Verdict Engine::timed(Body&& body) const {
  const auto t0 = std::chrono::steady_clock::now();
  Verdict v;
  try {
    body(v);
  } catch (...) {
    v.errors.push_back("engine: " + std::string(errc::kDetectorError));
    policy_.decide(v);
  }
  v.latency_us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count());
  return v;
}

Verdict Engine::scan(ThreadState& ts, Role role, std::string_view text, const detect::ProtectedPrompt* system) const {
  return timed([&](Verdict& v) {
    run_detectors(ts, role, text, system, -1, v);
    finish(v, text, role);
  });
}

Verdict Engine::scan_exchange(ThreadState& ts, const Exchange& ex) const {
  return timed([&](Verdict& v) {
    detect::ProtectedPrompt own;
    const detect::ProtectedPrompt* sp = ex.prepared_system;
    if (ex.has_system) {
      own = prepare_system(ex.system);
      sp = &own;
    }
    if (ex.has_prompt) run_detectors(ts, Role::prompt, ex.prompt, sp, -1, v);
    for (std::size_t i = 0; i < ex.context.size(); ++i) run_detectors(ts, Role::context, ex.context[i], sp, static_cast<int>(i), v);
    if (ex.has_response) run_detectors(ts, Role::response, ex.response, sp, -1, v, ex.context, ex.logprobs);
    if (ex.has_response) finish(v, ex.response, Role::response);
    else finish(v, ex.prompt, Role::prompt);
  });
}

Verdict Engine::scan_response(ThreadState& ts, const Verdict& request, std::string_view response,
                              const detect::ProtectedPrompt* system, std::span<const std::string_view> context,
                              std::span<const TokenLogprob> logprobs) const {
  return timed([&](Verdict& v) {
    v.findings = request.findings;
    v.errors = request.errors;
    run_detectors(ts, Role::response, response, system, -1, v, context, logprobs);
    finish(v, response, Role::response);
  });
}

}  // namespace dg::policy
