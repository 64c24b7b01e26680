// method.h — one training method of `cxr train` (docs/TRAINING.md): which rows it trains on, what
// it loads, the loss of a batch, its optimizers and their schedules, and (if it has a classifier)
// the logits it predicts. The trainer (trainer.h) owns the loop, the checkpoints and the logs; a
// method owns the models, held in one ModelSet whose children give the checkpoint its prefixes
// (image_model., text_model., critic., critic_local., text_projection., vae.; docs/RUNS.md).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "data/loader.h"
#include "nn/module.h"
#include "nn/optim.h"
#include "runs/run_config.h"
#include "runs/run_dir.h"
#include "train/options.h"
#include "train/task.h"

namespace cxr::train {

// The container of a method's models: its children's names are the checkpoint prefixes.
class ModelSet : public nn::Module {
 public:
  std::string type_name() const override { return "ModelSet"; }
  template <typename M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> module) {
    return register_module(name, std::move(module));
  }
};

// What a training step computed. `parts` are the named terms of the loss (logged), `outputs` the
// tensors worth naming when the loss is not finite (e.g. "image logits").
struct StepOutput {
  Tensor loss;
  std::vector<std::pair<std::string, Tensor>> parts;
  std::vector<std::pair<std::string, Tensor>> outputs;
};

// An optimizer with its learning-rate multiplier per step (1 throughout for a constant rate).
struct ScheduledOptimizer {
  std::string name;
  std::unique_ptr<nn::Optimizer> optimizer;
  std::function<double(int64_t step, int64_t total_steps)> multiplier;
};

class Method {
 public:
  Method(const TrainOptions& options, Task task) : options(options), task(std::move(task)) {}
  virtual ~Method() = default;

  // ---- data ----
  virtual bool trains_on(const data::ManifestRow& row) const = 0;  // rows of the training splits it uses
  virtual bool needs_reports() const { return false; }
  virtual data::ImageTransform train_transform() const;  // the augmentation (or evaluation transform)
  virtual bool drop_last() const { return false; }
  int64_t image_size() const;

  // ---- training ----
  virtual StepOutput loss(const data::Batch& batch) = 0;  // models in training mode
  void zero_grad();
  void step(int64_t step, int64_t total_steps);  // each optimizer, its lr scaled by its schedule
  // Moves the models and the optimizers' state (--device); batches follow with move_batch_to.
  void to(Device device);
  Device device() const { return models->device(); }

  // ---- prediction ----
  virtual bool predicts() const { return false; }
  virtual Tensor predict_logits(const data::Batch& batch);  // eval mode, no gradient: (N, task outputs)

  // Its fields of config.json (num_outputs, image_size, text_model); the trainer sets the others.
  virtual void describe(runs::RunConfig& config) const;
  // Called once the run directory exists (e.g. to copy the text encoder's vocabulary there).
  virtual void prepare_run_directory(const runs::RunPaths&) const {}

  TrainOptions options;
  Task task;
  std::shared_ptr<ModelSet> models = std::make_shared<ModelSet>();
  std::vector<ScheduledOptimizer> optimizers;
  std::map<std::string, Generator*> generators;  // saved and restored on resume
};

// Moves a batch's images (and tokens) to `device`: through cuda::upload's pinned buffers, so the
// copy overlaps the kernels queued before it. Labels and ids stay on the host, where the tasks
// and metrics read them; the tasks move their targets next to the logits.
void move_batch_to(data::Batch& batch, Device device);

// Builds the method of options.method. `for_training` false: only the models (for evaluation and
// interpretation), no optimizers and no initialization from --init / --text-init weights.
std::unique_ptr<Method> make_method(const TrainOptions& options, bool for_training = true);

// The method of a finished run, its weights loaded from DIR/model.safetensors (or `weights`).
std::unique_ptr<Method> load_trained_method(const std::string& run_dir, const std::string& weights = "");

// Schedules.
double constant_schedule(int64_t, int64_t);
double warmup_linear_schedule(double warmup_fraction, int64_t step, int64_t total_steps);

}  // namespace cxr::train
