// svg.h — small builders for the charts of the HTML report, as inline SVG strings (no script):
//   line_chart_svg        several series of (x, y) points, axis ticks and labels, legend
//   roc_chart_svg         ROC curves on the unit square with the chance diagonal, AUC in the legend
//   confusion_matrix_html an HTML table of counts, cells shaded by the row fraction
// and the text helpers they share (escaping, number formatting, tick placement, smoothing).
// Every string that comes from data (titles, series names, labels) is escaped. Output is
// deterministic: the same input gives the same bytes (numbers are printed with fixed precision
// in the C locale's format, nothing depends on time or memory addresses).
// Coordinates: SVG user units = CSS pixels; the chart's plot area has y growing upwards in data
// space and downwards in SVG space (y_svg = top + (y_max - y) / (y_max - y_min) * height).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cxr::report {

// Escapes & < > " ' as character references: safe in HTML/SVG text and in quoted attributes.
std::string html_escape(std::string_view text);
// v with `digits` decimals ("0.812"); NaN and infinities give "n/a" / "inf" / "-inf".
std::string format_fixed(double v, int digits);

// "Nice" tick positions covering [lo, hi]: multiples of a step 1, 2 or 5 x 10^k chosen so that
// there are about `target` intervals. lo == hi (or a range narrower than 1e-9 of its magnitude)
// is widened by 10% of the value each way (by 1 around 0). Throws
// cxr::Error when lo or hi is not finite or lo > hi. min_step > 0 bounds the step from below
// (1 for an axis of whole numbers such as epochs).
std::vector<double> nice_ticks(double lo, double hi, int target = 5, double min_step = 0);
// The decimals needed to print ticks spaced `step` apart without loss (0 for step >= 1).
int tick_decimals(double step);

// Exponential moving average with bias correction (as TensorBoard's smoothing):
//   m_t = w m_{t-1} + (1 - w) y_t,  m_0 = 0,  s_t = m_t / (1 - w^t)
// over the finite values only (a non-finite y_t gives a non-finite s_t and leaves m unchanged).
// weight 0 returns y unchanged; throws cxr::Error unless 0 <= weight < 1.
std::vector<double> ema_smooth(const std::vector<double>& y, double weight);

// The default series colours (Okabe–Ito palette, distinguishable with colour-vision deficiency),
// cycled by index.
std::string series_color(size_t index);

struct Series {
  std::string name{};            // legend text
  std::vector<double> x{}, y{};  // same length; non-finite y (or x) breaks the line
  std::string color{};           // CSS colour; empty: series_color(index)
  bool dashed = false;
  double opacity = 1.0;  // stroke opacity (e.g. 0.3 for a raw curve under its smoothed one)
  bool markers = false;  // a dot at every point (for per-epoch values)
  bool in_legend = true;
};

struct LineChartOptions {
  std::string title{};
  std::string x_label{}, y_label{};
  int width = 560;                         // total width in pixels; the height grows with the legend
  int plot_height = 240;                   // height of the plot area
  std::optional<double> y_min{}, y_max{};  // fixed y range (default: the data's, padded to nice ticks)
  std::optional<double> x_min{}, x_max{};
  double x_min_step = 0;  // smallest x tick step (1: whole numbers, e.g. epochs)
};

// A line chart. Series with no finite point are listed in the legend as "(no data)"; with no
// finite point at all the plot says "no data". Throws cxr::Error when a series' x and y differ
// in length or the options are invalid (size too small, y_min >= y_max).
std::string line_chart_svg(const std::vector<Series>& series, const LineChartOptions& options);

struct RocCurve {
  std::string name;
  std::vector<double> fpr, tpr;  // same length, values in [0, 1], in curve order (as roc_curve)
  std::optional<double> auc;     // shown in the legend as "name (AUC 0.812)"
};

struct RocChartOptions {
  std::string title{};
  int size = 300;  // side of the square plot area in pixels
  int digits = 3;  // decimals of the AUC in the legend
};

// ROC curves, points joined by straight lines (the trapezoid interpolation the AUC integrates),
// with the dashed chance diagonal. Throws cxr::Error naming the curve when fpr and tpr differ in
// length, a value lies outside [0, 1] or is not finite.
std::string roc_chart_svg(const std::vector<RocCurve>& curves, const RocChartOptions& options);

// An HTML table: rows are the true class, columns the predicted class, each cell the count,
// shaded by count / row total (the per-class recall on the diagonal), with row totals. `labels`
// names the classes (its size must equal the number of rows and of columns). Throws cxr::Error
// for a ragged or non-square matrix, a label count that does not match, or a negative count.
std::string confusion_matrix_html(const std::vector<std::vector<int64_t>>& counts,
                                  const std::vector<std::string>& labels, const std::string& caption);

}  // namespace cxr::report
