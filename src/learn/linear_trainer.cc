// The linear learner of `dualguard train`: liblinear's L2-regularised logistic regression over the
// hashed sublinear TF-IDF features of detect/linear_model.h (computed by the same function that
// scores them, so training and serving see identical vectors).
#include <linear.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "detect/linear_model.h"
#include "learn/trainer.h"

namespace dg::learn {

namespace {
constexpr std::size_t kMaxVocab = 200000;
}  // namespace

std::string train_linear(const std::vector<std::string>& lines, const std::string& positive_label,
                         const std::string& negative_label, const TrainOptions& opt, const std::string& model_path) {
  using detect::LinearModel;
  LinearModel::Params params;
  params.bits = opt.bits;
  params.minn = opt.linear_minn;
  params.maxn = opt.linear_maxn;
  params.smooth = std::max(0.0, opt.smooth);
  if (params.bits < 8 || params.bits > 26) return "--bits must be in [8, 26]";
  if (params.minn < 1 || params.maxn < params.minn || params.maxn > 16) return "character n-grams must be 1 <= minn <= maxn <= 16";
  const std::size_t n = std::size_t{1} << params.bits;

  std::vector<std::string_view> texts;
  std::vector<double> y;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    const auto sp = l.find(' ');
    const std::string label = l.substr(0, sp);
    if (label != positive_label && label != negative_label) return "training line " + std::to_string(i + 1) + " has label " + label;
    texts.push_back(sp == std::string::npos ? std::string_view() : std::string_view(l).substr(sp + 1));
    y.push_back(label == positive_label ? 1.0 : -1.0);
  }
  std::vector<LinearModel::Piece> ps;
  std::vector<LinearModel::Term> ts;
  std::vector<std::uint32_t> buckets;
  auto term_buckets = [&](std::string_view text, const LinearModel::Term& t) {
    buckets.clear();
    if (t.pair) buckets.push_back(LinearModel::pair_bucket(params, t));
    else LinearModel::piece_buckets(params, text.substr(ps[t.piece].start, ps[t.piece].end - ps[t.piece].start), ps[t.piece].hash, buckets);
  };

  // Pass 1: document frequencies of buckets and of pieces (the vocabulary the model precomputes).
  std::vector<std::uint32_t> df(n, 0), stamp(n, 0);
  std::unordered_map<std::string_view, std::uint32_t> piece_df;
  for (std::size_t d = 0; d < texts.size(); ++d) {
    LinearModel::pieces(texts[d], ps);
    LinearModel::terms(ps, ts);
    for (const auto& t : ts) {
      term_buckets(texts[d], t);
      for (const auto b : buckets)
        if (stamp[b] != d + 1) {
          stamp[b] = static_cast<std::uint32_t>(d + 1);
          ++df[b];
        }
      if (!t.pair) ++piece_df[texts[d].substr(ps[t.piece].start, ps[t.piece].end - ps[t.piece].start)];
    }
    if (opt.progress && d % 2048 == 0) opt.progress("features", 0.5 * static_cast<double>(d) / static_cast<double>(texts.size()));
  }
  LinearModel::Weights m;
  m.params = params;
  m.labels = {positive_label, negative_label};
  m.positive = 0;
  m.idf.assign(n, 0.0f);
  const double N = static_cast<double>(texts.size());
  for (std::size_t b = 0; b < n; ++b)
    if (df[b]) m.idf[b] = static_cast<float>(std::log((1.0 + N) / (1.0 + df[b])) + 1.0);
  {
    // Pieces seen in at least two lines, most frequent first (capped): a text's known words are then
    // one lookup each; anything else is computed from the buckets with the same result.
    std::vector<std::pair<std::uint32_t, std::string_view>> v;
    for (const auto& [p, c] : piece_df)
      if (c >= 2) v.emplace_back(c, p);
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    if (v.size() > kMaxVocab) v.resize(kMaxVocab);
    for (const auto& [c, p] : v) m.vocab.emplace_back(p);
  }

  // Pass 2: the normalised rows (detect/linear_model.h: per-term normalisation).
  std::vector<feature_node> nodes;
  std::vector<std::size_t> starts;
  std::vector<std::pair<std::uint32_t, double>> row;
  for (std::size_t d = 0; d < texts.size(); ++d) {
    LinearModel::pieces(texts[d], ps);
    LinearModel::terms(ps, ts);
    row.clear();
    double z2 = 0.0;
    for (const auto& t : ts) {
      const double mult = 1.0 + std::log(static_cast<double>(t.count));
      term_buckets(texts[d], t);
      std::sort(buckets.begin(), buckets.end());
      double q = 0.0;
      for (std::size_t i = 0; i < buckets.size();) {
        std::size_t j = i;
        while (j < buckets.size() && buckets[j] == buckets[i]) ++j;
        const double v = static_cast<double>(j - i) * m.idf[buckets[i]];
        if (v > 0) row.emplace_back(buckets[i], mult * v);
        q += v * v;
        i = j;
      }
      z2 += mult * mult * q;
    }
    const double z = z2 + params.smooth > 0 ? std::sqrt(z2 + params.smooth) : 1.0;
    std::sort(row.begin(), row.end());
    starts.push_back(nodes.size());
    for (std::size_t i = 0; i < row.size();) {
      double sum = 0.0;
      std::size_t j = i;
      for (; j < row.size() && row[j].first == row[i].first; ++j) sum += row[j].second;
      nodes.push_back({static_cast<int>(row[i].first) + 1, sum / z});
      i = j;
    }
    nodes.push_back({static_cast<int>(n) + 1, 1.0});  // the bias feature
    nodes.push_back({-1, 0.0});
    if (opt.progress && d % 2048 == 0) opt.progress("features", 0.5 + 0.5 * static_cast<double>(d) / static_cast<double>(texts.size()));
  }
  // liblinear's problem: 1-based indices, each row ends with index -1; the bias is the explicit
  // feature n+1 (value 1), regularised like liblinear's own bias.
  std::vector<feature_node*> x;
  for (const auto s : starts) x.push_back(&nodes[s]);
  problem prob{};
  prob.l = static_cast<int>(x.size());
  prob.n = static_cast<int>(n) + 1;  // with the bias feature
  prob.y = y.data();
  prob.x = x.data();
  prob.bias = -1;  // the bias is the explicit feature n+1 above (value 1), regularised like liblinear's own
  parameter param{};
  param.solver_type = L2R_LR;
  param.eps = 0.01;
  param.C = opt.C;
  if (const char* err = check_parameter(&prob, &param)) return std::string("liblinear: ") + err;
  set_print_string_function([](const char*) {});
  if (opt.progress) opt.progress("train", 0.0);
  model* mdl = train(&prob, &param);
  if (!mdl) return "liblinear training failed";
  // Binary models keep one weight vector, for the first label liblinear saw.
  const double sign = mdl->label[0] == 1 ? 1.0 : -1.0;
  m.w.assign(n, 0.0f);
  for (std::size_t b = 0; b < n; ++b) m.w[b] = static_cast<float>(sign * mdl->w[b]);
  m.bias = sign * mdl->w[n];
  free_and_destroy_model(&mdl);
  if (opt.progress) opt.progress("train", 1.0);
  return LinearModel::write(model_path, m);
}

}  // namespace dg::learn
