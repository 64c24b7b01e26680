// svg.cpp — see svg.h. Layout of a line chart (pixels):
//   top margin (title) | plot area (plot_height) | tick labels + x label (44) | legend rows (18 each)
//   left margin 64 (y tick labels + y label) | plot area | right margin 20
// The plot area is a nested <svg> viewport, which clips what falls outside it without needing a
// clipPath id (ids would have to be unique across all charts of a page).
#include "report/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "tensor/error.h"

namespace cxr::report {

namespace {

// A coordinate with one decimal (enough for pixels), "-0.0" printed as "0.0".
std::string px(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  std::string s = buf;
  return s == "-0.0" ? "0.0" : s;
}

// Number of UTF-8 code points in s (continuation bytes 10xxxxxx are not counted).
size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// s cut to at most max_chars code points, with "…" replacing the tail when cut.
std::string truncate_utf8(const std::string& s, size_t max_chars) {
  if (utf8_length(s) <= max_chars) return s;
  size_t chars = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (chars == max_chars - 1) break;
      ++chars;
    }
  }
  return s.substr(0, i) + "\u2026";
}

// Rough width of 12 px sans-serif text: legends are laid out without measuring fonts.
double text_width(const std::string& s) { return 7.0 * static_cast<double>(utf8_length(s)); }

std::string svg_open(int width, int height, const std::string& title) {
  std::string t = html_escape(title);
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"" + std::to_string(width) + "\" height=\"" +
         std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
         "\" role=\"img\" aria-label=\"" + t + "\" font-family=\"sans-serif\" font-size=\"12\"><title>" + t +
         "</title>\n";
}

std::string text_element(double x, double y, const std::string& text, const std::string& extra = "") {
  return "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\"" + (extra.empty() ? "" : " " + extra) + ">" +
         html_escape(text) + "</text>\n";
}

bool finite_point(double x, double y) { return std::isfinite(x) && std::isfinite(y); }

// An axis: its data range [lo, hi] and tick positions inside it.
struct Axis {
  double lo = 0, hi = 1;
  std::vector<double> ticks;
  int decimals = 0;
};

// The axis for data in [data_lo, data_hi] (either may be overridden by a fixed end).
Axis make_axis(double data_lo, double data_hi, std::optional<double> fixed_lo, std::optional<double> fixed_hi,
               int target, double min_step = 0) {
  double lo = fixed_lo.value_or(data_lo), hi = fixed_hi.value_or(data_hi);
  std::vector<double> ticks = nice_ticks(std::min(lo, hi), std::max(lo, hi), target, min_step);
  Axis a;
  a.lo = fixed_lo ? *fixed_lo : ticks.front();
  a.hi = fixed_hi ? *fixed_hi : ticks.back();
  if (a.hi <= a.lo) {  // a fixed end beyond the data: fall back to the ticks' span
    a.lo = std::min(a.lo, ticks.front());
    a.hi = std::max(a.hi, ticks.back());
  }
  double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1.0;
  double eps = 1e-9 * step;
  for (double t : ticks)
    if (t >= a.lo - eps && t <= a.hi + eps) a.ticks.push_back(t);
  a.decimals = tick_decimals(step);
  return a;
}

// Grid lines, tick labels and the frame of a plot area at (left, top) of size (w, h).
std::string axes_svg(const Axis& xa, const Axis& ya, double left, double top, double w, double h) {
  std::string s;
  auto sx = [&](double x) { return left + (x - xa.lo) / (xa.hi - xa.lo) * w; };
  auto sy = [&](double y) { return top + (ya.hi - y) / (ya.hi - ya.lo) * h; };
  for (double t : ya.ticks) {
    s += "<line x1=\"" + px(left) + "\" x2=\"" + px(left + w) + "\" y1=\"" + px(sy(t)) + "\" y2=\"" + px(sy(t)) +
         "\" stroke=\"#e3e3e3\"/>\n";
    s += text_element(left - 6, sy(t) + 4, format_fixed(t, ya.decimals), "text-anchor=\"end\" fill=\"#444\"");
  }
  for (double t : xa.ticks) {
    s += "<line x1=\"" + px(sx(t)) + "\" x2=\"" + px(sx(t)) + "\" y1=\"" + px(top) + "\" y2=\"" + px(top + h) +
         "\" stroke=\"#e3e3e3\"/>\n";
    s += text_element(sx(t), top + h + 16, format_fixed(t, xa.decimals), "text-anchor=\"middle\" fill=\"#444\"");
  }
  s += "<rect x=\"" + px(left) + "\" y=\"" + px(top) + "\" width=\"" + px(w) + "\" height=\"" + px(h) +
       "\" fill=\"none\" stroke=\"#888\"/>\n";
  return s;
}

