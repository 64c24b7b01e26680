// test_bert.cpp — the BERT encoder (nn/models/bert.h) against the PyTorch re-implementation
// tools/bert_reference.py (fixtures tests/goldens/bert.safetensors from tools/goldens/bert.py):
// forward, attention probabilities and every parameter gradient, the MLM head, loading a
// HuggingFace-style pretraining checkpoint, configs, dropout determinism and save/load.
#include <filesystem>
#include <fstream>

#include "bert_parity.h"

using namespace cxr;
using namespace cxr::nn;
using namespace cxr::testing;

using namespace cxr::testing::bert_parity;

TEST_CASE("bert: config from bert_config.json, BERT-base, errors") {
  BertConfig c = tiny_config();
  CHECK(c.vocab_size == 40);
  CHECK(c.hidden_size == 16);
  CHECK(c.num_hidden_layers == 2);
  CHECK(c.num_attention_heads == 2);
  CHECK(c.intermediate_size == 24);
  CHECK(c.max_position_embeddings == 12);
  CHECK(c.layer_norm_eps == 1e-12);  // absent from the file: BERT's default
  CHECK(c.hidden_act == "gelu");
  // Google's bert_config.json for BERT-base (uncased)
  BertConfig base = BertConfig::from_json(R"({"attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02, "intermediate_size": 3072,
    "max_position_embeddings": 512, "num_attention_heads": 12, "num_hidden_layers": 12, "type_vocab_size": 2,
    "vocab_size": 30522})");
  CHECK(base.to_json() == bert_base_config().to_json());
  CHECK(BertConfig::from_json(c.to_json()).to_json() == c.to_json());
  CHECK_THROWS_WITH_AS(BertConfig::from_json(R"({"vocab_size": 10})", "cfg.json"),
                       doctest::Contains("cfg.json: missing required field 'hidden_size'"), Error);
  CHECK_THROWS_WITH_AS(
      BertConfig::from_json(R"({"vocab_size": 10, "hidden_size": 10, "num_hidden_layers": 1, "num_attention_heads": 3, "intermediate_size": 4})"),
      doctest::Contains("not a multiple of num_attention_heads 3"), Error);
  CHECK_THROWS_WITH_AS(
      BertConfig::from_json(R"({"vocab_size": 10, "hidden_size": 12, "num_hidden_layers": 1, "num_attention_heads": 3, "intermediate_size": 4, "hidden_act": "swish"})"),
      doctest::Contains("unsupported hidden_act 'swish'"), Error);
  CHECK_THROWS_WITH_AS(BertConfig::from_json("{nope"), doctest::Contains("invalid JSON"), Error);
}

TEST_CASE("bert: HuggingFace parameter names and BERT-base size") {
  BertForMaskedLM m(tiny_config());
  std::vector<std::string> names;
  for (const auto& [n, p] : m.named_parameters()) names.push_back(n);
  std::vector<std::string> expected;
  for (const auto& [n, t] : golden_params()) expected.push_back(n);
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == expected);
  CHECK(names.front() == "bert.embeddings.word_embeddings.weight");
  CHECK(std::count(names.begin(), names.end(), "bert.encoder.layer.1.attention.self.query.weight") == 1);
  CHECK(std::count(names.begin(), names.end(), "bert.encoder.layer.0.output.LayerNorm.bias") == 1);
  CHECK(std::count(names.begin(), names.end(), "bert.pooler.dense.weight") == 1);
  CHECK(std::count(names.begin(), names.end(), "cls.predictions.transform.LayerNorm.weight") == 1);
  // BERT-base has 109,482,240 parameters in BertModel, as HF reports: embeddings 23,837,184
  // ((30522 + 512 + 2) x 768 + LayerNorm), each of the 12 layers 7,087,872, the pooler 590,592.
  // Built here with one layer and a 2-token vocabulary, so the test stays fast under sanitizers.
  BertConfig base_config = bert_base_config();
  base_config.num_hidden_layers = 1;
  base_config.vocab_size = 2;
  BertModel base(base_config, nullptr, BertInit::Zeros);
  CHECK(base.named_parameters().size() == 5 + 16 + 2);
  const int64_t layer = 7087872, pooler = 590592;
  auto embeddings = [](int64_t vocab) { return (vocab + 512 + 2) * 768 + 2 * 768; };
  CHECK(base.num_parameters() == embeddings(2) + layer + pooler);
  CHECK(embeddings(30522) + 12 * layer + pooler == 109482240);
  CHECK(base.encoder->layers[0]->intermediate->dense->weight.shape() == Shape{3072, 768});
}

TEST_CASE("bert: forward, attention probabilities and every parameter gradient match PyTorch") {
  check_bert_forward_parity(Device::CPU);
}

TEST_CASE("bert: masked-LM loss, logits and gradients (tied decoder) match PyTorch") {
  check_mlm_parity(Device::CPU);
}

