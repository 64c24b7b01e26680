// ranking.cpp — see ranking.h. The reference loops over i; here each term is a row of (B) tensors:
// the imposters are the embeddings rolled by one row (index_select with j = (i+1) mod B), the
// hinge is relu (relu'(0) = 0 matches `if diff > 0`), and the margins are constants.
#include "mi/ranking.h"

#include <algorithm>
#include <cmath>

#include "ops/ops.h"

namespace cxr::mi {

Similarity parse_similarity(const std::string& name) {
  if (name == "dot") return Similarity::Dot;
  if (name == "cosine") return Similarity::Cosine;
  if (name == "l2") return Similarity::L2;
  fail("mi: unknown similarity '", name, "' (valid: dot, cosine, l2)");
}

std::string similarity_name(Similarity s) {
  switch (s) {
    case Similarity::Dot: return "dot";
    case Similarity::Cosine: return "cosine";
    case Similarity::L2: return "l2";
  }
  fail("mi: invalid Similarity value ", static_cast<int>(s));
}

namespace {
// |v_n|_2 per row, (N, D) -> (N), with gradient 0 where v_n = 0 (sqrt'(0) would give 0 * inf = NaN).
Tensor row_norm(const Tensor& v) {
  Tensor squared = sum(v * v, {1});
  Tensor nonzero = gt(squared, zeros_like(squared));
  return where(nonzero, sqrt(where(nonzero, squared, ones_like(squared))), zeros_like(squared));
}
}  // namespace

Tensor similarity(Similarity s, const Tensor& a, const Tensor& b) {
  switch (s) {
    case Similarity::Dot: return sum(a * b, {1});
    case Similarity::Cosine: return sum(a * b, {1}) / (sqrt(sum(a * a, {1})) * sqrt(sum(b * b, {1})));
    case Similarity::L2: return -row_norm(a - b);
  }
  fail("similarity: invalid Similarity value ", static_cast<int>(s));
}

RankingLoss ranking_loss(const Tensor& z_image, const Tensor& z_text, const std::vector<std::string>& report_ids,
                         const std::vector<int64_t>& labels, Similarity s) {
  CXR_CHECK(z_image.defined() && z_text.defined(), "ranking_loss: undefined embedding");
  CXR_CHECK(z_image.dim() == 2 && z_image.shape() == z_text.shape() && z_image.size(0) > 0,
            "ranking_loss: image and text embeddings must both be (B, D) with B > 0, got ", shape_str(z_image.shape()),
            " and ", shape_str(z_text.shape()));
  CXR_CHECK(is_floating(z_image.dtype()) && z_image.dtype() == z_text.dtype(),
            "ranking_loss: embeddings must share a floating dtype, got ", dtype_name(z_image.dtype()), " and ",
            dtype_name(z_text.dtype()));
  const int64_t B = z_image.size(0);
  CXR_CHECK(static_cast<int64_t>(report_ids.size()) == B && static_cast<int64_t>(labels.size()) == B,
            "ranking_loss: batch of ", B, " embeddings but ", report_ids.size(), " report ids and ", labels.size(),
            " labels");
  for (int64_t y : labels) CXR_CHECK(y >= -1, "ranking_loss: label ", y, " is invalid (-1 = unlabelled, else >= 0)");

  std::vector<double> imposter(B), margin(B);
  for (int64_t i = 0; i < B; ++i) {
    const int64_t j = (i + 1) % B;
    imposter[i] = static_cast<double>(j);
    if (report_ids[i] == report_ids[j])
      margin[i] = 0.0;
    else if (labels[i] == -1 || labels[j] == -1)
      margin[i] = 0.5;
    else
      margin[i] = std::max(0.5, static_cast<double>(std::llabs(labels[i] - labels[j])));
  }
  Tensor j_index = from_vector(imposter, {B}, {.dtype = DType::Int64, .device = z_image.device()});
  Tensor m = from_vector(margin, {B}, z_image.options());

  Tensor paired = similarity(s, z_image, z_text);                                    // S(z_I[i], z_T[i])
  Tensor imposter_image = similarity(s, index_select(z_image, 0, j_index), z_text);  // S(z_I[j], z_T[i])
  Tensor imposter_text = similarity(s, index_select(z_text, 0, j_index), z_image);   // S(z_T[j], z_I[i])
  RankingLoss out;
  out.image = sum(relu(imposter_image - paired + m)) / static_cast<double>(B);
  out.text = sum(relu(imposter_text - paired + m)) / static_cast<double>(B);
  out.total = out.image + out.text;
  return out;
}

}  // namespace cxr::mi