// A legend entry: a short line in the series' style, then the text.
struct LegendItem {
  std::string text, full_text, color;
  bool dashed = false;
};

// Lays legend items out left to right, wrapping at `right`; returns the SVG and sets the height used.
std::string legend_svg(const std::vector<LegendItem>& items, double left, double top, double right, double* height) {
  std::string s;
  double x = left, y = top;
  const double row = 18, swatch = 20, gap = 16;
  for (const auto& item : items) {
    double w = swatch + 6 + text_width(item.text);
    if (x > left && x + w > right) {
      x = left;
      y += row;
    }
    s += "<g>";
    if (item.full_text != item.text) s += "<title>" + html_escape(item.full_text) + "</title>";
    s += "<line x1=\"" + px(x) + "\" x2=\"" + px(x + swatch) + "\" y1=\"" + px(y + 9) + "\" y2=\"" + px(y + 9) +
         "\" stroke=\"" + html_escape(item.color) + "\" stroke-width=\"2.5\"" +
         (item.dashed ? " stroke-dasharray=\"5 3\"" : "") + "/>";
    s += text_element(x + swatch + 6, y + 13, item.text);
    s += "</g>\n";
    x += w + gap;
  }
  *height = items.empty() ? 0 : y - top + row;
  return s;
}

// The characters that are markup in HTML and XML, as character references.
const char* character_reference(unsigned char c) {
  switch (c) {
    case '&':
      return "&amp;";
    case '<':
      return "&lt;";
    case '>':
      return "&gt;";
    case '"':
      return "&quot;";
    case '\'':
      return "&#39;";
    default:
      return nullptr;
  }
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    if (const char* reference = character_reference(c)) {
      out += reference;
      ++i;
      continue;
    }
    if (c < 0x80) {
      // C0 controls other than tab, LF and CR are not allowed in HTML text: replaced.
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
        out += "\uFFFD";
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // A multi-byte UTF-8 sequence is copied when well formed (no overlong forms, no surrogates,
    // at most U+10FFFF); any other byte becomes U+FFFD, so the page is always valid UTF-8.
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xC0) == 0x80;
    if (ok && len == 3) ok = !(c == 0xE0 && p[i + 1] < 0xA0) && !(c == 0xED && p[i + 1] >= 0xA0);
    if (ok && len == 4) ok = !(c == 0xF0 && p[i + 1] < 0x90) && !(c == 0xF4 && p[i + 1] >= 0x90);
    if (ok) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\uFFFD";
      ++i;
    }
  }
  return out;
}

std::string format_fixed(double v, int digits) {
  if (std::isnan(v)) return "n/a";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", std::clamp(digits, 0, 17), v);
  std::string s = buf;
  // "-0.000" reads as a sign error; a value that rounds to zero prints as zero.
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

std::vector<double> nice_ticks(double lo, double hi, int target, double min_step) {
  CXR_CHECK(std::isfinite(lo) && std::isfinite(hi), "nice_ticks: range [", lo, ", ", hi, "] is not finite");
  CXR_CHECK(lo <= hi, "nice_ticks: lo ", lo, " > hi ", hi);
  CXR_CHECK(target >= 1, "nice_ticks: target ", target, " must be >= 1");
  CXR_CHECK(min_step >= 0 && std::isfinite(min_step), "nice_ticks: min_step ", min_step, " must be >= 0");
  // A range that is empty, or too narrow for its magnitude to be split into steps that doubles
  // can count (0.87974999853600 to ...01), is widened around its middle.
  if (hi - lo <= std::max(std::abs(lo), std::abs(hi)) * 1e-9) {
    double mid = lo + (hi - lo) / 2;
    double delta = mid == 0 ? 1.0 : std::abs(mid) * 0.1;
    lo = mid - delta;
    hi = mid + delta;
  }
  double raw = (hi - lo) / target;
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double norm = raw / magnitude;
  double step = (norm < 1.5 ? 1.0 : norm < 3.0 ? 2.0 : norm < 7.0 ? 5.0 : 10.0) * magnitude;
  if (min_step > 0 && step < min_step) step = min_step;
  double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  // About `target` intervals (fewer when min_step is larger), never a runaway count.
  auto intervals = static_cast<int64_t>(std::llround(last - first));
  CXR_CHECK(intervals >= 0 && intervals <= 1000, "nice_ticks: range [", lo, ", ", hi, "] with target ", target,
            " gives ", intervals, " intervals (at most 1000)");
  std::vector<double> ticks;
  for (int64_t k = 0; k <= intervals; ++k) {
    double t = (first + static_cast<double>(k)) * step;  // a multiple of step (no accumulated error)
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  }
  if (ticks.size() == 1) ticks.push_back(ticks[0] + step);
  return ticks;
}

int tick_decimals(double step) {
  if (!(step > 0) || step >= 1) return 0;
  return static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
}

std::vector<double> ema_smooth(const std::vector<double>& y, double weight) {
  CXR_CHECK(weight >= 0 && weight < 1, "ema_smooth: weight ", weight, " must lie in [0, 1)");
  if (weight == 0) return y;
  std::vector<double> out(y.size());
  double m = 0, decay = 1;  // decay = w^t over the finite values seen so far
  for (size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i])) {
      out[i] = y[i];
      continue;
    }
    m = weight * m + (1 - weight) * y[i];
    decay *= weight;
    out[i] = m / (1 - decay);
  }
  return out;
}

