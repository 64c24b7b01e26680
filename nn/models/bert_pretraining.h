// bert_pretraining.h — masked-language-model pretraining of a BertForMaskedLM (BERT §3.1):
//   masking: each real token other than [CLS]/[SEP]/padding is chosen with probability 0.15;
//            a chosen token becomes [MASK] with probability 0.8, a uniformly random vocabulary id
//            with 0.1, and stays unchanged with 0.1; the loss is predicted at chosen positions only.
//   training: AdamW (decoupled weight decay, none on biases and LayerNorm weights; bias
//            correction on by default, switchable to METHODS.md §7's uncorrected form), WarmupLinear schedule, gradient clipping, dynamic padding
//            to the longest sequence of each batch (batches drawn from length-sorted chunks of a
//            shuffled epoch), a held-out split scored with fixed masks.
// Sequences are token ids with [CLS] ... [SEP] already added (text/wordpiece.h makes them).
// Every random choice comes from generators seeded by options.seed: a run is bit-for-bit repeatable.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "nn/models/bert.h"

namespace cxr::nn {

struct MaskingOptions {
  double mask_prob = 0.15;       // share of eligible tokens that are predicted
  double replace_with_mask = 0.8;
  double replace_with_random = 0.1;  // the rest (0.1) stay unchanged
};

struct MaskedBatch {
  Tensor input_ids;  // (B, L) with the replacements made
  Tensor labels;     // (B, L): the original id at chosen positions, kIgnoreIndex elsewhere
  int64_t num_masked = 0;
};

// input_ids / attention_mask int64 (B, L); positions with mask 0 or an id in special_ids are never
// chosen. Draws 3 uniforms per position from gen (counters reserved up front).
MaskedBatch mask_tokens(const Tensor& input_ids, const Tensor& attention_mask, int64_t mask_id, int64_t vocab_size,
                        const std::vector<int64_t>& special_ids, Generator& gen, const MaskingOptions& options = {});

// Pads sequences (lists of ids) to the longest: ids with pad_id, mask 1/0, token types 0.
struct PaddedBatch {
  Tensor input_ids, attention_mask, token_type_ids;
};
PaddedBatch pad_sequences(const std::vector<const std::vector<int64_t>*>& sequences, int64_t pad_id = 0);

struct PretrainOptions {
  int64_t steps = 300;
  int64_t batch_size = 32;
  double lr = 5e-4;
  double weight_decay = 0.01;
  double warmup_fraction = 0.1;
  // Adam bias correction. On for pretraining from scratch; the reference fine-tuning optimizer
  // (METHODS.md §7/§8) and Google's BERT run without it, whose early steps are then 3-6x larger
  // (m/sqrt(v) with uncorrected moments), which destabilizes from-scratch training at lr ~1e-3.
  bool correct_bias = true;
  double adam_eps = 1e-6;
  double max_grad_norm = 1.0;  // 0: no clipping
  int64_t eval_every = 50;     // held-out evaluation every N steps (and at the end); 0: only at the end
  int64_t eval_batch_size = 64;
  uint64_t seed = 42;
  bool length_bucketing = true;  // batches of similar lengths (less padding); else plain shuffling
  MaskingOptions masking{};
};

struct PretrainLogRow {
  int64_t step = 0;            // 1-based optimizer step
  double loss = 0;             // training loss of this step's batch
  double lr = 0;               // learning rate used by this step
  int64_t masked = 0;          // predicted tokens in the batch
  double seconds = 0;          // wall time since the start
  double heldout_loss = -1;    // at evaluation steps (else -1)
  double heldout_accuracy = -1;
};

struct HeldoutScore {
  double loss = 0;      // mean cross-entropy over all predicted held-out tokens
  double accuracy = 0;  // share of them whose arg-max prediction is the original token
  int64_t tokens = 0;
};

// Scores the model on sequences with masks drawn from Generator(mask_seed): the same masks each
// time it is called with the same seed. Runs in eval mode without gradients (restores the mode).
HeldoutScore evaluate_mlm(BertForMaskedLM& model, const std::vector<std::vector<int64_t>>& sequences, int64_t mask_id,
                          const std::vector<int64_t>& special_ids, uint64_t mask_seed, int64_t batch_size = 64,
                          const MaskingOptions& masking = {});

// Trains in place. on_step is called after every step (for progress display and logging);
// returning false stops early. The returned rows are the same ones on_step saw.
std::vector<PretrainLogRow> pretrain_mlm(BertForMaskedLM& model, const std::vector<std::vector<int64_t>>& train,
                                         const std::vector<std::vector<int64_t>>& heldout, int64_t mask_id,
                                         const std::vector<int64_t>& special_ids, const PretrainOptions& options,
                                         const std::function<bool(const PretrainLogRow&)>& on_step = {});

}  // namespace cxr::nn
