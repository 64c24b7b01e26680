// local.h — local mutual information (METHODS.md §8 "Local MI", paper (d) Fig. 2): an MI bound
// between ONE sentence embedding per sample and the image's local feature vectors, maximized at
// the selected location(s).
//
// Shapes: local_features f (B, D, H, W) (ResNet layer5: D = 128, H = W = 8 for a 256 input);
// sentence_embedding s (B, Ds); the critic is ConcatCritic(D, Ds); negative_mask (B, B) as
// negative_mask(study_ids). Location m = u * W + v (row-major) is the vector f_m(x_i) = f[i, :, u, v].
// Per location, scores S_m (B, B) with S_m[i][j] = T(f_m(x_i), s_j), and I_m = the bound on S_m.
//
// Selection rules (gradients in docs/MI.md):
//   Max        (default; the paper's) m* = argmax_m I_m over the batch (first on ties);
//              loss = loss(S_m*). All L score matrices are computed without gradient, then S_m*
//              alone is recomputed with gradient: the gradient of -max_m I_m is that of -I_m* (the
//              other locations get none), and this avoids keeping L times the activations.
//   SampleMax  per sample, m_i = argmax_m T(f_m(x_i), s_i) (its positive score), chosen without
//              gradient; the bound is computed on x'_i = f_{m_i}(x_i): S[i][j] = T(x'_i, s_j).
//   Mean       loss = (1/L) sum_m loss(S_m) (METHODS' "sum over m" ablation, scaled by 1/L so its
//              size matches the other rules); every location gets gradient.
#pragma once

#include <string>
#include <vector>

#include "mi/bounds.h"
#include "mi/critic.h"

namespace cxr::mi {

enum class LocalSelect { Max, SampleMax, Mean };  // "max" (default), "sample-max", "mean"

LocalSelect parse_local_select(const std::string& name);
std::string local_select_name(LocalSelect s);

struct LocalMiResult {
  Tensor loss;                     // 0-dim, differentiable
  double estimate = 0;             // I-hat in nats (mi_estimate of the selected scores; mean over m for Mean)
  std::vector<int64_t> locations;  // chosen location per sample (u * W + v); all equal for Max; empty for Mean
};

LocalMiResult local_mi_loss(ConcatCritic& critic, const Tensor& local_features, const Tensor& sentence_embedding,
                            const Tensor& negative_mask, Bound bound, LocalSelect select = LocalSelect::Max);

}  // namespace cxr::mi
