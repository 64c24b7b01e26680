// method_image.cpp — image-only training and fine-tuning (METHODS.md §3, §8): a ResNet with the
// task's head trained with Adam (lr 5e-4) on the labelled rows. Fine-tuning first loads the image
// encoder of an mi or joint run (--init; the reference's from_pretrained: image_model.*, fc1
// dropped) and freezes all but layer6 and fc1 with --encoder frozen.
#include "nn/checkpoint.h"
#include "nn/models/resnet.h"
#include "ops/ops.h"
#include "runs/run_config.h"
#include "runs/run_dir.h"
#include "train/method_registry.h"
#include "train/methods_impl.h"

namespace cxr::train {
namespace {

class ImageMethod : public Method {
 public:
  ImageMethod(const TrainOptions& o, Task t, bool for_training, bool fine_tuning) : Method(o, std::move(t)) {
    image = models->add("image_model", make_image_model(o, task.num_outputs(), 1));
    if (!for_training) return;
    if (fine_tuning) load_encoder(o.init);
    image->apply_freeze_policy(fine_tuning ? o.encoder : "tuned");
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
    const runs::RunPaths init(run_dir);
    const std::string arch = runs::read_run_config(run_dir).arch;
    CXR_CHECK(arch == options.arch, init.config(), ": the run's architecture is '", arch, "' but --arch is '",
              options.arch, "'");
    nn::LoadOptions lo;
    lo.strict = false, lo.prefix = "image_model.", lo.exclude = {"fc1.*"};
    nn::LoadReport r = nn::load_checkpoint(*image, init.model(), lo);
    bool only_fc_missing = r.unexpected.empty() && r.mismatched.empty();
    for (auto& m : r.missing) only_fc_missing = only_fc_missing && m.starts_with("fc1.");
    CXR_CHECK(only_fc_missing && !r.loaded.empty(), init.model(), ": not an image encoder of ", options.arch, ": ",
              r.describe());
  }

  std::shared_ptr<nn::ResNet> image;
};

const MethodRegistration image_registration({
    .name = "image",
    .order = 1,
    .summary = "a ResNet trained on the task's labels (the image-only baseline)",
    .default_epochs = 300,
    .default_batch_size = 64,
    .check_options = [](const TrainOptions&) {},
    .make = [](const TrainOptions& o, const Task& task, bool for_training) -> std::unique_ptr<Method> {
      return std::make_unique<ImageMethod>(o, task, for_training, /*fine_tuning=*/false);
    },
});

const MethodRegistration finetune_registration({
    .name = "finetune",
    .order = 5,
    .summary = "the image encoder of an mi or joint run (--init), fine-tuned on the task (--encoder frozen|tuned)",
    .default_epochs = 300,
    .default_batch_size = 64,
    .check_options =
        [](const TrainOptions& o) {
          CXR_CHECK(!o.init.empty(), "train --method finetune: --init RUN_DIR (an mi or joint run) is required");
        },
    .make = [](const TrainOptions& o, const Task& task, bool for_training) -> std::unique_ptr<Method> {
      return std::make_unique<ImageMethod>(o, task, for_training, /*fine_tuning=*/true);
    },
});

}  // namespace
}  // namespace cxr::train
