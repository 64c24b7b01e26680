// resnet.cpp — see resnet.h. Initialization as the reference: Kaiming-normal (fan_out, relu) for
// every convolution, BatchNorm weight 1 and bias 0, PyTorch's default for the Linear layer.
#include "nn/models/resnet.h"

#include "nn/init.h"
#include "ops/ops.h"

namespace cxr::nn {

std::vector<std::string> resnet_architectures() {
  return {"resnet256_6_2_1", "resnet512_6_2_1", "resnet1024_7_2_1", "resnet2048_7_2_1", "resnet128_6_2_1"};
}

int64_t ResNetConfig::map_size(int64_t layer) const {
  CXR_CHECK(layer >= 0 && layer <= static_cast<int64_t>(layer_channels.size()), name, ": no layer ", layer,
            " (layers 1..", layer_channels.size(), ", 0 = the stem)");
  int64_t s = (input_size + 2 * conv1_padding - conv1_kernel) / conv1_stride + 1;
  for (int64_t i = 0; i < layer; ++i) s = (s - 1) / 2 + 1;  // 3x3, stride 2, pad 1
  return s;
}

int64_t ResNetConfig::final_map_size() const { return map_size(static_cast<int64_t>(layer_channels.size())); }

int64_t ResNetConfig::embedding_dim() const {
  const int64_t pooled = final_map_size() / 2;  // AvgPool2d(2)
  return layer_channels.back() * pooled * pooled;
}

ResNetConfig resnet_config(const std::string& arch) {
  const std::vector<int64_t> six = {8, 16, 32, 64, 128, 192}, seven = {8, 16, 32, 64, 128, 192, 192};
  if (arch == "resnet256_6_2_1") return {arch, 256, 3, 1, 1, six};
  if (arch == "resnet512_6_2_1") return {arch, 512, 3, 2, 1, six};
  if (arch == "resnet1024_7_2_1") return {arch, 1024, 5, 2, 2, seven};
  if (arch == "resnet2048_7_2_1") return {arch, 2048, 7, 4, 3, seven};
  // cxrlab's own small member (not in the reference code): resnet256_6_2_1 on a 128 input, for the
  // tests and `make demo` on 2 CPU cores. layer5 = 128@4x4, layer6 = 192@2x2, z = 192-d.
  if (arch == "resnet128_6_2_1") return {arch, 128, 3, 1, 1, six};
  std::string known;
  for (auto& a : resnet_architectures()) known += " " + a;
  fail("resnet: unknown architecture '", arch, "' (known:", known, ")");
}

static std::shared_ptr<Conv2d> conv_no_bias(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, Generator* gen) {
  auto c = std::make_shared<Conv2d>(in, out, k, stride, pad, 1, false, gen);
  init::kaiming_normal_fan_out_relu_(c->weight, gen);
  return c;
}

BasicBlock::BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, bool with_downsample, Generator* gen) {
  conv1 = register_module("conv1", conv_no_bias(inplanes, planes, 3, stride, 1, gen));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  conv2 = register_module("conv2", conv_no_bias(planes, planes, 3, 1, 1, gen));
  bn2 = register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  if (with_downsample) {
    downsample = register_module("downsample", std::make_shared<Sequential>(std::vector<std::shared_ptr<UnaryModule>>{
                                                   conv_no_bias(inplanes, planes, 1, stride, 0, gen),
                                                   std::make_shared<BatchNorm2d>(planes)}));
  }
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor out = relu(bn1->forward(conv1->forward(x)));
  out = bn2->forward(conv2->forward(out));
  Tensor identity = downsample ? downsample->forward(x) : x;
  return relu(out + identity);
}

