// conv.cpp — fast conv2d forward and both backward passes. Two mechanisms, chosen per shape:
//
// 1. GEMMs over the im2col matrix (every shape):
//      X(k, j) = x[n, c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]   (0 in the padding),
//      k = (c, kh, kw) in [0, C*KH*KW), j = (n, oh, ow): column j of image n = j / P, P = HO*WO.
//    forward:          out[n] (O x P) = Wm (O x CKK) · X[n] (CKK x P), Wm = the weight as a matrix;
//                      X is never materialized: the GEMM's B packer reads the image ("implicit
//                      im2col"), one L2-sized block at a time.
//    backward input:   stride 1: the forward conv of g with the flipped, transposed weight
//                      (gx = conv(g, w'[c, o, KH-1-kh, KW-1-kw], padding d(K-1) - p)); other strides:
//                      col = Wm^T · g[n] one column block at a time, scattered back (col2im).
//    backward weight:  gw (O x CKK) = sum over pixel groups of g_group (O x K_g) · X_group^T.
//    Small images (P < 256, layer5/6) put every image's pixels in the columns of one GEMM.
//
// 2. Small-channel kernels (microkernel.h) for 3-wide kernel rows, stride 1 or 2, >= 1024 output
//    pixels and at most 32 (forward) or 16 (backward weight) channels — the ResNets' early layers
//    (1 -> 8 and 8 -> 8 channels at 256x256 and 128x128). There a packed element of X would feed
//    only O = 8..16 FMAs, so packing, not arithmetic, set the pace of mechanism 1 (a third of a
//    training step before these kernels). Instead each image is copied once, zero-padded, with its
//    rows split into even and odd columns for stride 2, and
//      forward (and stride-1 backward input, through the flipped weight): the direct kernel keeps
//      8 output channels x 32 pixels in registers over all C*KH*3 taps (77-96% of peak at 8..32
//      channels, against 42-74% for mechanism 1);
//      backward weight: the row-dot kernel reduces along pixels in vector lanes, g rows against
//      shifted input rows, with no transpose (2-3x mechanism 1 at 1..16 channels).
//    The channel limits are where each measured faster than mechanism 1 (bench_conv); the
//    per-layer figures are in docs/PERFORMANCE.md.
//
// Threads and determinism: images (or pixel groups) are spread over threads when there are
// enough of them, otherwise each GEMM uses the threads; each output element is computed by one
// kernel call in a fixed order. Backward weight sums per-group partial products in group order,
// and the groups (4096 pixels or whole images for mechanism 1, images for the row-dot) depend only
// on the shape, never on the thread count. Shapes and math: ops/conv.cpp.
#include <algorithm>
#include <cstring>
#include <vector>

#include "tensor/cpu/gemm.h"
#include "tensor/cpu/kernels.h"
#include "tensor/cpu/vec.h"

