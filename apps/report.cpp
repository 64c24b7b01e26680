// report.cpp — `cxr report`: one self-contained HTML page for a training run or an experiment.
//   cxr report --run DIR --out report.html [--title T] [--digits 3] [--strict] [--max-explain 24]
//              [--smoothing 0.9]
// DIR is a run directory (config.json, metrics.jsonl, eval-*.json, explain/) or an experiment
// directory (table.json, runs/<name>/); the files are those of docs/RUNS.md, the page is described
// in docs/REPORT.md. The output is written atomically (a temporary file, then rename), so an
// existing report is replaced only by a complete one. Exit code 0, or 2 on an error (named on
// stderr; a malformed file is named with the problem).
#include <cstdio>
#include <memory>

#include "apps/command.h"
#include "report/html.h"
#include "tensor/file_io.h"

namespace cxr::apps {
namespace {

struct ReportCliOptions {
  std::string run, out;
  report::ReportOptions report;
  bool quiet = false;
};

int run_report(const ReportCliOptions& opt) {
  std::string html = report::render_report(opt.run, opt.report);
  write_file_atomic(opt.out, html);
  if (!opt.quiet) std::fprintf(stderr, "cxr report: wrote %s (%zu bytes)\n", opt.out.c_str(), html.size());
  return kExitOk;
}

CommandRun setup_report(CLI::App& sub) {
  auto opt = std::make_shared<ReportCliOptions>();
  sub.add_option("--run", opt->run,
                 "a training run directory (config.json, metrics.jsonl, eval-*.json, explain/) or an experiment "
                 "directory (table.json, runs/<name>/)")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub.add_option("--out", opt->out, "the HTML file to write (replaced atomically)")->required();
  sub.add_option("--title", opt->report.title, "page title (default: from the directory name and the run's config)");
  sub.add_option("--digits", opt->report.digits, "decimals of metric values and confidence bounds")
      ->check(CLI::Range(0, 10))
      ->capture_default_str();
  sub.add_flag("--strict", opt->report.strict,
               "experiment: fail on a run that cannot be read instead of showing a warning in its section");
  sub.add_option("--max-explain", opt->report.max_explain, "explained examples (Grad-CAM + report) shown per run")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub.add_option("--smoothing", opt->report.smoothing, "EMA weight of the smoothed training loss, in [0, 1)")
      ->check(CLI::Range(0.0, 0.999))
      ->capture_default_str();
  sub.add_flag("--quiet", opt->quiet, "print nothing on success");
  sub.footer(
      "The page is one HTML file with everything inline (CSS, SVG charts, images as base64 data: URIs) and a\n"
      "Content-Security-Policy that forbids any network access; open it in any browser, or screenshot it with\n"
      "tools/screenshot_report.sh. Contents: run summary, training curves, metrics with bootstrap CIs, ROC curves,\n"
      "confusion matrix, Grad-CAM overlays and highlighted reports; for an experiment the results table in the\n"
      "layout of METHODS.md section 12 first. Missing optional files are noted in the page. Exit code: 0 ok;\n"
      "2 error (a malformed file is named; in an experiment an unreadable run is a warning unless --strict).");
  return [opt] { return run_report(*opt); };
}

const CommandRegistration registration("report", "a self-contained HTML report of a training run or an experiment",
                                       setup_report);

}  // namespace
}  // namespace cxr::apps
