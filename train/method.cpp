// method.cpp — the Method base, the image-only and fine-tuning methods, the factory and loading a
// trained run. The text, joint, MI and VAE methods are in their own files (methods_impl.h).
#include "train/method.h"

#include <filesystem>

#include "autograd/node.h"
#include "nn/checkpoint.h"
#include "nn/models/resnet.h"
#include "ops/ops.h"
#include "train/methods_impl.h"
#include "train/run.h"

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

nlohmann::json Method::config_fields() const {
  return {{"num_outputs", task.num_outputs()}, {"image_size", image_size()}};
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

// ---- image-only and fine-tuning: a ResNet with the task's head, Adam (METHODS.md §8) ----

class ImageMethod : public Method {
 public:
  ImageMethod(const TrainOptions& o, Task t, bool for_training) : Method(o, std::move(t)) {
    image = models->add("image_model", make_image_model(o, task.num_outputs(), 1));
    if (!for_training) return;
    if (o.method == "finetune") load_encoder(o.init);
    image->apply_freeze_policy(o.method == "finetune" ? o.encoder : "tuned");
    optimizers.push_back({"image", std::make_unique<nn::Adam>(nn::param_groups(*image, o.lr)), constant_schedule});
  }

  bool trains_on(const data::ManifestRow& row) const override { return task.labelled(row); }

  StepOutput loss(const data::Batch& batch) override {
    nn::ResNetOutput out = image->forward(batch.images);
    Tensor l = task.loss(out.logits, batch);
    return {l, {{task.name == "edema" ? "ce" : "bce", l}}, {{"image logits", out.logits}, {"embedding", out.embedding}}};
  }

  bool predicts() const override { return true; }
  Tensor predict_logits(const data::Batch& batch) override { return image->forward(batch.images).logits; }

 private:
  // The reference's from_pretrained: image_model.* of an mi or joint run, without fc1.
  void load_encoder(const std::string& run_dir) {
    nlohmann::json init_config = read_json_file(run_dir + "/config.json");
    const std::string arch = init_config.at("options").value("arch", std::string());
    CXR_CHECK(arch == options.arch, run_dir, "/config.json: the run's architecture is '", arch, "' but --arch is '",
              options.arch, "'");
    nn::LoadOptions lo;
    lo.strict = false, lo.prefix = "image_model.", lo.exclude = {"fc1.*"};
    nn::LoadReport r = nn::load_checkpoint(*image, run_dir + "/model.safetensors", lo);
    bool only_fc_missing = r.unexpected.empty() && r.mismatched.empty();
    for (auto& m : r.missing) only_fc_missing = only_fc_missing && m.starts_with("fc1.");
    CXR_CHECK(only_fc_missing && !r.loaded.empty(), run_dir, "/model.safetensors: not an image encoder of ",
              options.arch, ": ", r.describe());
  }

  std::shared_ptr<nn::ResNet> image;
};

std::unique_ptr<Method> make_method(const TrainOptions& options, bool for_training) {
  TrainOptions o = options;
  o.resolve_defaults();
  Task task = Task::parse(o.task);
  if (o.method == "image" || o.method == "finetune") return std::make_unique<ImageMethod>(o, task, for_training);
  if (o.method == "joint") return make_joint_method(o, task, for_training);
  if (o.method == "mi") return make_mi_method(o, task, for_training);
  if (o.method == "vae") return make_vae_method(o, task, for_training);
  fail("unknown method '", o.method, "' (expected image, vae, joint, mi or finetune)");
}

std::unique_ptr<Method> load_trained_method(const std::string& run_dir, const std::string& weights) {
  nlohmann::json config = read_json_file(run_dir + "/config.json");
  TrainOptions o;
  try {
    o = config.at("options").get<TrainOptions>();
  } catch (const nlohmann::json::exception& e) {
    fail(run_dir, "/config.json: malformed options: ", e.what());
  }
  o.out = run_dir;  // the run may have moved
  std::unique_ptr<Method> method = make_method(o, /*for_training=*/false);
  const std::string path = weights.empty() ? run_dir + "/model.safetensors" : weights;
  nn::LoadReport r = nn::load_checkpoint(*method->models, path, {});
  (void)r;
  method->models->eval();
  return method;
}

}  // namespace cxr::train
