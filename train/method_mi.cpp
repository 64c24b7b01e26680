// method_mi.cpp — representation learning by maximizing image–text mutual information, METHODS.md
// §8 (Liao et al. 2021); the bounds and critics are mi/ (docs/MI.md).
//   global: e_I = the ResNet embedding z, e_T = Dropout(pooled BERT of the report);
//           loss = mi_loss(bound, T(e_I[i], e_T[j]) for all i, j), negatives j != i of another study
//   local:  f_m = the ResNet's layer5 vectors (D = 128 at M x M locations), s = Dropout(pooled BERT of
//           one sentence of the report, drawn uniformly); loss = -I_hat at the selected location(s)
//           (--local-select max: the batch's best location, the paper's rule)
//   both:   the sum of the two losses
// Optimizers, all stepped on the same loss every iteration (cooperative, not min-max): Adam 5e-4 for
// the image encoder and the critics; AdamW 2e-5 (decay 0.1 except bias/LayerNorm.weight, no bias
// correction, WarmupLinear) for the text encoder. The model has no classifier: evaluate it after
// `cxr train --method finetune --init RUN`.
#include "autograd/node.h"
#include "mi/bounds.h"
#include "mi/critic.h"
#include "mi/local.h"
#include "ops/ops.h"
#include "text/corpus.h"
#include "train/method_registry.h"
#include "train/methods_impl.h"

namespace cxr::train {
namespace {

class MiMethod : public TextMethod {
 public:
  MiMethod(const TrainOptions& o, const Task& t, bool for_training)
      : TextMethod(o, t, 0, for_training), bound(mi::parse_bound(o.bound)),
        select(mi::parse_local_select(o.local_select)), sentence_gen(o.seed * 1000003 + 13) {
    image = models->add("image_model", make_image_model(o, task.num_outputs(), 1));
    models->add("text_model", text.model);
    Generator gen(o.seed * 1000003 + 12);
    const int64_t h = text.config.hidden_size;
    if (o.mi_level != "local")
      critic = models->add("critic", std::make_shared<mi::ConcatCritic>(image->config.embedding_dim(), h,
                                                                        std::vector<int64_t>{1024, 512}, &gen));
    if (o.mi_level != "global")
      critic_local = models->add("critic_local", std::make_shared<mi::ConcatCritic>(image->config.layer_channels[4], h,
                                                                                    std::vector<int64_t>{1024, 512}, &gen));
    generators = {{"text_dropout", text.dropout_gen.get()},
                  {"bert_dropout", &text.model->dropout_generator()},
                  {"sentence", &sentence_gen}};
    if (!for_training) return;
    optimizers.push_back({"image_critic",
                          std::make_unique<nn::Adam>(param_groups_of(*models, {"image_model.", "critic.", "critic_local."}, o.lr)),
                          constant_schedule});
    optimizers.push_back(text_adamw("text", nn::param_groups_with_no_decay(*text.model, o.text_lr, o.text_weight_decay), o));
  }

  // Image-report pairs: labels are not used; images without a report have nothing to pair with.
  bool trains_on(const data::ManifestRow& row) const override { return !row.report.empty(); }
  bool drop_last() const override { return true; }  // the reference's DataLoader(drop_last=True)

  StepOutput loss(const data::Batch& batch) override {
    nn::ResNetOutput img = image->forward(batch.images);
    Tensor negatives = mi::negative_mask(batch.study_ids).to(img.embedding.device());
    StepOutput out;
    out.outputs = {{"image embedding", img.embedding}};
    std::vector<std::string> reports;
    for (auto& r : batch.reports) reports.push_back(TextSide::report_text(r));
    if (critic) {
      Tensor e_text = text.embedding_dropout->forward(text.pooled(reports));
      Tensor scores = critic->scores(img.embedding, e_text);
      Tensor l = mi::mi_loss(bound, scores, negatives);
      out.loss = l;
      out.parts.push_back({"global_mi_loss", l});
      out.outputs.push_back({"text embedding", e_text});
      out.outputs.push_back({"critic scores", scores});
    }
    if (critic_local) {
      std::vector<std::string> sentences;
      for (auto& r : reports) sentences.push_back(pick_sentence(r));
      Tensor s = text.embedding_dropout->forward(text.pooled(sentences));
      mi::LocalMiResult local = mi::local_mi_loss(*critic_local, img.layer5, s, negatives, bound, select);
      out.loss = out.loss.defined() ? out.loss + local.loss : local.loss;
      out.parts.push_back({"local_mi_loss", local.loss});
      out.outputs.push_back({"sentence embedding", s});
      out.outputs.push_back({"local features", img.layer5});
    }
    return out;
  }

 private:
  // One sentence of the report, uniformly (METHODS.md §8, Fig. 2 of the paper).
  std::string pick_sentence(const std::string& report) {
    std::vector<std::string> sentences = text::split_embedding_sentences(report);
    if (sentences.empty()) return report;
    const uint64_t c = sentence_gen.reserve(1);
    return sentences[size_t(sentence_gen.integer(c, 0, int64_t(sentences.size())))];
  }

  mi::Bound bound;
  mi::LocalSelect select;
  Generator sentence_gen;
  std::shared_ptr<nn::ResNet> image;
  std::shared_ptr<mi::ConcatCritic> critic, critic_local;
};

const MethodRegistration mi_registration({
    .name = "mi",
    .order = 4,
    .summary = "image and text encoders pretrained by maximizing their mutual information (METHODS.md §8)",
    .default_epochs = 100,
    .default_batch_size = 8,
    .check_options = check_text_encoder_options,
    .make = [](const TrainOptions& o, const Task& task, bool for_training) -> std::unique_ptr<Method> {
      return std::make_unique<MiMethod>(o, task, for_training);
    },
});

}  // namespace
}  // namespace cxr::train
