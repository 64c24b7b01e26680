// bert_parity.h — the BERT-vs-PyTorch parity checks of tests/test_bert.cpp (fixtures
// tests/goldens/bert.safetensors from tools/goldens/bert.py, the reference tools/bert_reference.py),
// shared with the GPU run of the same fixtures (tests/test_cuda_models.cpp): the encoder's forward,
// attention probabilities and every parameter gradient, and the masked-LM loss, logits and
// gradients, on the CPU or on `device`.
#pragma once

#include "nn/models/bert.h"
#include "testing.h"

namespace cxr::testing::bert_parity {

using namespace cxr::nn;

inline BertConfig tiny_config() { return BertConfig::load(source_path("tests/goldens/bert_tiny_config.json")); }

// The golden's weights, under their HF names.
inline std::map<std::string, Tensor> golden_params() {
  std::map<std::string, Tensor> out;
  for (const auto& [k, t] : golden("bert").tensors)
    if (k.rfind("param.", 0) == 0) out[k.substr(6)] = t;
  return out;
}

struct Inputs {
  Tensor ids, mask, types, labels;
};
inline Inputs golden_inputs(Device device = Device::CPU) {
  return {golden_tensor("bert", "in.input_ids").to(device), golden_tensor("bert", "in.attention_mask").to(device),
          golden_tensor("bert", "in.token_type_ids").to(device), golden_tensor("bert", "in.labels").to(device)};
}

inline std::unique_ptr<BertForMaskedLM> golden_mlm(Device device = Device::CPU) {
  auto m = std::make_unique<BertForMaskedLM>(tiny_config(), nullptr, BertInit::Zeros);
  LoadReport r = load_bert_state_dict(*m, golden_params());
  CHECK(r.complete());
  m->eval();
  m->to(device);
  return m;
}


// Tolerances measured against PyTorch float32 (docs/BERT.md): outputs differ by <= ~1e-6 because
// cxrlab's reductions accumulate in double.
inline const Tolerance kForwardTol{1e-4, 1e-5};
inline const Tolerance kGradTol{1e-4, 2e-5};

inline void check_bert_forward_parity(Device device) {
  auto m = golden_mlm(device);
  Inputs in = golden_inputs(device);
  BertForwardOutput out = m->bert->forward(in.ids, in.mask, in.types, true);
  check_close(out.sequence_output, golden_tensor("bert", "model.sequence_output"), kForwardTol, "sequence_output");
  check_close(out.pooled_output, golden_tensor("bert", "model.pooled_output"), kForwardTol, "pooled_output");
  MESSAGE("BertModel parity: max |diff| sequence_output ",
          max_abs_diff(out.sequence_output, golden_tensor("bert", "model.sequence_output")), ", pooled ",
          max_abs_diff(out.pooled_output, golden_tensor("bert", "model.pooled_output")), ", attention ",
          std::max(max_abs_diff(out.attentions[0], golden_tensor("bert", "model.attention.0")),
                   max_abs_diff(out.attentions[1], golden_tensor("bert", "model.attention.1"))));
  REQUIRE(out.attentions.size() == 2);
  for (int i = 0; i < 2; ++i)
    check_close(out.attentions[i], golden_tensor("bert", "model.attention." + std::to_string(i)), kForwardTol,
                "attention " + std::to_string(i));
  Tensor loss = sum(out.sequence_output * golden_tensor("bert", "model.gout_sequence").to(device)) +
                sum(out.pooled_output * golden_tensor("bert", "model.gout_pooled").to(device));
  loss.backward();
  int checked = 0;
  double worst = 0;
  for (const auto& [name, p] : m->bert->named_parameters()) {
    INFO(name);
    REQUIRE(p.grad().defined());
    Tensor expected = golden_tensor("bert", "model.grad.bert." + name);
    worst = std::max(worst, max_abs_diff(p.grad().to(DType::Float64), expected.to(DType::Float64)));
    check_close(p.grad(), expected, kGradTol, "gradient of bert." + name);
    ++checked;
  }
  CHECK(checked == 39);  // embeddings 5, 16 per layer, pooler 2
  MESSAGE("BertModel parity: max |grad diff| ", worst);
  // the pad row of the word embeddings gets no gradient (padding_idx)
  Tensor gw = m->bert->embeddings->word_embeddings->weight.grad();
  CHECK(max(abs(gw.select(0, 0))).item() == 0);
}

inline void check_mlm_parity(Device device) {
  auto m = golden_mlm(device);
  Inputs in = golden_inputs(device);
  MaskedLMOutput out = m->forward(in.ids, in.mask, in.types, in.labels);
  CHECK(out.num_predicted == 5);
  check_close(out.loss, golden_tensor("bert", "mlm.loss"), kForwardTol, "mlm loss");
  check_close(out.logits, golden_tensor("bert", "mlm.logits"), kForwardTol, "mlm logits");
  MESSAGE("MLM parity: |loss diff| ", max_abs_diff(out.loss, golden_tensor("bert", "mlm.loss")), ", max |logit diff| ",
          max_abs_diff(out.logits, golden_tensor("bert", "mlm.logits")));
  out.loss.backward();
  int checked = 0;
  double worst = 0;
  for (const auto& [name, p] : m->named_parameters()) {
    Tensor expected = golden_tensor("bert", "mlm.grad." + name);
    if (name.rfind("bert.pooler.", 0) == 0) {  // not on the MLM loss's path (PyTorch: zeros)
      CHECK(!p.grad().defined());
      CHECK(max(abs(expected)).item() == 0);
      continue;
    }
    REQUIRE_MESSAGE(p.grad().defined(), name);
    check_close(p.grad(), expected, kGradTol, "mlm gradient of " + name);
    worst = std::max(worst, max_abs_diff(p.grad(), expected));
    ++checked;
  }
  MESSAGE("MLM parity: max |grad diff| ", worst);
  CHECK(checked == 39 - 2 + 5);
  // the full-sequence head gives the same logits at the labelled positions
  NoGradGuard ng;
  Tensor all = m->prediction_scores(m->bert->forward(in.ids, in.mask, in.types).sequence_output);
  CHECK(all.shape() == Shape{3, 9, 40});
  check_close(all.select(0, 1).select(0, 6), out.logits.select(0, 3), {1e-6, 1e-6}, "full-sequence logits");
}

}  // namespace cxr::testing::bert_parity
