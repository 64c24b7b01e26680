// text_side.cpp — the text encoder shared by the joint and MI methods (methods_impl.h).
#include <filesystem>

#include "nn/checkpoint.h"
#include "tensor/file_io.h"
#include "ops/ops.h"
#include "text/report.h"
#include "train/methods_impl.h"

namespace cxr::train {

TextEncoder::TextEncoder(const nn::BertConfig& config, int64_t classifier_outputs, Generator* init_gen,
                         uint64_t dropout_seed)
    : nn::BertModel(config, init_gen, nn::BertInit::Random, dropout_seed) {
  if (classifier_outputs > 0)
    classifier = register_module("classifier",
                                 std::make_shared<nn::Linear>(config.hidden_size, classifier_outputs, true, init_gen));
}

TextSide::TextSide(const TrainOptions& o, int64_t classifier_outputs, bool for_training)
    : max_seq_length(o.max_seq_length) {
  std::string config_path, weights;
  if (!for_training) {
    const runs::RunPaths run(o.out);
    config_path = run.text_bert_config(), vocab_path = run.text_vocab();
  } else if (!o.text_init.empty()) {
    config_path = o.text_init + "/bert_config.json", vocab_path = o.text_init + "/vocab.txt";
    weights = o.text_init + "/model.safetensors";
  } else {
    config_path = o.bert_config, vocab_path = o.vocab;
  }
  config = nn::BertConfig::load(config_path);
  tokenizer = std::make_unique<text::BertTokenizer>(text::BertTokenizer::from_file(vocab_path, {.do_lower_case = !o.cased}));
  CXR_CHECK(int64_t(tokenizer->vocab().size()) == config.vocab_size, vocab_path, ": ", tokenizer->vocab().size(),
            " tokens but ", config_path, " says vocab_size ", config.vocab_size);
  CXR_CHECK(max_seq_length <= config.max_position_embeddings, "--max-seq-length ", max_seq_length,
            " exceeds the encoder's max_position_embeddings ", config.max_position_embeddings);
  Generator init_gen(o.seed * 1000003 + 7);
  dropout_gen = std::make_unique<Generator>(o.seed * 1000003 + 8);
  model = std::make_shared<TextEncoder>(config, classifier_outputs, &init_gen, o.seed * 1000003 + 9);
  embedding_dropout = std::make_shared<nn::Dropout>(0.1, dropout_gen.get());
  if (!weights.empty()) {
    // A pretrain-text model (BertForMaskedLM names): the encoder must load completely; its MLM
    // head is not used, and the classifier head starts fresh.
    nn::LoadReport r = nn::load_bert_checkpoint(*model, weights, /*strict=*/false);
    bool ok = r.mismatched.empty() && !r.loaded.empty();
    for (auto& m : r.missing) ok = ok && m.starts_with("classifier.");
    CXR_CHECK(ok, weights, ": not a BERT encoder matching ", config_path, ": ", r.describe());
  }
}

std::string TextSide::report_text(const std::string& raw_report) {
  return text::extract_report_text(raw_report).text;
}

Tensor TextSide::pooled(const std::vector<std::string>& texts) {
  std::vector<text::BertFeatures> features;
  features.reserve(texts.size());
  for (const auto& t : texts) features.push_back(tokenizer->features(t, max_seq_length, /*pad=*/false));
  text::BertBatch b = text::collate(features);
  const Device device = model->device();
  return model->forward(b.input_ids.to(device), b.attention_mask.to(device), b.token_type_ids.to(device)).pooled_output;
}

void TextSide::save_resources(const runs::RunPaths& run) const {
  std::filesystem::create_directories(run.text_dir());
  config.save(run.text_bert_config());
  write_file_atomic(run.text_vocab(), read_file(vocab_path));
}

runs::TextModelConfig TextSide::text_model_config() const {
  return {.bert_config = runs::RunPaths::kTextBertConfig,
          .vocab = runs::RunPaths::kTextVocab,
          .max_seq_length = max_seq_length,
          .lower_case = tokenizer->options().do_lower_case};
}

void check_text_encoder_options(const TrainOptions& o) {
  CXR_CHECK(!o.text_init.empty() || (!o.bert_config.empty() && !o.vocab.empty()), "train --method ", o.method,
            ": give --text-init DIR (from cxr pretrain-text) or both --bert-config and --vocab");
}

ScheduledOptimizer text_adamw(const std::string& name, std::vector<nn::ParamGroup> groups, const TrainOptions& o) {
  nn::AdamWOptions ao;
  ao.correct_bias = o.text_bias_correction;
  const double warmup = o.warmup;
  return {name, std::make_unique<nn::AdamW>(std::move(groups), ao),
          [warmup](int64_t step, int64_t total) { return warmup_linear_schedule(warmup, step, total); }};
}

}  // namespace cxr::train
