// fuzz_runs.cpp — fuzz harness for the run-directory readers (runs/run_files.h) and the report
// built from them. The first byte picks the file the rest becomes:
//   0  metrics.jsonl           read_metrics_log
//   1  eval-test.json          read_eval
//   2  config.json             read_config_listing
//   3  x_gradcam.json          read_gradcam_json
//   4  table.json              read_experiment_table
//   5  metrics.jsonl of a run with a fixed config.json: read_run, then report::render_report
// A malformed file is a cxr::Error naming it; nothing else may escape.
#include "fuzz_common.h"
#include "report/html.h"
#include "runs/run_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cxr;
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 6) {
    case 0:
      fuzz::expect_errors([&] {
        const runs::TrainingLog log = runs::read_metrics_log(fuzz::scratch_file("metrics.jsonl", text));
        (void)log;
      });
      break;
    case 1:
      fuzz::expect_errors([&] {
        const runs::EvalResult e = runs::read_eval(fuzz::scratch_file("eval-test.json", text));
        for (const auto& [name, v] : e.metrics) fuzz::require(e.metric(name) != nullptr, "read_eval: metric lookup");
      });
      break;
    case 2:
      fuzz::expect_errors([&] { (void)runs::read_config_listing(fuzz::scratch_file("config.json", text)); });
      break;
    case 3:
      fuzz::expect_errors([&] { (void)runs::read_gradcam_json(fuzz::scratch_file("x_gradcam.json", text)); });
      break;
    case 4:
      fuzz::expect_errors([&] {
        const runs::ExperimentTable t = runs::read_experiment_table(fuzz::scratch_file("table.json", text));
        for (const auto& row : t.rows) {
          const std::filesystem::path run(row.run);
          fuzz::require(!run.is_absolute(), "read_experiment_table: relative run paths");
          for (const auto& part : run) fuzz::require(part != "..", "read_experiment_table: run paths stay inside");
        }
      });
      break;
    default: {
      static const std::string dir = [] {
        fuzz::scratch_file("run/config.json", R"({"method": "image", "arch": "resnet128_6_2_1", "task": "edema",
                                                   "num_outputs": 4, "options": {"lr": 0.001}})");
        return fuzz::scratch_dir() + "/run";
      }();
      fuzz::scratch_file("run/metrics.jsonl", text);
      fuzz::expect_errors([&] {
        (void)runs::read_run(dir);
        const std::string html = report::render_report(dir);
        fuzz::require(html.find("<html") != std::string::npos, "render_report: a page");
      });
    }
  }
  return 0;
}
