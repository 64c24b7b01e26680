// transforms.h — the image transforms of the reference pipelines (METHODS.md §1, §7, §8), each
// matching the library the reference used, on images x: (..., H, W) float (every (H, W) plane is
// transformed alike). Random transforms draw from a cxr::Generator (Philox), so a seed fixes them.
//   resize_bilinear / resize_shorter_edge  PIL Image.resize(BILINEAR) (antialiased when shrinking),
//                                          torchvision Resize(int) output sizes
//   affine_nearest / RandomAffine          torchvision RandomAffine(degrees, translate) on a PIL image:
//                                          inverse matrix about the centre, nearest, fill 0
//   translate_crop / RandomTranslateCrop   the joint model's Gaussian shift + zero pad + centre crop
// center_crop and normalize_max (x / max(1e-3, max)) live in data/image.h. Goldens from Debian's
// Pillow 9.4 / torchvision 0.14: tools/goldens/transforms.py. Derivations: docs/DATA-PIPELINE.md.
#pragma once

#include <array>
#include <cstdint>
#include <utility>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace cxr::data {

// ---- resize -------------------------------------------------------------------------------------

// How the PIL image holding the samples stores them; PIL rounds after each of its two passes
// accordingly, so the mode changes the result:
//   L  uint8: 22-bit fixed-point weights, result clipped to 0..255 (8-bit PNGs, the covid-cxr set)
//   I  int32: double accumulation, rounded half away from zero (DICOM pixel_array cast to int32,
//             the reference's dcm_to_png.py)
//   F  float32: double accumulation, stored as float32 (no rounding)
enum class PilMode { L = 0, I = 1, F = 2 };

// PIL's BILINEAR resize (Pillow's Resample.c): separable, horizontal pass first, each output pixel
// a normalized triangle-filter average over the input pixels within `support` of its centre, where
// support = max(1, in/out): shrinking widens the filter (antialiasing); enlarging is plain linear
// interpolation. x: (..., H, W) with sample values valid for `mode` (L: 0..255 integers; I: int32
// integers). Returns (..., out_h, out_w) float32.
Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w, PilMode mode = PilMode::F);

// torchvision Resize(size) with an int size: the shorter edge becomes `size`, the longer
// int(size * long / short) (truncated). Returns {out_h, out_w}.
std::pair<int64_t, int64_t> shorter_edge_size(int64_t height, int64_t width, int64_t size);
// resize_bilinear to shorter_edge_size; an image already of that size is returned unchanged (PIL).
Tensor resize_shorter_edge(const Tensor& x, int64_t size, PilMode mode = PilMode::F);

// ---- affine (RandomAffine) ----------------------------------------------------------------------

// The rotation centre, in PIL pixel coordinates (pixel (i, j) covers [j, j+1) x [i, i+1)):
//   Reference  (W/2 + 0.5, H/2 + 0.5): torchvision <= 0.7, which the reference code ran (0.4.0)
//   Torchvision (W/2, H/2): torchvision >= 0.8 (pytorch/vision#2468), e.g. Debian's 0.14
enum class AffineCenter { Reference, Torchvision };

struct AffineParams {
  double angle = 0;  // degrees, counter-clockwise as displayed (image y points down)
  int64_t tx = 0;    // translation in pixels, +x right
  int64_t ty = 0;    // +y down
};

// torchvision's _get_inverse_affine_matrix for scale 1 and no shear: the matrix [a b c; d e f] that
// maps an output point to the input point it samples, M^-1 = C R^-1 C^-1 T^-1 with R the rotation by
// `angle`, C the shift to the centre (cx, cy) and T the translation.
std::array<double, 6> inverse_affine_matrix(double angle, double tx, double ty, double cx, double cy);

// PIL Image.transform(AFFINE, matrix, NEAREST) with fill 0, as Pillow's generic transform (the path
// I;16 images take): output pixel (i, j) takes input pixel (floor(v), floor(u)) with
// (u, v) = M (j + 0.5, i + 0.5), or 0 when that lies outside the image.
Tensor affine_nearest(const Tensor& x, const std::array<double, 6>& inverse_matrix);
// torchvision F.affine(img, angle, (tx, ty), scale=1, shear=0, NEAREST, fill=0) on a PIL image.
Tensor affine_nearest(const Tensor& x, const AffineParams& params, AffineCenter center = AffineCenter::Reference);

// torchvision RandomAffine(degrees=(min_degrees, max_degrees), translate=(translate_x, translate_y)):
//   angle ~ U(min_degrees, max_degrees)
//   tx = round(U(-translate_x * W, translate_x * W)), ty likewise with H (round half to even)
// Three uniforms are drawn in that order (3 generator counters per sample).
struct RandomAffine {
  double min_degrees = -20, max_degrees = 20;
  double translate_x = 0.1, translate_y = 0.1;
  AffineCenter center = AffineCenter::Reference;

  AffineParams sample(Generator& gen, int64_t height, int64_t width) const;
  Tensor operator()(const Tensor& x, Generator& gen) const;  // every plane of x gets the same params
};

// ---- translate and crop (the joint model, METHODS.md §7) ----------------------------------------

// Pads x (..., H, W) with floor(max(0, out - dim) / 2) + 4 zeros on each side of each axis, plus
// max(shift, 0) before and max(-shift, 0) after, and crops the centre out_h x out_w with the crop
// start floor((padded - out) / 2). A positive shift moves the content down / right (by about half
// the shift: the pad is added on one side only). shift 0 is the reference's evaluation crop.
Tensor translate_crop(const Tensor& x, int64_t out_h, int64_t out_w, int64_t shift_h, int64_t shift_w);

// The reference's random shift: shift = int(N(mean, std)) (truncated toward 0), and 0 when
// |shift| > 2 std. shift_h is drawn first. Its rotation (N(0, 20) degrees) is disabled there and here.
struct RandomTranslateCrop {
  int64_t out_h = 2048, out_w = 2048;
  double shift_mean = 0, shift_std = 200;

  std::pair<int64_t, int64_t> sample(Generator& gen) const;  // {shift_h, shift_w}
  Tensor operator()(const Tensor& x, Generator& gen) const;
};

// Python's round(): to the nearest integer, ties to even (used for torchvision's translations).
double round_half_even(double v);

}  // namespace cxr::data