TEST_CASE("bert: a HuggingFace-style pretraining checkpoint loads and matches") {
  std::string path = source_path("tests/goldens/bert_checkpoint_hf.safetensors");
  Inputs in = golden_inputs();
  BertForMaskedLM mlm(tiny_config(), nullptr, BertInit::Zeros);
  LoadReport r = load_bert_checkpoint(mlm, path);
  CHECK(r.complete());
  CHECK(r.loaded.size() == 44);
  mlm.eval();
  NoGradGuard ng;
  MaskedLMOutput out = mlm.forward(in.ids, in.mask, in.types, in.labels);
  check_close(out.logits, golden_tensor("bert", "mlm.logits"), kForwardTol, "converted checkpoint: mlm logits");
  // an encoder alone takes the bert.* part and leaves the heads out
  BertModel enc(tiny_config(), nullptr, BertInit::Zeros);
  std::vector<std::string> dropped;
  auto sd = normalize_bert_state_dict(read_safetensors(path).tensors, false, &dropped);
  CHECK(dropped.size() == 2 + 6 + 1);  // NSP weight+bias, cls.predictions.* (5 + tied decoder), position_ids
  CHECK(load_bert_checkpoint(enc, path).complete());
  enc.eval();
  BertForwardOutput e = enc.forward(in.ids, in.mask, in.types, true);
  check_close(e.sequence_output, golden_tensor("bert", "model.sequence_output"), kForwardTol, "converted: sequence");
  check_close(e.pooled_output, golden_tensor("bert", "model.pooled_output"), kForwardTol, "converted: pooled");
  // an untied decoder is refused; a checkpoint of the wrong size names the tensor
  auto bad = read_safetensors(path).tensors;
  bad["cls.predictions.decoder.weight"] = bad["cls.predictions.decoder.weight"] * 2.0;
  CHECK_THROWS_WITH_AS(load_bert_state_dict(mlm, bad), doctest::Contains("differs from the word embeddings"), Error);
  BertConfig other = tiny_config();
  other.intermediate_size = 32;
  BertModel wrong(other, nullptr, BertInit::Zeros);
  CHECK_THROWS_WITH_AS(load_bert_checkpoint(wrong, path), doctest::Contains("intermediate.dense.weight"), Error);
}

TEST_CASE("bert: attention masks padding, dropout is seeded, save and load round-trip") {
  BertConfig c = tiny_config();
  Generator init(7);
  BertModel m(c, &init, BertInit::Random, /*dropout_seed=*/3);
  Tensor ids = from_vector({2, 5, 6, 3, 0, 0, 2, 9, 3, 0, 0, 0}, {2, 6}, {.dtype = DType::Int64});
  Tensor mask = ne(ids, zeros({}, {.dtype = DType::Int64})).to(DType::Int64);
  m.eval();
  BertForwardOutput a = m.forward(ids, mask, Tensor(), true);
  REQUIRE(a.attentions.size() == 2);
  Tensor p = a.attentions[1];
  CHECK(p.shape() == Shape{2, 2, 6, 6});
  check_close(sum(p, {-1}), ones({2, 2, 6}), {1e-6, 1e-6}, "attention rows sum to 1");
  CHECK(max(p.select(0, 0).narrow(-1, 4, 2)).item() < 1e-30);  // padded keys get no attention
  // padding does not change the real tokens' outputs
  BertForwardOutput trimmed = m.forward(ids.narrow(1, 0, 4).narrow(0, 0, 1), Tensor());
  check_close(trimmed.sequence_output.select(0, 0), a.sequence_output.select(0, 0).narrow(0, 0, 4), {1e-5, 1e-5},
              "padding invariance");
  // dropout: active in training, reproducible from the seed
  m.train();
  m.dropout_generator().set_state(3, 0);
  Tensor t1 = m.forward(ids, mask).pooled_output;
  m.dropout_generator().set_state(3, 0);
  Tensor t2 = m.forward(ids, mask).pooled_output;
  CHECK(max_abs_diff(t1, t2) == 0);
  CHECK(max_abs_diff(t1, a.pooled_output) > 1e-4);
  // save + config + load into a fresh model: identical outputs
  std::string ckpt = temp_path("model.safetensors"), cfg = temp_path("bert_config.json");
  save_checkpoint(m, ckpt);
  c.save(cfg);
  BertModel loaded(BertConfig::load(cfg), nullptr, BertInit::Zeros);
  CHECK(load_bert_checkpoint(loaded, ckpt).complete());
  loaded.eval();
  m.eval();
  CHECK(max_abs_diff(loaded.forward(ids, mask).pooled_output, a.pooled_output) == 0);
  std::filesystem::remove(ckpt);
  std::filesystem::remove(cfg);
  CHECK_THROWS_WITH_AS(m.forward(zeros({1, 13}, {.dtype = DType::Int64})), doctest::Contains("exceeds max_position_embeddings 12"),
                       Error);
  CHECK_THROWS_WITH_AS(m.forward(zeros({1, 3})), doctest::Contains("input_ids must be int64"), Error);
}
