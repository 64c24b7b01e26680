// gradcam.h — Grad-CAM (Selvaraju et al. 2017) for the BasicBlock ResNets (nn/models/resnet.h),
// and the RGB overlay of a heatmap on the grayscale image. Method and caveats: docs/INTERPRETATION.md.
//   image x (1, 1, S, S); A = the output of layer `layer` (1, K, h, w), y_c = logit c;
//   g = dy_c/dA; alpha_k = mean_{u,v} g_k(u,v); cam = ReLU(sum_k alpha_k A_k)         (h, w)
//   heatmap = bilinear upsampling of cam to (S, S) (align_corners=False), / its max   (S, S) in [0, 1]
// The model runs in eval mode (BatchNorm running statistics; the previous mode is restored) and its
// parameters receive no gradient: A is detached into a leaf that requires grad, and the layers above
// it run with the parameters' requires_grad off (restored afterwards, also on errors).
#pragma once

#include <cstdint>
#include <string>

#include "nn/models/resnet.h"
#include "tensor/tensor.h"

namespace cxr::interpret {

struct GradCam {
  Tensor heatmap;       // (S, S) in [0, 1], the image's dtype (float32 normally); all zero when the cam is
  Tensor cam;           // (h, w): ReLU(sum_k alpha_k A_k) before upsampling and scaling
  Tensor logits;        // (C): every class's logit for this image
  int64_t target = -1;  // the class explained
  double logit = 0;     // logits[target]
};

// target_class -1: the arg-max class (for a one-output model, that single logit). layer: "layer1"
// .. "layerL" ("layer6" is the last layer of the 6-layer models). Errors (cxr::Error): image not
// (1, 1, S, S) for the model's S, an unknown layer, a class out of range, grad mode off.
GradCam grad_cam(nn::ResNet& model, const Tensor& image, int64_t target_class = -1,
                 const std::string& layer = "layer6");

// map (h, w) -> (out_h, out_w), as torch.nn.functional.interpolate(mode="bilinear",
// align_corners=False): source coordinate of output pixel i is max(0, (i + 0.5) * h / out_h - 0.5),
// the two neighbours (the upper one clamped to h - 1) blended linearly; the same along w.
// Floating dtypes; the result has map's dtype, computed in double.
Tensor upsample_bilinear(const Tensor& map, int64_t out_h, int64_t out_w);

// The colormap of the overlay: cubehelix (Green 2011, "A colour scheme for the display of
// astronomical intensity images"), whose perceived lightness rises monotonically from black (0) to
// white (1) while the hue turns, so the map reads correctly in grayscale too. Parameters: start 0.5,
// rotations -0.7, hue 2.0, gamma 1: dark purple, blue, teal, green, pale yellow, much like viridis,
// with no channel clipped. t in [0, 1] (clamped; NaN -> 0) -> {r, g, b} in [0, 1].
struct Rgb {
  double r, g, b;
};
Rgb cubehelix(double t);

// RGB overlay (S, S, 3) float32 holding 0..255 integers (ready for data::write_png(path, ., 8)):
// out = round(255 * ((1 - alpha) * gray + alpha * cubehelix(heatmap))), per channel, with the
// grayscale image (S, S) or (1, 1, S, S) in [0, 1] (values outside are clamped) and heatmap (S, S).
Tensor overlay(const Tensor& image, const Tensor& heatmap, double alpha = 0.45);

}  // namespace cxr::interpret
