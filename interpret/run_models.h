// run_models.h — the models of a training run directory (docs/RUNS.md), rebuilt for inference:
// config.json says which (runs/run_config.h reads it: arch, num_outputs, image_size, task;
// text_model.{bert_config, vocab, max_seq_length, lower_case}) and model.safetensors
// holds the weights under the prefixes image_model.* (nn::ResNet), text_model.* (nn::BertModel)
// and text_model.classifier.* (the joint model's text head, Linear(hidden -> C)).
// Every failure is a cxr::Error naming the file and the problem (missing, not JSON, a field missing
// or of the wrong type, missing or mismatched weights). Models come back in eval mode.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "nn/layers.h"
#include "nn/models/bert.h"
#include "nn/models/resnet.h"
#include "runs/run_config.h"
#include "runs/run_dir.h"
#include "text/wordpiece.h"

namespace cxr::interpret {

// `weights`: a file name inside the run directory (model.safetensors; best.safetensors for the best
// epoch) or a path containing '/' (used as given).
std::unique_ptr<nn::ResNet> load_image_model(const std::string& run_dir,
                                             const std::string& weights = runs::RunPaths::kModelFile);

struct TextModel {
  std::unique_ptr<nn::BertModel> bert;
  std::unique_ptr<text::BertTokenizer> tokenizer;
  std::shared_ptr<nn::Linear> classifier;  // null when the checkpoint has no text_model.classifier.*
  int64_t max_seq_length = runs::kDefaultMaxSeqLength;
};
// Throws if config.json has no text_model.
TextModel load_text_model(const std::string& run_dir, const std::string& weights = runs::RunPaths::kModelFile);

// Class probabilities from one image's or report's logits (C): per-output sigmoids for the
// multi-label "findings" task and for one-output models, softmax otherwise.
Tensor probabilities_from_logits(const Tensor& logits, const std::string& task);
std::string probability_kind(int64_t num_outputs, const std::string& task);  // "sigmoid" or "softmax"

}  // namespace cxr::interpret