namespace cxr::cpu {
namespace {

struct ConvGeom {
  int64_t N, C, H, W;  // input
  int64_t O, KH, KW;   // weight
  int64_t HO, WO;      // output
  int64_t sh, sw, ph, pw, dh, dw;
  int64_t P() const { return HO * WO; }
  int64_t CKK() const { return C * KH * KW; }
};

ConvGeom geometry(const Tensor& x, const Tensor& w, int64_t HO, int64_t WO, const Conv2dParams& p) {
  return {x.size(0), x.size(1),  x.size(2),  x.size(3),   w.size(0),   w.size(2),    w.size(3),   HO,
          WO,        p.stride.h, p.stride.w, p.padding.h, p.padding.w, p.dilation.h, p.dilation.w};
}

// An NCHW image batch read (or written, for col2im) through its strides.
template <typename Ptr>
struct Image4 {
  Ptr p;
  int64_t sn, sc, sh, sw;
};
template <typename T>
Image4<T*> image_of(const Tensor& t) {
  return {t.data<std::remove_const_t<T>>(), t.stride(0), t.stride(1), t.stride(2), t.stride(3)};
}

// An output position (n, oh, ow), i.e. an im2col column j = (n * HO + oh) * WO + ow, that can be
// advanced without divisions.
struct Column {
  int64_t n, oh, ow;
  Column(const ConvGeom& g, int64_t j) : n(j / g.P()), oh(j % g.P() / g.WO), ow(j % g.WO) {}
  void advance(const ConvGeom& g, int64_t by) {  // by <= what is left of the image
    ow += by;
    while (ow >= g.WO) {
      ow -= g.WO;
      if (++oh == g.HO) oh = 0, ++n;
    }
  }
};

// Row k of the im2col matrix over columns [j0, j1), as runs: emit(j, src, stride, count) says that
// columns j .. j+count-1 hold src[i * stride] (src == nullptr: zeros, the padding). A run never
// crosses an output row. Works for reading x (Ptr = const T*) and for col2im into gx (Ptr = T*).
template <typename Ptr, typename Emit>
void im2col_runs(const Image4<Ptr>& x, const ConvGeom& g, int64_t k, int64_t j0, int64_t j1, Emit&& emit) {
  const int64_t kk = g.KH * g.KW, c = k / kk, kh = (k % kk) / g.KW, kw = k % g.KW;
  // Output columns ow whose input column iw = ow*sw - pw + kw*dw lies in [0, W): [ow_first, ow_end).
  const int64_t shift = kw * g.dw - g.pw;  // iw = ow*sw + shift
  const int64_t ow_first = shift >= 0 ? 0 : (-shift + g.sw - 1) / g.sw;
  const int64_t last = g.W - 1 - shift;  // ow*sw <= last
  const int64_t ow_end = last < 0 ? ow_first : std::max<int64_t>(ow_first, std::min<int64_t>(g.WO, last / g.sw + 1));
  Column col(g, j0);
  for (int64_t j = j0; j < j1;) {
    const int64_t ow = col.ow, end_ow = std::min<int64_t>(g.WO, ow + (j1 - j));
    const int64_t ih = col.oh * g.sh - g.ph + kh * g.dh;
    if (ih < 0 || ih >= g.H) {
      emit(j, Ptr(nullptr), 0, end_ow - ow);
    } else {
      const int64_t lo = std::clamp(ow_first, ow, end_ow), hi = std::clamp(ow_end, lo, end_ow);
      if (lo > ow) emit(j, Ptr(nullptr), 0, lo - ow);
      if (hi > lo)
        emit(j + (lo - ow), x.p + col.n * x.sn + c * x.sc + ih * x.sh + (lo * g.sw + shift) * x.sw, g.sw * x.sw,
             hi - lo);
      if (end_ow > hi) emit(j + (hi - ow), Ptr(nullptr), 0, end_ow - hi);
    }
    j += end_ow - ow;
    col.advance(g, end_ow - ow);
  }
}

// d[i] = s[i * stride] (s == nullptr: zeros). Strided runs of some length (the stride-2 layers)
// go to the vectorized gather of vec.h.
template <typename T>
inline void copy_run(T* d, const T* s, int64_t stride, int64_t count, const VecOps<T>& ops) {
  if (s == nullptr) {
    for (int64_t i = 0; i < count; ++i) d[i] = T(0);
  } else if (stride == 1) {
    for (int64_t i = 0; i < count; ++i) d[i] = s[i];
  } else if (count >= 8) {
    ops.gather(s, stride, d, count);
  } else {
    for (int64_t i = 0; i < count; ++i) d[i] = s[i * stride];
  }
}

// One panel row of nr values (nr a micro-kernel width: 8, 16, 32 or 64 bytes... values): a
// fixed-size copy the compiler turns into a few wide moves.
template <typename T>
inline void copy_panel_row(T* d, const T* s, int nr) {
  switch (nr) {
    case 32:
      std::memcpy(d, s, 32 * sizeof(T));
      break;
    case 16:
      std::memcpy(d, s, 16 * sizeof(T));
      break;
    case 8:
      std::memcpy(d, s, 8 * sizeof(T));
      break;
    default:
      std::memcpy(d, s, size_t(nr) * sizeof(T));
  }
}

// The k-dependent part of an im2col element's address and position, for rows [k0, k0 + kc).
struct TapTable {
  static constexpr int64_t kMax = 256;       // >= GemmBlocking<T>::kc
  int64_t offset[kMax], dh[kMax], dw[kMax];  // c*sc + kh*dh*sh + kw*dw*sw;  kh*dh;  kw*dw
  template <typename Ptr>
  TapTable(const Image4<Ptr>& x, const ConvGeom& g, int64_t k0, int64_t kc) {
    for (int64_t k = 0; k < kc; ++k) {
      const int64_t kk = g.KH * g.KW, c = (k0 + k) / kk, kh = ((k0 + k) % kk) / g.KW, kw = (k0 + k) % g.KW;
      dh[k] = kh * g.dh;
      dw[k] = kw * g.dw;
      offset[k] = c * x.sc + dh[k] * x.sh + dw[k] * x.sw;
    }
  }
};
static_assert(TapTable::kMax >= GemmBlocking<float>::kc && TapTable::kMax >= GemmBlocking<double>::kc);

// The GEMM's B packer for X (forward): panels of nr columns (gemm.h's PackB contract) read from
// the image. A panel whose columns lie in one output row of a stride-1 conv is, for each k, nr
// consecutive input values: one fixed-size copy when the window is inside the image. Other panels
// (row ends, borders, strides) go element by element with the bounds checked.
template <typename T>
struct PackIm2col {
  Image4<const T*> x;
  const ConvGeom* g;
  void operator()(int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, T* dst) const {
    const ConvGeom& G = *g;
    const VecOps<T>& ops = vec_kernels().get<T>();
    const TapTable taps(x, G, k0, kc);
    Column col(G, j0);
    for (int64_t q = 0; q < nc; q += nr, dst += nr * kc) {
      const int64_t cols = std::min<int64_t>(nr, nc - q);
      const int64_t ih0 = col.oh * G.sh - G.ph;
      if (col.ow + cols <= G.WO) {  // one output row: per k, input columns iw + l*sw
        const int64_t iw0 = col.ow * G.sw - G.pw, step = G.sw * x.sw;
        const T* base = x.p + col.n * x.sn + ih0 * x.sh + iw0 * x.sw;
        for (int64_t k = 0; k < kc; ++k) {
          T* d = dst + k * nr;
          const int64_t ih = ih0 + taps.dh[k], iw = iw0 + taps.dw[k];
          const T* s = base + taps.offset[k];
          if (ih < 0 || ih >= G.H) {
            std::fill(d, d + nr, T(0));
          } else if (step == 1 && iw >= 0 && iw + cols <= G.W && cols == nr) {
            copy_panel_row(d, s, nr);
          } else {  // lanes [lo, hi) are inside the image
            const int64_t lo = std::min<int64_t>(cols, iw >= 0 ? 0 : (-iw + G.sw - 1) / G.sw);
            const int64_t hi = G.W - 1 - iw < 0 ? lo : std::clamp<int64_t>((G.W - 1 - iw) / G.sw + 1, lo, cols);
            std::fill(d, d + lo, T(0));
            copy_run(d + lo, s + lo * step, step, hi - lo, ops);
            std::fill(d + hi, d + nr, T(0));
          }
        }
      } else {
        int64_t lane_ih[64], lane_iw[64], lane_base[64];  // nr <= 64
        Column c = col;
        for (int64_t l = 0; l < cols; ++l) {
          lane_ih[l] = c.oh * G.sh - G.ph;
          lane_iw[l] = c.ow * G.sw - G.pw;
          lane_base[l] = c.n * x.sn + lane_ih[l] * x.sh + lane_iw[l] * x.sw;
          c.advance(G, 1);
        }
        for (int64_t k = 0; k < kc; ++k) {
          T* d = dst + k * nr;
          for (int64_t l = 0; l < cols; ++l) {
            const int64_t ih = lane_ih[l] + taps.dh[k], iw = lane_iw[l] + taps.dw[k];
            d[l] = ih >= 0 && ih < G.H && iw >= 0 && iw < G.W ? x.p[lane_base[l] + taps.offset[k]] : T(0);
          }
          std::fill(d + cols, d + nr, T(0));
        }
      }
      if (q + cols < nc) col.advance(G, cols);
    }
  }
};

// The GEMM's B packer for X^T (backward weight): B(k, j) = X(j, k), k a pixel (column of X), j a
// row (c, kh, kw) of X. Per panel, its nr rows of X are copied out as contiguous runs into a
// scratch tile (nr x kc, in L1/L2), which the SSE transpose of gemm.h then turns into the panel.
template <typename T>
struct PackIm2colT {
  Image4<const T*> x;
  const ConvGeom* g;
  int64_t pixel0;  // column of X that the GEMM's k = 0 is
  void operator()(int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, T* dst) const {
    T* tile = static_cast<T*>(scratch_buffer(kScratchConv1, sizeof(T) * size_t(nr) * size_t(kc)));
    const VecOps<T>& ops = vec_kernels().get<T>();
    const int64_t p0 = pixel0 + k0;
    for (int64_t q = 0; q < nc; q += nr, dst += nr * kc) {
      const int64_t cols = std::min<int64_t>(nr, nc - q);
      for (int64_t l = 0; l < cols; ++l)
        im2col_runs(x, *g, j0 + q + l, p0, p0 + kc, [&](int64_t j, const T* s, int64_t stride, int64_t count) {
          copy_run(tile + l * kc + (j - p0), s, stride, count, ops);
        });
      pack_transposed(tile, kc, cols, kc, nr, dst);
    }
  }
};

// The GEMM's A packer for g as an O x (N*P) matrix (backward weight): row o, column = pixel
// (n, p); each (n, o) plane contiguous with stride sc between channels and sn between images.
template <typename T>
struct PackImageRowsA {
  const T* g;
  int64_t sn, sc, P;
  int64_t pixel0;
  void operator()(int64_t i0, int64_t mc, int64_t k0, int64_t kc, int mr, T* dst) const {
    for (int64_t p = 0; p < mc; p += mr, dst += mr * kc) {
      const int64_t rows = std::min<int64_t>(mr, mc - p);
      for (int64_t k = 0; k < kc;) {  // one image at a time
        const int64_t pix = pixel0 + k0 + k, n = pix / P, run = std::min(kc - k, (n + 1) * P - pix);
        pack_transposed(g + n * sn + (i0 + p) * sc + pix % P, sc, rows, run, mr, dst + k * mr);
        k += run;
      }
    }
  }
};

// gx += col2im(col) for columns [j0, j1) (col: CKK x (j1 - j0)).
template <typename T>
void col2im_add(const Image4<T*>& gx, const ConvGeom& g, int64_t j0, int64_t j1, const T* col) {
  const int64_t ncols = j1 - j0;
  for (int64_t k = 0; k < g.CKK(); ++k)
    im2col_runs(gx, g, k, j0, j1, [&](int64_t j, T* d, int64_t stride, int64_t count) {
      if (d == nullptr) return;  // padding: nothing to scatter
      const T* s = col + k * ncols + (j - j0);
      for (int64_t i = 0; i < count; ++i) d[i * stride] += s[i];
    });
}

// The weight as a contiguous O x CKK matrix (row o = w[o] flattened), in a scratch slot.
template <typename T>
const T* weight_matrix(const Tensor& w, int slot) {
  const int64_t O = w.size(0), C = w.size(1), KH = w.size(2), KW = w.size(3);
  if (w.is_contiguous()) return w.data<T>();
  T* m = static_cast<T*>(scratch_buffer(slot, sizeof(T) * O * C * KH * KW));
  const Image4<const T*> wi = image_of<const T>(w);
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t kh = 0; kh < KH; ++kh)
        for (int64_t kw = 0; kw < KW; ++kw) *m++ = wi.p[o * wi.sn + c * wi.sc + kh * wi.sh + kw * wi.sw];
  return m - O * C * KH * KW;
}

// out (N, O, HO, WO) contiguous = conv(x, Wm) (+ bias): the forward of this file's header.
// The layout the small-conv kernels of microkernel.h read: image n of x zero-padded, each padded
// row stored as its s phases (the columns = 0, 1, .. mod s) one after the other, `half` values each
// (plus slack). Tap t of output pixel ow is then at phase t % s, index ow + t / s: consecutive
// along ow for every tap, for stride 1 (one phase: the padded row itself) and stride 2 alike.
struct SplitRows {
  int64_t s, Hp, half, row;  // stride, padded height, phase length, row length (s * half)
  int64_t taps[3];           // where each tap's pixels start in a row
  SplitRows(const ConvGeom& g, int64_t slack)
      : s(g.sw), Hp(g.H + 2 * g.ph), half((g.W + 2 * g.pw + g.sw - 1) / g.sw + slack), row(g.sw * half) {
    for (int64_t t = 0; t < 3; ++t) taps[t] = (t % s) * half + t / s;
  }
};

template <typename T>
void split_padded_image(const Image4<const T*>& x, int64_t n, const ConvGeom& g, const SplitRows& L, T* xp) {
  const VecOps<T>& ops = vec_kernels().get<T>();
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t ih = 0; ih < L.Hp; ++ih) {
      T* row = xp + (c * L.Hp + ih) * L.row;
      std::fill(row, row + L.row, T(0));
      const int64_t src_h = ih - g.ph;
      if (src_h < 0 || src_h >= g.H) continue;
      const T* src = x.p + n * x.sn + c * x.sc + src_h * x.sh;
      // Phase f holds the input columns iw with (iw + pw) % s == f, at index (iw + pw) / s.
      for (int64_t f = 0; f < L.s; ++f) {
        const int64_t iw0 = ((f - g.pw) % L.s + L.s) % L.s;  // first such column
        if (iw0 >= g.W) continue;
        const int64_t count = (g.W - iw0 + L.s - 1) / L.s;
        T* dst = row + f * L.half + (iw0 + g.pw) / L.s;
        if (L.s * x.sw == 1)
          std::copy(src + iw0, src + iw0 + count, dst);
        else
          ops.gather(src + iw0 * x.sw, L.s * x.sw, dst, count);
      }
    }
}

