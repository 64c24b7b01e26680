// critic.cpp — see critic.h.
#include "mi/critic.h"

#include <sstream>

#include "ops/ops.h"

namespace cxr::mi {

ConcatCritic::ConcatCritic(int64_t dx, int64_t dy, std::vector<int64_t> hidden, Generator* gen) : dx_(dx), dy_(dy) {
  CXR_CHECK(dx > 0 && dy > 0, "ConcatCritic: feature sizes must be positive, got dx = ", dx, ", dy = ", dy);
  for (int64_t h : hidden) CXR_CHECK(h > 0, "ConcatCritic: hidden sizes must be positive, got ", h);
  // Children "0", "1", ... exactly as make_mlp's nn.Sequential: Linear, ReLU, Linear, ReLU, ..., Linear.
  int64_t width = dx + dy, child = 0;
  for (int64_t h : hidden) {
    linears_.push_back(register_module(std::to_string(child++), std::make_shared<nn::Linear>(width, h, true, gen)));
    register_module(std::to_string(child++), std::make_shared<nn::ReLU>());
    width = h;
  }
  linears_.push_back(register_module(std::to_string(child), std::make_shared<nn::Linear>(width, 1, true, gen)));
}

std::string ConcatCritic::extra_repr() const {
  std::ostringstream s;
  s << "dx=" << dx_ << ", dy=" << dy_;
  return s.str();
}

void ConcatCritic::check_features(const char* op, const Tensor& x, const Tensor& y, int64_t x_dims) const {
  CXR_CHECK(x.defined() && y.defined(), "ConcatCritic::", op, ": undefined input");
  CXR_CHECK(x.dim() == x_dims && x.size(x_dims - 1) == dx_, "ConcatCritic::", op, ": x must be ",
            x_dims == 3 ? "(L, B, " : "(B, ", dx_, "), got ", shape_str(x.shape()));
  CXR_CHECK(y.dim() == 2 && y.size(1) == dy_, "ConcatCritic::", op, ": y must be (B', ", dy_, "), got ",
            shape_str(y.shape()));
  const DType w = linears_[0]->weight.dtype();
  CXR_CHECK(x.dtype() == w && y.dtype() == w, "ConcatCritic::", op, ": x (", dtype_name(x.dtype()), ") and y (",
            dtype_name(y.dtype()), ") must have the critic's dtype ", dtype_name(w));
}

Tensor ConcatCritic::after_first_layer(const Tensor& h_in) const {
  Tensor h = h_in;
  for (size_t k = 1; k < linears_.size(); ++k) h = linears_[k]->forward(relu(h));
  return h.squeeze(-1);
}

Tensor ConcatCritic::scores_batched(const Tensor& x, const Tensor& y) {
  check_features("scores_batched", x, y, 3);
  const nn::Linear& first = *linears_[0];
  Tensor wx = first.weight.narrow(1, 0, dx_);      // (h1, dx)
  Tensor wy = first.weight.narrow(1, dx_, dy_);    // (h1, dy)
  Tensor from_x = matmul(x, wx.t());               // (L, B, h1):  Wx x_i
  Tensor from_y = matmul(y, wy.t()) + first.bias;  // (B', h1): Wy y_j + b
  // (L, B, 1, h1) + (B', h1) -> (L, B, B', h1): the first layer's pre-activation for every pair.
  return after_first_layer(from_x.unsqueeze(2) + from_y);
}

Tensor ConcatCritic::scores(const Tensor& x, const Tensor& y) {
  check_features("scores", x, y, 2);
  return scores_batched(x.unsqueeze(0), y).squeeze(0);
}

Tensor ConcatCritic::scores_naive(const Tensor& x, const Tensor& y) {
  check_features("scores_naive", x, y, 2);
  const int64_t B = x.size(0), B2 = y.size(0);
  // (B, B', dx+dy): row (i, j) is [x_i; y_j].
  Tensor pairs = cat({x.unsqueeze(1).expand({B, B2, dx_}), y.unsqueeze(0).expand({B, B2, dy_})}, 2);
  return after_first_layer(linears_[0]->forward(pairs));
}

Tensor ConcatCritic::score_pairs(const Tensor& x, const Tensor& y) {
  check_features("score_pairs", x, y, 2);
  CXR_CHECK(x.size(0) == y.size(0), "ConcatCritic::score_pairs: x and y must have the same number of rows, got ",
            shape_str(x.shape()), " and ", shape_str(y.shape()));
  return after_first_layer(linears_[0]->forward(cat({x, y}, 1)));
}

}  // namespace cxr::mi
