// methods_impl.h — internal to train/: the pieces the methods of train/method_<name>.cpp share (the
// image encoder, parameter groups, the text side and its options).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/models/bert.h"
#include "nn/models/resnet.h"
#include "text/wordpiece.h"
#include "train/method.h"

namespace cxr::train {

// One parameter group of the trainable parameters whose (prefixed) names start with one of
// `prefixes` (e.g. "image_model.", "critic."), so that optimizer state names stay unique.
std::vector<nn::ParamGroup> param_groups_of(const nn::Module& models, const std::vector<std::string>& prefixes, double lr);

// A ResNet of o.arch with `outputs` logits, initialized from the run's seed.
std::shared_ptr<nn::ResNet> make_image_model(const TrainOptions& o, int64_t outputs, uint64_t seed_offset);

// The BERT text encoder (HF names, so a `cxr pretrain-text` model loads unchanged), with an optional
// classification head `classifier` on the pooled output (the joint model's text branch, METHODS.md §7).
class TextEncoder : public nn::BertModel {
 public:
  TextEncoder(const nn::BertConfig& config, int64_t classifier_outputs, Generator* init_gen, uint64_t dropout_seed);
  std::string type_name() const override { return "TextEncoder"; }
  std::shared_ptr<nn::Linear> classifier;  // null without a head
};

// The text side of the joint and MI methods: tokenizer, encoder, METHODS.md §4 features
// ([CLS] + tokens[:L-2] + [SEP], zero padding), and z_T = Dropout(pooled).
class TextSide {
 public:
  // Training: from --text-init DIR (bert_config.json, vocab.txt, model.safetensors) or --bert-config
  // and --vocab (a fresh encoder). Evaluation (for_training false): from the run directory's text/.
  TextSide(const TrainOptions& o, int64_t classifier_outputs, bool for_training);
  // The texts a method encodes: the report's Findings/Impression (METHODS.md §1 extraction).
  static std::string report_text(const std::string& raw_report);
  // Pooled embeddings (B, H) of texts (training mode: dropout as the encoder's mode says).
  Tensor pooled(const std::vector<std::string>& texts);
  // Copies the config and vocabulary into the run's text/ (its config.json points there).
  void save_resources(const runs::RunPaths& run) const;
  runs::TextModelConfig text_model_config() const;  // config.json's text_model

  std::shared_ptr<TextEncoder> model;
  std::unique_ptr<text::BertTokenizer> tokenizer;
  std::shared_ptr<nn::Dropout> embedding_dropout;  // z_T = Dropout(pooled), p = 0.1 (METHODS.md §7, §8)
  int64_t max_seq_length;
  std::string vocab_path;
  nn::BertConfig config;
  std::unique_ptr<Generator> dropout_gen;
};

// The text encoder's options of a method that has one: --text-init, or --bert-config and --vocab.
void check_text_encoder_options(const TrainOptions& o);

// A method with a text encoder (joint, mi): the run directory gets the encoder's config and
// vocabulary (text/), and config.json its text_model fields.
class TextMethod : public Method {
 public:
  TextMethod(const TrainOptions& o, const Task& t, int64_t classifier_outputs, bool for_training)
      : Method(o, t), text(o, classifier_outputs, for_training) {}
  bool needs_reports() const override { return true; }
  void describe(runs::RunConfig& config) const override {
    Method::describe(config);
    config.has_text_model = true;
    config.text_model = text.text_model_config();
  }
  void prepare_run_directory(const runs::RunPaths& run) const override { text.save_resources(run); }

 protected:
  TextSide text;
};

// AdamW for the text encoder as the reference (METHODS.md §7, §8): weight decay except on bias and
// LayerNorm.weight, bias correction off, WarmupLinear.
ScheduledOptimizer text_adamw(const std::string& name, std::vector<nn::ParamGroup> groups, const TrainOptions& o);

}  // namespace cxr::train
