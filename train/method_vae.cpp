// method_vae.cpp — the semi-supervised VAE of METHODS.md §5 (architecture and objective:
// nn/models/vae.h, docs/VAE.md). Every training image contributes its ELBO; the labelled ones add
// -log p(y|z). Adam 5e-4 (the paper's optimizer is unknown; the image encoders' reference value).
// Predictions come from the label head at z = mu.
#include "nn/models/vae.h"
#include "ops/ops.h"
#include "train/method_registry.h"
#include "train/methods_impl.h"

namespace cxr::train {
namespace {

class VaeMethod : public Method {
 public:
  VaeMethod(const TrainOptions& o, const Task& t, bool for_training) : Method(o, t), sample_gen(o.seed * 1000003 + 21) {
    config.arch = o.arch;
    config.latent_dim = o.latent_dim;
    config.head = o.vae_head;
    config.likelihood = o.likelihood;
    config.beta = o.beta;
    Generator gen(o.seed * 1000003 + 1);
    vae = models->add("vae", std::make_shared<nn::SemiSupervisedVAE>(config, &gen));
    generators = {{"latent_sample", &sample_gen}};
    if (!for_training) return;
    optimizers.push_back({"vae", std::make_unique<nn::Adam>(nn::param_groups(*vae, o.lr)), constant_schedule});
  }

  bool trains_on(const data::ManifestRow&) const override { return true; }  // unlabelled rows: the ELBO alone

  StepOutput loss(const data::Batch& batch) override {
    nn::VaeOutput out = vae->forward(batch.images, &sample_gen);
    nn::VaeLoss l = nn::vae_loss(out, batch.images, batch.edema, config);
    StepOutput s;
    s.loss = l.total;
    s.parts = {{"reconstruction", l.reconstruction}, {"kl", l.kl}};
    if (l.labelled > 0) s.parts.push_back({"label", l.label});
    s.outputs = {{"mu", out.mu}, {"logvar", out.logvar}, {"reconstruction logits", out.reconstruction_logits}};
    return s;
  }

  bool predicts() const override { return true; }
  // Class probabilities p -> log p, so that the task's softmax gives p back.
  Tensor predict_logits(const data::Batch& batch) override { return log(clamp(vae->predict(batch.images), 1e-12, std::nullopt)); }

 private:
  nn::VaeConfig config;
  Generator sample_gen;
  std::shared_ptr<nn::SemiSupervisedVAE> vae;
};

const MethodRegistration vae_registration({
    .name = "vae",
    .order = 2,
    .summary = "the semi-supervised VAE: every image's ELBO, the labelled ones' -log p(y|z) (METHODS.md §5)",
    .default_epochs = 100,
    .default_batch_size = 64,
    .check_options =
        [](const TrainOptions& o) {
          CXR_CHECK(o.task == "edema", "train --method vae: only --task edema is supported, got ", o.task);
        },
    .make = [](const TrainOptions& o, const Task& task, bool for_training) -> std::unique_ptr<Method> {
      return std::make_unique<VaeMethod>(o, task, for_training);
    },
});

}  // namespace
}  // namespace cxr::train
