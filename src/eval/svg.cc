#include "eval/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dg::eval::svg {
namespace {

const char* const kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

// Labels longer than `max` bytes are cut at a UTF-8 boundary and end with "...".
std::string shorten(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  std::size_t cut = max - 3;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "...";
}

std::string pct(double v) { return num(100.0 * v, 1) + "%"; }

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string num(double v, int decimals) {
  if (!std::isfinite(v)) return "0";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string hbars(const std::vector<Bar>& bars, std::string_view title) {
  const double label_w = 270, plot_w = 380, row = 20, top = 24, value_w = 170;
  const double width = label_w + plot_w + value_w, height = top + row * static_cast<double>(bars.size()) + 8;
  std::string o = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" font-family=\"sans-serif\" width=\"" + num(width, 0) + "\" height=\"" + num(height, 0) +
                  "\" viewBox=\"0 0 " + num(width, 0) + " " + num(height, 0) + "\"><title>" + html_escape(title) + "</title>";
  for (int t = 0; t <= 4; ++t) {  // grid at 0, 25, 50, 75, 100%
    const double x = label_w + plot_w * t / 4.0;
    o += "<line x1=\"" + num(x) + "\" y1=\"" + num(top - 4) + "\" x2=\"" + num(x) + "\" y2=\"" + num(height - 8) +
         "\" stroke=\"#e6e6e6\"/><text x=\"" + num(x) + "\" y=\"" + num(top - 8) + "\" font-size=\"11\" fill=\"#666\" text-anchor=\"middle\">" +
         std::to_string(25 * t) + "%</text>";
  }
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double y = top + row * static_cast<double>(i);
    const double v = std::clamp(b.value, 0.0, 1.0);
    const std::string color = b.color.empty() ? kPalette[0] : b.color;
    o += "<g><title>" + html_escape(b.label) + ": " + pct(b.value) + (b.has_ci ? " (95% CI " + pct(b.ci.lo) + " - " + pct(b.ci.hi) + ")" : "") +
         (b.note.empty() ? "" : ", " + html_escape(b.note)) + "</title>";
    o += "<text x=\"" + num(label_w - 6) + "\" y=\"" + num(y + 14) + "\" text-anchor=\"end\" font-size=\"12\" fill=\"#222\">" +
         html_escape(shorten(b.label, 42)) + "</text>";
    o += "<rect x=\"" + num(label_w) + "\" y=\"" + num(y + 3) + "\" width=\"" + num(plot_w * v) + "\" height=\"" + num(row - 6) +
         "\" fill=\"" + html_escape(color) + "\"/>";
    if (b.has_ci) {
      const double x0 = label_w + plot_w * std::clamp(b.ci.lo, 0.0, 1.0), x1 = label_w + plot_w * std::clamp(b.ci.hi, 0.0, 1.0);
      const double ym = y + row / 2;
      o += "<path d=\"M" + num(x0) + " " + num(ym) + "H" + num(x1) + "M" + num(x0) + " " + num(ym - 5) + "V" + num(ym + 5) + "M" +
           num(x1) + " " + num(ym - 5) + "V" + num(ym + 5) + "\" stroke=\"#222\" stroke-width=\"1.3\" fill=\"none\"/>";
    }
    o += "<text x=\"" + num(label_w + plot_w + 8) + "\" y=\"" + num(y + 14) + "\" font-size=\"12\" fill=\"#222\">" + pct(b.value) +
         (b.note.empty() ? "" : "  " + html_escape(b.note)) + "</text></g>";
  }
  return o + "</svg>";
}

std::string roc_chart(const std::vector<Series>& series, std::string_view title) {
  const double m = 48, size = 320, legend_w = 260;
  const double width = m + size + 20 + legend_w, height = 16 + size + 44;
  auto px = [&](double x) { return m + size * std::clamp(x, 0.0, 1.0); };
  auto py = [&](double y) { return 16 + size * (1.0 - std::clamp(y, 0.0, 1.0)); };
  std::string o = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" font-family=\"sans-serif\" width=\"" + num(width, 0) + "\" height=\"" + num(height, 0) +
                  "\" viewBox=\"0 0 " + num(width, 0) + " " + num(height, 0) + "\"><title>" + html_escape(title) + "</title>";
  for (int t = 0; t <= 5; ++t) {
    const double v = t / 5.0;
    o += "<line x1=\"" + num(px(v)) + "\" y1=\"" + num(py(0)) + "\" x2=\"" + num(px(v)) + "\" y2=\"" + num(py(1)) + "\" stroke=\"#e6e6e6\"/>";
    o += "<line x1=\"" + num(px(0)) + "\" y1=\"" + num(py(v)) + "\" x2=\"" + num(px(1)) + "\" y2=\"" + num(py(v)) + "\" stroke=\"#e6e6e6\"/>";
    o += "<text x=\"" + num(px(v)) + "\" y=\"" + num(py(0) + 16) + "\" font-size=\"11\" fill=\"#666\" text-anchor=\"middle\">" + num(v, 1) + "</text>";
    o += "<text x=\"" + num(px(0) - 6) + "\" y=\"" + num(py(v) + 4) + "\" font-size=\"11\" fill=\"#666\" text-anchor=\"end\">" + num(v, 1) + "</text>";
  }
  o += "<line x1=\"" + num(px(0)) + "\" y1=\"" + num(py(0)) + "\" x2=\"" + num(px(1)) + "\" y2=\"" + num(py(1)) + "\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>";
  o += "<text x=\"" + num(px(0.5)) + "\" y=\"" + num(height - 4) + "\" font-size=\"12\" fill=\"#444\" text-anchor=\"middle\">false positive rate (negative sets)</text>";
  o += "<text transform=\"translate(12 " + num(py(0.5)) + ") rotate(-90)\" font-size=\"12\" fill=\"#444\" text-anchor=\"middle\">true positive rate</text>";
  for (std::size_t i = 0; i < series.size(); ++i) {
    const char* color = kPalette[i % std::size(kPalette)];
    std::string pts;
    for (const auto& [x, y] : series[i].points) pts += num(px(x)) + "," + num(py(y)) + " ";
    o += "<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" + color + "\" stroke-width=\"2\"><title>" +
         html_escape(series[i].name) + "</title></polyline>";
    const double ly = 24 + 20 * static_cast<double>(i);
    o += "<rect x=\"" + num(m + size + 20) + "\" y=\"" + num(ly - 9) + "\" width=\"14\" height=\"4\" fill=\"" + color + "\"/>";
    o += "<text x=\"" + num(m + size + 40) + "\" y=\"" + num(ly - 3) + "\" font-size=\"12\" fill=\"#222\">" + html_escape(shorten(series[i].name, 36)) + "</text>";
  }
  return o + "</svg>";
}

std::string scatter(const std::vector<Dot>& dots, std::string_view x_label, std::string_view y_label, std::string_view title) {
  const double m = 56, w = 460, h = 320;
  double xmax = 0.01, ymin = 1.0, ymax = 0.0;
  for (const Dot& d : dots) {
    xmax = std::max(xmax, d.x);
    ymin = std::min(ymin, d.y);
    ymax = std::max(ymax, d.y);
  }
  // Axes on "nice" steps (4 intervals each) that leave a margin around the points.
  auto nice_step = [](double span) {
    for (double st : {0.001, 0.002, 0.0025, 0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25})
      if (4 * st >= span) return st;
    return 0.25;
  };
  const double xs = nice_step(xmax * 1.1);
  xmax = std::min(1.0, 4 * xs);
  const double ys = nice_step((ymax - ymin) * 1.2 + 0.002);
  ymin = std::max(0.0, std::floor((ymin - ys / 2) / ys) * ys);
  ymax = ymin + 4 * ys;
  if (ymax > 1.0) {
    ymax = 1.0;
    ymin = std::max(0.0, 1.0 - 4 * ys);
  }
  auto px = [&](double x) { return m + w * (x / xmax); };
  auto py = [&](double y) { return 16 + h * (1.0 - (y - ymin) / (ymax - ymin)); };
  const double width = m + w + 40, height = 16 + h + 48;
  std::string o = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" font-family=\"sans-serif\" width=\"" + num(width, 0) + "\" height=\"" + num(height, 0) +
                  "\" viewBox=\"0 0 " + num(width, 0) + " " + num(height, 0) + "\"><title>" + html_escape(title) + "</title>";
  for (int t = 0; t <= 4; ++t) {
    const double xv = xmax * t / 4.0, yv = ymin + (ymax - ymin) * t / 4.0;
    o += "<line x1=\"" + num(px(xv)) + "\" y1=\"" + num(py(ymin)) + "\" x2=\"" + num(px(xv)) + "\" y2=\"" + num(py(ymax)) + "\" stroke=\"#e6e6e6\"/>";
    o += "<line x1=\"" + num(px(0)) + "\" y1=\"" + num(py(yv)) + "\" x2=\"" + num(px(xmax)) + "\" y2=\"" + num(py(yv)) + "\" stroke=\"#e6e6e6\"/>";
    o += "<text x=\"" + num(px(xv)) + "\" y=\"" + num(py(ymin) + 16) + "\" font-size=\"11\" fill=\"#666\" text-anchor=\"middle\">" + pct(xv) + "</text>";
    o += "<text x=\"" + num(px(0) - 6) + "\" y=\"" + num(py(yv) + 4) + "\" font-size=\"11\" fill=\"#666\" text-anchor=\"end\">" + pct(yv) + "</text>";
  }
  o += "<text x=\"" + num(px(xmax / 2)) + "\" y=\"" + num(height - 6) + "\" font-size=\"12\" fill=\"#444\" text-anchor=\"middle\">" + html_escape(x_label) + "</text>";
  o += "<text transform=\"translate(14 " + num(py((ymin + ymax) / 2)) + ") rotate(-90)\" font-size=\"12\" fill=\"#444\" text-anchor=\"middle\">" +
       html_escape(y_label) + "</text>";
  std::vector<const Dot*> front;
  for (const Dot& d : dots)
    if (d.front) front.push_back(&d);
  std::sort(front.begin(), front.end(), [](const Dot* a, const Dot* b) { return a->x != b->x ? a->x < b->x : a->y < b->y; });
  if (front.size() > 1) {
    std::string pts;
    for (const Dot* d : front) pts += num(px(d->x)) + "," + num(py(d->y)) + " ";
    o += "<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>";
  }
  // Dominated points first, then the front, then the default, so that nothing hides them.
  std::vector<const Dot*> order;
  for (int layer = 0; layer < 3; ++layer)
    for (const Dot& d : dots)
      if ((d.marked ? 2 : d.front ? 1 : 0) == layer) order.push_back(&d);
  for (const Dot* dp : order) {
    const Dot& d = *dp;
    const double x = px(d.x), y = py(d.y);
    const std::string fill = d.front ? "#d62728" : "#1f77b4";
    o += "<g><title>" + html_escape(d.label) + "</title>";
    if (d.marked) {
      o += "<path d=\"M" + num(x) + " " + num(y - 8) + "L" + num(x + 8) + " " + num(y) + "L" + num(x) + " " + num(y + 8) + "L" + num(x - 8) +
           " " + num(y) + "Z\" fill=\"none\" stroke=\"#000\" stroke-width=\"2\"/>";
      o += "<text x=\"" + num(x + 10) + "\" y=\"" + num(y - 8) + "\" font-size=\"12\" fill=\"#222\">default</text>";
    }
    o += "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"4\" fill=\"" + fill + "\"/></g>";
  }
  return o + "</svg>";
}

std::string stacked(const std::vector<Stack>& rows, const std::vector<std::string>& legend, const std::vector<std::string>& colors,
                    std::string_view title) {
  const double label_w = 180, plot_w = 460, row = 22, top = 28;
  const double width = label_w + plot_w + 20, height = top + row * static_cast<double>(rows.size()) + 6;
  std::string o = "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" font-family=\"sans-serif\" width=\"" + num(width, 0) + "\" height=\"" + num(height, 0) +
                  "\" viewBox=\"0 0 " + num(width, 0) + " " + num(height, 0) + "\"><title>" + html_escape(title) + "</title>";
  double lx = label_w;
  for (std::size_t k = 0; k < legend.size(); ++k) {
    o += "<rect x=\"" + num(lx) + "\" y=\"6\" width=\"12\" height=\"12\" fill=\"" + html_escape(colors[k % colors.size()]) + "\"/>";
    o += "<text x=\"" + num(lx + 16) + "\" y=\"16\" font-size=\"12\" fill=\"#222\">" + html_escape(legend[k]) + "</text>";
    lx += 24 + 8 * static_cast<double>(legend[k].size());
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const double y = top + row * static_cast<double>(i);
    std::size_t total = 0;
    for (auto c : rows[i].counts) total += c;
    o += "<text x=\"" + num(label_w - 6) + "\" y=\"" + num(y + 15) + "\" text-anchor=\"end\" font-size=\"12\" fill=\"#222\">" +
         html_escape(shorten(rows[i].label, 28)) + "</text>";
    double x = label_w;
    for (std::size_t k = 0; k < rows[i].counts.size(); ++k) {
      if (!total || !rows[i].counts[k]) continue;
      const double wk = plot_w * static_cast<double>(rows[i].counts[k]) / static_cast<double>(total);
      o += "<rect x=\"" + num(x) + "\" y=\"" + num(y + 3) + "\" width=\"" + num(wk) + "\" height=\"" + num(row - 6) + "\" fill=\"" +
           html_escape(colors[k % colors.size()]) + "\"><title>" + html_escape(rows[i].label) + ": " +
           html_escape(k < legend.size() ? legend[k] : std::string()) + " " + std::to_string(rows[i].counts[k]) + " of " +
           std::to_string(total) + "</title></rect>";
      x += wk;
    }
  }
  return o + "</svg>";
}

std::string_view stylesheet() {
  return R"(<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin-top:20px}
table{border-collapse:collapse;margin:8px 0}th,td{padding:3px 10px;text-align:left;border-bottom:1px solid #eee;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f6f6f6}
.meta td:first-child{color:#666}.muted{color:#777}.bad{color:#b00020;font-weight:600}.good{color:#1b7a1b}
code{background:#f4f4f4;padding:1px 4px;border-radius:3px;word-break:break-all}
svg{display:block;margin:8px 0;max-width:100%;height:auto}
</style>)";
}

}  // namespace dg::eval::svg
