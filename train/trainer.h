// trainer.h — the training loop of `cxr train` and the evaluation of `cxr eval` (docs/TRAINING.md):
//   the manifest's training rows (with labels replaced by report-derived ones and thinned to a
//   labelled fraction, if asked), a Method (method.h), epochs of steps with a progress line and a
//   JSONL log, a non-finite loss stopping the run with the step and the tensor named, a checkpoint
//   after every epoch (atomic; resumable bit for bit on the CPU), validation each epoch, and at the
//   end the test-split evaluation with bootstrap CIs (eval-<split>.json, predictions-<split>.csv).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "data/manifest.h"
#include "train/options.h"
#include "train/task.h"

namespace cxr::train {

// Thrown when the loss is NaN or infinite; the run directory keeps its last good checkpoint.
struct NonFiniteLoss : Error {
  using Error::Error;
};

// Runs the training described by `options` (resuming when options.resume). Returns the final test
// evaluation (null when there is none). Throws cxr::Error on bad input.
nlohmann::json run_training(TrainOptions options);

// The manifest as the trainer sees it: labels of the training splits replaced by report-derived
// ones (--edema-labels / --findings-labels), then kept for a labeled_fraction of the training
// patients only (chosen by a seeded hash of the patient id); other splits unchanged.
data::Manifest prepare_manifest(const TrainOptions& options);

struct EvalOptions {
  std::string run_dir, manifest, task, split = "test", out, predictions;
  std::string weights;  // default: RUN/model.safetensors
  int64_t bootstrap = 1000;
  uint64_t seed = 0;
  int64_t batch_size = 16;
  int64_t workers = 2;
  std::string device = "cpu";  // cpu | cuda
};
// Evaluates a trained run on a manifest split; writes the JSON to options.out (if set) and returns it.
nlohmann::json run_evaluation(const EvalOptions& options);

}  // namespace cxr::train
