// Inline SVG charts and HTML escaping for the self-contained reports (no scripts, no external
// assets). Every string that reaches the markup goes through html_escape; numbers are formatted
// here. Hover text uses SVG <title> elements, which browsers show without JavaScript.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "eval/metrics.h"

namespace dg::eval::svg {

// Escapes & < > " ' for text and attribute values.
std::string html_escape(std::string_view s);

// A horizontal bar for a rate in [0, 1] with an optional 95% interval whisker.
struct Bar {
  std::string label;
  double value = 0;
  Interval ci;
  bool has_ci = true;
  std::string note;   // printed after the value, e.g. "12/40"
  std::string color;  // CSS colour; "" = default
};
// Bars on a 0..1 axis (0%..100%). `title` is the chart's accessible name.
std::string hbars(const std::vector<Bar>& bars, std::string_view title);

// Lines in the unit square, e.g. ROC curves (x = false positive rate, y = true positive rate).
struct Series {
  std::string name;  // legend text
  std::vector<std::pair<double, double>> points;
};
std::string roc_chart(const std::vector<Series>& series, std::string_view title);

// A scatter of variants (x = over-blocking, y = detection) with the Pareto front drawn as a line.
struct Dot {
  double x = 0, y = 0;
  std::string label;  // hover text
  bool front = false;
  bool marked = false;  // the shipped default: drawn as a diamond and labelled
};
std::string scatter(const std::vector<Dot>& dots, std::string_view x_label, std::string_view y_label, std::string_view title);

// One stacked horizontal bar per row (counts per class), with a legend.
struct Stack {
  std::string label;
  std::vector<std::size_t> counts;
};
std::string stacked(const std::vector<Stack>& rows, const std::vector<std::string>& legend,
                    const std::vector<std::string>& colors, std::string_view title);

// "0.123" with `decimals` digits (locale independent).
std::string num(double v, int decimals = 1);

// The report's shared <style> block.
std::string_view stylesheet();

}  // namespace dg::eval::svg
