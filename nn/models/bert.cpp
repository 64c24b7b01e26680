// bert.cpp — see bert.h. Shapes: B batch, L sequence length, H hidden, A heads, D = H / A.
#include "nn/models/bert.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "autograd/node.h"
#include "nn/init.h"
#include "ops/ops.h"
#include "tensor/safetensors.h"

namespace cxr::nn {

// ---- config ----
void BertConfig::validate() const {
  auto positive = [](int64_t v, const char* name) { CXR_CHECK(v > 0, "bert_config: ", name, " must be positive, got ", v); };
  positive(vocab_size, "vocab_size");
  positive(hidden_size, "hidden_size");
  positive(num_hidden_layers, "num_hidden_layers");
  positive(num_attention_heads, "num_attention_heads");
  positive(intermediate_size, "intermediate_size");
  positive(max_position_embeddings, "max_position_embeddings");
  positive(type_vocab_size, "type_vocab_size");
  CXR_CHECK(hidden_size % num_attention_heads == 0, "bert_config: hidden_size ", hidden_size,
            " is not a multiple of num_attention_heads ", num_attention_heads);
  CXR_CHECK(hidden_act == "gelu" || hidden_act == "gelu_new" || hidden_act == "relu" || hidden_act == "tanh",
            "bert_config: unsupported hidden_act '", hidden_act, "' (gelu, gelu_new, relu, tanh)");
  CXR_CHECK(hidden_dropout_prob >= 0 && hidden_dropout_prob < 1 && attention_probs_dropout_prob >= 0 &&
                attention_probs_dropout_prob < 1,
            "bert_config: dropout probabilities must be in [0, 1)");
  CXR_CHECK(layer_norm_eps > 0, "bert_config: layer_norm_eps must be positive");
  CXR_CHECK(pad_token_id >= 0 && pad_token_id < vocab_size, "bert_config: pad_token_id ", pad_token_id,
            " outside the vocabulary of ", vocab_size);
}

std::string BertConfig::to_json() const {
  nlohmann::ordered_json j;
  j["attention_probs_dropout_prob"] = attention_probs_dropout_prob;
  j["hidden_act"] = hidden_act;
  j["hidden_dropout_prob"] = hidden_dropout_prob;
  j["hidden_size"] = hidden_size;
  j["initializer_range"] = initializer_range;
  j["intermediate_size"] = intermediate_size;
  j["layer_norm_eps"] = layer_norm_eps;
  j["max_position_embeddings"] = max_position_embeddings;
  j["num_attention_heads"] = num_attention_heads;
  j["num_hidden_layers"] = num_hidden_layers;
  j["pad_token_id"] = pad_token_id;
  j["type_vocab_size"] = type_vocab_size;
  j["vocab_size"] = vocab_size;
  return j.dump(2) + "\n";
}

BertConfig BertConfig::from_json(const std::string& text, const std::string& what) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(what, ": invalid JSON: ", e.what());
  }
  CXR_CHECK(j.is_object(), what, ": expected a JSON object");
  BertConfig c;
  auto get_int = [&](const char* key, int64_t& out, bool required) {
    if (!j.contains(key)) {
      CXR_CHECK(!required, what, ": missing required field '", key, "'");
      return;
    }
    CXR_CHECK(j[key].is_number_integer(), what, ": field '", key, "' must be an integer");
    out = j[key].get<int64_t>();
  };
  auto get_double = [&](const char* key, double& out) {
    if (!j.contains(key)) return;
    CXR_CHECK(j[key].is_number(), what, ": field '", key, "' must be a number");
    out = j[key].get<double>();
  };
  get_int("vocab_size", c.vocab_size, true);
  get_int("hidden_size", c.hidden_size, true);
  get_int("num_hidden_layers", c.num_hidden_layers, true);
  get_int("num_attention_heads", c.num_attention_heads, true);
  get_int("intermediate_size", c.intermediate_size, true);
  get_int("max_position_embeddings", c.max_position_embeddings, false);
  get_int("type_vocab_size", c.type_vocab_size, false);
  get_int("pad_token_id", c.pad_token_id, false);
  get_double("hidden_dropout_prob", c.hidden_dropout_prob);
  get_double("attention_probs_dropout_prob", c.attention_probs_dropout_prob);
  get_double("initializer_range", c.initializer_range);
  get_double("layer_norm_eps", c.layer_norm_eps);
  if (j.contains("hidden_act")) {
    CXR_CHECK(j["hidden_act"].is_string(), what, ": field 'hidden_act' must be a string");
    c.hidden_act = j["hidden_act"].get<std::string>();
  }
  try {
    c.validate();
  } catch (const Error& e) {
    fail(what, ": ", e.what());
  }
  return c;
}

