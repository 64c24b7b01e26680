// bert.h — a BERT encoder (Devlin et al. 2019) as HuggingFace's BertModel, with its parameter
// names (bert.embeddings.word_embeddings.weight, bert.encoder.layer.0.attention.self.query.weight,
// ..., bert.pooler.dense.weight, cls.predictions.*), so converted BERT checkpoints (ClinicalBERT,
// SciBERT, METHODS.md §4) load unchanged, plus the masked-LM head for pretraining.
//   input_ids, token_type_ids, attention_mask: int64 (B, L)
//   embeddings: LayerNorm(word[ids] + position[0..L) + token_type[types]), dropout   -> (B, L, H)
//   each layer (post-LN): h = LN(h + drop(W_o · softmax(QK^T/sqrt(d) + mask) V));
//                         h = LN(h + drop(W_2 · act(W_1 h)))
//   mask: (1 - attention_mask) * -10000 added to the scores of every query (pytorch-transformers)
//   pooled = tanh(W_p · h[:, 0] + b_p)                                                -> (B, H)
// Math and parity: docs/BERT.md; PyTorch re-implementation tools/bert_reference.py.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/checkpoint.h"
#include "nn/layers.h"
#include "tensor/random.h"

namespace cxr::nn {

// The fields of HuggingFace's bert_config.json; unknown fields are ignored.
struct BertConfig {
  int64_t vocab_size = 8000;
  int64_t hidden_size = 256;
  int64_t num_hidden_layers = 4;
  int64_t num_attention_heads = 4;
  int64_t intermediate_size = 1024;
  std::string hidden_act = "gelu";  // "gelu" (erf), "gelu_new" (tanh approximation), "relu", "tanh"
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double initializer_range = 0.02;
  double layer_norm_eps = 1e-12;
  int64_t pad_token_id = 0;  // its word-embedding row gets no gradient (PyTorch's padding_idx)

  void validate() const;  // throws naming the bad field
  std::string to_json() const;
  static BertConfig from_json(const std::string& json_text, const std::string& what = "bert_config");
  static BertConfig load(const std::string& path);
  void save(const std::string& path) const;
};
// bert-base-uncased: 12 layers, hidden 768, 12 heads, FFN 3072, vocab 30522.
BertConfig bert_base_config();

enum class BertInit { Random, Zeros };  // Zeros: for a model whose weights come from a checkpoint

class BertEmbeddings : public Module {
 public:
  BertEmbeddings(const BertConfig& c, Generator* dropout_gen);
  std::string type_name() const override { return "BertEmbeddings"; }
  Tensor forward(const Tensor& input_ids, const Tensor& token_type_ids);
  std::shared_ptr<Embedding> word_embeddings, position_embeddings, token_type_embeddings;
  std::shared_ptr<LayerNorm> layer_norm;
  std::shared_ptr<Dropout> dropout;
  int64_t pad_token_id;
};

class BertSelfAttention : public Module {
 public:
  BertSelfAttention(const BertConfig& c, Generator* dropout_gen);
  std::string type_name() const override { return "BertSelfAttention"; }
  // h (B, L, H), additive mask (B, 1, 1, L) -> context (B, L, H); probs (B, heads, L, L) before
  // dropout is stored in *probs when given.
  Tensor forward(const Tensor& h, const Tensor& additive_mask, Tensor* probs = nullptr);
  std::shared_ptr<Linear> query, key, value;
  std::shared_ptr<Dropout> dropout;
  int64_t num_heads, head_size;
};

// dense -> dropout -> LayerNorm(. + residual): BertSelfOutput and BertOutput.
class BertResidualOutput : public Module {
 public:
  BertResidualOutput(const char* name, int64_t in, const BertConfig& c, Generator* dropout_gen);
  std::string type_name() const override { return name_; }
  Tensor forward(const Tensor& x, const Tensor& residual);
  std::shared_ptr<Linear> dense;
  std::shared_ptr<LayerNorm> layer_norm;
  std::shared_ptr<Dropout> dropout;

 private:
  const char* name_;
};

class BertAttention : public Module {
 public:
  BertAttention(const BertConfig& c, Generator* dropout_gen);
  std::string type_name() const override { return "BertAttention"; }
  Tensor forward(const Tensor& h, const Tensor& additive_mask, Tensor* probs = nullptr);
  std::shared_ptr<BertSelfAttention> self;
  std::shared_ptr<BertResidualOutput> output;
};

class BertIntermediate : public UnaryModule {
 public:
  BertIntermediate(const BertConfig& c);
  std::string type_name() const override { return "BertIntermediate"; }
  Tensor forward(const Tensor& h) override;
  std::shared_ptr<Linear> dense;
  std::string act;
};

class BertLayer : public Module {
 public:
  BertLayer(const BertConfig& c, Generator* dropout_gen);
  std::string type_name() const override { return "BertLayer"; }
  Tensor forward(const Tensor& h, const Tensor& additive_mask, Tensor* probs = nullptr);
  std::shared_ptr<BertAttention> attention;
  std::shared_ptr<BertIntermediate> intermediate;
  std::shared_ptr<BertResidualOutput> output;
};

class BertEncoder : public Module {
 public:
  BertEncoder(const BertConfig& c, Generator* dropout_gen);
  std::string type_name() const override { return "BertEncoder"; }
  std::vector<std::shared_ptr<BertLayer>> layers;  // registered as layer.0, layer.1, ...
};

class BertPooler : public UnaryModule {
 public:
  explicit BertPooler(const BertConfig& c);
  std::string type_name() const override { return "BertPooler"; }
  Tensor forward(const Tensor& sequence_output) override;  // tanh(dense(h[:, 0]))
  std::shared_ptr<Linear> dense;
};

struct BertForwardOutput {
  Tensor sequence_output;           // (B, L, H)
  Tensor pooled_output;             // (B, H)
  std::vector<Tensor> attentions;   // per layer (B, heads, L, L), when asked for
};

class BertModel : public Module {
 public:
  // Dropout draws from the model's own generator (seeded with dropout_seed), so a seeded training
  // run is reproducible whatever else uses the default generator.
  explicit BertModel(const BertConfig& config, Generator* init_gen = nullptr, BertInit init = BertInit::Random,
                     uint64_t dropout_seed = 0);
  std::string type_name() const override { return "BertModel"; }
  std::string extra_repr() const override;
  // attention_mask and token_type_ids may be undefined (all ones / all zeros).
  BertForwardOutput forward(const Tensor& input_ids, const Tensor& attention_mask = Tensor(),
                            const Tensor& token_type_ids = Tensor(), bool output_attentions = false);
  Generator& dropout_generator() { return *dropout_gen_; }