// Whether the small-conv kernels (direct forward, row-dot backward weight) take a convolution: few
// channels, a multiple of the kernel's output-channel block, 3-wide kernel rows, stride 1 or 2 (the
// same both ways), no dilation, large images.
bool small_conv(const ConvGeom& g, int ob, int64_t max_channels);

// Below this many output pixels per image, every image's pixels become columns of one GEMM.
constexpr int64_t kMinPixelsPerImageGemm = 256;
// From this many output pixels per image, a stride-1 conv with few channels and 3-wide kernel rows
// runs the direct kernel (forward) or the row-dot kernel (backward weight) of microkernel.h.
constexpr int64_t kSmallConvMinPixels = 1024;
// Up to how many channels (in and out) each small-conv kernel beats the packed GEMM (measured with
// bench_conv: the direct forward is ahead up to 32 channels, the row-dot backward weight up to 16).
constexpr int64_t kDirectMaxChannels = 32, kRowDotMaxChannels = 16;
bool small_conv(const ConvGeom& g, int ob, int64_t max_channels) {
  return g.sh == g.sw && (g.sw == 1 || g.sw == 2) && g.dh == 1 && g.dw == 1 && g.KW == 3 && g.O % ob == 0 &&
         g.O <= max_channels && g.C <= max_channels && g.P() >= kSmallConvMinPixels;
}

