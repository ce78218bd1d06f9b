#include "eval/sweep.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/errors.h"

namespace dg::eval {
namespace {

LoadError param_error(std::string msg) { return LoadError{"--param", 0, 0, std::string(errc::kEvalParam), std::move(msg)}; }

std::optional<double> to_number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  const std::string str(s);
  char* end = nullptr;
  const double v = std::strtod(str.c_str(), &end);
  if (end != str.c_str() + str.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// Shortest text that reads back as v at 10 significant digits ("0.35", not "0.35000000000000003").
std::string format_value(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  for (std::size_t b = 0, e; b <= s.size(); b = e + 1) {
    e = s.find(sep, b);
    if (e == std::string_view::npos) e = s.size();
    out.emplace_back(s.substr(b, e - b));
  }
  return out;
}

}  // namespace

LoadResult<Param> parse_param(std::string_view arg, const std::vector<std::string>& detector_names) {
  auto fail = [&](std::string msg) { return LoadResult<Param>::failure({param_error("'" + std::string(arg) + "': " + msg)}); };
  const auto eq = arg.find('=');
  if (eq == std::string_view::npos || eq == 0) return fail("expected KEY=FROM:TO:STEP or KEY=v1,v2,...");
  Param p;
  p.key = std::string(arg.substr(0, eq));
  const std::string_view spec = arg.substr(eq + 1);
  if (spec.empty()) return fail("no values");
  for (const auto& part : split(p.key, '.'))
    if (part.empty()) return fail("empty component in key '" + p.key + "'");
  const std::string first = p.key.substr(0, p.key.find('.'));
  const bool top_level = first == "detectors" || first == "normalizer" || first == "scan" || first == "policy" ||
                         first == "taxonomy" || first == "version";
  if (!top_level)
    for (const auto& d : detector_names)
      if (first == d) {
        p.key = "detectors." + p.key;
        break;
      }

  const auto range = split(spec, ':');
  if (range.size() == 3) {
    const auto from = to_number(range[0]), to = to_number(range[1]), step = to_number(range[2]);
    if (!from || !to || !step) return fail("FROM:TO:STEP must be three numbers");
    if (*step <= 0) return fail("STEP must be positive");
    if (*from > *to) return fail("FROM must not exceed TO");
    const double count = std::floor((*to - *from) / *step + 1e-9) + 1;
    if (count > static_cast<double>(kMaxVariants)) return fail("more than " + std::to_string(kMaxVariants) + " values");
    for (std::size_t i = 0; i < static_cast<std::size_t>(count); ++i)
      p.values.push_back(format_value(*from + static_cast<double>(i) * *step));
  } else if (range.size() == 1) {
    p.values = split(spec, ',');
    for (std::size_t i = 0; i < p.values.size(); ++i) {
      if (p.values[i].empty()) return fail("empty value in the list");
      for (std::size_t j = 0; j < i; ++j)
        if (p.values[i] == p.values[j]) return fail("value '" + p.values[i] + "' listed twice");
    }
  } else {
    return fail("expected FROM:TO:STEP (three numbers) or a comma-separated list");
  }
  return LoadResult<Param>::success(std::move(p));
}

LoadResult<std::vector<std::vector<std::string>>> expand_grid(const std::vector<Param>& params, std::size_t max_variants) {
  using R = LoadResult<std::vector<std::vector<std::string>>>;
  if (params.empty()) return R::failure({param_error("no --param given")});
  std::size_t total = 1;
  for (std::size_t i = 0; i < params.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j)
      if (params[i].key == params[j].key) return R::failure({param_error("key '" + params[i].key + "' is swept twice")});
    if (params[i].values.empty()) return R::failure({param_error("key '" + params[i].key + "' has no values")});
    total *= params[i].values.size();
    if (total > max_variants)
      return R::failure({param_error("the grid has more than " + std::to_string(max_variants) +
                                     " variants; narrow a range or sweep fewer keys at once")});
  }
  std::vector<std::vector<std::string>> grid;
  grid.reserve(total);
  std::vector<std::size_t> idx(params.size(), 0);
  for (std::size_t v = 0; v < total; ++v) {
    std::vector<std::string> o;
    for (std::size_t k = 0; k < params.size(); ++k) o.push_back(params[k].key + "=" + params[k].values[idx[k]]);
    grid.push_back(std::move(o));
    for (std::size_t k = params.size(); k-- > 0;) {  // odometer: the last parameter turns fastest
      if (++idx[k] < params[k].values.size()) break;
      idx[k] = 0;
    }
  }
  return R::success(std::move(grid));
}

Variant variant_of(const EvalReport& r, std::vector<std::string> overrides, bool is_default) {
  Variant v;
  v.overrides = std::move(overrides);
  v.is_default = is_default;
  for (const auto& s : r.sets) {
    v.sets.push_back({s.spec.name, s.spec.positive, s.n, s.flagged});
    (s.spec.positive ? v.pos_n : v.neg_n) += s.n;
    (s.spec.positive ? v.pos_flagged : v.neg_flagged) += s.flagged;
  }
  v.overall = r.overall;
  v.latency = r.latency;
  return v;
}

void mark_pareto(std::vector<Variant>& variants) {
  for (auto& v : variants) {
    v.pareto = v.ran();
    if (!v.pareto) continue;
    for (const auto& u : variants) {
      if (!u.ran()) continue;
      const bool dominates = u.detection() >= v.detection() && u.overblocking() <= v.overblocking() &&
                             (u.detection() > v.detection() || u.overblocking() < v.overblocking());
      if (dominates) {
        v.pareto = false;
        break;
      }
    }
  }
}

LoadResult<std::vector<Variant>> run_sweep(const policy::Engine& default_engine, const EngineFactory& factory,
                                           const std::vector<std::string>& base_overrides,
                                           const std::vector<std::vector<std::string>>& grid, const std::vector<Dataset>& sets,
                                           const RunOptions& opt, const std::function<void(std::size_t, std::size_t)>& on_variant) {
  using Clock = std::chrono::steady_clock;
  std::vector<Variant> out;
  const std::size_t count = grid.size() + 1;
  auto t0 = Clock::now();
  out.push_back(variant_of(evaluate(default_engine, sets, opt), {}, true));
  out.back().seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (on_variant) on_variant(1, count);
  LoadErrors first_errors;
  std::size_t loaded = 0;
  for (std::size_t i = 0; i < grid.size(); ++i) {
    t0 = Clock::now();
    std::vector<std::string> all = base_overrides;
    all.insert(all.end(), grid[i].begin(), grid[i].end());
    auto engine = factory(all);
    if (engine.ok()) {
      out.push_back(variant_of(evaluate(**engine.value, sets, opt), grid[i], false));
      ++loaded;
    } else {
      Variant v;
      v.overrides = grid[i];
      for (const auto& e : engine.errors) v.error += (v.error.empty() ? "" : "; ") + e.format();
      if (first_errors.empty()) first_errors = engine.errors;
      out.push_back(std::move(v));
    }
    out.back().seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (on_variant) on_variant(i + 2, count);
  }
  if (!grid.empty() && loaded == 0) return LoadResult<std::vector<Variant>>::failure(std::move(first_errors));
  mark_pareto(out);
  return LoadResult<std::vector<Variant>>::success(std::move(out));
}

}  // namespace dg::eval
