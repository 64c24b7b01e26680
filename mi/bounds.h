// bounds.h — variational lower bounds on mutual information from a critic's score matrix
// (METHODS.md §8; derivations in docs/MI.md).
//
// Shapes: scores (B, B) with scores[i][j] = T(x_i, y_j): the diagonal holds the B positive pairs
// (x_i, y_i), and the off-diagonal pairs (i, j) named by negative_mask are the negatives, which
// are exactly the pairs the reference's create_mi_pairs appends (j != i, study_i != study_j; its
// order of appending does not matter to any bound below). The *_batched forms take L score
// matrices at once, scores (L, B, B), sharing one mask, and return (L): one per local location.
//
// The bounds (LSE = logsumexp over the negative pairs, N = their count, mean(T_pos) the mean
// diagonal):
//   DV           I_DV  = mean(T_pos) - (LSE(T_neg) - log N)        loss = -I_DV      (MINE)
//   InfoNCESeed  loss  = LSE(T_neg) - mean(T_pos) = -I_DV + log N  (the reference's "infonce";
//                gradient identical to DV; its estimate is reported as I_DV)
//   InfoNCE      I_NCE = (1/B) sum_i [T_ii - log((1/K_i) sum_{j in P_i} e^{T_ij})]  loss = -I_NCE
//                with P_i = {i} u {j : negative_mask[i][j]} and K_i = |P_i| (standard CPC;
//                same-study pairs j != i are left out of the row; K_i = B when all studies differ)
//                I_NCE <= mean_i log K_i <= log B.
#pragma once

#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace cxr::mi {

enum class Bound { DV, InfoNCESeed, InfoNCE };  // "dv", "infonce-seed", "infonce"

// "dv" | "infonce-seed" | "infonce"; anything else throws, listing the valid names.
Bound parse_bound(const std::string& name);
std::string bound_name(Bound b);

// (B, B) Bool: true at (i, j) when j != i and study_ids[i] != study_ids[j].
Tensor negative_mask(const std::vector<std::string>& study_ids);

// The loss the reference minimizes for the bound (0-dim, scores' dtype, differentiable w.r.t.
// scores). Throws if the shapes disagree, the mask marks a diagonal pair, or there is no negative.
Tensor mi_loss(Bound b, const Tensor& scores, const Tensor& negative_mask);
// The estimate I-hat in nats: -loss for DV and InfoNCE; I_DV for InfoNCESeed. No gradient.
double mi_estimate(Bound b, const Tensor& scores, const Tensor& negative_mask);

// Batched forms: scores (L, B, B), one mask (B, B) -> (L) losses / estimates (estimates carry no
// gradient). mi_loss(b, S, m) == mi_loss_batched(b, S.unsqueeze(0), m)[0].
Tensor mi_loss_batched(Bound b, const Tensor& scores, const Tensor& negative_mask);
Tensor mi_estimate_batched(Bound b, const Tensor& scores, const Tensor& negative_mask);

}  // namespace cxr::mi