// Forward by the direct kernel (microkernel.h): for few channels the packed GEMM spends most of its
// time packing X (each packed value feeds only O FMAs); the direct kernel reads a zero-padded copy of
// the image as it lies and keeps OB x 32 outputs in registers over all C * KH * 3 taps.
template <typename T>
bool conv_forward_direct(const Image4<const T*>& x, const ConvGeom& g, const T* wm, const T* bias, int64_t bias_stride,
                         T* out) {
  const MicroKernelSet mk = micro_kernels(cpu_isa());
  const DirectKernel<T> dk = [&] {
    if constexpr (sizeof(T) == 4)
      return mk.direct_f32;
    else
      return mk.direct_f64;
  }();
  const int64_t O = g.O, P = g.P(), CKK = g.CKK(), C = g.C, KH = g.KH;
  if (!small_conv(g, dk.ob, kDirectMaxChannels)) return false;
  // Weights per block of ob output channels, in the kernel's order: [c][kh][t][o].
  std::vector<T> wk(size_t(O * CKK));
  for (int64_t o = 0; o < O; ++o)
    for (int64_t k = 0; k < CKK; ++k) wk[size_t((o / dk.ob) * CKK * dk.ob + k * dk.ob + o % dk.ob)] = wm[o * CKK + k];
  const SplitRows L(g, dk.pixels + 1);  // slack: the last run's whole vectors
  auto image = [&](int64_t n) {
    T* xp = static_cast<T*>(scratch_buffer(kScratchConv1, sizeof(T) * C * L.Hp * L.row));
    split_padded_image(x, n, g, L, xp);
    T* on = out + n * O * P;
    for (int64_t oh = 0; oh < g.HO; ++oh)
      for (int64_t ow = 0; ow < g.WO; ow += dk.pixels)
        for (int64_t o0 = 0; o0 < O; o0 += dk.ob)
          dk.fn(C, KH, xp + oh * L.s * L.row + ow, L.Hp * L.row, L.row, L.taps, wk.data() + o0 * CKK,
                on + o0 * P + oh * g.WO + ow, P, std::min<int64_t>(dk.pixels, g.WO - ow));
    if (bias)
      for (int64_t o = 0; o < O; ++o)
        for (int64_t p = 0; p < P; ++p) on[o * P + p] += bias[o * bias_stride];
  };
  parallel_for(g.N, 1, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) image(n);
  });
  return true;
}