ResNet::ResNet(const ResNetConfig& cfg, int64_t output_channels, Generator* gen) : config(cfg) {
  CXR_CHECK(output_channels > 0, "resnet: output_channels must be positive, got ", output_channels);
  int64_t inplanes = 8;
  conv1 = register_module("conv1", conv_no_bias(1, inplanes, cfg.conv1_kernel, cfg.conv1_stride, cfg.conv1_padding, gen));
  bn1 = register_module("bn1", std::make_shared<BatchNorm2d>(inplanes));
  for (size_t i = 0; i < cfg.layer_channels.size(); ++i) {
    int64_t planes = cfg.layer_channels[i];
    auto layer = std::make_shared<Sequential>();
    layer->push_back(std::make_shared<BasicBlock>(inplanes, planes, 2, true, gen));  // stride 2 + downsample
    layer->push_back(std::make_shared<BasicBlock>(planes, planes, 1, false, gen));
    layers.push_back(register_module("layer" + std::to_string(i + 1), layer));
    inplanes = planes;
  }
  fc1 = register_module("fc1", std::make_shared<Linear>(cfg.embedding_dim(), output_channels, true, gen));
}

ResNetOutput ResNet::forward(const Tensor& x) { return forward_from(0, forward_until(x, 0)); }

Tensor ResNet::forward_until(const Tensor& x, int64_t layer) {
  // Exactly input_size x input_size, checked up front: the reference always feeds that crop, and
  // other sizes either fail deep inside (e.g. a BatchNorm over 1x1 maps) or, for sizes just above
  // it, silently produce a 768-d embedding from a differently aligned grid.
  const int64_t s = config.input_size;
  CXR_CHECK(x.dim() == 4 && x.size(1) == 1 && x.size(2) == s && x.size(3) == s, config.name,
            ": expected input (N, 1, ", s, ", ", s, "), got ", shape_str(x.shape()));
  const auto num_layers = static_cast<int64_t>(layers.size());
  CXR_CHECK(layer >= 0 && layer <= num_layers, config.name, ": forward_until: no layer ", layer, " (layers 1..",
            num_layers, ", 0 = the stem)");
  Tensor h = relu(bn1->forward(conv1->forward(x)));
  for (int64_t i = 0; i < layer; ++i) h = layers[i]->forward(h);
  return h;
}

ResNetOutput ResNet::forward_from(int64_t layer, const Tensor& h_in) {
  const auto num_layers = static_cast<int64_t>(layers.size());
  CXR_CHECK(layer >= 0 && layer <= num_layers, config.name, ": forward_from: no layer ", layer, " (layers 1..",
            num_layers, ", 0 = the stem)");
  const int64_t channels = layer == 0 ? conv1->weight.size(0) : config.layer_channels[layer - 1];
  const int64_t side = config.map_size(layer);
  CXR_CHECK(h_in.dim() == 4 && h_in.size(1) == channels && h_in.size(2) == side && h_in.size(3) == side, config.name,
            ": forward_from(", layer, "): expected the layer's output (N, ", channels, ", ", side, ", ", side,
            "), got ", shape_str(h_in.shape()));
  ResNetOutput out;
  Tensor h = h_in;
  if (layer == 5) out.layer5 = h;
  if (layer == 6) out.layer6 = h;
  for (int64_t i = layer; i < num_layers; ++i) {
    h = layers[i]->forward(h);
    if (i == 4) out.layer5 = h;
    if (i == 5) out.layer6 = h;
  }
  out.embedding = avg_pool2d(h, 2).flatten(1);  // e.g. (N, 192, 2, 2) -> (N, 768)
  out.logits = fc1->forward(out.embedding);
  return out;
}

void ResNet::apply_freeze_policy(const std::string& policy) {
  if (policy == "tuned") {
    unfreeze("*");
  } else if (policy == "frozen") {
    freeze("*");
    unfreeze("layer6.*");
    unfreeze("fc1.*");
  } else {
    fail("resnet: unknown freeze policy '", policy, "' (expected 'frozen' or 'tuned')");
  }
}

std::unique_ptr<ResNet> make_resnet(const std::string& arch, int64_t output_channels, Generator* gen) {
  return std::make_unique<ResNet>(resnet_config(arch), output_channels, gen);
}

}  // namespace cxr::nn