std::string series_color(size_t index) {
  static const char* const palette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                        "#E69F00", "#56B4E9", "#000000", "#F0E442"};
  return palette[index % (sizeof palette / sizeof palette[0])];
}

std::string line_chart_svg(const std::vector<Series>& series, const LineChartOptions& options) {
  CXR_CHECK(options.width >= 200 && options.plot_height >= 80, "line_chart_svg: chart '", options.title, "': size ",
            options.width, " x ", options.plot_height, " is too small (at least 200 x 80)");
  if (options.y_min && options.y_max)
    CXR_CHECK(*options.y_min < *options.y_max, "line_chart_svg: chart '", options.title, "': y_min ", *options.y_min,
              " >= y_max ", *options.y_max);
  if (options.x_min && options.x_max)
    CXR_CHECK(*options.x_min < *options.x_max, "line_chart_svg: chart '", options.title, "': x_min ", *options.x_min,
              " >= x_max ", *options.x_max);
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const auto& s : series) {
    CXR_CHECK(s.x.size() == s.y.size(), "line_chart_svg: series '", s.name, "' has ", s.x.size(), " x values and ",
              s.y.size(), " y values");
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!finite_point(s.x[i], s.y[i])) continue;
      x_lo = std::min(x_lo, s.x[i]);
      x_hi = std::max(x_hi, s.x[i]);
      y_lo = std::min(y_lo, s.y[i]);
      y_hi = std::max(y_hi, s.y[i]);
    }
  }
  bool have_data = x_lo <= x_hi;
  if (!have_data) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  Axis xa = make_axis(x_lo, x_hi, options.x_min, options.x_max, 6, options.x_min_step);
  Axis ya = make_axis(y_lo, y_hi, options.y_min, options.y_max, 5);

  const double left = 64, right_margin = 20, top = options.title.empty() ? 12 : 34;
  const double plot_w = options.width - left - right_margin, plot_h = options.plot_height;
  auto sx = [&](double x) { return (x - xa.lo) / (xa.hi - xa.lo) * plot_w; };  // inside the plot viewport
  auto sy = [&](double y) { return (ya.hi - y) / (ya.hi - ya.lo) * plot_h; };

  std::string body;
  if (!options.title.empty())
    body += text_element(options.width / 2.0, 20, options.title,
                         "text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\"");
  body += axes_svg(xa, ya, left, top, plot_w, plot_h);
  if (!options.x_label.empty())
    body += text_element(left + plot_w / 2, top + plot_h + 36, options.x_label, "text-anchor=\"middle\"");
  if (!options.y_label.empty())
    body += text_element(-(top + plot_h / 2), 16, options.y_label, "text-anchor=\"middle\" transform=\"rotate(-90)\"");

  body += "<svg x=\"" + px(left) + "\" y=\"" + px(top) + "\" width=\"" + px(plot_w) + "\" height=\"" + px(plot_h) +
          "\" viewBox=\"0 0 " + px(plot_w) + " " + px(plot_h) + "\">\n";
  if (!have_data) body += text_element(plot_w / 2, plot_h / 2, "no data", "text-anchor=\"middle\" fill=\"#888\"");
  std::vector<LegendItem> legend;
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    std::string color = s.color.empty() ? series_color(k) : s.color;
    std::string style = "stroke=\"" + html_escape(color) + "\" stroke-width=\"2\" fill=\"none\"" +
                        (s.dashed ? " stroke-dasharray=\"6 4\"" : "") +
                        (s.opacity < 1 ? " stroke-opacity=\"" + format_fixed(s.opacity, 2) + "\"" : "");
    // Runs of consecutive finite points become path segments; a lone point becomes a dot.
    std::string d, dots;
    size_t points = 0;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!finite_point(s.x[i], s.y[i])) continue;
      ++points;
      bool prev = i > 0 && finite_point(s.x[i - 1], s.y[i - 1]);
      bool next = i + 1 < s.x.size() && finite_point(s.x[i + 1], s.y[i + 1]);
      std::string xy = px(sx(s.x[i])) + " " + px(sy(s.y[i]));
      if (!prev && next) d += (d.empty() ? "M" : " M") + xy;
      if (prev) d += " L" + xy;
      if ((!prev && !next) || s.markers)
        dots += "<circle cx=\"" + px(sx(s.x[i])) + "\" cy=\"" + px(sy(s.y[i])) + "\" r=\"3\" fill=\"" +
                html_escape(color) + "\"" +
                (s.opacity < 1 ? " fill-opacity=\"" + format_fixed(s.opacity, 2) + "\"" : "") + "/>";
    }
    body += "<g class=\"series\" data-series=\"" + html_escape(s.name) + "\">";
    if (!d.empty()) body += "<path d=\"" + d + "\" " + style + "/>";
    body += dots + "</g>\n";
    if (s.in_legend) {
      std::string text = s.name + (points == 0 ? " (no data)" : "");
      legend.push_back({truncate_utf8(text, 48), text, color, s.dashed});
    }
  }
  body += "</svg>\n";
  double legend_top = top + plot_h + (options.x_label.empty() ? 26 : 46), legend_h = 0;
  body += legend_svg(legend, left, legend_top, options.width - right_margin, &legend_h);
  int height = static_cast<int>(std::ceil(legend_top + legend_h + 6));
  return svg_open(options.width, height, options.title.empty() ? "chart" : options.title) + body + "</svg>\n";
}

