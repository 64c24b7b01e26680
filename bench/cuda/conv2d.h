// conv2d.h — what the conv2d family of cxr-kernels (bench/cuda/conv2d.cpp) shares with the tests:
// the layers of a seed ResNet, the tolerance of a pass, and the CPU reference of a pass.
#pragma once

#include <string>
#include <vector>

#include "bench/cuda/harness.h"
#include "cuda/kernels/conv2d/conv2d.h"

namespace cxr::bench {

struct ConvLayer {
  std::string name;  // the module's name: "conv1", "layer1.0.conv1", "layer1.0.downsample.0", ...
  cuda::Conv2dShape shape;
};
// Every convolution of `arch` (nn/models/resnet.h) at batch `batch`, in the order of the forward
// pass, read off the model's own modules (kernel, stride, padding, channels) with each input size
// carried through the convolutions' output sizes.
std::vector<ConvLayer> resnet_conv_layers(const std::string& arch, int64_t batch);

// The tolerance of a pass on inputs uniform in [-1, 1) (reasons in conv2d.cpp); the tests use it.
Tolerance conv2d_tolerance(cuda::ConvPass pass, const cuda::Conv2dShape& s);

// The pass's result on the CPU in float64 from float32 inputs: forward (x, w), backward data
// (g, w), backward weight (g, x), as ops/conv.h computes them.
Tensor conv2d_reference(cuda::ConvPass pass, const Tensor& a, const Tensor& b, const cuda::Conv2dShape& s);

}  // namespace cxr::bench
