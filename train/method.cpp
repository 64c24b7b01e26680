// method.cpp — the Method base, the pieces the methods share (methods_impl.h), the factory (through
// the registry, method_registry.h) and loading a trained run. Each method is in its own
// method_<name>.cpp.
#include "train/method.h"

#include "cuda/runtime.h"

#include <filesystem>

#include "autograd/node.h"
#include "nn/checkpoint.h"
#include "nn/models/resnet.h"
#include "ops/ops.h"
#include "train/method_registry.h"
#include "train/methods_impl.h"

namespace cxr::train {

double constant_schedule(int64_t, int64_t) { return 1.0; }

double warmup_linear_schedule(double warmup_fraction, int64_t step, int64_t total_steps) {
  const auto warmup_steps = static_cast<int64_t>(warmup_fraction * double(total_steps));
  return nn::warmup_linear(step, warmup_steps, total_steps);
}

int64_t Method::image_size() const { return nn::resnet_config(options.arch).input_size; }

data::ImageTransform Method::train_transform() const {
  return options.augment ? data::mutual_info_train_transform(image_size()) : data::eval_transform(image_size());
}

void Method::zero_grad() {
  for (auto& o : optimizers) o.optimizer->zero_grad();
}

void Method::to(Device device) {
  models->to(device);
  for (auto& o : optimizers) o.optimizer->to(device);
}

void move_batch_to(data::Batch& batch, Device device) {
  if (device == Device::CPU) return;
  batch.images = cuda::upload(batch.images);
  if (batch.tokens.defined()) batch.tokens = cuda::upload(batch.tokens);
  if (batch.token_mask.defined()) batch.token_mask = cuda::upload(batch.token_mask);
}

void Method::step(int64_t step, int64_t total_steps) {
  for (auto& o : optimizers) {
    const double m = o.multiplier(step, total_steps);
    for (auto& g : o.optimizer->groups()) g.lr = g.initial_lr * m;
    o.optimizer->step();
  }
}

Tensor Method::predict_logits(const data::Batch&) {
  fail("method '", options.method, "' has no classifier: fine-tune it first (cxr train --method finetune --init RUN)");
}

void Method::describe(runs::RunConfig& config) const {
  config.num_outputs = task.num_outputs();
  config.image_size = image_size();
}

std::vector<nn::ParamGroup> param_groups_of(const nn::Module& models, const std::vector<std::string>& prefixes, double lr) {
  nn::ParamGroup g;
  g.lr = lr;
  for (auto& [name, p] : models.named_parameters()) {
    if (!p.requires_grad()) continue;
    for (auto& prefix : prefixes)
      if (name.starts_with(prefix)) g.params.push_back({name, p});
  }
  return {g};
}

std::shared_ptr<nn::ResNet> make_image_model(const TrainOptions& o, int64_t outputs, uint64_t seed_offset) {
  Generator gen(o.seed * 1000003 + seed_offset);
  return std::shared_ptr<nn::ResNet>(nn::make_resnet(o.arch, outputs, &gen).release());
}

std::unique_ptr<Method> make_method(const TrainOptions& options, bool for_training) {
  TrainOptions o = options;
  o.resolve_defaults();
  Task task = Task::parse(o.task);
  return method_spec(o.method).make(o, task, for_training);
}

std::unique_ptr<Method> load_trained_method(const std::string& run_dir, const std::string& weights) {
  const runs::RunPaths run(run_dir);
  const runs::RunConfig config = runs::read_run_config(run_dir);
  TrainOptions o;
  try {
    o = config.options.get<TrainOptions>();
  } catch (const nlohmann::json::exception& e) {
    fail(run.config(), ": malformed options: ", e.what());
  }
  o.out = run_dir;  // the run may have moved
  std::unique_ptr<Method> method = make_method(o, /*for_training=*/false);
  const std::string path = weights.empty() ? run.model() : weights;
  nn::LoadReport r = nn::load_checkpoint(*method->models, path, {});
  (void)r;
  method->models->eval();
  return method;
}

}  // namespace cxr::train
