// run.h — a training run's directory (docs/RUNS.md): config.json, model.safetensors, the resume
// state under state/, and metrics.jsonl. Every file except the metrics log is written atomically;
// the log is appended line by line and flushed, and on resume it is cut back to the length it had
// at the checkpoint, so a killed run leaves no lines the resumed run would repeat.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tensor/random.h"

namespace cxr::train {

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

class RunDirectory {
 public:
  explicit RunDirectory(std::string path);
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  nlohmann::json read_config() const;  // config.json; throws naming the file
  void write_config(const nlohmann::json& config) const;

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
  std::string path_;
  std::FILE* metrics_ = nullptr;
  int64_t metrics_bytes_ = 0;
};

// A JSON file read with errors naming it.
nlohmann::json read_json_file(const std::string& path);
void write_json_file(const std::string& path, const nlohmann::json& value);  // atomic, indented

}  // namespace cxr::train