template <typename T>
void conv_forward(const Image4<const T*>& x, const ConvGeom& g, const T* wm, const T* bias, int64_t bias_stride,
                  T* out) {
  if (conv_forward_direct(x, g, wm, bias, bias_stride, out)) return;
  const int64_t O = g.O, P = g.P(), CKK = g.CKK();
  const PackStridedA<T> pack_w{{wm, CKK, 1}};
  auto fill_bias = [&](T* c, int64_t ldc, int64_t cols) {
    for (int64_t o = 0; o < O; ++o) std::fill(c + o * ldc, c + o * ldc + cols, bias[o * bias_stride]);
  };
  if (P >= kMinPixelsPerImageGemm) {
    auto image = [&](int64_t n) {
      T* c = out + n * O * P;
      if (bias) fill_bias(c, P, P);
      const Image4<const T*> xn{x.p + n * x.sn, x.sn, x.sc, x.sh, x.sw};
      gemm_packed<T>(O, P, CKK, pack_w, PackIm2col<T>{xn, &g}, c, P, bias != nullptr);
    };
    if (g.N >= num_threads() && num_threads() > 1) {
      parallel_for(g.N, 1, [&](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n) image(n);
      });
    } else {
      for (int64_t n = 0; n < g.N; ++n) image(n);
    }
    return;
  }
  // Small images: one GEMM over all N*P columns into O x NP, then each image's block moved out.
  const int64_t NP = g.N * P;
  T* tmp = static_cast<T*>(scratch_buffer(kScratchConv1, sizeof(T) * O * NP));
  if (bias) fill_bias(tmp, NP, NP);
  gemm_packed<T>(O, NP, CKK, pack_w, PackIm2col<T>{x, &g}, tmp, NP, bias != nullptr);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t o = 0; o < O; ++o) std::memcpy(out + (n * O + o) * P, tmp + o * NP + n * P, sizeof(T) * P);
}

