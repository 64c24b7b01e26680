// gradcam.cpp — see gradcam.h. The cam and the upsampling are computed in double from the model's
// activations and gradients (float32 normally), then stored in the image's dtype.
#include "interpret/gradcam.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <utility>
#include <vector>

#include "autograd/node.h"
#include "tensor/error.h"
#include "ops/ops.h"

namespace cxr::interpret {
namespace {

// Turns off requires_grad on every parameter for the scope, so a backward pass leaves their
// gradients alone; restores each parameter's own flag (frozen ones stay frozen).
class NoParameterGradScope {
 public:
  explicit NoParameterGradScope(const nn::Module& m) {
    for (Tensor& p : m.parameters()) {
      saved_.emplace_back(p, p.requires_grad());
      p.requires_grad_(false);
    }
  }
  ~NoParameterGradScope() {
    for (auto& [p, flag] : saved_) p.requires_grad_(flag);
  }
  NoParameterGradScope(const NoParameterGradScope&) = delete;
  NoParameterGradScope& operator=(const NoParameterGradScope&) = delete;

 private:
  std::vector<std::pair<Tensor, bool>> saved_;
};

// "layer<k>" -> k in 1..L; anything else is an error listing the valid names.
int64_t parse_layer(const nn::ResNet& model, const std::string& layer) {
  const auto num_layers = static_cast<int64_t>(model.layers.size());
  int64_t k = 0;
  bool ok = layer.size() > 5 && layer.size() <= 7 && layer.compare(0, 5, "layer") == 0;
  for (size_t i = 5; ok && i < layer.size(); ++i) {
    ok = layer[i] >= '0' && layer[i] <= '9';
    k = k * 10 + (layer[i] - '0');
  }
  CXR_CHECK(ok && k >= 1 && k <= num_layers, "grad_cam: unknown layer '", layer, "' (", model.config.name,
            " has layer1..layer", num_layers, ")");
  return k;
}

}  // namespace

GradCam grad_cam(nn::ResNet& model, const Tensor& image, int64_t target_class, const std::string& layer) {
  const int64_t s = model.config.input_size;
  CXR_CHECK(image.defined(), "grad_cam: the image is undefined");
  CXR_CHECK(image.dim() == 4 && image.size(0) == 1 && image.size(1) == 1 && image.size(2) == s && image.size(3) == s,
            "grad_cam: expected one image (1, 1, ", s, ", ", s, ") for ", model.config.name, ", got ",
            shape_str(image.shape()));
  CXR_CHECK(is_floating(image.dtype()), "grad_cam: the image must be floating point, got ", dtype_name(image.dtype()));
  const int64_t k = parse_layer(model, layer);
  CXR_CHECK(grad_enabled(), "grad_cam: grad mode is off (called under a NoGradGuard?); Grad-CAM needs dy/dA");

  const int64_t num_classes = model.fc1->weight.size(0);
  CXR_CHECK(target_class >= -1 && target_class < num_classes, "grad_cam: class ", target_class, " out of range (",
            model.config.name, " has ", num_classes, num_classes == 1 ? " output: class 0" : " outputs: 0..",
            num_classes == 1 ? "" : std::to_string(num_classes - 1), ", or -1 for the arg max)");

  nn::EvalModeScope eval_mode(model);
  const DType dtype = model.conv1->weight.dtype();
  Tensor x = image.detach().to(dtype).to(model.device());  // the results come back on the CPU

  // A: the layer's output as a fresh leaf; nothing below it is recorded.
  Tensor activation;
  {
    NoGradGuard no_grad;
    activation = model.forward_until(x, k);
  }
  activation = activation.detach();
  activation.requires_grad_(true);

  GradCam result;
  Tensor y;
  {
    NoParameterGradScope no_parameter_grads(model);
    nn::ResNetOutput out = model.forward_from(k, activation);
    Tensor logits = out.logits.select(0, 0);  // (C)
    const int64_t target = target_class == -1 ? argmax(logits.detach(), 0).item<int64_t>() : target_class;
    result.target = target;
    result.logits = logits.detach().to(Device::CPU).contiguous();
    result.logit = result.logits.at({target});
    y = logits.select(0, target);
    y.backward();
  }
  Tensor g = activation.grad();
  CXR_CHECK(g.defined(), "grad_cam: the logit received no gradient from ", layer);

  // alpha_k = mean_{u,v} g_k(u, v); cam = ReLU(sum_k alpha_k A_k), in double.
  Tensor a64 = activation.detach().select(0, 0).to(DType::Float64);  // (K, h, w)
  Tensor alpha = mean(g.select(0, 0).to(DType::Float64), {1, 2});    // (K)
  Tensor cam = relu(sum(alpha.view({alpha.size(0), 1, 1}) * a64, {0})).to(Device::CPU);
  Tensor up = upsample_bilinear(cam, s, s);
  const double peak = max(up).item();
  if (peak > 0) up = up / peak;  // all zero stays all zero
  result.cam = cam.to(dtype).contiguous();
  result.heatmap = up.to(dtype).contiguous();
  return result;
}

Tensor upsample_bilinear(const Tensor& map, int64_t out_h, int64_t out_w) {
  CXR_CHECK(map.defined() && map.dim() == 2, "upsample_bilinear: expected a map (h, w), got ",
            map.defined() ? shape_str(map.shape()) : std::string("an undefined tensor"));
  CXR_CHECK(is_floating(map.dtype()), "upsample_bilinear: the map must be floating point, got ",
            dtype_name(map.dtype()));
  CXR_CHECK(out_h > 0 && out_w > 0, "upsample_bilinear: output size must be positive, got ", out_h, "x", out_w);
  const int64_t in_h = map.size(0), in_w = map.size(1);
  CXR_CHECK(in_h > 0 && in_w > 0, "upsample_bilinear: the map is empty (", in_h, "x", in_w, ")");
  const std::vector<double> in = map.to_vector();

  // Per output index along one axis: the two source indices and the weight of the upper one.
  struct Tap {
    int64_t lo, hi;
    double w_hi;
  };
  auto taps = [](int64_t in_size, int64_t out_size) {
    std::vector<Tap> t(static_cast<size_t>(out_size));
    const double scale = double(in_size) / double(out_size);
    for (int64_t i = 0; i < out_size; ++i) {
      const double src = std::max(0.0, (double(i) + 0.5) * scale - 0.5);
      const auto lo = static_cast<int64_t>(src);  // floor: src >= 0
      t[i] = {lo, lo < in_size - 1 ? lo + 1 : lo, src - double(lo)};
    }
    return t;
  };
  const std::vector<Tap> rows = taps(in_h, out_h), cols = taps(in_w, out_w);
  std::vector<double> out(static_cast<size_t>(out_h * out_w));
  for (int64_t i = 0; i < out_h; ++i) {
    const Tap& r = rows[i];
    const double* top = &in[r.lo * in_w];
    const double* bottom = &in[r.hi * in_w];
    for (int64_t j = 0; j < out_w; ++j) {
      const Tap& c = cols[j];
      const double upper = (1 - c.w_hi) * top[c.lo] + c.w_hi * top[c.hi];
      const double lower = (1 - c.w_hi) * bottom[c.lo] + c.w_hi * bottom[c.hi];
      out[i * out_w + j] = (1 - r.w_hi) * upper + r.w_hi * lower;
    }
  }
  return from_vector(out, {out_h, out_w}, {.dtype = map.dtype()});
}

Rgb cubehelix(double t) {
  // Green (2011), eq. 2: lightness l = t^gamma, angle phi = 2 pi (start / 3 + 1 + rotations * t)
  // (the paper's "+ 1" is a whole turn, kept to match it),
  // amplitude a = hue * l (1 - l) / 2, then (r, g, b) = l + a * M (cos phi, sin phi) with the
  // paper's matrix (the directions of constant perceived lightness in RGB), clamped to [0, 1].
  constexpr double kStart = 0.5, kRotations = -0.7, kHue = 2.0;
  const double l = std::clamp(std::isnan(t) ? 0.0 : t, 0.0, 1.0);
  const double phi = 2 * std::numbers::pi * (kStart / 3 + 1 + kRotations * l);
  const double a = kHue * l * (1 - l) / 2;
  const double c = std::cos(phi), s = std::sin(phi);
  return {std::clamp(l + a * (-0.14861 * c + 1.78277 * s), 0.0, 1.0),
          std::clamp(l + a * (-0.29227 * c - 0.90649 * s), 0.0, 1.0), std::clamp(l + a * (1.97294 * c), 0.0, 1.0)};
}

Tensor overlay(const Tensor& image, const Tensor& heatmap, double alpha) {
  CXR_CHECK(heatmap.defined() && heatmap.dim() == 2, "overlay: expected a heatmap (S, S), got ",
            heatmap.defined() ? shape_str(heatmap.shape()) : std::string("an undefined tensor"));
  const int64_t h = heatmap.size(0), w = heatmap.size(1);
  CXR_CHECK(image.defined() && ((image.dim() == 2 && image.size(0) == h && image.size(1) == w) ||
                                (image.dim() == 4 && image.size(0) == 1 && image.size(1) == 1 && image.size(2) == h &&
                                 image.size(3) == w)),
            "overlay: expected a grayscale image (", h, ", ", w, ") or (1, 1, ", h, ", ", w,
            ") matching the heatmap, got ", image.defined() ? shape_str(image.shape()) : std::string("undefined"));
  CXR_CHECK(alpha >= 0 && alpha <= 1, "overlay: alpha must be in [0, 1], got ", alpha);
  const std::vector<double> gray = image.to_vector(), heat = heatmap.to_vector();
  std::vector<double> out(static_cast<size_t>(h * w * 3));
  for (size_t i = 0; i < gray.size(); ++i) {
    const double v = std::isnan(gray[i]) ? 0.0 : std::clamp(gray[i], 0.0, 1.0);
    const Rgb c = cubehelix(heat[i]);
    out[3 * i + 0] = std::round(255 * ((1 - alpha) * v + alpha * c.r));
    out[3 * i + 1] = std::round(255 * ((1 - alpha) * v + alpha * c.g));
    out[3 * i + 2] = std::round(255 * ((1 - alpha) * v + alpha * c.b));
  }
  return from_vector(out, {h, w, 3}, {.dtype = DType::Float32});
}

}  // namespace cxr::interpret
