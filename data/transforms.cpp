// transforms.cpp — see transforms.h. The resize follows Pillow 9.4's libImaging/Resample.c
// (precompute_coeffs, the 8bpc and 32bpc passes), the affine warp Pillow's Geometry.c
// (ImagingGenericTransform + affine_transform + the nearest filter) and torchvision's
// _get_inverse_affine_matrix; each step names the expression it reproduces, in the same order of
// floating-point operations so that results agree bit for bit.
#include "data/transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "tensor/error.h"
#include "ops/ops.h"

namespace cxr::data {

namespace {

// A contiguous float32 copy of x viewed as (planes, H, W).
struct Planes {
  Tensor data;
  int64_t count = 0, height = 0, width = 0;
};

Planes as_planes(const Tensor& x, const char* op) {
  CXR_CHECK(x.dim() >= 2, op, ": expected an image (..., H, W), got ", shape_str(x.shape()));
  CXR_CHECK(is_floating(x.dtype()), op, ": expected a floating image, got ", dtype_name(x.dtype()));
  Planes p;
  p.height = x.size(-2);
  p.width = x.size(-1);
  CXR_CHECK(p.height > 0 && p.width > 0, op, ": empty image ", shape_str(x.shape()));
  p.count = x.numel() / (p.height * p.width);
  p.data = x.detach().to(DType::Float32).contiguous();
  return p;
}

Shape with_hw(const Shape& shape, int64_t h, int64_t w) {
  Shape out = shape;
  out[out.size() - 2] = h;
  out[out.size() - 1] = w;
  return out;
}

// ---- resize: Pillow Resample.c ----

// bilinear_filter and its support (1.0).
double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

// precompute_coeffs for the box [0, in_size): per output pixel xx, the first input pixel bounds[2xx],
// the number of taps bounds[2xx+1] and the normalized weights kk[xx * ksize + t].
struct Coefficients {
  int64_t ksize = 0;
  std::vector<int64_t> bounds;
  std::vector<double> kk;
};

Coefficients precompute_coeffs(int64_t in_size, int64_t out_size) {
  const double in0 = 0.0, in1 = double(in_size);
  double scale = (in1 - in0) / double(out_size);
  double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 1.0 * filterscale;
  Coefficients c;
  c.ksize = int64_t(std::ceil(support)) * 2 + 1;
  c.bounds.resize(size_t(out_size) * 2);
  c.kk.assign(size_t(out_size * c.ksize), 0.0);
  for (int64_t xx = 0; xx < out_size; ++xx) {
    double center = in0 + (double(xx) + 0.5) * scale;
    double ww = 0.0;
    double ss = 1.0 / filterscale;
    int64_t xmin = int64_t(center - support + 0.5);  // C's (int) cast truncates toward zero
    if (xmin < 0) xmin = 0;
    int64_t xmax = int64_t(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double* k = &c.kk[size_t(xx * c.ksize)];
    for (int64_t x = 0; x < xmax; ++x) {
      double w = bilinear_filter((double(x + xmin) - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (int64_t x = 0; x < xmax; ++x)
      if (ww != 0.0) k[x] /= ww;
    c.bounds[size_t(xx) * 2] = xmin;
    c.bounds[size_t(xx) * 2 + 1] = xmax;
  }
  return c;
}

constexpr int kPrecisionBits = 32 - 8 - 2;  // Resample.c PRECISION_BITS

// normalize_coeffs_8bpc: the weights in 22-bit fixed point, rounded half away from zero.
std::vector<int32_t> fixed_point(const std::vector<double>& kk) {
  std::vector<int32_t> out(kk.size());
  for (size_t i = 0; i < kk.size(); ++i)
    out[i] = kk[i] < 0 ? int32_t(-0.5 + kk[i] * (1 << kPrecisionBits)) : int32_t(0.5 + kk[i] * (1 << kPrecisionBits));
  return out;
}

inline uint8_t clip8(int32_t in) {
  int32_t v = in >> kPrecisionBits;  // arithmetic shift, as Pillow's lookup index
  return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
}

// ROUND_UP for the int32 passes: half away from zero.
inline int32_t round_up(double f) { return int32_t(f >= 0.0 ? f + 0.5F : f - 0.5F); }

// One separable pass over a plane stored row-major as `Sample`, along x (horizontal) or y. The
// input is in[rows][cols]; output out[rows'][cols'].
// Horizontal: out(y, xx) = sum_t in(y + offset, bounds[xx] + t) k[xx][t], y in [0, out_rows)
// Vertical:   out(yy, x) = sum_t in(bounds[yy] + t, x) k[yy][t]
template <typename Sample>
void resample_pass(const Sample* in, int64_t in_cols, Sample* out, int64_t out_rows, int64_t out_cols,
                   const Coefficients& c, bool horizontal, int64_t offset) {
  if constexpr (std::is_same_v<Sample, uint8_t>) {
    const std::vector<int32_t> kk = fixed_point(c.kk);
    for (int64_t r = 0; r < out_rows; ++r) {
      for (int64_t q = 0; q < out_cols; ++q) {
        const int64_t i = horizontal ? q : r;  // the output index along the pass
        const int64_t first = c.bounds[size_t(i) * 2], taps = c.bounds[size_t(i) * 2 + 1];
        const int32_t* k = &kk[size_t(i * c.ksize)];
        int32_t ss0 = 1 << (kPrecisionBits - 1);
        if (horizontal) {
          const Sample* row = in + (r + offset) * in_cols + first;
          for (int64_t t = 0; t < taps; ++t) ss0 += int32_t(row[t]) * k[t];
        } else {
          for (int64_t t = 0; t < taps; ++t) ss0 += int32_t(in[(first + t) * in_cols + q]) * k[t];
        }
        out[r * out_cols + q] = clip8(ss0);
      }
    }
  } else {
    for (int64_t r = 0; r < out_rows; ++r) {
      for (int64_t q = 0; q < out_cols; ++q) {
        const int64_t i = horizontal ? q : r;
        const int64_t first = c.bounds[size_t(i) * 2], taps = c.bounds[size_t(i) * 2 + 1];
        const double* k = &c.kk[size_t(i * c.ksize)];
        double ss = 0.0;
        if (horizontal) {
          const Sample* row = in + (r + offset) * in_cols + first;
          for (int64_t t = 0; t < taps; ++t) ss += double(row[t]) * k[t];
        } else {
          for (int64_t t = 0; t < taps; ++t) ss += double(in[(first + t) * in_cols + q]) * k[t];
        }
        if constexpr (std::is_same_v<Sample, int32_t>) {
          out[r * out_cols + q] = round_up(ss);
        } else {
          out[r * out_cols + q] = float(ss);
        }
      }
    }
  }
}

// ImagingResampleInner for one plane: horizontal pass (only on the rows the vertical pass reads),
// then vertical pass, each skipped when its size does not change.
template <typename Sample>
std::vector<Sample> resample_plane(std::vector<Sample> in, int64_t H, int64_t W, int64_t out_h, int64_t out_w) {
  const bool need_horizontal = out_w != W, need_vertical = out_h != H;
  Coefficients ch = precompute_coeffs(W, out_w);
  Coefficients cv = precompute_coeffs(H, out_h);
  int64_t rows = H, cols = W;
  if (need_horizontal) {
    const int64_t ybox_first = cv.bounds[0];
    const int64_t ybox_last = cv.bounds[size_t(out_h) * 2 - 2] + cv.bounds[size_t(out_h) * 2 - 1];
    if (need_vertical) {
      for (int64_t i = 0; i < out_h; ++i) cv.bounds[size_t(i) * 2] -= ybox_first;
    }
    // Without a vertical pass every row is needed (the bounds then cover 0..H anyway).
    const int64_t first = need_vertical ? ybox_first : 0, count = need_vertical ? ybox_last - ybox_first : H;
    std::vector<Sample> tmp(size_t(count * out_w));
    resample_pass(in.data(), W, tmp.data(), count, out_w, ch, true, first);
    in = std::move(tmp);
    rows = count;
    cols = out_w;
  }
  if (need_vertical) {
    std::vector<Sample> out(size_t(out_h * cols));
    resample_pass(in.data(), cols, out.data(), out_h, cols, cv, false, 0);
    in = std::move(out);
    rows = out_h;
  }
  (void)rows;
  return in;
}

template <typename Sample>
Sample to_sample(float v) {
  if constexpr (std::is_same_v<Sample, uint8_t>) {
    float r = std::nearbyint(v);
    return uint8_t(r < 0 ? 0 : r > 255 ? 255 : r);
  } else if constexpr (std::is_same_v<Sample, int32_t>) {
    double r = std::nearbyint(double(v));
    return int32_t(std::clamp(r, -2147483648.0, 2147483647.0));
  } else {
    return v;
  }
}

template <typename Sample>
void resize_planes(const Planes& p, int64_t out_h, int64_t out_w, float* out) {
  const float* src = p.data.data<float>();
  const int64_t n_in = p.height * p.width, n_out = out_h * out_w;
  for (int64_t k = 0; k < p.count; ++k) {
    std::vector<Sample> plane(static_cast<size_t>(n_in));
    for (int64_t i = 0; i < n_in; ++i) plane[size_t(i)] = to_sample<Sample>(src[k * n_in + i]);
    std::vector<Sample> r = resample_plane(std::move(plane), p.height, p.width, out_h, out_w);
    for (int64_t i = 0; i < n_out; ++i) out[k * n_out + i] = float(r[size_t(i)]);
  }
}

}  // namespace

double round_half_even(double v) {
  double r = std::round(v);  // half away from zero
  if (std::fabs(v - std::trunc(v)) == 0.5) r = 2.0 * std::round(v / 2.0);
  return r;
}

Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w, PilMode mode) {
  Planes p = as_planes(x, "resize_bilinear");
  CXR_CHECK(out_h > 0 && out_w > 0, "resize_bilinear: output size must be positive, got ", out_h, "x", out_w);
  Tensor out = empty(with_hw(x.shape(), out_h, out_w));
  switch (mode) {
    case PilMode::L: resize_planes<uint8_t>(p, out_h, out_w, out.data<float>()); break;
    case PilMode::I: resize_planes<int32_t>(p, out_h, out_w, out.data<float>()); break;
    case PilMode::F: resize_planes<float>(p, out_h, out_w, out.data<float>()); break;
  }
  return out;
}

std::pair<int64_t, int64_t> shorter_edge_size(int64_t height, int64_t width, int64_t size) {
  CXR_CHECK(height > 0 && width > 0 && size > 0, "shorter_edge_size: invalid image ", height, "x", width, " or size ",
            size);
  const bool portrait = width <= height;  // torchvision: short, long = (w, h) if w <= h else (h, w)
  const int64_t shorter = portrait ? width : height, longer = portrait ? height : width;
  // int(requested_new_short * long / short): Python true division in double, then truncation.
  const int64_t new_long = int64_t(double(size) * double(longer) / double(shorter));
  return portrait ? std::pair{new_long, size} : std::pair{size, new_long};
}

Tensor resize_shorter_edge(const Tensor& x, int64_t size, PilMode mode) {
  CXR_CHECK(x.dim() >= 2, "resize_shorter_edge: expected an image (..., H, W), got ", shape_str(x.shape()));
  auto [h, w] = shorter_edge_size(x.size(-2), x.size(-1), size);
  if (h == x.size(-2) && w == x.size(-1)) return x.detach().to(DType::Float32).clone();
  return resize_bilinear(x, h, w, mode);
}

std::array<double, 6> inverse_affine_matrix(double angle, double tx, double ty, double cx, double cy) {
  // torchvision _get_inverse_affine_matrix(center, angle, translate, scale=1, shear=(0, 0)):
  // rot = math.radians(angle); a = cos(rot), b = -sin(rot), c = sin(rot), d = cos(rot) (the shear
  // terms vanish exactly); matrix = [d, -b, 0, -c, a, 0] / scale.
  const double rot = angle * (M_PI / 180.0);
  const double a = std::cos(rot), b = -std::sin(rot), c = std::sin(rot), d = std::cos(rot);
  std::array<double, 6> m = {d, -b, 0.0, -c, a, 0.0};
  // RSS^-1 * C^-1 * T^-1, then C * (...)
  m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
  m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
  m[2] += cx;
  m[5] += cy;
  return m;
}

Tensor affine_nearest(const Tensor& x, const std::array<double, 6>& a) {
  Planes p = as_planes(x, "affine_nearest");
  const int64_t H = p.height, W = p.width, n = H * W;
  Tensor out = zeros(x.shape());
  const float* src = p.data.data<float>();
  float* dst = out.data<float>();
  for (int64_t i = 0; i < H; ++i) {
    for (int64_t j = 0; j < W; ++j) {
      // affine_transform: xin = x + 0.5, yin = y + 0.5; xout = a0*xin + a1*yin + a2 (same order).
      const double xin = double(j) + 0.5, yin = double(i) + 0.5;
      const double u = a[0] * xin + a[1] * yin + a[2];
      const double v = a[3] * xin + a[4] * yin + a[5];
      // nearest filter: COORD(v) = v < 0 ? -1 : (int)v, in range iff 0 <= v < size.
      if (!(u >= 0.0 && u < double(W) && v >= 0.0 && v < double(H))) continue;
      const int64_t sj = int64_t(u), si = int64_t(v);
      for (int64_t k = 0; k < p.count; ++k) dst[k * n + i * W + j] = src[k * n + si * W + sj];
    }
  }
  return out;
}

Tensor affine_nearest(const Tensor& x, const AffineParams& params, AffineCenter center) {
  CXR_CHECK(x.dim() >= 2, "affine_nearest: expected an image (..., H, W), got ", shape_str(x.shape()));
  const double W = double(x.size(-1)), H = double(x.size(-2));
  const double cx = center == AffineCenter::Reference ? W * 0.5 + 0.5 : W * 0.5;
  const double cy = center == AffineCenter::Reference ? H * 0.5 + 0.5 : H * 0.5;
  return affine_nearest(x, inverse_affine_matrix(params.angle, double(params.tx), double(params.ty), cx, cy));
}

AffineParams RandomAffine::sample(Generator& gen, int64_t height, int64_t width) const {
  CXR_CHECK(min_degrees <= max_degrees && translate_x >= 0 && translate_x <= 1 && translate_y >= 0 && translate_y <= 1,
            "RandomAffine: invalid degrees (", min_degrees, ", ", max_degrees, ") or translate (", translate_x, ", ",
            translate_y, ")");
  const uint64_t c = gen.reserve(3);
  AffineParams p;
  // random.uniform(a, b) = a + (b - a) * random(); torch's uniform_ likewise.
  p.angle = min_degrees + (max_degrees - min_degrees) * gen.uniform(c);
  const double max_dx = translate_x * double(width), max_dy = translate_y * double(height);
  p.tx = int64_t(round_half_even(-max_dx + (max_dx - -max_dx) * gen.uniform(c + 1)));
  p.ty = int64_t(round_half_even(-max_dy + (max_dy - -max_dy) * gen.uniform(c + 2)));
  return p;
}

Tensor RandomAffine::operator()(const Tensor& x, Generator& gen) const {
  CXR_CHECK(x.dim() >= 2, "RandomAffine: expected an image (..., H, W), got ", shape_str(x.shape()));
  return affine_nearest(x, sample(gen, x.size(-2), x.size(-1)), center);
}

Tensor translate_crop(const Tensor& x, int64_t out_h, int64_t out_w, int64_t shift_h, int64_t shift_w) {
  CXR_CHECK(x.dim() >= 2, "translate_crop: expected an image (..., H, W), got ", shape_str(x.shape()));
  CXR_CHECK(out_h > 0 && out_w > 0, "translate_crop: output size must be positive, got ", out_h, "x", out_w);
  // Per axis: where image index 0 lands in the output (may be negative) — pad_before - crop_start.
  auto origin = [](int64_t size, int64_t out, int64_t shift) {
    const int64_t pad = std::max<int64_t>(0, out - size) / 2 + 4;
    const int64_t before = pad + std::max<int64_t>(shift, 0), after = pad + std::max<int64_t>(-shift, 0);
    const int64_t padded = size + before + after;  // >= out always (the pad covers out - size)
    const int64_t start = (padded - out) / 2;      // floor: padded >= out
    return before - start;
  };
  const int64_t H = x.size(-2), W = x.size(-1);
  const int64_t oy = origin(H, out_h, shift_h), ox = origin(W, out_w, shift_w);
  Tensor out = zeros(with_hw(x.shape(), out_h, out_w), {.dtype = x.dtype(), .device = x.device()});
  // Output rows [max(oy, 0), min(oy + H, out_h)) come from image rows minus oy.
  const int64_t r0 = std::max<int64_t>(oy, 0), r1 = std::min(oy + H, out_h);
  const int64_t c0 = std::max<int64_t>(ox, 0), c1 = std::min(ox + W, out_w);
  if (r1 > r0 && c1 > c0) {
    Tensor src = x.detach().narrow(-2, r0 - oy, r1 - r0).narrow(-1, c0 - ox, c1 - c0);
    copy_(out.narrow(-2, r0, r1 - r0).narrow(-1, c0, c1 - c0), src);
  }
  return out;
}

std::pair<int64_t, int64_t> RandomTranslateCrop::sample(Generator& gen) const {
  const uint64_t c = gen.reserve(2);
  auto draw = [&](uint64_t counter) {
    const int64_t s = int64_t(shift_mean + shift_std * gen.normal(counter));  // int(): toward zero
    return double(std::llabs(s)) > 2 * shift_std ? int64_t(0) : s;
  };
  return {draw(c), draw(c + 1)};
}

Tensor RandomTranslateCrop::operator()(const Tensor& x, Generator& gen) const {
  auto [sh, sw] = sample(gen);
  return translate_crop(x, out_h, out_w, sh, sw);
}

}  // namespace cxr::data
