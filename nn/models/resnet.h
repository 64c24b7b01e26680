// resnet.h — the BasicBlock ResNets of the research (METHODS.md §3), with the reference code's
// parameter names (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0, ..., fc1) so its
// checkpoints load unchanged.
//   x (N, 1, S, S) -> conv1/bn1/relu -> layer1..layerL (2 BasicBlocks each, the first with stride 2
//   and a conv1x1+BN downsample) -> AvgPool2d(2) -> flatten: z (N, 768) -> fc1: logits (N, C).
// For resnet256_6_2_1: layer5 = (N, 128, 8, 8) (the local features of METHODS.md §8),
// layer6 = (N, 192, 4, 4). resnet128_6_2_1 is cxrlab's small member (not in the reference code):
// the same layers on a 128 input, so layer5 = (N, 128, 4, 4) and z is 192-d; tests and the demo use it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/layers.h"

namespace cxr::nn {

struct ResNetConfig {
  std::string name;
  int64_t input_size;      // the square input the architecture expects
  int64_t conv1_kernel, conv1_stride, conv1_padding;
  std::vector<int64_t> layer_channels;  // one per "layer"

  int64_t final_map_size() const;  // side of the last layer's map (4 for resnet256_6_2_1)
  int64_t map_size(int64_t layer) const;  // side of layer `layer`'s output map (0: after conv1/bn1/relu)
  int64_t embedding_dim() const;   // size of z: 768 for the reference models, 192 for resnet128_6_2_1
};
// "resnet256_6_2_1", "resnet512_6_2_1", "resnet1024_7_2_1", "resnet2048_7_2_1", "resnet128_6_2_1".
ResNetConfig resnet_config(const std::string& arch);
std::vector<std::string> resnet_architectures();

// conv3x3 -> BN -> ReLU -> conv3x3 -> BN, plus the identity (or downsample(x)), then ReLU.
class BasicBlock : public UnaryModule {
 public:
  BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, bool downsample, Generator* gen);
  std::string type_name() const override { return "BasicBlock"; }
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Conv2d> conv1, conv2;
  std::shared_ptr<BatchNorm2d> bn1, bn2;
  std::shared_ptr<Sequential> downsample;  // conv1x1(stride) + BN, or null
};

struct ResNetOutput {
  Tensor logits;     // (N, C)
  Tensor embedding;  // z: (N, config.embedding_dim()), 768 for the reference models
  Tensor layer5;     // local feature map, e.g. (N, 128, 8, 8) for 256 inputs
  Tensor layer6;     // e.g. (N, 192, 4, 4) for resnet256_6_2_1, (N, 192, 8, 8) for the 7-layer models
};

class ResNet : public Module {
 public:
  ResNet(const ResNetConfig& config, int64_t output_channels, Generator* gen = nullptr);
  std::string type_name() const override { return "ResNet"; }
  std::string extra_repr() const override { return config.name; }
  // x: (N, 1, input_size, input_size); any other shape is an error naming the expected one.
  ResNetOutput forward(const Tensor& x);
  // forward split at the output of layer `layer` (1..L; 0 = after conv1/bn1/relu), so a caller can
  // get hold of that feature map A, e.g. as a fresh leaf for Grad-CAM (interpret/gradcam.h):
  //   forward(x) == forward_from(k, forward_until(x, k)) for every k.
  // forward_until checks x as forward does; forward_from checks that h has layer k's shape
  // (N, channels_k, map_size(k), map_size(k)). forward_from's layer5/layer6 are h itself when k is
  // 5/6 and undefined when k is above.
  Tensor forward_until(const Tensor& x, int64_t layer);
  ResNetOutput forward_from(int64_t layer, const Tensor& h);
  // "frozen": only layer6 and fc1 train; "tuned": every parameter trains.
  void apply_freeze_policy(const std::string& policy);

  ResNetConfig config;
  std::shared_ptr<Conv2d> conv1;
  std::shared_ptr<BatchNorm2d> bn1;
  std::vector<std::shared_ptr<Sequential>> layers;  // layer1..layerL
  std::shared_ptr<Linear> fc1;
};

std::unique_ptr<ResNet> make_resnet(const std::string& arch, int64_t output_channels, Generator* gen = nullptr);

}  // namespace cxr::nn
