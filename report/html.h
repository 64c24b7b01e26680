// html.h — the self-contained HTML report of a training run or an experiment (`cxr report`).
// render_report(dir) reads the files of docs/RUNS.md and returns ONE HTML document:
//   - a run directory (config.json, metrics.jsonl, eval-*.json, explain/): the run summary,
//     training curves, per evaluation the metrics with confidence intervals, ROC curves and the
//     confusion matrix, and the Grad-CAM overlays with the highlighted reports;
//   - an experiment directory (table.json, runs/<name>/...): the results table in the layout of
//     METHODS.md §12 (rows method x encoder, per metric CPC/MINE sub-columns, values with CIs), a
//     ROC comparison per task, then each run as above.
// The page needs nothing outside itself: inline CSS, charts as inline SVG, images as base64
// data: URIs, a Content-Security-Policy that forbids any fetch except data: images, and two tiny
// inline scripts that record script errors and a load-time self-check in attributes of <html>
// (data-script-errors, data-report-loaded, data-images, data-images-broken, data-charts) for
// tests run in a browser. Output is deterministic: the same files give the same bytes.
// Errors: a malformed file throws cxr::Error naming it; in an experiment a run that cannot be
// read becomes a visible warning in its section instead (unless options.strict), so one broken
// run does not hide the others. Missing optional parts are skipped with a short note.
#pragma once

#include <cstdint>
#include <string>

namespace cxr::report {

struct ReportOptions {
  std::string title{};                // default: derived from the directory's name
  int digits = 3;                     // decimals of metric values and confidence bounds (0..10)
  bool strict = false;                // experiment: an unreadable run is an error, not a warning
  int max_explain = 24;               // explained examples shown per run (the rest are counted)
  int64_t max_image_bytes = 8 << 20;  // a larger Grad-CAM PNG is skipped with a note
  double smoothing = 0.9;             // EMA weight of the smoothed training loss, [0, 1)
  int max_curve_points = 2000;        // the step curves are thinned to about this many points
};

// Throws cxr::Error when dir is neither a run nor an experiment directory, a file is malformed
// (see above), or an option is out of range.
std::string render_report(const std::string& dir, const ReportOptions& options = {});

}  // namespace cxr::report