BertConfig BertConfig::load(const std::string& path) {
  std::ifstream in(path);
  CXR_CHECK(in, "bert_config: cannot open ", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return from_json(ss.str(), path);
}

void BertConfig::save(const std::string& path) const {
  std::ofstream out(path);
  CXR_CHECK(out, "bert_config: cannot write ", path);
  out << to_json();
  CXR_CHECK(out.good(), "bert_config: write to ", path, " failed");
}

BertConfig bert_base_config() {
  BertConfig c;
  c.vocab_size = 30522;
  c.hidden_size = 768;
  c.num_hidden_layers = 12;
  c.num_attention_heads = 12;
  c.intermediate_size = 3072;
  return c;
}

namespace {
Tensor activation(const std::string& act, const Tensor& x) {
  if (act == "gelu") return gelu(x);
  if (act == "relu") return relu(x);
  if (act == "tanh") return tanh(x);
  // gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  return 0.5 * x * (1.0 + tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

// torch.nn.ModuleList: children "0", "1", ...
class ModuleList : public Module {
 public:
  std::string type_name() const override { return "ModuleList"; }
  template <typename M>
  std::shared_ptr<M> add(std::shared_ptr<M> m) {
    return register_module(std::to_string(size_++), std::move(m));
  }

 private:
  int64_t size_ = 0;
};

// Layers are built with a scratch generator (their own default init is overwritten below), so
// building a model never advances the caller's or the default generator beyond init_bert_weights.
Generator& scratch_generator() {
  static thread_local Generator g(0x5eed);
  return g;
}
std::shared_ptr<Linear> linear(int64_t in, int64_t out) { return std::make_shared<Linear>(in, out, true, &scratch_generator()); }

// HF's _init_weights: Linear and Embedding weights ~ N(0, initializer_range), biases 0,
// LayerNorm weight 1 and bias 0 (and the MLM head's bias 0).
void init_bert_weights(const Module& m, const BertConfig& c, Generator* gen, BertInit init) {
  NoGradGuard no_grad;
  for (auto& [name_binding, p] : m.named_parameters()) {
    const std::string& name = name_binding;  // (clang before 16 cannot capture a structured binding)
    auto ends_with = [&](const std::string& s) {
      return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    if (ends_with("LayerNorm.weight")) init::ones_(p);
    else if (ends_with("bias") || init == BertInit::Zeros) init::zeros_(p);
    else init::normal_(p, 0.0, c.initializer_range, gen);
  }
}
}  // namespace

// ---- embeddings ----
BertEmbeddings::BertEmbeddings(const BertConfig& c, Generator* dropout_gen) : pad_token_id(c.pad_token_id) {
  word_embeddings = register_module("word_embeddings", std::make_shared<Embedding>(c.vocab_size, c.hidden_size, &scratch_generator()));
  position_embeddings = register_module(
      "position_embeddings", std::make_shared<Embedding>(c.max_position_embeddings, c.hidden_size, &scratch_generator()));
  token_type_embeddings = register_module(
      "token_type_embeddings", std::make_shared<Embedding>(c.type_vocab_size, c.hidden_size, &scratch_generator()));
  layer_norm = register_module("LayerNorm", std::make_shared<LayerNorm>(Shape{c.hidden_size}, c.layer_norm_eps));
  dropout = register_module("dropout", std::make_shared<Dropout>(c.hidden_dropout_prob, dropout_gen));
}

Tensor BertEmbeddings::forward(const Tensor& input_ids, const Tensor& token_type_ids) {
  const int64_t L = input_ids.size(1);
  CXR_CHECK(L <= position_embeddings->weight.size(0), "BertModel: sequence length ", L,
            " exceeds max_position_embeddings ", position_embeddings->weight.size(0));
  Tensor words = word_embeddings->forward(input_ids);  // (B, L, H)
  if (words.requires_grad()) {
    // padding_idx: the pad row's value is used but receives no gradient. Pad positions take the
    // detached row: keep * w + (1 - keep) * w.detach() has the value w and the gradient keep * g.
    Tensor keep = ne(input_ids, full({}, double(pad_token_id), input_ids.options())).to(words.dtype()).unsqueeze(-1);
    words = keep * words + (1.0 - keep) * words.detach();
  }
  Tensor positions = arange(0, double(L), 1, {.dtype = DType::Int64, .device = input_ids.device()});
  Tensor e = words + position_embeddings->forward(positions) + token_type_embeddings->forward(token_type_ids);
  return dropout->forward(layer_norm->forward(e));
}

// ---- attention ----
BertSelfAttention::BertSelfAttention(const BertConfig& c, Generator* dropout_gen)
    : num_heads(c.num_attention_heads), head_size(c.hidden_size / c.num_attention_heads) {
  query = register_module("query", linear(c.hidden_size, c.hidden_size));
  key = register_module("key", linear(c.hidden_size, c.hidden_size));
  value = register_module("value", linear(c.hidden_size, c.hidden_size));
  dropout = register_module("dropout", std::make_shared<Dropout>(c.attention_probs_dropout_prob, dropout_gen));
}

Tensor BertSelfAttention::forward(const Tensor& h, const Tensor& additive_mask, Tensor* probs_out) {
  const int64_t B = h.size(0), L = h.size(1);
  auto heads = [&](const Tensor& x) { return x.view({B, L, num_heads, head_size}).permute({0, 2, 1, 3}); };
  Tensor q = heads(query->forward(h));                       // (B, A, L, D)
  Tensor k = heads(key->forward(h));                         // (B, A, L, D)
  Tensor v = heads(value->forward(h));                       // (B, A, L, D)
  const double scale = 1.0 / std::sqrt(double(head_size));
  // On CUDA in float32 the fused op (the attention ladder's kernel: no L x L probabilities in memory)
  // computes the same thing, when nothing needs the probabilities: they are not asked for and no dropout
  // applies to them (evaluation, or attention_probs_dropout_prob 0). Elsewhere the composite below,
  // which the CPU's results come from.
  const bool probs_dropped = dropout->is_training() && dropout->p > 0;
  if (h.device() == Device::CUDA && h.dtype() == DType::Float32 && !probs_out && !probs_dropped) {
    Tensor context = scaled_dot_product_attention(q, k, v, additive_mask.view({B, L}), scale);  // (B, A, L, D)
    return context.permute({0, 2, 1, 3}).reshape({B, L, num_heads * head_size});
  }
  Tensor scores = matmul(q, k.transpose(-1, -2)) * scale;  // (B, A, L, L)
  scores = scores + additive_mask;                           // (B, 1, 1, L) broadcast over heads, queries
  Tensor probs = softmax(scores, -1);
  if (probs_out) *probs_out = probs;
  Tensor context = matmul(dropout->forward(probs), v);       // (B, A, L, D)
  return context.permute({0, 2, 1, 3}).reshape({B, L, num_heads * head_size});
}

BertResidualOutput::BertResidualOutput(const char* name, int64_t in, const BertConfig& c, Generator* dropout_gen)
    : name_(name) {
  dense = register_module("dense", linear(in, c.hidden_size));
  layer_norm = register_module("LayerNorm", std::make_shared<LayerNorm>(Shape{c.hidden_size}, c.layer_norm_eps));
  dropout = register_module("dropout", std::make_shared<Dropout>(c.hidden_dropout_prob, dropout_gen));
}

Tensor BertResidualOutput::forward(const Tensor& x, const Tensor& residual) {
  return layer_norm->forward(dropout->forward(dense->forward(x)) + residual);
}

BertAttention::BertAttention(const BertConfig& c, Generator* dropout_gen) {
  self = register_module("self", std::make_shared<BertSelfAttention>(c, dropout_gen));
  output = register_module("output", std::make_shared<BertResidualOutput>("BertSelfOutput", c.hidden_size, c, dropout_gen));
}

Tensor BertAttention::forward(const Tensor& h, const Tensor& additive_mask, Tensor* probs) {
  return output->forward(self->forward(h, additive_mask, probs), h);
}

BertIntermediate::BertIntermediate(const BertConfig& c) : act(c.hidden_act) {
  dense = register_module("dense", linear(c.hidden_size, c.intermediate_size));
}

Tensor BertIntermediate::forward(const Tensor& h) { return activation(act, dense->forward(h)); }

BertLayer::BertLayer(const BertConfig& c, Generator* dropout_gen) {
  attention = register_module("attention", std::make_shared<BertAttention>(c, dropout_gen));
  intermediate = register_module("intermediate", std::make_shared<BertIntermediate>(c));
  output = register_module("output", std::make_shared<BertResidualOutput>("BertOutput", c.intermediate_size, c, dropout_gen));
}

Tensor BertLayer::forward(const Tensor& h, const Tensor& additive_mask, Tensor* probs) {
  Tensor a = attention->forward(h, additive_mask, probs);
  return output->forward(intermediate->forward(a), a);
}

BertEncoder::BertEncoder(const BertConfig& c, Generator* dropout_gen) {
  auto list = register_module("layer", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers.push_back(list->add(std::make_shared<BertLayer>(c, dropout_gen)));
}

BertPooler::BertPooler(const BertConfig& c) { dense = register_module("dense", linear(c.hidden_size, c.hidden_size)); }

Tensor BertPooler::forward(const Tensor& sequence_output) { return tanh(dense->forward(sequence_output.select(1, 0))); }

// ---- the model ----
BertModel::BertModel(const BertConfig& c, Generator* init_gen, BertInit init, uint64_t dropout_seed)
    : config(c), dropout_gen_(std::make_unique<Generator>(dropout_seed)) {
  config.validate();
  embeddings = register_module("embeddings", std::make_shared<BertEmbeddings>(c, dropout_gen_.get()));
  encoder = register_module("encoder", std::make_shared<BertEncoder>(c, dropout_gen_.get()));
  pooler = register_module("pooler", std::make_shared<BertPooler>(c));
  init_bert_weights(*this, config, init_gen, init);
}

std::string BertModel::extra_repr() const {
  std::ostringstream s;
  s << "layers=" << config.num_hidden_layers << ", hidden=" << config.hidden_size << ", heads=" << config.num_attention_heads
    << ", ffn=" << config.intermediate_size << ", vocab=" << config.vocab_size;
  return s.str();
}

BertForwardOutput BertModel::forward(const Tensor& input_ids, const Tensor& attention_mask, const Tensor& token_type_ids,
                                     bool output_attentions) {
  CXR_CHECK(input_ids.defined() && input_ids.dim() == 2 && input_ids.dtype() == DType::Int64,
            "BertModel: input_ids must be int64 (B, L), got ",
            input_ids.defined() ? shape_str(input_ids.shape()) + " " + dtype_name(input_ids.dtype()) : "undefined");
  const int64_t B = input_ids.size(0), L = input_ids.size(1);
  auto check_like = [&](const Tensor& t, const char* name) {
    CXR_CHECK(t.shape() == input_ids.shape() && t.dtype() == DType::Int64, "BertModel: ", name,
              " must be int64 shaped like input_ids ", shape_str(input_ids.shape()), ", got ", shape_str(t.shape()));
  };
  Tensor types = token_type_ids.defined() ? token_type_ids : zeros({B, L}, input_ids.options());
  Tensor mask = attention_mask.defined() ? attention_mask : ones({B, L}, input_ids.options());
  check_like(types, "token_type_ids");
  check_like(mask, "attention_mask");
  const DType dt = embeddings->word_embeddings->weight.dtype();
  // (1 - mask) * -10000, shaped (B, 1, 1, L): added to every head's and query's scores.
  Tensor additive = ((1.0 - mask.to(dt)) * -10000.0).view({B, 1, 1, L});

  BertForwardOutput out;
  Tensor h = embeddings->forward(input_ids, types);
  for (auto& layer : encoder->layers) {
    Tensor probs;
    h = layer->forward(h, additive, output_attentions ? &probs : nullptr);
    if (output_attentions) out.attentions.push_back(probs);
  }
  out.sequence_output = h;
  out.pooled_output = pooler->forward(h);
  return out;
}

// ---- MLM head ----
BertPredictionHeadTransform::BertPredictionHeadTransform(const BertConfig& c) : act(c.hidden_act) {
  dense = register_module("dense", linear(c.hidden_size, c.hidden_size));
  layer_norm = register_module("LayerNorm", std::make_shared<LayerNorm>(Shape{c.hidden_size}, c.layer_norm_eps));
}

Tensor BertPredictionHeadTransform::forward(const Tensor& h) { return layer_norm->forward(activation(act, dense->forward(h))); }

BertLMPredictionHead::BertLMPredictionHead(const BertConfig& c) {
  transform = register_module("transform", std::make_shared<BertPredictionHeadTransform>(c));
  bias = register_parameter("bias", zeros({c.vocab_size}));
}

Tensor BertLMPredictionHead::forward(const Tensor& h, const Tensor& word_embeddings) {
  return matmul(transform->forward(h), word_embeddings.t()) + bias;
}

BertOnlyMLMHead::BertOnlyMLMHead(const BertConfig& c) {
  predictions = register_module("predictions", std::make_shared<BertLMPredictionHead>(c));
}

BertForMaskedLM::BertForMaskedLM(const BertConfig& c, Generator* init_gen, BertInit init, uint64_t dropout_seed) {
  bert = register_module("bert", std::make_shared<BertModel>(c, init_gen, init, dropout_seed));
  cls = register_module("cls", std::make_shared<BertOnlyMLMHead>(c));
  init_bert_weights(*cls, c, init_gen, init);
}

Tensor BertForMaskedLM::prediction_scores(const Tensor& sequence_output) {
  return cls->predictions->forward(sequence_output, bert->embeddings->word_embeddings->weight);
}

MaskedLMOutput BertForMaskedLM::forward(const Tensor& input_ids, const Tensor& attention_mask,
                                        const Tensor& token_type_ids, const Tensor& labels) {
  CXR_CHECK(labels.shape() == input_ids.shape() && labels.dtype() == DType::Int64,
            "BertForMaskedLM: labels must be int64 shaped like input_ids ", shape_str(input_ids.shape()), ", got ",
            shape_str(labels.shape()));
  MaskedLMOutput out;
  out.encoder = bert->forward(input_ids, attention_mask, token_type_ids);
  const int64_t H = out.encoder.sequence_output.size(2);
  Tensor flat_labels = contiguous_values(copy_to(labels, Device::CPU)).view({-1});  // read on the host
  std::vector<double> positions, targets;
  const int64_t* lab = flat_labels.data<int64_t>();
  for (int64_t i = 0; i < flat_labels.numel(); ++i) {
    if (lab[i] == kIgnoreIndex) continue;
    positions.push_back(double(i));
    targets.push_back(double(lab[i]));
  }
  out.num_predicted = static_cast<int64_t>(positions.size());
  if (positions.empty()) return out;
  const Device device = out.encoder.sequence_output.device();
  Tensor index = from_vector(positions, {}, {.dtype = DType::Int64, .device = device});
  Tensor selected = index_select(out.encoder.sequence_output.reshape({-1, H}), 0, index);  // (M, H)
  out.logits = prediction_scores(selected);                                                  // (M, V)
  out.labels = from_vector(targets, {}, {.dtype = DType::Int64, .device = device});
  out.loss = cross_entropy(out.logits, out.labels);
  return out;
}

// ---- checkpoints ----
std::map<std::string, Tensor> normalize_bert_state_dict(const std::map<std::string, Tensor>& tensors, bool for_masked_lm,
                                                        std::vector<std::string>* dropped) {
  auto drop = [&](const std::string& name) {
    if (dropped) dropped->push_back(name);
  };
  auto starts_with = [](const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; };
  auto ends_with = [](const std::string& s, const std::string& x) {
    return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  bool prefixed = false;
  for (const auto& [k, t] : tensors) prefixed = prefixed || starts_with(k, "bert.");
  std::map<std::string, Tensor> out;
  Tensor decoder_weight;
  std::string decoder_name;
  for (const auto& [key, t] : tensors) {
    std::string name = key;
    if (ends_with(name, "LayerNorm.gamma")) name = name.substr(0, name.size() - 5) + "weight";
    if (ends_with(name, "LayerNorm.beta")) name = name.substr(0, name.size() - 4) + "bias";
    if (ends_with(name, "embeddings.position_ids") || starts_with(name, "cls.seq_relationship.") ||
        name == "cls.predictions.decoder.bias") {
      drop(key);
      continue;
    }
    if (name == "cls.predictions.decoder.weight") {
      decoder_weight = t, decoder_name = key;
      drop(key);
      continue;
    }
    if (!for_masked_lm) {
      if (starts_with(name, "cls.")) {
        drop(key);
        continue;
      }
      if (prefixed) {
        if (!starts_with(name, "bert.")) {
          drop(key);
          continue;
        }
        name = name.substr(5);
      }
    } else if (!prefixed && !starts_with(name, "cls.")) {
      name = "bert." + name;
    }
    out[name] = t;
  }
  if (decoder_weight.defined()) {
    auto it = out.find(for_masked_lm ? "bert.embeddings.word_embeddings.weight" : "embeddings.word_embeddings.weight");
    CXR_CHECK(it == out.end() || (it->second.shape() == decoder_weight.shape() &&
                                  max_abs_diff(it->second.to(DType::Float64), decoder_weight.to(DType::Float64)) == 0),
              "load_bert: ", decoder_name, " differs from the word embeddings; cxrlab ties the MLM decoder to them");
  }
  return out;
}

LoadReport load_bert_state_dict(Module& model, const std::map<std::string, Tensor>& tensors, bool strict) {
  bool mlm = dynamic_cast<BertForMaskedLM*>(&model) != nullptr;
  CXR_CHECK(mlm || dynamic_cast<BertModel*>(&model) != nullptr, "load_bert: the target must be a BertModel or a BertForMaskedLM, got ",
            model.type_name());
  return load_state_dict(model, normalize_bert_state_dict(tensors, mlm), {.strict = strict});
}

LoadReport load_bert_checkpoint(Module& model, const std::string& path, bool strict) {
  SafetensorsFile f = read_safetensors(path);
  try {
    return load_bert_state_dict(model, f.tensors, strict);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
}

}  // namespace cxr::nn