  BertConfig config;
  std::shared_ptr<BertEmbeddings> embeddings;
  std::shared_ptr<BertEncoder> encoder;
  std::shared_ptr<BertPooler> pooler;

 private:
  std::unique_ptr<Generator> dropout_gen_;
};

// cls.predictions.transform: LayerNorm(act(dense(h))).
class BertPredictionHeadTransform : public UnaryModule {
 public:
  explicit BertPredictionHeadTransform(const BertConfig& c);
  std::string type_name() const override { return "BertPredictionHeadTransform"; }
  Tensor forward(const Tensor& h) override;
  std::shared_ptr<Linear> dense;
  std::shared_ptr<LayerNorm> layer_norm;
  std::string act;
};

// cls.predictions: the transform, then the decoder tied to the word embeddings E, plus its own
// bias: logits = transform(h) · E^T + bias.
class BertLMPredictionHead : public Module {
 public:
  explicit BertLMPredictionHead(const BertConfig& c);
  std::string type_name() const override { return "BertLMPredictionHead"; }
  Tensor forward(const Tensor& h, const Tensor& word_embeddings);
  std::shared_ptr<BertPredictionHeadTransform> transform;
  Tensor bias;  // (V)
};

// cls: holds `predictions` (HF's BertOnlyMLMHead).
class BertOnlyMLMHead : public Module {
 public:
  explicit BertOnlyMLMHead(const BertConfig& c);
  std::string type_name() const override { return "BertOnlyMLMHead"; }
  std::shared_ptr<BertLMPredictionHead> predictions;
};

struct MaskedLMOutput {
  Tensor loss;         // mean cross-entropy over the predicted positions (0-dim); undefined if none
  Tensor logits;       // (M, V) at the predicted positions, in row-major order of labels
  Tensor labels;       // (M) their targets
  int64_t num_predicted = 0;
  BertForwardOutput encoder;
};

class BertForMaskedLM : public Module {
 public:
  explicit BertForMaskedLM(const BertConfig& config, Generator* init_gen = nullptr, BertInit init = BertInit::Random,
                           uint64_t dropout_seed = 0);
  std::string type_name() const override { return "BertForMaskedLM"; }
  // labels (B, L) int64: the token to predict, or ignore_index (-100) where nothing is predicted.
  // Only the predicted positions go through the head (cheaper than all B*L; same loss).
  MaskedLMOutput forward(const Tensor& input_ids, const Tensor& attention_mask, const Tensor& token_type_ids,
                         const Tensor& labels);
  // Logits at every position: (B, L, H) -> (B, L, V).
  Tensor prediction_scores(const Tensor& sequence_output);

  std::shared_ptr<BertModel> bert;
  std::shared_ptr<BertOnlyMLMHead> cls;
};

inline constexpr int64_t kIgnoreIndex = -100;

// Makes a HuggingFace/TF-converted BERT state dict fit a cxrlab module:
//  - LayerNorm "gamma"/"beta" (old TF conversions) become "weight"/"bias";
//  - "bert.embeddings.position_ids" (a buffer in newer HF files), the NSP head "cls.seq_relationship.*"
//    and the tied "cls.predictions.decoder.weight" / "cls.predictions.decoder.bias" are dropped (the
//    decoder weight must equal the word embeddings; a different one throws);
//  - "bert." is stripped for a BertModel target, and added for a BertForMaskedLM target when absent.
// `dropped` receives the names left out.
std::map<std::string, Tensor> normalize_bert_state_dict(const std::map<std::string, Tensor>& tensors,
                                                        bool for_masked_lm, std::vector<std::string>* dropped = nullptr);
// Reads a safetensors checkpoint and loads it strictly (after normalization) into a BertModel or a
// BertForMaskedLM. Pass strict = false to load an encoder-only checkpoint into a BertForMaskedLM.
LoadReport load_bert_checkpoint(Module& model, const std::string& path, bool strict = true);
LoadReport load_bert_state_dict(Module& model, const std::map<std::string, Tensor>& tensors, bool strict = true);

}  // namespace cxr::nn
