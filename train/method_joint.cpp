// method_joint.cpp — the joint image–text model of METHODS.md §7 (Chauhan, Liao et al. 2020):
//   z_I = ResNet embedding, image logits fc1(z_I); z_T = Dropout(pooled BERT), text logits
//   classifier(z_T); the ranking loss L_rank between z_I and z_T (mi/ranking.h) with the margins
//   and the (i+1) mod B imposters of the reference;
//   supervised, semisupervised_phase2:  L = CE(image logits) + CE(text logits) + L_rank
//   semisupervised_phase1:              L = L_rank (all pairs, labels only set the margins)
// One AdamW over all parameters (lr 2e-5, eps 1e-6, no bias correction, weight decay 0.1 except on
// bias / LayerNorm.weight, WarmupLinear with 10% warmup). Inference uses the image branch only.
// When the text encoder's width differs from the image embedding's (e.g. a 256-wide encoder with
// resnet256's 768-d z), z_T goes through a Linear `text_projection` first (cxrlab; the reference's
// encoders are both 768-d).
#include "autograd/node.h"
#include "mi/ranking.h"
#include "nn/checkpoint.h"
#include "ops/ops.h"
#include "train/method_registry.h"
#include "train/methods_impl.h"

namespace cxr::train {
namespace {

class JointMethod : public TextMethod {
 public:
  JointMethod(const TrainOptions& o, const Task& t, bool for_training)
      : TextMethod(o, t, t.num_outputs(), for_training), similarity(mi::parse_similarity(o.similarity)) {
    image = models->add("image_model", make_image_model(o, task.num_outputs(), 1));
    models->add("text_model", text.model);
    const int64_t dim = image->config.embedding_dim();
    if (text.config.hidden_size != dim) {
      Generator gen(o.seed * 1000003 + 11);
      projection = models->add("text_projection", std::make_shared<nn::Linear>(text.config.hidden_size, dim, true, &gen));
    }
    generators = {{"text_dropout", text.dropout_gen.get()}, {"bert_dropout", &text.model->dropout_generator()}};
    if (!for_training) return;
    if (o.joint_mode == "semisupervised_phase2") {
      // Phase 2 starts from the phase-1 model, everything included.
      nn::load_checkpoint(*models, runs::RunPaths(o.init).model(), {});
    }
    // METHODS.md §7: no decay on names containing "bias" or "LayerNorm.weight"; BatchNorm weights are decayed.
    optimizers.push_back(text_adamw("joint", nn::param_groups_with_no_decay(*models, o.text_lr, o.text_weight_decay), o));
  }

  bool trains_on(const data::ManifestRow& row) const override {
    if (row.report.empty()) return false;  // a pair needs its report
    return options.joint_mode == "semisupervised_phase1" || task.labelled(row);
  }
  bool drop_last() const override { return true; }  // the ranking loss needs imposters
  data::ImageTransform train_transform() const override {
    return options.augment ? data::joint_train_transform(image_size()) : data::eval_transform(image_size());
  }

  StepOutput loss(const data::Batch& batch) override {
    CXR_CHECK(batch.size() >= 2, "joint: the ranking loss needs batches of at least 2 pairs (--batch-size)");
    nn::ResNetOutput img = image->forward(batch.images);
    std::vector<std::string> texts;
    for (auto& r : batch.reports) texts.push_back(TextSide::report_text(r));
    Tensor pooled = text.pooled(texts);
    Tensor z_text = text.embedding_dropout->forward(pooled);
    Tensor text_logits = text.model->classifier->forward(z_text);
    Tensor z_text_ranked = projection ? projection->forward(z_text) : z_text;

    std::vector<int64_t> labels(size_t(batch.size()), -1);
    if (task.kind == TaskKind::Edema)
      for (int64_t i = 0; i < batch.size(); ++i) labels[size_t(i)] = int64_t(batch.edema.at({i}));
    mi::RankingLoss rank = mi::ranking_loss(img.embedding, z_text_ranked, batch.study_ids, labels, similarity);

    StepOutput out;
    out.outputs = {{"image embedding", img.embedding}, {"text embedding", z_text_ranked},
                   {"image logits", img.logits}, {"text logits", text_logits}};
    out.parts = {{"rank_image", rank.image}, {"rank_text", rank.text}};
    out.loss = rank.total;
    if (options.joint_mode != "semisupervised_phase1") {
      Tensor ce_image = task.loss(img.logits, batch), ce_text = task.loss(text_logits, batch);
      if (ce_image.defined()) {
        out.loss = out.loss + ce_image + ce_text;
        out.parts.push_back({"ce_image", ce_image});
        out.parts.push_back({"ce_text", ce_text});
      }
    }
    return out;
  }

  bool predicts() const override { return true; }
  Tensor predict_logits(const data::Batch& batch) override { return image->forward(batch.images).logits; }

 private:
  mi::Similarity similarity;
  std::shared_ptr<nn::ResNet> image;
  std::shared_ptr<nn::Linear> projection;
};

const MethodRegistration joint_registration({
    .name = "joint",
    .order = 3,
    .summary = "the joint image-text model: both classifiers and the ranking loss (METHODS.md §7)",
    .default_epochs = 300,
    .default_batch_size = 4,
    .check_options =
        [](const TrainOptions& o) {
          if (o.joint_mode == "semisupervised_phase2")
            CXR_CHECK(!o.init.empty(),
                      "train --method joint --joint-mode semisupervised_phase2: --init RUN_DIR (the phase-1 run) is required");
          check_text_encoder_options(o);
        },
    .make = [](const TrainOptions& o, const Task& task, bool for_training) -> std::unique_ptr<Method> {
      return std::make_unique<JointMethod>(o, task, for_training);
    },
});

}  // namespace
}  // namespace cxr::train
