// bounds.cpp — see bounds.h. Every bound is built from differentiable ops (masked_fill,
// logsumexp, mean), so autograd supplies the gradients. Negatives are selected by filling the
// other entries with -inf before a logsumexp: e^{-inf} = 0 adds nothing to the sum, and the
// softmax weight (the gradient of logsumexp) of such an entry is exactly 0.
#include "mi/bounds.h"

#include <cmath>
#include <limits>

#include "autograd/node.h"
#include "ops/ops.h"

namespace cxr::mi {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// What the bounds need to know about a mask: the number of negatives overall and per row.
struct MaskCounts {
  int64_t total = 0;
  std::vector<int64_t> per_row;
};

// Checks scores (L, B, B) against the mask (B, B) and counts the negatives.
MaskCounts check_inputs(const char* op, const Tensor& scores, const Tensor& mask) {
  CXR_CHECK(scores.defined() && mask.defined(), op, ": undefined scores or negative mask");
  CXR_CHECK(is_floating(scores.dtype()), op, ": scores must be float32 or float64, got ", dtype_name(scores.dtype()));
  CXR_CHECK(scores.dim() == 3 && scores.size(1) == scores.size(2) && scores.size(1) > 0, op,
            ": scores must be a square (B, B) matrix of critic values (or (L, B, B) batched), got ",
            shape_str(scores.shape()));
  const int64_t B = scores.size(1);
  CXR_CHECK(mask.dtype() == DType::Bool, op, ": the negative mask must be Bool, got ", dtype_name(mask.dtype()));
  CXR_CHECK(mask.dim() == 2 && mask.size(0) == B && mask.size(1) == B, op, ": negative mask ", shape_str(mask.shape()),
            " does not match scores ", shape_str(scores.shape()), " (expected [", B, ", ", B, "])");
  CXR_CHECK(mask.device() == scores.device(), op, ": scores and negative mask are on different devices");
  MaskCounts counts;
  counts.per_row.assign(B, 0);
  std::vector<double> m = mask.to_vector();
  for (int64_t i = 0; i < B; ++i) {
    CXR_CHECK(m[i * B + i] == 0, op, ": the negative mask marks the positive pair (", i, ", ", i, ") as a negative");
    for (int64_t j = 0; j < B; ++j) counts.per_row[i] += m[i * B + j] != 0;
    counts.total += counts.per_row[i];
  }
  CXR_CHECK(counts.total > 0, op, ": the batch has no negative pairs (all ", B,
            " samples share one study id, or B = 1); every bound needs at least one pair from different studies");
  return counts;
}

// The diagonal T_ii of each (B, B) slice: (L, B, B) -> (L, B), a strided view of the flattened slices.
Tensor diagonal(const Tensor& scores) {
  const int64_t L = scores.size(0), B = scores.size(1);
  return scores.reshape({L, B * B}).slice(1, 0, B * B, B + 1);
}

// -I_DV + log N = LSE(T_neg) - mean(T_pos), per slice (L).
Tensor seed_loss(const Tensor& scores, const Tensor& mask) {
  Tensor negatives = masked_fill(scores, logical_not(mask), kNegInf);
  return logsumexp(negatives, {1, 2}) - mean(diagonal(scores), {1});
}

// -I_NCE with per-row normalizers K_i = 1 + (negatives in row i), per slice (L).
Tensor infonce_loss(const Tensor& scores, const Tensor& mask, const MaskCounts& counts) {
  const int64_t B = scores.size(1);
  Tensor in_row = logical_not(logical_and(logical_not(mask), logical_not(eye(B, {.dtype = DType::Bool, .device = mask.device()}))));
  Tensor row_lse = logsumexp(masked_fill(scores, logical_not(in_row), kNegInf), {2});  // (L, B)
  std::vector<double> log_k(B);
  for (int64_t i = 0; i < B; ++i) log_k[i] = std::log(static_cast<double>(1 + counts.per_row[i]));
  Tensor log_k_t = from_vector(log_k, {B}, scores.options());
  return -mean(diagonal(scores) - row_lse + log_k_t, {1});
}

}  // namespace

Bound parse_bound(const std::string& name) {
  if (name == "dv") return Bound::DV;
  if (name == "infonce-seed") return Bound::InfoNCESeed;
  if (name == "infonce") return Bound::InfoNCE;
  fail("mi: unknown MI bound '", name, "' (valid: dv, infonce-seed, infonce)");
}

std::string bound_name(Bound b) {
  switch (b) {
    case Bound::DV: return "dv";
    case Bound::InfoNCESeed: return "infonce-seed";
    case Bound::InfoNCE: return "infonce";
  }
  fail("mi: invalid Bound value ", static_cast<int>(b));
}

Tensor negative_mask(const std::vector<std::string>& study_ids) {
  const int64_t B = static_cast<int64_t>(study_ids.size());
  CXR_CHECK(B > 0, "negative_mask: empty batch");
  std::vector<double> m(B * B, 0.0);
  for (int64_t i = 0; i < B; ++i)
    for (int64_t j = 0; j < B; ++j) m[i * B + j] = (j != i && study_ids[i] != study_ids[j]) ? 1.0 : 0.0;
  return from_vector(m, {B, B}, {.dtype = DType::Bool});
}

namespace {
Tensor loss_impl(const char* op, Bound b, const Tensor& scores, const Tensor& mask) {
  MaskCounts counts = check_inputs(op, scores, mask);
  switch (b) {
    case Bound::DV: return seed_loss(scores, mask) - std::log(static_cast<double>(counts.total));
    case Bound::InfoNCESeed: return seed_loss(scores, mask);
    case Bound::InfoNCE: return infonce_loss(scores, mask, counts);
  }
  fail(op, ": invalid Bound value ", static_cast<int>(b));
}
}  // namespace

Tensor mi_loss_batched(Bound b, const Tensor& scores, const Tensor& mask) {
  return loss_impl("mi_loss", b, scores, mask);
}

Tensor mi_estimate_batched(Bound b, const Tensor& scores, const Tensor& mask) {
  NoGradGuard no_grad;
  // InfoNCESeed's loss is -I_DV + log N: the bound it optimizes is I_DV, reported as such.
  Bound as = b == Bound::InfoNCESeed ? Bound::DV : b;
  return -loss_impl("mi_estimate", as, scores, mask);
}

Tensor mi_loss(Bound b, const Tensor& scores, const Tensor& mask) {
  CXR_CHECK(scores.defined() && scores.dim() == 2, "mi_loss: scores must be a (B, B) matrix, got ",
            scores.defined() ? shape_str(scores.shape()) : std::string("undefined"));
  return mi_loss_batched(b, scores.unsqueeze(0), mask).squeeze(0);
}

double mi_estimate(Bound b, const Tensor& scores, const Tensor& mask) {
  CXR_CHECK(scores.defined() && scores.dim() == 2, "mi_estimate: scores must be a (B, B) matrix, got ",
            scores.defined() ? shape_str(scores.shape()) : std::string("undefined"));
  return mi_estimate_batched(b, scores.unsqueeze(0), mask).item();
}

}  // namespace cxr::mi
