// run_files.h — reads the files of a training run and of an experiment directory (docs/RUNS.md)
// into plain structs for display (the HTML report, report/html.h renders them). Only reading and
// validation happen here. Every problem is a cxr::Error naming the file (and the line of metrics.jsonl, or the
// JSON key) and what is wrong; an absent optional file is not an error (its member stays empty).
//
// Leniencies (documented in docs/REPORT.md):
//   - metrics.jsonl: blank lines and events of unknown kinds are skipped; a last line that is cut
//     off (no final newline, invalid JSON: the run was killed while appending) is ignored with a
//     note. Any other invalid line is an error.
//   - metric values may be written as {"value": v, "ci_low": a, "ci_high": b} or as a bare number;
//     null (an undefined value, e.g. an AUC with one class present) is read as NaN; a null ROC
//     curve (the same AUC) is skipped. Extra members (e.g. "replicates_used") are ignored.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cxr::runs {

// A metric value with its confidence interval; NaN where the file has null or nothing.
struct MetricValue {
  double value = NAN;
  double ci_low = NAN, ci_high = NAN;
};

// config.json as display strings (strings as they are, other JSON values as compact JSON text), in
// the file's key order; run_config.h reads it typed, for loading the run's models.
struct ConfigListing {
  std::string method, arch, task;                            // empty when absent
  std::vector<std::pair<std::string, std::string>> fields;   // top-level keys except "options"
  std::vector<std::pair<std::string, std::string>> options;  // the "options" object
};

struct StepRecord {  // {"event": "step"}
  int64_t epoch = -1, step = 0;
  double loss = NAN, lr = NAN, elapsed_s = NAN;
  std::map<std::string, double> parts;
};
struct EpochRecord {  // {"event": "epoch"}
  int64_t epoch = 0, step = -1;
  double elapsed_s = NAN, train_loss = NAN;
  std::map<std::string, double> val;
};
struct StopRecord {  // {"event": "stop"}
  std::string reason, detail;
  int64_t step = -1;
};
struct TrainingLog {
  std::vector<StepRecord> steps;
  std::vector<EpochRecord> epochs;
  std::optional<StopRecord> stop;
  std::vector<std::string> notes;  // e.g. "the last line is incomplete and was ignored"
};

struct RocPoints {
  std::vector<double> fpr, tpr;
};

// eval-<split>.json / `cxr eval --out`.
struct EvalResult {
  std::string file;   // the path read
  std::string split;  // the "split" field, else the <split> of the file name
  std::string task, kind;
  int64_t n = -1;  // -1: absent
  std::vector<int64_t> class_counts;
  std::vector<std::pair<std::string, MetricValue>> metrics;  // in file order
  std::map<std::string, RocPoints> roc;
  std::vector<std::vector<int64_t>> confusion;  // empty: absent
  int64_t bootstrap_replicates = -1;
  double bootstrap_level = NAN;

  const MetricValue* metric(const std::string& name) const;
};

// One explained example in explain/ (`cxr explain`, docs/INTERPRETATION.md): <id>_gradcam.png,
// <id>_gradcam.json, <id>_attention.html, any of them.
struct ExplainItem {
  std::string id;
  std::string gradcam_png;     // path, empty when absent
  std::string gradcam_json;    // path, empty when absent
  std::string attention_html;  // path, empty when absent
};

// The fields of <id>_gradcam.json the report shows (the file has more: logits, the raw CAM ...).
struct GradcamInfo {
  std::string input, layer, probability_kind;  // empty when absent
  int64_t target = -1;                         // the class explained; -1 when absent
  std::vector<double> probabilities;           // NaN for null
};
GradcamInfo read_gradcam_json(const std::string& path);

struct RunFiles {
  std::string dir;
  std::optional<ConfigListing> config;  // config.json
  std::optional<TrainingLog> log;    // metrics.jsonl
  std::vector<EvalResult> evals;     // eval-*.json, sorted by file name
  std::vector<ExplainItem> explain;  // sorted by id
};

// Reads a run directory. Throws cxr::Error when `dir` is not a directory, holds none of
// config.json, metrics.jsonl and eval-*.json, or when a present file is malformed.
RunFiles read_run(const std::string& dir);

ConfigListing read_config_listing(const std::string& path);
TrainingLog read_metrics_log(const std::string& path);
EvalResult read_eval(const std::string& path);

// table.json of `cxr experiment`.
struct TableRow {
  std::string method, encoder = "n/a", bound = "n/a", task;
  std::string run;  // relative path of the run directory inside the experiment, may be empty
  std::map<std::string, MetricValue> metrics;
};
struct ExperimentTable {
  double labeled_fraction = NAN;
  std::vector<std::string> tasks;
  std::vector<TableRow> rows;
};
// Throws cxr::Error for malformed JSON, a missing field, two rows for the same (method, encoder,
// bound, task), or a run path that is absolute or leaves the directory ("..").
ExperimentTable read_experiment_table(const std::string& path);

}  // namespace cxr::runs
