// experiment.h — `cxr experiment`: the results table of METHODS.md §12 on one manifest.
//   pretraining: mi runs for each level (global, local) x bound (infonce = CPC, dv = MINE), on all
//                training pairs (no labels)
//   per task:    image-only (a ResNet trained from scratch on the labelled fraction), and for each
//                pretraining a fine-tuning with the encoder frozen and tuned, on the same labels
//   evaluation:  each classifier on the test split, bootstrap CIs
// Output (docs/RUNS.md): DIR/table.json, DIR/table.md, DIR/runs/<name>/. A run whose DONE marker
// exists is not trained again, so an interrupted experiment continues where it stopped.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/method_registry.h"
#include "train/options.h"

namespace cxr::train {

struct ExperimentOptions {
  std::string manifest, out;
  std::vector<std::string> tasks = {"edema", "findings"};
  std::vector<std::string> levels = {"global", "local"};
  std::vector<std::string> bounds = {"infonce", "dv"};
  std::vector<std::string> encoders = {"frozen", "tuned"};
  bool image_only = true;
  // The options every run starts from (arch, text encoder, labels, seed, threads, ...).
  TrainOptions base;
  // Schedules: pretraining (mi) and downstream (image-only and fine-tuning, which share theirs); the
  // methods' reference values unless set.
  int64_t pretrain_epochs = method_spec("mi").default_epochs;
  int64_t pretrain_batch_size = method_spec("mi").default_batch_size;
  int64_t pretrain_max_steps = 0;
  int64_t downstream_epochs = method_spec("finetune").default_epochs;
  int64_t downstream_batch_size = method_spec("finetune").default_batch_size;
  int64_t downstream_max_steps = 0;
};

// Runs (or continues) the grid; returns table.json's content.
nlohmann::json run_experiment(const ExperimentOptions& options);

// table.json -> the markdown of METHODS.md §12 (one table per task; CPC / MINE columns).
std::string experiment_table_markdown(const nlohmann::json& table);

}  // namespace cxr::train