bool supported(const Tensor& t) { return t.dtype() == DType::Float32 || t.dtype() == DType::Float64; }

}  // namespace

void conv2d_fast(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out, const Conv2dParams& p) {
  if (!supported(x) || !out.is_contiguous()) return conv2d_kernel.cpu_reference()(x, w, bias, out, p);
  visit_floating(x.dtype(), "conv2d", [&]<typename T>() {
    const ConvGeom g = geometry(x, w, out.size(2), out.size(3), p);
    const T* wm = weight_matrix<T>(w, kScratchConv0);
    conv_forward<T>(image_of<const T>(x), g, wm, bias.defined() ? bias.data<T>() : nullptr,
                    bias.defined() ? bias.stride(0) : 0, out.data<T>());
  });
}

void conv2d_backward_input_fast(const Tensor& g_t, const Tensor& w, const Tensor& gx, const Conv2dParams& p) {
  if (!supported(g_t) || !gx.is_contiguous()) return conv2d_backward_input_kernel.cpu_reference()(g_t, w, gx, p);
  visit_floating(g_t.dtype(), "conv2d_backward_input", [&]<typename T>() {
    const ConvGeom g = geometry(gx, w, g_t.size(2), g_t.size(3), p);
    const int64_t C = g.C, O = g.O, KH = g.KH, KW = g.KW;
    const int64_t flip_ph = g.dh * (KH - 1) - g.ph, flip_pw = g.dw * (KW - 1) - g.pw;
    if (g.sh == 1 && g.sw == 1 && flip_ph >= 0 && flip_pw >= 0) {
      // gx = conv(g, w') with w'[c, o, kh, kw] = w[o, c, KH-1-kh, KW-1-kw], stride 1, same dilation.
      T* wf = static_cast<T*>(scratch_buffer(kScratchConv0, sizeof(T) * C * O * KH * KW));
      const Image4<const T*> wi = image_of<const T>(w);
      for (int64_t o = 0; o < O; ++o)
        for (int64_t c = 0; c < C; ++c)
          for (int64_t kh = 0; kh < KH; ++kh)
            for (int64_t kw = 0; kw < KW; ++kw)
              wf[((c * O + o) * KH + kh) * KW + kw] =
                  wi.p[o * wi.sn + c * wi.sc + (KH - 1 - kh) * wi.sh + (KW - 1 - kw) * wi.sw];
      const ConvGeom flipped{g.N, O, g.HO, g.WO, C, KH, KW, g.H, g.W, 1, 1, flip_ph, flip_pw, g.dh, g.dw};
      conv_forward<T>(image_of<const T>(g_t), flipped, wf, nullptr, 0, gx.data<T>());
      return;
    }
    // Strided: col (CKK x cols) = Wm^T (CKK x O) · g[n] (O x cols), one column block at a time,
    // scattered into gx[n] in block order.
    Tensor gc = contiguous_values(g_t);
    const T* wm = weight_matrix<T>(w, kScratchConv0);
    const int64_t P = g.P(), CKK = g.CKK();
    const int64_t block = std::max<int64_t>(64, (256 * 1024 / int64_t(sizeof(T))) / std::max<int64_t>(CKK, 1));
    T* gxp = gx.data<T>();
    std::fill(gxp, gxp + gx.numel(), T(0));
    const Image4<T*> gx_img{gxp, C * g.H * g.W, g.H * g.W, g.W, 1};
    auto image = [&](int64_t n) {
      T* col = static_cast<T*>(scratch_buffer(kScratchConv1, sizeof(T) * CKK * std::min(block, P)));
      for (int64_t j0 = 0; j0 < P; j0 += block) {
        const int64_t j1 = std::min(P, j0 + block);
        gemm(CKK, j1 - j0, O, StridedMatrix<T>{wm, 1, CKK}, StridedMatrix<T>{gc.data<T>() + n * O * P + j0, P, 1}, col,
             j1 - j0, false);
        col2im_add(gx_img, g, n * P + j0, n * P + j1, col);
      }
    };
    if (g.N >= num_threads() && num_threads() > 1) {
      parallel_for(g.N, 1, [&](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n) image(n);
      });
    } else {
      for (int64_t n = 0; n < g.N; ++n) image(n);
    }
  });
}

