// bert_pretraining.cpp — see bert_pretraining.h.
#include "nn/models/bert_pretraining.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "autograd/node.h"
#include "nn/optim.h"
#include "ops/ops.h"

namespace cxr::nn {

MaskedBatch mask_tokens(const Tensor& input_ids, const Tensor& attention_mask, int64_t mask_id, int64_t vocab_size,
                        const std::vector<int64_t>& special_ids, Generator& gen, const MaskingOptions& o) {
  CXR_CHECK(input_ids.dim() == 2 && input_ids.dtype() == DType::Int64 && attention_mask.shape() == input_ids.shape() &&
                attention_mask.dtype() == DType::Int64,
            "mask_tokens: input_ids and attention_mask must be int64 (B, L) of one shape, got ",
            shape_str(input_ids.shape()), " and ", shape_str(attention_mask.shape()));
  CXR_CHECK(mask_id >= 0 && mask_id < vocab_size, "mask_tokens: mask id ", mask_id, " outside the vocabulary of ", vocab_size);
  MaskedBatch out;
  out.input_ids = input_ids.contiguous().clone();
  out.labels = full(input_ids.shape(), double(kIgnoreIndex), {.dtype = DType::Int64});
  Tensor mask = attention_mask.contiguous();
  int64_t* ids = out.input_ids.data<int64_t>();
  int64_t* labels = out.labels.data<int64_t>();
  const int64_t* m = mask.data<int64_t>();
  const int64_t n = input_ids.numel();
  const uint64_t first = gen.reserve(static_cast<uint64_t>(3 * n));
  for (int64_t i = 0; i < n; ++i) {
    if (m[i] == 0 || std::find(special_ids.begin(), special_ids.end(), ids[i]) != special_ids.end()) continue;
    const uint64_t c = first + static_cast<uint64_t>(3 * i);
    if (gen.uniform(c) >= o.mask_prob) continue;
    labels[i] = ids[i];
    ++out.num_masked;
    double u = gen.uniform(c + 1);
    if (u < o.replace_with_mask) ids[i] = mask_id;
    else if (u < o.replace_with_mask + o.replace_with_random) ids[i] = gen.integer(c + 2, 0, vocab_size);
  }
  return out;
}

PaddedBatch pad_sequences(const std::vector<const std::vector<int64_t>*>& seqs, int64_t pad_id) {
  CXR_CHECK(!seqs.empty(), "pad_sequences: no sequences");
  size_t L = 0;
  for (auto* s : seqs) L = std::max(L, s->size());
  const auto B = static_cast<int64_t>(seqs.size());
  const Shape shape{B, static_cast<int64_t>(L)};
  PaddedBatch b{full(shape, double(pad_id), {.dtype = DType::Int64}), zeros(shape, {.dtype = DType::Int64}),
                zeros(shape, {.dtype = DType::Int64})};
  int64_t* ids = b.input_ids.data<int64_t>();
  int64_t* mask = b.attention_mask.data<int64_t>();
  for (size_t i = 0; i < seqs.size(); ++i) {
    std::copy(seqs[i]->begin(), seqs[i]->end(), ids + i * L);
    std::fill(mask + i * L, mask + i * L + seqs[i]->size(), 1);
  }
  return b;
}

HeldoutScore evaluate_mlm(BertForMaskedLM& model, const std::vector<std::vector<int64_t>>& sequences, int64_t mask_id,
                          const std::vector<int64_t>& special_ids, uint64_t mask_seed, int64_t batch_size,
                          const MaskingOptions& masking) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  Generator gen(mask_seed);
  HeldoutScore s;
  double loss_sum = 0;
  int64_t correct = 0;
  for (size_t start = 0; start < sequences.size(); start += static_cast<size_t>(batch_size)) {
    std::vector<const std::vector<int64_t>*> batch;
    for (size_t i = start; i < std::min(sequences.size(), start + static_cast<size_t>(batch_size)); ++i)
      batch.push_back(&sequences[i]);
    PaddedBatch p = pad_sequences(batch);
    MaskedBatch mb = mask_tokens(p.input_ids, p.attention_mask, mask_id, model.bert->config.vocab_size, special_ids, gen,
                                 masking);
    MaskedLMOutput out = model.forward(mb.input_ids, p.attention_mask, p.token_type_ids, mb.labels);
    if (out.num_predicted == 0) continue;
    loss_sum += out.loss.item() * double(out.num_predicted);
    correct += static_cast<int64_t>(sum(eq(argmax(out.logits, 1), out.labels).to(DType::Int64)).item());
    s.tokens += out.num_predicted;
  }
  if (s.tokens > 0) s.loss = loss_sum / double(s.tokens), s.accuracy = double(correct) / double(s.tokens);
  model.train(was_training);
  return s;
}

