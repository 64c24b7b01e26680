// run_models.cpp — see run_models.h.
#include "interpret/run_models.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "nn/checkpoint.h"
#include "ops/ops.h"
#include "runs/run_dir.h"
#include "tensor/error.h"
#include "tensor/safetensors.h"

namespace cxr::interpret {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string weights_path(const std::string& run_dir, const std::string& weights) {
  return weights.find('/') != std::string::npos ? weights : runs::RunPaths(run_dir).file(weights);
}

// The checkpoint's tensors whose names start with `prefix` exist at all? (A clearer error than a
// list of every missing key.)
void require_prefix(const SafetensorsFile& file, const std::string& path, const std::string& prefix,
                    const std::string& what) {
  for (const auto& [key, t] : file.tensors)
    if (key.rfind(prefix, 0) == 0) return;
  fail(path, ": no ", what, " weights (no tensor named ", prefix, "*)");
}

SafetensorsFile read_weights(const std::string& run_dir, const std::string& weights, std::string* path) {
  *path = weights_path(run_dir, weights);
  CXR_CHECK(fs::exists(*path), *path, ": no such checkpoint file");
  return read_safetensors(*path);  // errors name the path
}

}  // namespace

std::unique_ptr<nn::ResNet> load_image_model(const std::string& run_dir, const std::string& weights) {
  const runs::RunConfig c = runs::read_run_config(run_dir);
  std::string path;
  const SafetensorsFile file = read_weights(run_dir, weights, &path);
  require_prefix(file, path, "image_model.", "image model");
  auto model = nn::make_resnet(c.arch, c.num_outputs);
  try {
    nn::load_state_dict(*model, file.tensors, {.strict = true, .prefix = "image_model."});
  } catch (const Error& e) {
    fail(path, ": image_model (", c.arch, ", ", c.num_outputs, " outputs): ", e.what());
  }
  model->eval();
  return model;
}

TextModel load_text_model(const std::string& run_dir, const std::string& weights) {
  const runs::RunConfig c = runs::read_run_config(run_dir);
  CXR_CHECK(c.has_text_model, runs::RunPaths(run_dir).config(),
            ": no text_model (this run has no text encoder; method '", c.method, "')");
  TextModel m;
  m.max_seq_length = c.text_model.max_seq_length;
  nn::BertConfig bert_config = nn::BertConfig::load(c.text_model.bert_config);  // errors name the file
  try {
    m.tokenizer = std::make_unique<text::BertTokenizer>(
        text::BertTokenizer::from_file(c.text_model.vocab, {.do_lower_case = c.text_model.lower_case}));
  } catch (const Error& e) {
    fail(c.text_model.vocab, ": ", e.what());
  }
  CXR_CHECK(m.tokenizer->vocab().size() <= bert_config.vocab_size, c.text_model.vocab, ": ",
            m.tokenizer->vocab().size(), " tokens, more than the model's vocab_size ", bert_config.vocab_size, " (",
            c.text_model.bert_config, ")");
  CXR_CHECK(m.max_seq_length <= bert_config.max_position_embeddings, "config.json text_model: max_seq_length ",
            m.max_seq_length, " exceeds max_position_embeddings ", bert_config.max_position_embeddings, " of ",
            c.text_model.bert_config);
  std::string path;
  const SafetensorsFile file = read_weights(run_dir, weights, &path);
  require_prefix(file, path, "text_model.", "text model");
  m.bert = std::make_unique<nn::BertModel>(bert_config, nullptr, nn::BertInit::Zeros);
  try {
    nn::load_state_dict(*m.bert, file.tensors, {.strict = true, .prefix = "text_model.", .exclude = {"classifier.*"}});
  } catch (const Error& e) {
    fail(path, ": text_model: ", e.what());
  }
  auto w = file.tensors.find("text_model.classifier.weight");
  if (w != file.tensors.end()) {
    const Tensor& weight = w->second;
    CXR_CHECK(weight.dim() == 2 && weight.size(1) == bert_config.hidden_size && weight.size(0) > 0, path,
              ": text_model.classifier.weight must be (C, ", bert_config.hidden_size, "), got ",
              shape_str(weight.shape()));
    const bool has_bias = file.tensors.count("text_model.classifier.bias") > 0;
    m.classifier = std::make_shared<nn::Linear>(weight.size(1), weight.size(0), has_bias);
    try {
      nn::load_state_dict(*m.classifier, file.tensors, {.strict = true, .prefix = "text_model.classifier."});
    } catch (const Error& e) {
      fail(path, ": text_model.classifier: ", e.what());
    }
    m.classifier->eval();
  }
  m.bert->eval();
  return m;
}

std::string probability_kind(int64_t num_outputs, const std::string& task) {
  return task == "findings" || num_outputs == 1 ? "sigmoid" : "softmax";
}

Tensor probabilities_from_logits(const Tensor& logits, const std::string& task) {
  CXR_CHECK(logits.dim() == 1 && logits.size(0) > 0, "probabilities_from_logits: expected logits (C), got ",
            shape_str(logits.shape()));
  return probability_kind(logits.size(0), task) == "sigmoid" ? sigmoid(logits) : softmax(logits, 0);
}

}  // namespace cxr::interpret
