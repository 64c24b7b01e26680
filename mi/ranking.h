// ranking.h — the joint image–text model's ranking loss (METHODS.md §7, reference loss.py), exactly.
//
// Shapes: image_embedding z_I (B, D), text_embedding z_T (B, D); report_ids and labels (B) per
// sample, label -1 = unlabelled (else the edema level 0..3). With the imposter j = j(i) = (i+1) mod B:
//   m_i   = 0                        if report_i == report_j (same study)
//         = 0.5                      else if y_i == -1 or y_j == -1
//         = max(0.5, |y_i - y_j|)    otherwise
//   image = (1/B) sum_i max(0, S(z_I[j], z_T[i]) - S(z_I[i], z_T[i]) + m_i)   (imposter image)
//   text  = (1/B) sum_i max(0, S(z_T[j], z_I[i]) - S(z_I[i], z_T[i]) + m_i)   (imposter text)
//   total = image + text
// S is dot (default), cosine a.b / (|a| |b|), or l2 -|a - b|_2. At a hinge argument of exactly 0
// the term adds nothing and has zero gradient, as the reference's `if diff > 0`. For l2 the
// gradient of |a - b| at a = b is taken as 0 (as torch.norm's backward); cosine of a zero vector
// is NaN, as in the reference.
#pragma once

#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace cxr::mi {

enum class Similarity { Dot, Cosine, L2 };  // "dot" (default), "cosine", "l2"

Similarity parse_similarity(const std::string& name);
std::string similarity_name(Similarity s);

// Row-wise S(a_n, b_n): a, b (N, D) -> (N).
Tensor similarity(Similarity s, const Tensor& a, const Tensor& b);

struct RankingLoss {
  Tensor total, image, text;  // each 0-dim; total = image + text
};

RankingLoss ranking_loss(const Tensor& image_embedding, const Tensor& text_embedding,
                         const std::vector<std::string>& report_ids, const std::vector<int64_t>& labels,
                         Similarity s = Similarity::Dot);

}  // namespace cxr::mi
