// layers.h — the standard layers as Modules, with PyTorch's parameter names, defaults and
// initializers: Linear, Conv2d, ConvTranspose2d, BatchNorm1d/2d, LayerNorm, Embedding, Dropout, ReLU, GELU, Tanh,
// Sequential, and make_mlp. Shapes: Linear x (*, in) -> (*, out); Conv2d/ConvTranspose2d/BatchNorm2d NCHW;
// BatchNorm1d (N, C) or (N, C, L); Embedding indices (*) int64 -> (*, dim).
#pragma once

#include <memory>
#include <vector>

#include "nn/module.h"
#include "ops/conv.h"

namespace cxr::nn {

class Linear : public UnaryModule {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator* gen = nullptr);
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;  // weight (out, in); bias (out) or undefined
};

class Conv2d : public UnaryModule {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Size2 stride = 1, Size2 padding = 0,
         Size2 dilation = 1, bool bias = true, Generator* gen = nullptr);
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;  // weight (out, in, kH, kW)
  Size2 stride, padding, dilation;
};

// The transposed convolution (ops/conv.h), upsampling by the stride:
// H_out = (H - 1) stride - 2 padding + kH + output_padding. Weight (in, out, kH, kW) as PyTorch, with
// PyTorch's default init (U(+-1/sqrt(fan_in)), fan_in = out*kH*kW from the weight's dim 1, bias alike).
class ConvTranspose2d : public UnaryModule {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Size2 stride = 1, Size2 padding = 0,
                  Size2 output_padding = 0, bool bias = true, Generator* gen = nullptr);
  std::string type_name() const override { return "ConvTranspose2d"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;  // weight (in, out, kH, kW); bias (out) or undefined
  Size2 stride, padding, output_padding;
};

class BatchNorm;
// Where a training-mode BatchNorm takes its batch statistics from, when not from this process's
// batch alone: dist/sync_batch_norm.h sums them over the ranks of a data-parallel run (--sync-bn).
// forward() replaces batch_norm(x, ...) for that layer (num_batches_tracked is already counted).
class BatchStatistics {
 public:
  virtual ~BatchStatistics() = default;
  virtual Tensor forward(BatchNorm& bn, const Tensor& x) = 0;
};

// BatchNorm over channel dim 1. Buffers running_mean, running_var, num_batches_tracked (int64).
class BatchNorm : public UnaryModule {
 public:
  BatchNorm(int64_t num_features, int expected_dims_lo, int expected_dims_hi, const char* name, double eps = 1e-5,
            double momentum = 0.1, bool affine = true);
  std::string type_name() const override { return name_; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  double eps, momentum;
  std::shared_ptr<BatchStatistics> statistics;  // null: this process's batch (training mode)

 private:
  int dims_lo_, dims_hi_;
  const char* name_;
};
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t n, double eps = 1e-5, double momentum = 0.1, bool affine = true)
      : BatchNorm(n, 2, 3, "BatchNorm1d", eps, momentum, affine) {}
};
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t n, double eps = 1e-5, double momentum = 0.1, bool affine = true)
      : BatchNorm(n, 4, 4, "BatchNorm2d", eps, momentum, affine) {}
};

class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool affine = true);
  std::string type_name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;
  Shape normalized_shape;
  double eps;
};

class Embedding : public UnaryModule {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, Generator* gen = nullptr);  // init N(0, 1)
  std::string type_name() const override { return "Embedding"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& indices) override;
  Tensor weight;  // (num_embeddings, embedding_dim)
};

class Dropout : public UnaryModule {
 public:
  explicit Dropout(double p = 0.5, Generator* gen = nullptr);
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  double p;

 private:
  Generator* gen_;
};

class ReLU : public UnaryModule {
 public:
  std::string type_name() const override { return "ReLU"; }
  Tensor forward(const Tensor& x) override;
};
class GELU : public UnaryModule {
 public:
  std::string type_name() const override { return "GELU"; }
  Tensor forward(const Tensor& x) override;
};
class Tanh : public UnaryModule {
 public:
  std::string type_name() const override { return "Tanh"; }
  Tensor forward(const Tensor& x) override;
};

// Children named "0", "1", ... as torch.nn.Sequential.
class Sequential : public UnaryModule {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<UnaryModule>> layers);
  void push_back(std::shared_ptr<UnaryModule> layer);
  std::string type_name() const override { return "Sequential"; }
  Tensor forward(const Tensor& x) override;
  size_t size() const { return layers_.size(); }
  UnaryModule& operator[](size_t i) { return *layers_.at(i); }

 private:
  std::vector<std::shared_ptr<UnaryModule>> layers_;
};

// Linear(in, h1) -> ReLU -> Linear(h1, h2) -> ReLU -> ... -> Linear(hk, out), as the reference
// make_mlp of METHODS.md §8 (children 0, 1, 2, ... as in its nn.Sequential).
std::shared_ptr<Sequential> make_mlp(int64_t in, const std::vector<int64_t>& hidden_dims, int64_t out,
                                     Generator* gen = nullptr);

}  // namespace cxr::nn