std::string roc_chart_svg(const std::vector<RocCurve>& curves, const RocChartOptions& options) {
  CXR_CHECK(options.size >= 100, "roc_chart_svg: chart '", options.title, "': size ", options.size,
            " is too small (at least 100)");
  for (const auto& c : curves) {
    CXR_CHECK(c.fpr.size() == c.tpr.size(), "roc_chart_svg: curve '", c.name, "' has ", c.fpr.size(),
              " fpr values and ", c.tpr.size(), " tpr values");
    for (size_t i = 0; i < c.fpr.size(); ++i)
      CXR_CHECK(std::isfinite(c.fpr[i]) && std::isfinite(c.tpr[i]) && c.fpr[i] >= -1e-9 && c.fpr[i] <= 1 + 1e-9 &&
                    c.tpr[i] >= -1e-9 && c.tpr[i] <= 1 + 1e-9,
                "roc_chart_svg: curve '", c.name, "' point ", i, " (fpr ", c.fpr[i], ", tpr ", c.tpr[i],
                ") lies outside [0, 1]");
  }
  const double left = 52, right_margin = 16, top = options.title.empty() ? 12 : 34, side = options.size;
  const int width = static_cast<int>(left + side + right_margin);
  Axis unit;
  unit.lo = 0;
  unit.hi = 1;
  unit.ticks = {0, 0.2, 0.4, 0.6, 0.8, 1.0};
  unit.decimals = 1;
  auto sx = [&](double x) { return x * side; };  // inside the plot viewport
  auto sy = [&](double y) { return (1 - y) * side; };

  std::string body;
  if (!options.title.empty())
    body +=
        text_element(width / 2.0, 20, options.title, "text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\"");
  body += axes_svg(unit, unit, left, top, side, side);
  body += text_element(left + side / 2, top + side + 34, "false positive rate", "text-anchor=\"middle\"");
  body += text_element(-(top + side / 2), 16, "true positive rate", "text-anchor=\"middle\" transform=\"rotate(-90)\"");
  body += "<svg x=\"" + px(left) + "\" y=\"" + px(top) + "\" width=\"" + px(side) + "\" height=\"" + px(side) +
          "\" viewBox=\"0 0 " + px(side) + " " + px(side) + "\">\n";
  body += "<line x1=\"0.0\" y1=\"" + px(side) + "\" x2=\"" + px(side) +
          "\" y2=\"0.0\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>\n";
  std::vector<LegendItem> legend;
  for (size_t k = 0; k < curves.size(); ++k) {
    const RocCurve& c = curves[k];
    std::string color = series_color(k);
    std::string d;
    for (size_t i = 0; i < c.fpr.size(); ++i) d += (i == 0 ? "M" : " L") + px(sx(c.fpr[i])) + " " + px(sy(c.tpr[i]));
    body += "<g class=\"series\" data-series=\"" + html_escape(c.name) + "\">";
    if (!d.empty())
      body +=
          "<path d=\"" + d + "\" stroke=\"" + color + "\" stroke-width=\"2\" fill=\"none\" stroke-linejoin=\"round\"/>";
    body += "</g>\n";
    std::string label = truncate_utf8(c.name, 40);
    std::string suffix = c.fpr.empty() ? " (no data)"
                         : c.auc       ? " (AUC " + format_fixed(*c.auc, options.digits) + ")"
                                       : "";
    legend.push_back({label + suffix, c.name + suffix, color, false});
  }
  body += "</svg>\n";
  // One legend entry per line: AUC legends are compared down a column.
  double y = top + side + 48;
  for (const auto& item : legend) {
    double h = 0;
    body += legend_svg({item}, left, y, 1e9, &h);
    y += h;
  }
  int height = static_cast<int>(std::ceil(y + 6));
  return svg_open(width, height, options.title.empty() ? "ROC" : options.title) + body + "</svg>\n";
}

