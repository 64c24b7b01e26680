// layers.cpp — see layers.h. Each forward is one functional op from ops.
#include "nn/layers.h"

#include <sstream>

#include "autograd/node.h"
#include "nn/init.h"
#include "ops/ops.h"

namespace cxr::nn {

namespace {
std::string size2_str(Size2 s) {
  return s.h == s.w ? std::to_string(s.h) : "(" + std::to_string(s.h) + ", " + std::to_string(s.w) + ")";
}
}  // namespace

// ---- Linear: y = x W^T + b ----
Linear::Linear(int64_t in, int64_t out, bool has_bias, Generator* gen) {
  CXR_CHECK(in > 0 && out > 0, "Linear: sizes must be positive, got ", in, " -> ", out);
  weight = register_parameter("weight", empty({out, in}));
  if (has_bias) bias = register_parameter("bias", empty({out}));
  init::default_linear_conv_(weight, bias, gen);
}

std::string Linear::extra_repr() const {
  std::ostringstream s;
  s << "in_features=" << weight.size(1) << ", out_features=" << weight.size(0) << ", bias=" << (bias.defined() ? "True" : "False");
  return s.str();
}

Tensor Linear::forward(const Tensor& x) {
  CXR_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "Linear: input of shape ", shape_str(x.shape()),
            " does not end in in_features=", weight.size(1));
  Tensor y = matmul(x, weight.t());
  return bias.defined() ? y + bias : y;
}

// ---- Conv2d ----
Conv2d::Conv2d(int64_t in, int64_t out, Size2 k, Size2 stride_, Size2 padding_, Size2 dilation_, bool has_bias,
               Generator* gen)
    : stride(stride_), padding(padding_), dilation(dilation_) {
  CXR_CHECK(in > 0 && out > 0 && k.h > 0 && k.w > 0, "Conv2d: channels and kernel size must be positive");
  weight = register_parameter("weight", empty({out, in, k.h, k.w}));
  if (has_bias) bias = register_parameter("bias", empty({out}));
  init::default_linear_conv_(weight, bias, gen);
}

std::string Conv2d::extra_repr() const {
  std::ostringstream s;
  s << weight.size(1) << ", " << weight.size(0) << ", kernel_size=" << size2_str({weight.size(2), weight.size(3)})
    << ", stride=" << size2_str(stride);
  if (padding.h || padding.w) s << ", padding=" << size2_str(padding);
  if (dilation.h != 1 || dilation.w != 1) s << ", dilation=" << size2_str(dilation);
  if (!bias.defined()) s << ", bias=False";
  return s.str();
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, stride, padding, dilation); }

// ---- ConvTranspose2d ----
ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, Size2 k, Size2 stride_, Size2 padding_, Size2 output_padding_,
                                 bool has_bias, Generator* gen)
    : stride(stride_), padding(padding_), output_padding(output_padding_) {
  CXR_CHECK(in > 0 && out > 0 && k.h > 0 && k.w > 0, "ConvTranspose2d: channels and kernel size must be positive");
  CXR_CHECK(stride.h > 0 && stride.w > 0 && output_padding.h >= 0 && output_padding.w >= 0 &&
                output_padding.h < stride.h && output_padding.w < stride.w,
            "ConvTranspose2d: output_padding ", size2_str(output_padding),
            " must be non-negative and smaller than the positive stride ", size2_str(stride));
  weight = register_parameter("weight", empty({in, out, k.h, k.w}));
  if (has_bias) bias = register_parameter("bias", empty({out}));
  // PyTorch's _ConvNd.reset_parameters: fan_in from the weight's dims 1.. = out*kH*kW here.
  init::default_linear_conv_(weight, bias, gen);
}

std::string ConvTranspose2d::extra_repr() const {
  std::ostringstream s;
  s << weight.size(0) << ", " << weight.size(1) << ", kernel_size=" << size2_str({weight.size(2), weight.size(3)})
    << ", stride=" << size2_str(stride);
  if (padding.h || padding.w) s << ", padding=" << size2_str(padding);
  if (output_padding.h || output_padding.w) s << ", output_padding=" << size2_str(output_padding);
  if (!bias.defined()) s << ", bias=False";
  return s.str();
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  return conv_transpose2d(x, weight, bias, stride, padding, output_padding);
}

