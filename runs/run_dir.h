// run_dir.h — the layout of a training run directory and of an experiment directory (docs/RUNS.md):
// the one place their file names are spelled (RunPaths, ExperimentPaths), JSON files read and
// written with errors naming them, and the trainer's side of a run (RunDirectory): config.json, the
// resume state state/trainer.json and the metrics log metrics.jsonl. Every file except the log is
// written atomically; the log is appended line by line and flushed, and on resume it is cut back to
// the length it had at the checkpoint, so a killed run leaves no lines the resumed run would repeat.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "tensor/error.h"

namespace cxr::runs {

struct RunConfig;

// The files of a run directory `dir` (nothing is read or created).
class RunPaths {
 public:
  explicit RunPaths(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }
  std::string file(const std::string& name) const;  // dir / name

  std::string config() const { return file("config.json"); }
  static constexpr const char* kModelFile = "model.safetensors";
  std::string model() const { return file(kModelFile); }               // weights of the last epoch
  std::string best_model() const { return file("best.safetensors"); }  // of the best validation epoch
  std::string metrics() const { return file("metrics.jsonl"); }
  static constexpr std::string_view kEvalPrefix = "eval-";  // eval-<split>.json
  std::string eval(const std::string& split) const { return file(std::string(kEvalPrefix) + split + ".json"); }
  std::string predictions(const std::string& split) const { return file("predictions-" + split + ".csv"); }
  std::string done_marker() const { return file("DONE"); }  // `cxr experiment`: the run is complete
  // Resume state, of the last completed epoch.
  std::string state_dir() const { return file("state"); }
  std::string trainer_state() const { return file("state/trainer.json"); }
  std::string state_model(int64_t epoch) const;
  std::string state_optimizer(const std::string& name, int64_t epoch) const;
  // The text encoder's config and vocabulary (joint, mi), named in config.json by these relative paths.
  static constexpr const char* kTextBertConfig = "text/bert_config.json";
  static constexpr const char* kTextVocab = "text/vocab.txt";
  std::string text_dir() const { return file("text"); }
  std::string text_bert_config() const { return file(kTextBertConfig); }
  std::string text_vocab() const { return file(kTextVocab); }
  // `cxr explain`'s default output directory, and the files it writes there per input <stem>.
  std::string explain_dir() const { return file("explain"); }
  static constexpr const char* kGradcamPngSuffix = "_gradcam.png";
  static constexpr const char* kGradcamJsonSuffix = "_gradcam.json";
  static constexpr const char* kAttentionHtmlSuffix = "_attention.html";
  static constexpr const char* kAttentionJsonSuffix = "_attention.json";

 private:
  std::string dir_;
};

// The files of an experiment directory (`cxr experiment --out DIR`).
class ExperimentPaths {
 public:
  explicit ExperimentPaths(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }
  std::string file(const std::string& name) const;  // dir / name
  std::string table_json() const { return file("table.json"); }
  std::string table_markdown() const { return file("table.md"); }
  std::string runs_dir() const { return file("runs"); }
  static std::string run_entry(const std::string& name) { return "runs/" + name; }  // table.json's "run"
  RunPaths run(const std::string& name) const { return RunPaths(file(run_entry(name))); }

 private:
  std::string dir_;
};

// What state/trainer.json holds: where the run stands after its last completed epoch.
struct TrainerState {
  int64_t epoch = 0;          // epochs completed
  int64_t step = 0;           // optimizer steps taken
  int64_t metrics_bytes = 0;  // length of metrics.jsonl at the checkpoint
  double elapsed_s = 0;       // training time so far
  double best_score = -1e300;
  int64_t best_epoch = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> generators;  // name -> (seed, offset)
};

// The trainer's handle on its run directory: created with state/ on construction. A reader
// (writer = false: the ranks other than 0 of a distributed run) creates nothing, reads config and
// state as the writer does, ignores open_metrics and log, and refuses write_config / write_state.
class RunDirectory : public RunPaths {
 public:
  explicit RunDirectory(std::string path, bool writer = true);
  bool writer() const { return writer_; }

  nlohmann::json read_options() const;  // config.json's "options"; throws naming the file
  void write_config(const RunConfig& config) const;

  bool has_state() const;
  TrainerState read_state() const;
  void write_state(const TrainerState& state) const;

  // The metrics log. open_metrics(bytes) truncates the file to `bytes` first (0: a fresh log).
  void open_metrics(int64_t bytes);
  void log(const nlohmann::json& event);
  int64_t metrics_bytes() const { return metrics_bytes_; }
  ~RunDirectory();
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;

 private:
  std::FILE* metrics_ = nullptr;
  int64_t metrics_bytes_ = 0;
  bool writer_ = true;
};

// A JSON file, parsed; errors name it ("P: invalid JSON: ..."). Json: nlohmann::json, or
// nlohmann::ordered_json to keep the file's key order.
template <typename Json = nlohmann::json>
Json read_json_file(const std::string& path);
void write_json_file(const std::string& path, const nlohmann::json& value);  // atomic, indented

// A JSON integer, or a float holding one exactly below 9e15; anything else (a string, 1.5, 2e119)
// is an error naming `where`, never the undefined cast of an out-of-range double (found by the
// json_config fuzzer, tests/fuzz/regressions/json_config/).
template <typename Json>
int64_t json_integer(const Json& v, const std::string& where) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.template get<uint64_t>();
    CXR_CHECK(u <= uint64_t(INT64_MAX), where, ": integer out of range: ", v.dump());
    return int64_t(u);
  }
  if (v.is_number_integer()) return v.template get<int64_t>();
  if (v.is_number_float()) {
    const double d = v.template get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9e15) return static_cast<int64_t>(d);
  }
  fail(where, ": expected an integer, got ", v.type_name(), " ", v.dump());
}

// A non-negative JSON integer as uint64_t (seeds, Philox offsets), or a float holding one exactly
// (as json_integer); anything else is an error naming `where`.
template <typename Json>
uint64_t json_unsigned(const Json& v, const std::string& where) {
  if (v.is_number_unsigned()) return v.template get<uint64_t>();
  const int64_t i = v.is_number() ? json_integer(v, where) : -1;
  CXR_CHECK(i >= 0, where, ": expected a non-negative integer, got ", v.type_name(), " ", v.dump());
  return uint64_t(i);
}

}  // namespace cxr::runs