std::string confusion_matrix_html(const std::vector<std::vector<int64_t>>& counts,
                                  const std::vector<std::string>& labels, const std::string& caption) {
  size_t n = counts.size();
  CXR_CHECK(n > 0, "confusion_matrix_html: '", caption, "': the matrix is empty");
  CXR_CHECK(labels.size() == n, "confusion_matrix_html: '", caption, "': ", labels.size(), " labels for ", n, " rows");
  for (size_t r = 0; r < n; ++r) {
    CXR_CHECK(counts[r].size() == n, "confusion_matrix_html: '", caption, "': row ", r, " has ", counts[r].size(),
              " columns, expected ", n, " (a square matrix)");
    for (int64_t v : counts[r])
      CXR_CHECK(v >= 0, "confusion_matrix_html: '", caption, "': negative count ", v, " in row ", r);
  }
  std::string s = "<table class=\"confusion\">";
  if (!caption.empty()) s += "<caption>" + html_escape(caption) + "</caption>";
  s += "<thead><tr><th rowspan=\"2\">true \\ predicted</th><th colspan=\"" + std::to_string(n) +
       "\">predicted</th><th rowspan=\"2\">total</th></tr><tr>";
  for (const auto& l : labels) s += "<th>" + html_escape(l) + "</th>";
  s += "</tr></thead><tbody>\n";
  for (size_t r = 0; r < n; ++r) {
    int64_t total = 0;
    for (int64_t v : counts[r]) total += v;
    s += "<tr><th>" + html_escape(labels[r]) + "</th>";
    for (size_t c = 0; c < n; ++c) {
      int64_t v = counts[r][c];
      double fraction = total > 0 ? static_cast<double>(v) / static_cast<double>(total) : 0.0;
      // Shade: the blue of the palette at opacity = row fraction; white text on dark cells.
      s += "<td style=\"background:rgba(0,114,178," + format_fixed(fraction, 3) +
           ");color:" + (fraction > 0.5 ? "#fff" : "#000") + "\"" + (r == c ? " class=\"diag\"" : "") + " title=\"" +
           std::to_string(v) + " of " + std::to_string(total) + " (" + format_fixed(100 * fraction, 1) + "%)\">" +
           std::to_string(v) + "</td>";
    }
    s += "<td class=\"total\">" + std::to_string(total) + "</td></tr>\n";
  }
  s += "</tbody></table>\n";
  return s;
}

}  // namespace cxr::report