void conv2d_backward_weight_fast(const Tensor& g_t, const Tensor& x, const Tensor& gw, const Conv2dParams& p) {
  if (!supported(g_t) || !gw.is_contiguous()) return conv2d_backward_weight_kernel.cpu_reference()(g_t, x, gw, p);
  visit_floating(g_t.dtype(), "conv2d_backward_weight", [&]<typename T>() {
    const ConvGeom g = geometry(x, gw, g_t.size(2), g_t.size(3), p);
    const int64_t O = g.O, P = g.P(), CKK = g.CKK(), N = g.N;
    Tensor gc = contiguous_values(g_t);
    const T* gp = gc.data<T>();
    const Image4<const T*> xi = image_of<const T>(x);
    T* out = gw.data<T>();
    // Few channels, stride 1, 3-wide kernel rows, large images: the row-dot kernel of
    // microkernel.h on a zero-padded copy of each image. Here the packed GEMM below would spend most
    // of its time transposing X (its pixels are the reduction dim) for 8 to 32 FMAs per element;
    // the row-dot reads g and the input rows as they lie. Images are the groups, summed in order.
    const MicroKernelSet mk = micro_kernels(cpu_isa());
    const RowDotKernel<T> rd = [&] {
      if constexpr (sizeof(T) == 4)
        return mk.row_dot_f32;
      else
        return mk.row_dot_f64;
    }();
    if (small_conv(g, rd.ob, kRowDotMaxChannels)) {
      const SplitRows L(g, 0);
      const int64_t C = g.C, KH = g.KH;
      auto image = [&](int64_t n, T* partial) {
        std::fill(partial, partial + O * CKK, T(0));
        T* xp = static_cast<T*>(scratch_buffer(kScratchConv1, sizeof(T) * C * L.Hp * L.row));
        split_padded_image(xi, n, g, L, xp);
        for (int64_t o0 = 0; o0 < O; o0 += rd.ob)
          for (int64_t c = 0; c < C; ++c)
            for (int64_t kh = 0; kh < KH; ++kh)
              rd.fn(g.HO, g.WO, gp + (n * O + o0) * P, P, g.WO, xp + (c * L.Hp + kh) * L.row, L.s * L.row, L.taps,
                    partial + o0 * CKK + (c * KH + kh) * 3, CKK);
      };
      if (N == 1) {
        image(0, out);
        return;
      }
      std::vector<T> partials(size_t(N * O * CKK));
      parallel_for(N, 1, [&](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n) image(n, partials.data() + n * O * CKK);
      });
      std::memcpy(out, partials.data(), sizeof(T) * O * CKK);
      for (int64_t n = 1; n < N; ++n) {
        const T* src = partials.data() + n * O * CKK;
        for (int64_t e = 0; e < O * CKK; ++e) out[e] += src[e];
      }
      return;
    }
    // Pixel groups: chunks of kGroup pixels of one image, or runs of whole images when P is
    // smaller. Group i covers columns [start(i), start(i+1)) of the N*P columns.
    constexpr int64_t kGroup = 4096;
    const int64_t per_image = (P + kGroup - 1) / kGroup;  // chunks per image (P >= kGroup)
    const int64_t images_per_group = P >= kGroup ? 1 : std::max<int64_t>(1, kGroup / P);
    const int64_t groups = P >= kGroup ? N * per_image : (N + images_per_group - 1) / images_per_group;
    auto group_range = [&](int64_t i) -> std::pair<int64_t, int64_t> {
      if (P >= kGroup) {
        const int64_t n = i / per_image, c = i % per_image;
        return {n * P + c * kGroup, n * P + std::min(P, (c + 1) * kGroup)};
      }
      return {i * images_per_group * P, std::min(N, (i + 1) * images_per_group) * P};
    };
    // partial (O x CKK) = g_group (O x K_g) · X_group^T (K_g x CKK), both packed from the tensors.
    auto group_product = [&](int64_t i, T* partial) {
      const auto [j0, j1] = group_range(i);
      gemm_packed<T>(O, CKK, j1 - j0, PackImageRowsA<T>{gp, O * P, P, P, j0}, PackIm2colT<T>{xi, &g, j0}, partial, CKK,
                     false);
    };
    if (groups == 1) {
      group_product(0, out);
      return;
    }
    std::vector<T> partials(size_t(groups * O * CKK));
    parallel_for(groups, 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) group_product(i, partials.data() + i * O * CKK);
    });
    // Sum in group order: the same result for any thread count.
    std::memcpy(out, partials.data(), sizeof(T) * O * CKK);
    for (int64_t i = 1; i < groups; ++i) {
      const T* src = partials.data() + i * O * CKK;
      for (int64_t e = 0; e < O * CKK; ++e) out[e] += src[e];
    }
  });
}

}  // namespace cxr::cpu