std::vector<PretrainLogRow> pretrain_mlm(BertForMaskedLM& model, const std::vector<std::vector<int64_t>>& train,
                                         const std::vector<std::vector<int64_t>>& heldout, int64_t mask_id,
                                         const std::vector<int64_t>& special_ids, const PretrainOptions& o,
                                         const std::function<bool(const PretrainLogRow&)>& on_step) {
  CXR_CHECK(!train.empty(), "pretrain_mlm: no training sequences");
  CXR_CHECK(o.steps > 0 && o.batch_size > 0, "pretrain_mlm: steps and batch_size must be positive");
  auto groups = param_groups_with_no_decay(model, o.lr, o.weight_decay);
  AdamW opt(groups, AdamWOptions{.eps = o.adam_eps, .correct_bias = o.correct_bias});
  const auto warmup = static_cast<int64_t>(std::llround(o.warmup_fraction * double(o.steps)));
  LRScheduler schedule(opt, [&](int64_t s) { return warmup_linear(s, warmup, o.steps); });
  std::vector<Tensor> params = model.parameters();

  Generator shuffle_gen(o.seed + 1), mask_gen(o.seed + 2);
  const uint64_t heldout_mask_seed = o.seed + 3;
  // Seeded Fisher-Yates with Philox integers.
  auto shuffle = [&](auto& v) {
    const uint64_t c = shuffle_gen.reserve(v.size());
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(shuffle_gen.integer(c + i - 1, 0, int64_t(i)))]);
  };
  // One epoch's batches: a shuffled order, cut into chunks of 32 batches that are sorted by length
  // (when length_bucketing) so each batch pads little, then the batches themselves shuffled.
  std::vector<std::vector<size_t>> batches;
  size_t next = 0;
  auto new_epoch = [&] {
    std::vector<size_t> order(train.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    shuffle(order);
    const auto bs = static_cast<size_t>(o.batch_size);
    if (o.length_bucketing) {
      for (size_t start = 0; start < order.size(); start += 32 * bs) {
        auto end = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + 32 * bs));
        std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(start), end,
                         [&](size_t x, size_t y) { return train[x].size() < train[y].size(); });
      }
    }
    batches.clear();
    for (size_t start = 0; start < order.size(); start += bs)
      batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(start),
                           order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + bs)));
    shuffle(batches);
    next = 0;
  };
  auto next_batch = [&] {
    if (next == batches.size()) new_epoch();
    std::vector<const std::vector<int64_t>*> batch;
    for (size_t i : batches[next]) batch.push_back(&train[i]);
    ++next;
    return batch;
  };

  model.train();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<PretrainLogRow> log;
  for (int64_t step = 1; step <= o.steps; ++step) {
    PaddedBatch p = pad_sequences(next_batch());
    MaskedBatch mb = mask_tokens(p.input_ids, p.attention_mask, mask_id, model.bert->config.vocab_size, special_ids,
                                 mask_gen, o.masking);
    PretrainLogRow row;
    row.step = step;
    row.lr = opt.groups()[0].lr;
    row.masked = mb.num_masked;
    opt.zero_grad();
    MaskedLMOutput out = model.forward(mb.input_ids, p.attention_mask, p.token_type_ids, mb.labels);
    if (out.num_predicted > 0) {
      out.loss.backward();
      if (o.max_grad_norm > 0) clip_grad_norm(params, o.max_grad_norm);
      opt.step();
      row.loss = out.loss.item();
    } else {
      row.loss = std::nan("");
    }
    schedule.step();
    row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!heldout.empty() && (step == o.steps || (o.eval_every > 0 && step % o.eval_every == 0))) {
      HeldoutScore s = evaluate_mlm(model, heldout, mask_id, special_ids, heldout_mask_seed, o.eval_batch_size, o.masking);
      row.heldout_loss = s.loss;
      row.heldout_accuracy = s.accuracy;
    }
    log.push_back(row);
    if (on_step && !on_step(row)) break;
  }
  return log;
}

}  // namespace cxr::nn
