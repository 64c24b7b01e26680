// html.cpp — see html.h. Reading happens in runs/run_files.cpp; this file lays the page out:
//   header, contents, [experiment: results tables per task, ROC comparison per task], one section
//   per run (summary, training curves, evaluations, explanations), footer.
// Every string from a file goes through html_escape (or sanitize_fragment for the highlighted
// report fragments); numbers are printed with fixed decimals.
#include "report/html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "data/image.h"
#include "report/base64.h"
#include "report/fragment.h"
#include "report/svg.h"
#include "runs/run_dir.h"
#include "runs/run_files.h"
#include "tensor/error.h"
#include "tensor/file_io.h"

namespace cxr::report {

// The files of docs/RUNS.md, as runs/run_files.h reads them.
using runs::EvalResult;
using runs::ExperimentTable;
using runs::ExplainItem;
using runs::GradcamInfo;
using runs::MetricValue;
using runs::RocPoints;
using runs::RunFiles;
using runs::TableRow;
using runs::TrainingLog;

namespace fs = std::filesystem;

namespace {

const char* const kCss = R"css(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0 auto;max-width:1240px;padding:0 24px 48px;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6em;margin:24px 0 4px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:40px}
h3{margin-top:28px}h4{margin:20px 0 8px}
.subtitle{color:#555;margin:0 0 12px}
nav ul{columns:2;padding-left:20px;margin:8px 0}
table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#f2f2f2;text-align:center}
table.results td{text-align:center;white-space:nowrap}table.results th{white-space:nowrap}
table.results .ci{display:block}
table.results a{color:inherit;text-decoration:none}
table.metrics td.num{text-align:right;white-space:nowrap}
.ci{color:#666;font-size:0.85em}
.na{color:#999}
.note{color:#555;font-style:italic;margin:6px 0}
.warning{background:#fff4e5;border:1px solid #f0a020;padding:8px 12px;border-radius:4px;margin:8px 0}
.charts{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start;margin:8px 0}
svg.chart{background:#fff;border:1px solid #e5e5e5;border-radius:4px}
table.confusion td{text-align:right;min-width:3em}table.confusion td.diag{font-weight:bold;outline:2px solid #333;outline-offset:-2px}
table.confusion caption{caption-side:top;text-align:left;color:#555;padding-bottom:4px}
.explain{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:16px}
.explain figure{margin:0;border:1px solid #e5e5e5;padding:8px;border-radius:4px}
.explain img{max-width:100%;height:auto}
.explain figcaption{font-weight:bold;margin-bottom:6px}
.attention{font-size:14px;margin-top:8px}.attention h3{font-size:1em;margin:4px 0}
.cam{font-size:13px;color:#444;margin:4px 0}
code{font-size:0.9em;background:#f5f5f5;padding:0 3px;border-radius:2px}
details{margin:8px 0}
footer{margin-top:48px;color:#777;font-size:13px}
)css";

// Records script errors (none are expected) where a headless browser test can read them.
const char* const kErrorScript =
    "<script>window.onerror=function(message){var d=document.documentElement;"
    "d.setAttribute('data-script-errors',(d.getAttribute('data-script-errors')||'')+String(message)+'\\n');};"
    "</script>\n";
// After load: how many images decoded, how many charts are SVG elements in the DOM.
const char* const kSelfCheckScript =
    "<script>window.addEventListener('load',function(){var d=document.documentElement,broken=0,i;"
    "for(i=0;i<document.images.length;i++){var im=document.images[i];if(!im.complete||im.naturalWidth===0)broken++;}"
    "d.setAttribute('data-images',String(document.images.length));"
    "d.setAttribute('data-images-broken',String(broken));"
    "d.setAttribute('data-charts',String(document.querySelectorAll('svg.chart').length));"
    "d.setAttribute('data-report-loaded','1');});</script>\n";

std::string esc(const std::string& s) { return html_escape(s); }

// ---- names and numbers ----

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "<prefix>_01v23" -> {"01", "23"}; nullopt for other names.
std::optional<std::pair<std::string, std::string>> split_versus(const std::string& name,
                                                                const std::string& prefix = "auc") {
  if (name.rfind(prefix + "_", 0) != 0) return std::nullopt;
  std::string rest = name.substr(prefix.size() + 1);
  size_t v = rest.find('v');
  if (v == std::string::npos) return std::nullopt;
  std::string a = rest.substr(0, v), b = rest.substr(v + 1);
  if (!all_digits(a) || !all_digits(b)) return std::nullopt;
  return std::make_pair(a, b);
}
bool is_ordinal(const std::string& name) {
  auto s = split_versus(name);
  return s && s->first.size() + s->second.size() > 2;
}
bool is_pairwise(const std::string& name) {
  auto s = split_versus(name);
  return s && s->first.size() == 1 && s->second.size() == 1;
}
bool is_ovr(const std::string& name) { return name.rfind("auc_ovr_", 0) == 0; }
// The ordinal cut scores of the evaluation: accuracy_0v123, precision_01v23, recall_012v3 ...
const std::vector<std::string> kCutScores = {"accuracy", "precision", "recall"};
int cut_score_family(const std::string& name) {
  for (size_t k = 0; k < kCutScores.size(); ++k)
    if (split_versus(name, kCutScores[k])) return static_cast<int>(k);
  return -1;
}

// The order metrics are listed in: ordinal AUCs, pairwise, one-vs-rest, per-finding AUCs, the
// summary scores; ties by name.
int metric_rank(const std::string& name) {
  static const std::vector<std::string> fixed = {"auc_0v123", "auc_01v23", "auc_012v3"};
  auto it = std::find(fixed.begin(), fixed.end(), name);
  if (it != fixed.end()) return static_cast<int>(it - fixed.begin());
  if (is_ordinal(name)) return 5;
  if (is_pairwise(name)) return 10;
  if (is_ovr(name)) return 20;
  if (name == "auc") return 25;
  if (name == "auc_mean") return 40;
  if (name.rfind("auc_", 0) == 0) return 30;
  if (name == "macro_f1" || name == "f1") return 50;
  if (name == "accuracy") return 51;
  if (int family = cut_score_family(name); family >= 0) return 52 + family;
  if (name == "mse") return 56;
  return 60;
}
void sort_metrics(std::vector<std::string>& names) {
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    int ra = metric_rank(a), rb = metric_rank(b);
    return ra != rb ? ra < rb : a < b;
  });
}

// Readable metric names: "0,1 vs 2,3", "2 vs rest", "Cardiomegaly", "macro-F1".
std::string metric_label(const std::string& name) {
  auto commas = [](const std::string& digits) {
    std::string out;
    for (char c : digits) out += (out.empty() ? "" : ",") + std::string(1, c);
    return out;
  };
  if (auto s = split_versus(name)) return commas(s->first) + " vs " + commas(s->second);
  if (int family = cut_score_family(name); family >= 0) {
    auto s = split_versus(name, kCutScores[static_cast<size_t>(family)]);
    return kCutScores[static_cast<size_t>(family)] + " " + commas(s->first) + " vs " + commas(s->second);
  }
  if (is_ovr(name)) return name.substr(8) + " vs rest";
  if (name == "auc") return "AUC";
  if (name == "auc_mean") return "mean AUC";
  if (name.rfind("auc_", 0) == 0) return name.substr(4);
  if (name == "macro_f1") return "macro-F1";
  if (name == "f1") return "F1";
  if (name == "mse") return "MSE";
  return name;
}
// Metrics on the [0, 1] scale of a probability (plotted together).
bool unit_scale_metric(const std::string& name) {
  return name.rfind("auc", 0) == 0 || name == "macro_f1" || name == "f1" || name == "accuracy" ||
         cut_score_family(name) >= 0;
}
// The scores worth a curve when an epoch logs many: the ordinal AUCs and the summary scores.
bool headline_metric(const std::string& name) {
  return is_ordinal(name) || name == "macro_f1" || name == "f1" || name == "accuracy" || name == "auc" ||
         name == "auc_mean";
}

std::string bound_label(const std::string& bound) {
  if (bound == "infonce") return "CPC";
  if (bound == "dv") return "MINE";
  return bound;
}

// "0.812 [0.741, 0.880]" as HTML; n/a for an undefined value.
std::string value_html(const MetricValue& m, int digits) {
  if (!std::isfinite(m.value)) return "<span class=\"na\" title=\"undefined\">n/a</span>";
  std::string s = "<span class=\"v\">" + format_fixed(m.value, digits) + "</span>";
  if (std::isfinite(m.ci_low) && std::isfinite(m.ci_high))
    s += " <span class=\"ci\">[" + format_fixed(m.ci_low, digits) + ", " + format_fixed(m.ci_high, digits) + "]</span>";
  return s;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "n/a";
  if (seconds < 60) return format_fixed(seconds, 1) + " s";
  auto total = static_cast<int64_t>(std::llround(seconds));
  int64_t h = total / 3600, m = total / 60 % 60, s = total % 60;
  char buf[64];
  if (h > 0) {
    std::snprintf(buf, sizeof buf, "%lld h %02lld min", static_cast<long long>(h), static_cast<long long>(m));
  } else {
    std::snprintf(buf, sizeof buf, "%lld min %02lld s", static_cast<long long>(m), static_cast<long long>(s));
  }
  return buf;
}

std::string note(const std::string& text) { return "<p class=\"note\">" + esc(text) + "</p>\n"; }
std::string warning(const std::string& text) { return "<div class=\"warning\">" + esc(text) + "</div>\n"; }

// Element ids: letters, digits and '-', unique within the page.
class IdSet {
 public:
  std::string make(const std::string& prefix, const std::string& text) {
    std::string slug;
    for (char c : text) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a'), ok = true;
      if (ok) {
        slug += c;
      } else if (!slug.empty() && slug.back() != '-') {
        slug += '-';
      }
    }
    while (!slug.empty() && slug.back() == '-') slug.pop_back();
    std::string base = prefix + (slug.empty() ? "x" : slug), id = base;
    for (int k = 2; !used_.insert(id).second; ++k) id = base + "-" + std::to_string(k);
    return id;
  }

 private:
  std::set<std::string> used_;
};

// ---- one run ----

std::string key_value_table(const std::vector<std::pair<std::string, std::string>>& rows) {
  std::string s = "<table class=\"kv\"><tbody>\n";
  for (const auto& [k, v] : rows) s += "<tr><th>" + esc(k) + "</th><td>" + esc(v) + "</td></tr>\n";
  return s + "</tbody></table>\n";
}

std::string summary_html(const RunFiles& run) {
  std::string s;
  if (run.config) {
    s += key_value_table(run.config->fields);
    if (!run.config->options.empty())
      s += "<details><summary>All options (" + std::to_string(run.config->options.size()) + ")</summary>" +
           key_value_table(run.config->options) + "</details>\n";
  } else {
    s += note("No config.json: the run's options are not shown.");
  }
  if (run.log) {
    const TrainingLog& log = *run.log;
    std::vector<std::pair<std::string, std::string>> rows;
    double elapsed = NAN;
    for (const auto& r : log.steps)
      if (std::isfinite(r.elapsed_s)) elapsed = std::isfinite(elapsed) ? std::max(elapsed, r.elapsed_s) : r.elapsed_s;
    for (const auto& r : log.epochs)
      if (std::isfinite(r.elapsed_s)) elapsed = std::isfinite(elapsed) ? std::max(elapsed, r.elapsed_s) : r.elapsed_s;
    if (!log.epochs.empty()) rows.emplace_back("epochs completed", std::to_string(log.epochs.back().epoch));
    if (!log.steps.empty()) rows.emplace_back("last logged step", std::to_string(log.steps.back().step));
    if (std::isfinite(elapsed)) rows.emplace_back("training time", format_duration(elapsed));
    if (!log.epochs.empty() && std::isfinite(log.epochs.back().train_loss))
      rows.emplace_back("last epoch's training loss", format_fixed(log.epochs.back().train_loss, 4));
    if (!rows.empty()) s += "<h4>Training</h4>\n" + key_value_table(rows);
    if (log.stop)
      s += warning("Training stopped" + (log.stop->step >= 0 ? " at step " + std::to_string(log.stop->step) : "") +
                   ": " + log.stop->reason + (log.stop->detail.empty() ? "" : " (" + log.stop->detail + ")"));
    for (const auto& n : log.notes) s += note(n);
  }
  return s;
}

// Indices to plot out of n points: all, or every k-th and the last, about max_points in all.
std::vector<size_t> thinned(size_t n, int max_points) {
  size_t stride = max_points > 0 && n > static_cast<size_t>(max_points)
                      ? (n + static_cast<size_t>(max_points) - 1) / static_cast<size_t>(max_points)
                      : 1;
  std::vector<size_t> idx;
  for (size_t i = 0; i < n; i += stride) idx.push_back(i);
  if (n > 0 && idx.back() != n - 1) idx.push_back(n - 1);
  return idx;
}

std::string training_curves_html(const TrainingLog& log, const ReportOptions& o) {
  std::string charts;
  std::string notes;
  const size_t n = log.steps.size();
  std::vector<size_t> idx = thinned(n, o.max_curve_points);
  auto pick = [&](const std::vector<double>& v) {
    std::vector<double> out;
    for (size_t i : idx) out.push_back(v[i]);
    return out;
  };
  std::vector<double> step_x(n), loss(n), lr(n);
  for (size_t i = 0; i < n; ++i) {
    step_x[i] = static_cast<double>(log.steps[i].step);
    loss[i] = log.steps[i].loss;
    lr[i] = log.steps[i].lr;
  }
  // Training loss: raw (faint), smoothed, and the per-epoch mean at each epoch's last step.
  std::vector<Series> loss_series;
  if (n > 0) {
    loss_series.push_back({.name = "loss",
                           .x = pick(step_x),
                           .y = pick(loss),
                           .color = series_color(0),
                           .opacity = o.smoothing > 0 ? 0.3 : 1.0,
                           .in_legend = o.smoothing == 0});
    if (o.smoothing > 0)
      loss_series.push_back({.name = "loss (smoothed, EMA " + format_fixed(o.smoothing, 2) + ")",
                             .x = pick(step_x),
                             .y = pick(ema_smooth(loss, o.smoothing)),
                             .color = series_color(0)});
  }
  Series epoch_loss{.name = "epoch mean training loss", .color = series_color(1), .markers = true};
  for (const auto& e : log.epochs) {
    if (e.step < 0 || !std::isfinite(e.train_loss)) continue;
    epoch_loss.x.push_back(static_cast<double>(e.step));
    epoch_loss.y.push_back(e.train_loss);
  }
  if (!epoch_loss.x.empty()) loss_series.push_back(epoch_loss);
  if (!loss_series.empty())
    charts += line_chart_svg(loss_series, {.title = "Training loss", .x_label = "step", .y_label = "loss"});

  // The named loss terms, smoothed.
  std::set<std::string> part_names;
  for (const auto& r : log.steps)
    for (const auto& [k, v] : r.parts) part_names.insert(k);
  if (!part_names.empty()) {
    std::vector<Series> parts;
    for (const auto& name : part_names) {
      std::vector<double> y(n, NAN);
      for (size_t i = 0; i < n; ++i) {
        auto it = log.steps[i].parts.find(name);
        if (it != log.steps[i].parts.end()) y[i] = it->second;
      }
      parts.push_back({.name = name, .x = pick(step_x), .y = pick(ema_smooth(y, o.smoothing))});
    }
    charts += line_chart_svg(parts, {.title = "Loss terms" + std::string(o.smoothing > 0 ? " (smoothed)" : ""),
                                     .x_label = "step",
                                     .y_label = "loss term"});
  }

  // The learning rate, when it changes.
  std::set<double> lrs;
  for (double v : lr)
    if (std::isfinite(v)) lrs.insert(v);
  if (lrs.size() > 1) {
    charts += line_chart_svg({{.name = "learning rate", .x = pick(step_x), .y = pick(lr), .color = series_color(2)}},
                             {.title = "Learning rate", .x_label = "step", .y_label = "lr", .plot_height = 160});
  } else if (lrs.size() == 1) {
    char lr_text[32];
    std::snprintf(lr_text, sizeof lr_text, "%g", *lrs.begin());
    notes += note("Learning rate constant at " + std::string(lr_text) + ".");
  }

  // Validation metrics per epoch: the [0, 1] scores together, others (e.g. MSE) apart.
  std::set<std::string> val_names_set;
  for (const auto& e : log.epochs)
    for (const auto& [k, v] : e.val) val_names_set.insert(k);
  std::vector<std::string> unit, other;
  for (const auto& name : val_names_set) (unit_scale_metric(name) ? unit : other).push_back(name);
  sort_metrics(unit);
  sort_metrics(other);
  // Edema logs 25 values per epoch: the ordinal AUCs, macro-F1 and accuracy are the ones to watch.
  const size_t max_series = 8;
  if (unit.size() > max_series) {
    std::vector<std::string> kept, dropped;
    bool headlines = std::any_of(unit.begin(), unit.end(), headline_metric);
    for (const auto& name : unit) {
      bool keep = headlines ? headline_metric(name) && kept.size() < max_series : kept.size() < max_series;
      (keep ? kept : dropped).push_back(name);
    }
    std::string list;
    for (const auto& d : dropped) list += (list.empty() ? "" : ", ") + d;
    notes +=
        note(std::to_string(dropped.size()) + " validation metrics not plotted (see metrics.jsonl): " + list + ".");
    unit = kept;
  }
  auto val_chart = [&](const std::vector<std::string>& names, const std::string& title, bool unit_range) {
    if (names.empty()) return;
    std::vector<Series> series;
    for (const auto& name : names) {
      Series s{.name = metric_label(name), .markers = true};
      for (const auto& e : log.epochs) {
        auto it = e.val.find(name);
        if (it == e.val.end()) continue;
        s.x.push_back(static_cast<double>(e.epoch));
        s.y.push_back(it->second);
      }
      series.push_back(std::move(s));
    }
    LineChartOptions opt{
        .title = title, .x_label = "epoch", .y_label = unit_range ? "score" : "value", .x_min_step = 1};
    if (unit_range) {
      double lo = 1;
      for (const auto& s : series)
        for (double v : s.y)
          if (std::isfinite(v)) lo = std::min(lo, v);
      opt.y_min = lo >= 0.5 ? 0.5 : 0.0;  // AUCs live above chance: zoom in when all are
      opt.y_max = 1.0;
    }
    charts += line_chart_svg(series, opt);
  };
  val_chart(unit, "Validation metrics", true);
  val_chart(other, "Validation metrics (other scales)", false);
  if (log.epochs.empty()) notes += note("No epoch has finished: no validation curve.");
  if (charts.empty()) return notes + note("metrics.jsonl holds no training steps yet.");
  return "<div class=\"charts\">\n" + charts + "</div>\n" + notes;
}

struct RocGroup {
  std::string title;
  std::vector<std::string> names;
};

// ROC curves grouped so that no chart is crowded: ordinal, pairwise, one-vs-rest, then the rest
// in charts of up to 6 curves.
std::vector<RocGroup> roc_groups(const EvalResult& e) {
  std::vector<std::string> names;
  for (const auto& [name, points] : e.roc) names.push_back(name);
  sort_metrics(names);
  std::vector<RocGroup> groups;
  auto take = [&](const std::string& title, auto predicate) {
    RocGroup g{title, {}};
    for (const auto& n : names)
      if (predicate(n)) g.names.push_back(n);
    if (!g.names.empty()) groups.push_back(g);
  };
  take("ordinal", is_ordinal);
  take("pairwise", is_pairwise);
  take("one vs rest", is_ovr);
  std::vector<std::string> rest;
  for (const auto& n : names)
    if (!is_ordinal(n) && !is_pairwise(n) && !is_ovr(n)) rest.push_back(n);
  const size_t per_chart = 6;
  for (size_t i = 0; i < rest.size(); i += per_chart) {
    RocGroup g;
    g.names.assign(rest.begin() + static_cast<std::ptrdiff_t>(i),
                   rest.begin() + static_cast<std::ptrdiff_t>(std::min(rest.size(), i + per_chart)));
    g.title = rest.size() > per_chart ? "part " + std::to_string(i / per_chart + 1) : "";
    groups.push_back(g);
  }
  return groups;
}

std::string eval_html(const EvalResult& e, const ReportOptions& o) {
  std::string s;
  std::vector<std::string> facts;
  if (!e.task.empty()) facts.push_back("task " + e.task);
  if (!e.kind.empty()) facts.push_back(e.kind);
  if (e.n >= 0) facts.push_back("n = " + std::to_string(e.n));
  if (!e.class_counts.empty()) {
    std::string counts;
    for (int64_t c : e.class_counts) counts += (counts.empty() ? "" : " / ") + std::to_string(c);
    facts.push_back((e.kind == "binary" ? "negatives / positives " : "class counts ") + counts);
  }
  std::string level = std::isfinite(e.bootstrap_level) ? format_fixed(100 * e.bootstrap_level, 0) + "%" : "";
  if (e.bootstrap_replicates > 0)
    facts.push_back((level.empty() ? "" : level + " ") + "CIs from " + std::to_string(e.bootstrap_replicates) +
                    " bootstrap replicates");
  std::string line;
  for (const auto& f : facts) line += (line.empty() ? "" : " · ") + f;
  s += "<p>" + esc(line) + " <span class=\"note\">(" + esc(fs::path(e.file).filename().string()) + ")</span></p>\n";

  if (e.metrics.empty()) {
    s += note("No metrics in this file.");
  } else {
    std::vector<std::string> names;
    for (const auto& [name, v] : e.metrics) names.push_back(name);
    sort_metrics(names);
    s += "<table class=\"metrics\"><thead><tr><th>metric</th><th>value</th><th>" +
         esc((level.empty() ? "" : level + " ") + "CI") + "</th></tr></thead><tbody>\n";
    for (const auto& name : names) {
      const MetricValue& m = *e.metric(name);
      std::string ci = std::isfinite(m.ci_low) && std::isfinite(m.ci_high)
                           ? "[" + format_fixed(m.ci_low, o.digits) + ", " + format_fixed(m.ci_high, o.digits) + "]"
                           : "";
      s += "<tr><td>" + esc(metric_label(name)) + " <code>" + esc(name) + "</code></td><td class=\"num\">" +
           (std::isfinite(m.value) ? format_fixed(m.value, o.digits) : "<span class=\"na\">n/a</span>") +
           "</td><td class=\"num ci\">" + ci + "</td></tr>\n";
    }
    s += "</tbody></table>\n";
  }

  std::string charts;
  for (const RocGroup& g : roc_groups(e)) {
    std::vector<RocCurve> curves;
    for (const auto& name : g.names) {
      const RocPoints& p = e.roc.at(name);
      RocCurve c{metric_label(name), p.fpr, p.tpr, std::nullopt};
      if (const MetricValue* m = e.metric(name); m && std::isfinite(m->value)) c.auc = m->value;
      curves.push_back(std::move(c));
    }
    std::string title = "ROC" + (g.title.empty() ? "" : " (" + g.title + ")") + (e.task.empty() ? "" : ", " + e.task);
    charts += roc_chart_svg(curves, {.title = title, .digits = o.digits});
  }
  if (!e.confusion.empty()) {
    std::vector<std::string> labels;
    for (size_t i = 0; i < e.confusion.size(); ++i) labels.push_back(std::to_string(i));
    charts += "<div>" +
              confusion_matrix_html(e.confusion, labels,
                                    "Confusion matrix: rows are the true class, columns the predicted class; shade = "
                                    "fraction of the row") +
              "</div>\n";
  }
  if (e.roc.empty()) s += note("No ROC curves in this file.");
  if (!charts.empty()) s += "<div class=\"charts\">\n" + charts + "</div>\n";
  return s;
}

// "Grad-CAM at layer6 for class 2 · softmax 0.100 / 0.200 / 0.600 / 0.100 · input s1.png", the
// explained class in bold.
std::string gradcam_caption(const GradcamInfo& g, const ReportOptions& o) {
  std::vector<std::string> parts;
  std::string what = "Grad-CAM";
  if (!g.layer.empty()) what += " at " + esc(g.layer);
  if (g.target >= 0) what += " for class " + std::to_string(g.target);
  parts.push_back(what);
  if (!g.probabilities.empty()) {
    std::string p = esc(g.probability_kind.empty() ? "probabilities" : g.probability_kind) + " ";
    for (size_t c = 0; c < g.probabilities.size(); ++c) {
      std::string v = format_fixed(g.probabilities[c], o.digits);
      p += (c ? " / " : "") + (static_cast<int64_t>(c) == g.target ? "<b>" + v + "</b>" : v);
    }
    parts.push_back(p);
  }
  if (!g.input.empty()) parts.push_back("input " + esc(fs::path(g.input).filename().string()));
  std::string s;
  for (const auto& part : parts) s += (s.empty() ? "" : " · ") + part;
  return "<p class=\"cam\">" + s + "</p>";
}

bool is_png(const std::string& bytes) { return bytes.size() >= 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0; }

std::string explain_html(const RunFiles& run, const ReportOptions& o) {
  if (run.explain.empty())
    return note("No explain/ directory with *_gradcam.png, *_gradcam.json or *_attention.html files (cxr explain).");
  std::string s = "<div class=\"explain\">\n", notes;
  size_t shown = std::min(run.explain.size(), static_cast<size_t>(std::max(0, o.max_explain)));
  for (size_t i = 0; i < shown; ++i) {
    const ExplainItem& item = run.explain[i];
    s += "<figure><figcaption>" + esc(item.id) + "</figcaption>";
    if (!item.gradcam_png.empty()) {
      std::error_code ec;
      auto size = fs::file_size(item.gradcam_png, ec);
      if (!ec && size > static_cast<uintmax_t>(o.max_image_bytes)) {
        s += note(fs::path(item.gradcam_png).filename().string() + " is " + std::to_string(size) +
                  " bytes, above the limit of " + std::to_string(o.max_image_bytes) + "; not embedded.");
      } else {
        std::string bytes = read_file(item.gradcam_png);
        CXR_CHECK(is_png(bytes), item.gradcam_png, ": not a PNG file (no PNG signature)");
        data::Image image = data::decode_image(bytes, item.gradcam_png);  // validates; throws naming the file
        int64_t h = image.pixels.shape()[0], w = image.pixels.shape()[1];
        s += "<img src=\"data:image/png;base64," + base64_encode(bytes) + "\" width=\"" + std::to_string(w) +
             "\" height=\"" + std::to_string(h) + "\" alt=\"" + esc("Grad-CAM overlay of " + item.id) + "\">";
      }
    }
    if (!item.gradcam_json.empty()) s += gradcam_caption(runs::read_gradcam_json(item.gradcam_json), o);
    if (!item.attention_html.empty()) {
      std::error_code ec;
      auto size = fs::file_size(item.attention_html, ec);
      if (!ec && size > static_cast<uintmax_t>(o.max_image_bytes)) {
        s += note(fs::path(item.attention_html).filename().string() + " is too large to embed.");
      } else {
        s += "<div class=\"attention\">" + sanitize_fragment(read_file(item.attention_html)) + "</div>";
      }
    }
    s += "</figure>\n";
  }
  s += "</div>\n";
  if (shown < run.explain.size())
    s += note(std::to_string(run.explain.size() - shown) + " more explained examples in explain/ are not shown.");
  return s;
}

std::string run_title(const RunFiles& run, const std::string& name) {
  std::string t = name;
  if (run.config) {
    std::string detail;
    for (const auto& part : {run.config->method, run.config->arch, run.config->task})
      if (!part.empty()) detail += (detail.empty() ? "" : ", ") + part;
    if (!detail.empty()) t += " (" + detail + ")";
  }
  return t;
}

// The body of one run's section (its heading is written by the caller); sub-headings get the
// ids <id_prefix>summary, <id_prefix>training, <id_prefix>evaluation, <id_prefix>explanations.
std::string run_body_html(const RunFiles& run, const ReportOptions& o, const std::string& id_prefix) {
  auto heading = [&](const std::string& id, const std::string& text) {
    return "<h3 id=\"" + id_prefix + id + "\">" + text + "</h3>\n";
  };
  std::string s = heading("summary", "Summary") + summary_html(run);
  s += heading("training", "Training curves");
  s += run.log ? training_curves_html(*run.log, o) : note("No metrics.jsonl: no training curves.");
  s += heading("evaluation", "Evaluation");
  if (run.evals.empty()) s += note("No eval-*.json: the run has not been evaluated.");
  for (const auto& e : run.evals) s += "<h4>" + esc(e.split + " split") + "</h4>\n" + eval_html(e, o);
  s += heading("explanations", "Explanations") + explain_html(run, o);
  return s;
}

// ---- the page ----

struct Section {
  std::string id, title;
};

std::string page(const std::string& title, const std::string& subtitle, const std::vector<Section>& toc,
                 const std::string& main) {
  std::string s =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      // Nothing may be fetched: images are data: URIs, styles and scripts are inline.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
      "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"generator\" content=\"cxr report (cxrlab)\">\n<title>" +
      esc(title) + "</title>\n" + kErrorScript + "<style>" + kCss + "</style>\n</head>\n<body>\n";
  s += "<header><h1>" + esc(title) + "</h1><p class=\"subtitle\">" + subtitle + "</p></header>\n";
  if (!toc.empty()) {
    s += "<nav><strong>Contents</strong><ul>\n";
    for (const auto& sec : toc) s += "<li><a href=\"#" + sec.id + "\">" + esc(sec.title) + "</a></li>\n";
    s += "</ul></nav>\n";
  }
  s += "<main>\n" + main + "</main>\n";
  s += "<footer>Written by <code>cxr report</code> (cxrlab). Self-contained: no file or network access is needed "
       "to view it.</footer>\n";
  s += kSelfCheckScript;
  s += "</body>\n</html>\n";
  return s;
}

std::string dir_name(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  std::string name = p.filename().string();
  if (name.empty() || name == ".") name = p.parent_path().filename().string();
  if (name.empty()) name = dir;
  return name;
}

std::string render_single_run(const std::string& dir, const ReportOptions& o) {
  RunFiles run = runs::read_run(dir);
  std::string name = dir_name(dir);
  std::string title = o.title.empty() ? "cxr report: " + run_title(run, name) : o.title;
  std::vector<Section> toc = {{"summary", "Summary"},
                              {"training", "Training curves"},
                              {"evaluation", "Evaluation"},
                              {"explanations", "Explanations"}};
  std::string main = "<section class=\"run\" id=\"run\">\n" + run_body_html(run, o, "") + "</section>\n";
  return page(title, "Training run <code>" + esc(dir) + "</code>", toc, main);
}

// ---- experiments ----

struct LoadedRun {
  std::string name;  // the row's run path, e.g. runs/global-mi-dv-frozen-edema
  std::string id;    // element id of its section
  std::optional<RunFiles> files;
  std::string problem;  // why files is empty
};

int order_of(const std::string& value, const std::vector<std::string>& known) {
  auto it = std::find(known.begin(), known.end(), value);
  return it == known.end() ? static_cast<int>(known.size()) : static_cast<int>(it - known.begin());
}

// The metric columns of a task's table: the ordinal AUCs and macro-F1 for edema (as §12), else
// every metric the rows have.
std::vector<std::string> table_columns(const std::vector<const TableRow*>& rows) {
  std::set<std::string> all;
  for (const TableRow* r : rows)
    for (const auto& [name, v] : r->metrics) all.insert(name);
  std::vector<std::string> cols;
  bool ordinal = std::any_of(all.begin(), all.end(), is_ordinal);
  for (const auto& name : all)
    if (!ordinal || is_ordinal(name) || name == "macro_f1") cols.push_back(name);
  sort_metrics(cols);
  return cols;
}

std::string results_table_html(const ExperimentTable& t, const std::string& task,
                               const std::map<std::string, std::string>& run_ids, const ReportOptions& o) {
  std::vector<const TableRow*> rows;
  for (const auto& r : t.rows)
    if (r.task == task) rows.push_back(&r);
  if (rows.empty()) return note("No rows for this task.");
  std::vector<std::string> cols = table_columns(rows);
  // Bound sub-columns: CPC (InfoNCE) and MINE (Donsker-Varadhan) first, others after.
  std::vector<std::string> bounds;
  for (const TableRow* r : rows)
    if (r->bound != "n/a" && std::find(bounds.begin(), bounds.end(), r->bound) == bounds.end())
      bounds.push_back(r->bound);
  std::stable_sort(bounds.begin(), bounds.end(), [](const std::string& a, const std::string& b) {
    return order_of(a, {"infonce", "dv"}) < order_of(b, {"infonce", "dv"});
  });
  // Row groups (method, encoder), in §12's order, unknown values in order of appearance.
  std::vector<std::pair<std::string, std::string>> groups;
  for (const TableRow* r : rows)
    if (std::find(groups.begin(), groups.end(), std::make_pair(r->method, r->encoder)) == groups.end())
      groups.emplace_back(r->method, r->encoder);
  std::stable_sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) {
    int ma = order_of(a.first, {"image-only", "global-mi", "local-mi"}),
        mb = order_of(b.first, {"image-only", "global-mi", "local-mi"});
    if (ma != mb) return ma < mb;
    return order_of(a.second, {"n/a", "frozen", "tuned"}) < order_of(b.second, {"n/a", "frozen", "tuned"});
  });
  auto find_row = [&](const std::string& method, const std::string& encoder, const std::string& bound) {
    for (const TableRow* r : rows)
      if (r->method == method && r->encoder == encoder && r->bound == bound) return r;
    return static_cast<const TableRow*>(nullptr);
  };
  auto cell = [&](const TableRow* r, const std::string& metric, size_t colspan) {
    std::string attrs = colspan > 1 ? " colspan=\"" + std::to_string(colspan) + "\"" : "";
    if (!r) return "<td" + attrs + "></td>";
    auto it = r->metrics.find(metric);
    if (it == r->metrics.end()) return "<td" + attrs + "><span class=\"na\">–</span></td>";
    std::string v = value_html(it->second, o.digits);
    auto id = run_ids.find(r->run);
    if (id != run_ids.end()) v = "<a href=\"#" + id->second + "\" title=\"" + esc(r->run) + "\">" + v + "</a>";
    return "<td" + attrs + ">" + v + "</td>";
  };

  size_t sub = std::max<size_t>(1, bounds.size());
  std::string s = "<table class=\"results\"><thead><tr><th" + std::string(bounds.empty() ? "" : " rowspan=\"2\"") +
                  ">Method</th><th" + (bounds.empty() ? "" : " rowspan=\"2\"") + ">Encoder</th>";
  for (const auto& c : cols)
    s += "<th" + (sub > 1 ? " colspan=\"" + std::to_string(sub) + "\"" : std::string()) + " title=\"" + esc(c) + "\">" +
         esc(metric_label(c)) + "</th>";
  s += "</tr>\n";
  if (!bounds.empty()) {
    s += "<tr>";
    for (size_t k = 0; k < cols.size(); ++k)
      for (const auto& b : bounds) s += "<th title=\"" + esc(b) + " bound\">" + esc(bound_label(b)) + "</th>";
    s += "</tr>\n";
  }
  s += "</thead><tbody>\n";
  for (const auto& group : groups) {
    const std::string &method = group.first, &encoder = group.second;  // (clang < 16: no captured bindings)
    s += "<tr><th>" + esc(method) + "</th><td>" + esc(encoder) + "</td>";
    const TableRow* unbounded = find_row(method, encoder, "n/a");
    bool any_bounded = std::any_of(bounds.begin(), bounds.end(),
                                   [&](const std::string& b) { return find_row(method, encoder, b) != nullptr; });
    for (const auto& c : cols) {
      if (bounds.empty() || (unbounded && !any_bounded)) {
        s += cell(unbounded, c, sub);  // one value across the CPC/MINE sub-columns (image-only)
      } else {
        for (const auto& b : bounds) s += cell(find_row(method, encoder, b), c, 1);
      }
    }
    s += "</tr>\n";
  }
  s += "</tbody></table>\n";
  return s;
}

// The evaluation a run's table values come from: the test split if present, else the first.
const EvalResult* main_eval(const RunFiles& run) {
  for (const auto& e : run.evals)
    if (e.split == "test") return &e;
  return run.evals.empty() ? nullptr : &run.evals.front();
}

std::string roc_comparison_html(const ExperimentTable& t, const std::string& task,
                                const std::map<std::string, const LoadedRun*>& runs, const ReportOptions& o) {
  std::vector<const TableRow*> rows;
  for (const auto& r : t.rows)
    if (r.task == task) rows.push_back(&r);
  for (const auto& metric : table_columns(rows)) {
    std::vector<RocCurve> curves;
    std::string split;
    for (const TableRow* r : rows) {
      auto it = runs.find(r->run);
      if (it == runs.end() || !it->second->files) continue;
      const EvalResult* e = main_eval(*it->second->files);
      if (!e || !e->roc.count(metric)) continue;
      std::string name = r->method;
      if (r->encoder != "n/a") name += " / " + r->encoder;
      if (r->bound != "n/a") name += " / " + bound_label(r->bound);
      RocCurve c{name, e->roc.at(metric).fpr, e->roc.at(metric).tpr, std::nullopt};
      if (const MetricValue* m = e->metric(metric); m && std::isfinite(m->value)) c.auc = m->value;
      curves.push_back(std::move(c));
      split = e->split;
    }
    if (curves.empty()) continue;
    return "<div class=\"charts\">\n" +
           roc_chart_svg(curves, {.title = "ROC, " + task + ": " + metric_label(metric) + " (" + split + ")",
                                  .size = 340,
                                  .digits = o.digits}) +
           "</div>\n";
  }
  return note("No run of this task has ROC curves to compare.");
}

// A run path as written in table.json, normalized: "runs/./a/" and "runs/a" name the same run.
std::string normal_run_path(const std::string& run) {
  std::string p = fs::path(run).lexically_normal().string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

std::string render_experiment(const std::string& dir, const ReportOptions& o) {
  fs::path root(dir);
  const runs::ExperimentPaths paths(dir);
  ExperimentTable table = runs::read_experiment_table(paths.table_json());
  IdSet ids;
  ids.make("", "results");
  // The runs: those the table names, in row order, then any other directory under runs/.
  std::vector<LoadedRun> runs;
  std::set<std::string> names;
  for (const auto& r : table.rows)
    if (!r.run.empty() && names.insert(normal_run_path(r.run)).second)
      runs.push_back({normal_run_path(r.run), "", std::nullopt, ""});
  std::error_code ec;
  std::vector<std::string> extra;
  if (fs::is_directory(paths.runs_dir(), ec))
    for (const auto& entry : fs::directory_iterator(paths.runs_dir(), ec))
      if (entry.is_directory()) {
        std::string name = runs::ExperimentPaths::run_entry(entry.path().filename().string());
        if (!names.count(name)) extra.push_back(name);
      }
  std::sort(extra.begin(), extra.end());
  for (const auto& name : extra) runs.push_back({name, "", std::nullopt, ""});
  for (auto& run : runs) {
    run.id = ids.make("run-", fs::path(run.name).filename().string());
    fs::path path = root / run.name;
    if (!fs::is_directory(path, ec)) {
      run.problem = "the run directory " + path.string() + " does not exist";
      if (o.strict) fail(path.string(), ": no such run directory (named in table.json)");
      continue;
    }
    try {
      run.files = runs::read_run(path.string());
    } catch (const Error& e) {
      if (o.strict) throw;
      run.problem = e.what();
    }
  }
  std::map<std::string, std::string> run_ids;
  std::map<std::string, const LoadedRun*> by_name;
  for (const auto& run : runs) {
    run_ids[run.name] = run.id;
    by_name[run.name] = &run;
  }
  for (const auto& r : table.rows) {  // rows name runs as written; map them to the normalized name
    auto it = by_name.find(normal_run_path(r.run));
    if (it != by_name.end()) {
      run_ids[r.run] = it->second->id;
      by_name[r.run] = it->second;
    }
  }

  std::vector<Section> toc = {{"results", "Results"}};
  std::string main = "<section id=\"results\">\n<h2>Results</h2>\n";
  main +=
      "<p>Downstream evaluation of each run (values link to the run's section); in brackets the bootstrap "
      "confidence interval (95% unless a run's evaluation says otherwise). CPC = InfoNCE bound, MINE = "
      "Donsker&ndash;Varadhan bound; encoder frozen up to the local-feature layer, or tuned"
      " (METHODS.md §12).</p>\n";
  if (std::isfinite(table.labeled_fraction))
    main += "<p>Labeled fraction: " + format_fixed(100 * table.labeled_fraction, 1) + "%</p>\n";
  if (table.rows.empty()) main += note("table.json has no rows yet.");
  for (const auto& task : table.tasks) {
    std::string id = ids.make("task-", task);
    main += "<h3 id=\"" + id + "\">" + esc(task) + "</h3>\n" + results_table_html(table, task, run_ids, o);
    main += roc_comparison_html(table, task, by_name, o);
  }
  main += "</section>\n";
  for (const auto& run : runs) {
    std::string title = run.files ? run_title(*run.files, run.name) : run.name;
    toc.push_back({run.id, title});
    main += "<section class=\"run\" id=\"" + run.id + "\">\n<h2>Run: " + esc(title) + "</h2>\n";
    if (run.files) {
      main += run_body_html(*run.files, o, run.id + "-");
    } else {
      main += warning("This run could not be read: " + run.problem);
    }
    main += "</section>\n";
  }
  std::string title = o.title.empty() ? "cxr experiment report: " + dir_name(dir) : o.title;
  std::string subtitle = "Experiment <code>" + esc(dir) + "</code> · " + std::to_string(table.rows.size()) +
                         " table rows · " + std::to_string(runs.size()) + " runs";
  size_t bad = std::count_if(runs.begin(), runs.end(), [](const LoadedRun& r) { return !r.files.has_value(); });
  if (bad > 0) subtitle += " · <strong>" + std::to_string(bad) + " could not be read</strong>";
  return page(title, subtitle, toc, main);
}

}  // namespace

std::string render_report(const std::string& dir, const ReportOptions& options) {
  CXR_CHECK(options.digits >= 0 && options.digits <= 10, "render_report: digits ", options.digits,
            " must lie in [0, 10]");
  CXR_CHECK(options.smoothing >= 0 && options.smoothing < 1, "render_report: smoothing ", options.smoothing,
            " must lie in [0, 1)");
  CXR_CHECK(options.max_curve_points >= 2, "render_report: max_curve_points ", options.max_curve_points,
            " must be at least 2");
  CXR_CHECK(options.max_image_bytes > 0, "render_report: max_image_bytes must be positive");
  std::error_code ec;
  CXR_CHECK(fs::is_directory(dir, ec), dir, ": not a directory");
  if (fs::exists(runs::ExperimentPaths(dir).table_json())) return render_experiment(dir, options);
  return render_single_run(dir, options);
}

}  // namespace cxr::report
