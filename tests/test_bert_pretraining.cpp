// test_bert_pretraining.cpp — MLM pretraining (nn/models/bert_pretraining.h): BERT's 80/10/10
// masking statistics, a tiny model learning a synthetic corpus, and bit-identical seeded runs.
#include "nn/models/bert_pretraining.h"
#include "testing.h"

using namespace cxr;
using namespace cxr::nn;
using namespace cxr::testing;

namespace {
constexpr int64_t kPad = 0, kCls = 2, kSep = 3, kMask = 4, kVocab = 40, kMotif = 1;

BertConfig tiny() {
  BertConfig c;
  c.vocab_size = kVocab;
  c.hidden_size = 16;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.intermediate_size = 32;
  c.max_position_embeddings = 24;
  return c;
}

// Sequences whose masked tokens can only be filled in from context: each sequence repeats one
// token (a motif of kMotif tokens) drawn from ids 5..39.
std::vector<std::vector<int64_t>> motif_corpus(uint64_t seed, int n) {
  Generator g(seed);
  std::vector<std::vector<int64_t>> out;
  for (int i = 0; i < n; ++i) {
    const uint64_t c = g.reserve(4);
    std::vector<int64_t> motif = {g.integer(c, 5, kVocab), g.integer(c + 1, 5, kVocab), g.integer(c + 2, 5, kVocab)};
    std::vector<int64_t> s = {kCls};
    int64_t len = 9 + g.integer(c + 3, 0, 10);
    for (int64_t k = 0; k < len; ++k) s.push_back(motif[static_cast<size_t>(k % kMotif)]);
    s.push_back(kSep);
    out.push_back(s);
  }
  return out;
}

std::pair<std::vector<PretrainLogRow>, std::vector<double>> run(uint64_t seed, int64_t steps, double lr = 1e-2) {
  Generator init(seed);
  BertForMaskedLM m(tiny(), &init, BertInit::Random, seed + 9);
  PretrainOptions o;
  o.steps = steps;
  o.batch_size = 8;
  o.lr = lr;
  o.eval_every = 0;
  o.seed = seed;
  auto log = pretrain_mlm(m, motif_corpus(1, 64), motif_corpus(2, 16), kMask, {kCls, kSep, kPad}, o);
  return {log, m.bert->encoder->layers[0]->attention->self->query->weight.to_vector()};
}
}  // namespace

TEST_CASE("mlm masking: 15% of real tokens, 80/10/10, specials and padding never chosen") {
  Generator data(5);
  const int64_t B = 64, L = 200, V = 1000;
  Tensor ids = randint(5, V, {B, L}, {.dtype = DType::Int64}, &data);
  for (int64_t b = 0; b < B; ++b) {
    ids.set({b, 0}, kCls);
    ids.set({b, 100}, kSep);
    for (int64_t j = 150; j < L; ++j) ids.set({b, j}, kPad);
  }
  Tensor mask = ne(ids, zeros({}, {.dtype = DType::Int64})).to(DType::Int64);
  Generator g(11);
  MaskedBatch mb = mask_tokens(ids, mask, kMask, V, {kCls, kSep, kPad}, g);
  int64_t eligible = 0, chosen = 0, as_mask = 0, unchanged = 0, bad = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < L; ++j) {
      auto id = static_cast<int64_t>(ids.at({b, j})), label = static_cast<int64_t>(mb.labels.at({b, j}));
      auto now = static_cast<int64_t>(mb.input_ids.at({b, j}));
      bool special = id == kCls || id == kSep || id == kPad;
      eligible += !special;
      if (label == kIgnoreIndex) {
        bad += now != id;  // untouched
        continue;
      }
      bad += special || label != id;
      ++chosen;
      as_mask += now == kMask;
      unchanged += now == id;
    }
  CHECK(bad == 0);
  CHECK(chosen == mb.num_masked);
  CHECK(eligible == B * 148);
  CHECK(std::abs(double(chosen) / double(eligible) - 0.15) < 0.01);
  CHECK(std::abs(double(as_mask) / double(chosen) - 0.8) < 0.03);
  CHECK(std::abs(double(unchanged) / double(chosen) - 0.1) < 0.03);  // (+ random draws of the same id: 0.1/V)
  // seeded
  Generator g2(11), g3(12);
  CHECK(max_abs_diff(mask_tokens(ids, mask, kMask, V, {kCls, kSep, kPad}, g2).input_ids.to(DType::Float64),
                     mb.input_ids.to(DType::Float64)) == 0);
  CHECK(max_abs_diff(mask_tokens(ids, mask, kMask, V, {kCls, kSep, kPad}, g3).labels.to(DType::Float64),
                     mb.labels.to(DType::Float64)) > 0);
  CHECK_THROWS_WITH_AS(mask_tokens(ids, mask, V, V, {}, g), doctest::Contains("outside the vocabulary"), Error);
}

TEST_CASE("mlm pretraining: a tiny BERT learns to fill in masked tokens from context") {
  auto [log, w] = run(3, 200);
  REQUIRE(log.size() == 200);
  double first = 0, last = 0;
  for (size_t i = 0; i < 5; ++i) first += log[i].loss / 5, last += log[log.size() - 1 - i].loss / 5;
  MESSAGE("tiny MLM: mean loss of the first 5 steps ", first, ", of the last 5 ", last, "; held-out masked-token accuracy ",
          log.back().heldout_accuracy, " (chance 1/35)");
  CHECK(first > 3.4);  // about log(35) at the start
  CHECK(last < 0.65 * first);
  CHECK(log.back().heldout_accuracy > 0.2);
  CHECK(log[0].lr == 0);  // WarmupLinear: the first step has lr 0 (as HuggingFace's schedule)
  CHECK(log[20].lr > log[100].lr);
}

TEST_CASE("mlm pretraining: seeded runs are bit-identical") {
  auto [log, w] = run(3, 20);
  auto [log2, w2] = run(3, 20);
  bool same = true;
  for (size_t i = 0; i < log.size(); ++i) same = same && log[i].loss == log2[i].loss;
  CHECK(same);
  CHECK(log.back().heldout_loss == log2.back().heldout_loss);
  CHECK(w == w2);
  auto [log3, w3] = run(4, 5);
  CHECK(log3[1].loss != log[1].loss);
}

TEST_CASE("mlm evaluation: fixed masks give the same score twice, and the padding helper") {
  Generator init(1);
  BertForMaskedLM m(tiny(), &init);
  auto seqs = motif_corpus(7, 20);
  HeldoutScore a = evaluate_mlm(m, seqs, kMask, {kCls, kSep, kPad}, 99, 6);
  HeldoutScore b = evaluate_mlm(m, seqs, kMask, {kCls, kSep, kPad}, 99, 6);
  CHECK(a.tokens > 0);
  CHECK(a.loss == b.loss);
  CHECK(a.accuracy == b.accuracy);
  CHECK(m.is_training());  // the mode is restored
  std::vector<int64_t> s1 = {2, 7, 3}, s2 = {2, 7, 8, 9, 3};
  PaddedBatch p = pad_sequences({&s1, &s2});
  CHECK(p.input_ids.shape() == Shape{2, 5});
  CHECK(p.input_ids.to_vector() == std::vector<double>{2, 7, 3, 0, 0, 2, 7, 8, 9, 3});
  CHECK(p.attention_mask.to_vector() == std::vector<double>{1, 1, 1, 0, 0, 1, 1, 1, 1, 1});
}