// ---- BatchNorm ----
BatchNorm::BatchNorm(int64_t n, int lo, int hi, const char* name, double eps_, double momentum_, bool affine)
    : eps(eps_), momentum(momentum_), dims_lo_(lo), dims_hi_(hi), name_(name) {
  CXR_CHECK(n > 0, name, ": num_features must be positive, got ", n);
  if (affine) {
    weight = register_parameter("weight", ones({n}));
    bias = register_parameter("bias", zeros({n}));
  }
  running_mean = register_buffer("running_mean", zeros({n}));
  running_var = register_buffer("running_var", ones({n}));
  num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, {.dtype = DType::Int64}));
}

std::string BatchNorm::extra_repr() const {
  std::ostringstream s;
  s << running_mean.size(0) << ", eps=" << eps << ", momentum=" << momentum << ", affine=" << (weight.defined() ? "True" : "False");
  return s.str();
}

Tensor BatchNorm::forward(const Tensor& x) {
  CXR_CHECK(x.dim() >= dims_lo_ && x.dim() <= dims_hi_, name_, ": expected a ", dims_lo_,
            dims_lo_ == dims_hi_ ? "" : " or " + std::to_string(dims_hi_), "-D input, got shape ", shape_str(x.shape()));
  if (is_training()) fill_(num_batches_tracked, num_batches_tracked.item() + 1);
  if (is_training() && statistics) return statistics->forward(*this, x);
  return batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
}

// ---- LayerNorm ----
LayerNorm::LayerNorm(Shape shape, double eps_, bool affine) : normalized_shape(std::move(shape)), eps(eps_) {
  if (affine) {
    weight = register_parameter("weight", ones(normalized_shape));
    bias = register_parameter("bias", zeros(normalized_shape));
  }
}

std::string LayerNorm::extra_repr() const {
  std::ostringstream s;
  s << shape_str(normalized_shape) << ", eps=" << eps;
  return s.str();
}

Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, normalized_shape, weight, bias, eps); }

// ---- Embedding ----
Embedding::Embedding(int64_t num, int64_t dim, Generator* gen) {
  CXR_CHECK(num > 0 && dim > 0, "Embedding: sizes must be positive, got ", num, " x ", dim);
  weight = register_parameter("weight", empty({num, dim}));
  init::normal_(weight, 0.0, 1.0, gen);
}

std::string Embedding::extra_repr() const { return std::to_string(weight.size(0)) + ", " + std::to_string(weight.size(1)); }

Tensor Embedding::forward(const Tensor& indices) { return embedding(weight, indices); }

// ---- Dropout and activations ----
Dropout::Dropout(double p_, Generator* gen) : p(p_), gen_(gen) {
  CXR_CHECK(p >= 0 && p <= 1, "Dropout: p must be in [0, 1], got ", p);
}
std::string Dropout::extra_repr() const {
  std::ostringstream s;
  s << "p=" << p;
  return s.str();
}
Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training(), gen_); }

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor GELU::forward(const Tensor& x) { return gelu(x); }
Tensor Tanh::forward(const Tensor& x) { return tanh(x); }

// ---- Sequential ----
Sequential::Sequential(std::vector<std::shared_ptr<UnaryModule>> layers) {
  for (auto& l : layers) push_back(std::move(l));
}

void Sequential::push_back(std::shared_ptr<UnaryModule> layer) {
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& l : layers_) h = l->forward(h);
  return h;
}

std::shared_ptr<Sequential> make_mlp(int64_t in, const std::vector<int64_t>& hidden_dims, int64_t out, Generator* gen) {
  auto mlp = std::make_shared<Sequential>();
  int64_t width = in;
  for (int64_t h : hidden_dims) {
    mlp->push_back(std::make_shared<Linear>(width, h, true, gen));
    mlp->push_back(std::make_shared<ReLU>());
    width = h;
  }
  mlp->push_back(std::make_shared<Linear>(width, out, true, gen));
  return mlp;
}

}  // namespace cxr::nn
