// conv.cu — conv2d, its two backward passes and conv_transpose2d on CUDA tensors (NCHW, float32 and
// float64). Float32 runs the version of the convolution ladder that conv2d_version picks per pass
// and shape (cuda/kernels/conv2d/, docs/KERNELS.md); float64, and the shapes the ladder's other
// versions cannot take, run the implicit GEMMs below on the core of gemm.cuh (the ladder's v3): the
// loaders map each GEMM element to the input, weight or gradient element it stands for (im2col
// without the buffer; the padding loads as 0), so nothing is unfolded in memory. Inputs are read
// through their strides; outputs are the fresh contiguous tensors of the contracts
// (tensor/kernels/conv.h). The math and the index algebra are those of ops/conv.cpp (its comments
// derive them); with ih = oh*sh - ph + kh*dh:
//   forward      out (C_out x N*HO*WO) = W (C_out x C_in*kH*kW) . im2col(x) (C_in*kH*kW x N*HO*WO), + bias
//   grad input   gx (C_in x N*H*W)     = W' (C_in x C_out*kH*kW) . G (C_out*kH*kW x N*H*W), where
//                G[(o,kh,kw), (n,ih,iw)] = g[n, o, (ih + ph - kh*dh)/sh, ...] if exact and in range, else 0
//   grad weight  gw (C_out x C_in*kH*kW) = g (C_out x N*HO*WO) . im2col(x)^T, a deterministic split-K
//   conv_transpose2d(x, w) = the grad-input GEMM with x as the gradient, w as the weight, + bias
// Float32 sums accumulate in float32 (the CPU reference: double), see tests/test_cuda_conv.cpp.
#include <algorithm>

#include "cuda/gemm.cuh"
#include "cuda/kernels/conv2d/conv2d.h"
#include "cuda/indexing.cuh"
#include "cuda/kernels.h"
#include "cuda/nchw.cuh"

namespace cxr::cuda {
namespace {

// The sizes of one convolution: its input (x, or gx) and output (out, or g) per sample, the window.
struct ConvGeometry {
  int64_t C_in, H, W;
  int64_t C_out, HO, WO;
  int64_t KH, KW, sh, sw, ph, pw, dh, dw;
};

ConvGeometry geometry(const Shape& input, const Shape& output, const Shape& weight, const Conv2dParams& p) {
  return {input[1],   input[2],   input[3],    output[1],   output[2],    output[3],   weight[2],
          weight[3],  p.stride.h, p.stride.w, p.padding.h, p.padding.w, p.dilation.h, p.dilation.w};
}

// x[n, c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]: the input under tap (kh, kw) of output (oh, ow);
// 0 in the padding.
template <typename T>
__device__ T input_tap(const Strided4<T>& x, const ConvGeometry& g, int64_t n, int64_t c, int64_t oh, int64_t ow,
                       int64_t kh, int64_t kw) {
  const int64_t ih = oh * g.sh - g.ph + kh * g.dh, iw = ow * g.sw - g.pw + kw * g.dw;
  return ih >= 0 && ih < g.H && iw >= 0 && iw < g.W ? x(n, c, ih, iw) : T(0);
}

// ---- forward: A = W (o, k = (c, kh, kw)), B = im2col(x) (k, col = (n, oh, ow)) ----
template <typename T>
struct WeightByOutput {
  Strided4<T> w;
  int64_t KH, KW;
  __device__ T operator()(int64_t o, int64_t k) const {
    const int64_t kw = k % KW, t = k / KW;
    return w(o, t / KH, t % KH, kw);
  }
};
template <typename T>
struct Im2col {
  Strided4<T> x;
  ConvGeometry g;
  __device__ T operator()(int64_t k, int64_t col) const {
    const int64_t kw = k % g.KW, kh = k / g.KW % g.KH, c = k / (g.KW * g.KH);
    const int64_t ow = col % g.WO, oh = col / g.WO % g.HO, n = col / (g.WO * g.HO);
    return input_tap(x, g, n, c, oh, ow, kh, kw);
  }
};

// ---- grad input: A = W' (c, k = (o, kh, kw)), B = G (k, col = (n, ih, iw)) ----
template <typename T>
struct WeightByInput {
  Strided4<T> w;
  int64_t KH, KW;
  __device__ T operator()(int64_t c, int64_t k) const {
    const int64_t kw = k % KW, t = k / KW;
    return w(t / KH, c, t % KH, kw);
  }
};
// g[n, o, oh, ow] for the output whose tap (kh, kw) lands on (ih, iw): ih + ph - kh*dh = oh*sh.
template <typename T>
struct GradGather {
  Strided4<T> g;
  ConvGeometry s;
  __device__ T operator()(int64_t k, int64_t col) const {
    const int64_t kw = k % s.KW, kh = k / s.KW % s.KH, o = k / (s.KW * s.KH);
    const int64_t iw = col % s.W, ih = col / s.W % s.H, n = col / (s.W * s.H);
    const int64_t th = ih + s.ph - kh * s.dh, tw = iw + s.pw - kw * s.dw;
    if (th < 0 || tw < 0 || th % s.sh != 0 || tw % s.sw != 0) return T(0);
    const int64_t oh = th / s.sh, ow = tw / s.sw;
    return oh < s.HO && ow < s.WO ? g(n, o, oh, ow) : T(0);
  }
};

// ---- grad weight: A = g (o, k = (n, oh, ow)), B = im2col(x)^T (k, col = (c, kh, kw)) ----
template <typename T>
struct GradByOutput {
  Strided4<T> g;
  int64_t HO, WO;
  __device__ T operator()(int64_t o, int64_t k) const {
    const int64_t ow = k % WO, t = k / WO;
    return g(t / HO, o, t % HO, ow);
  }
};
template <typename T>
struct Im2colTransposed {
  Strided4<T> x;
  ConvGeometry g;
  __device__ T operator()(int64_t k, int64_t col) const {
    const int64_t ow = k % g.WO, oh = k / g.WO % g.HO, n = k / (g.WO * g.HO);
    const int64_t kw = col % g.KW, kh = col / g.KW % g.KH, c = col / (g.KW * g.KH);
    return input_tap(x, g, n, c, oh, ow, kh, kw);
  }
};

// C (channels x N*plane) into a contiguous NCHW tensor, plus bias[channel] when there is a bias.
template <typename T>
struct NchwStore {
  T* out;
  const T* bias;  // null: no bias
  int64_t bias_stride, channels, plane;
  __device__ void operator()(int64_t ch, int64_t col, T value) const {
    const int64_t n = col / plane, pixel = col % plane;
    out[(n * channels + ch) * plane + pixel] = bias ? T(value + bias[ch * bias_stride]) : value;
  }
};
template <typename T>
NchwStore<T> nchw_store(const Tensor& out, const Tensor& bias) {
  return {device_data<T>(out), bias.defined() ? device_data<T>(bias) : nullptr, bias.defined() ? bias.stride(0) : 0,
          out.size(1), out.size(2) * out.size(3)};
}

// gx (or conv_transpose2d's out) from g (or its x) and w, plus bias when defined: the grad-input GEMM.
template <typename T>
void backward_input_gemm(const char* op, const Tensor& g, const Tensor& w, const Tensor& bias, const Tensor& gx,
                         const Conv2dParams& p) {
  check_contiguous_output(op, gx);
  if (gx.numel() == 0) return;
  const ConvGeometry s = geometry(gx.shape(), g.shape(), w.shape(), p);
  const int64_t M = s.C_in, N = gx.size(0) * s.H * s.W, K = s.C_out * s.KH * s.KW;
  const WeightByInput<T> a{strided4<T>(w), s.KH, s.KW};
  const GradGather<T> b{strided4<T>(g), s};
  launch(op, gemm_kernel<T, WeightByInput<T>, GradGather<T>, NchwStore<T>>, gemm_grid<T>(op, M, N, 1), kGemmThreads, M,
         N, K, a, b, nchw_store<T>(gx, bias));
}

// ---- the split-K of grad weight ----
// Its K = N*HO*WO is long (100k for a ResNet layer at batch 32) while M x N = C_out x C_in*kH*kW
// is a few tiles, so K is cut into chunks: GEMM z sums k in [z*chunk, (z+1)*chunk) into partials[z],
// then one thread per element adds the chunks in order z = 0, 1, ... (in acc_t<T>). The split is a
// function of the GEMM's shape only, never of the device, so the bits of the result are the same on
// every GPU and in the emulator:
//   chunks = min(kMaxChunks, ceil(kTargetBlocks / tiles), ceil(K / kMinChunk)), at least 1,
// with the chunk length rounded up to a multiple of BK (whole K steps), then chunks = ceil(K / chunk).
constexpr int64_t kTargetBlocks = 256;  // about two waves of 128 SMs: enough blocks to fill a big GPU
constexpr int64_t kMaxChunks = 32;      // bounds the workspace at 32 M N elements
constexpr int64_t kMinChunk = 1024;     // below this a chunk's partial sums cost more than they save

struct SplitK {
  int64_t chunks, chunk;
};
template <typename T>
SplitK split_k(int64_t M, int64_t N, int64_t K) {
  using Tile = GemmTiling<T>;
  const int64_t tiles = ((M + Tile::BM - 1) / Tile::BM) * ((N + Tile::BN - 1) / Tile::BN);
  int64_t chunks = std::min({kMaxChunks, (kTargetBlocks + tiles - 1) / tiles, (K + kMinChunk - 1) / kMinChunk});
  chunks = std::max<int64_t>(chunks, 1);
  const int64_t chunk = ((K + chunks - 1) / chunks + Tile::BK - 1) / Tile::BK * Tile::BK;
  return {chunk == 0 ? 1 : (K + chunk - 1) / chunk, chunk};
}

// partials[z] (M x N, row-major) = the sum over k in [z*chunk, min(K, (z+1)*chunk)), z < chunks.
template <typename T, typename LoadA, typename LoadB>
__global__ void __launch_bounds__(kGemmThreads) split_k_gemm_kernel(int64_t M, int64_t N, int64_t K, SplitK split,
                                                                    LoadA load_a, LoadB load_b, T* partials) {
  for (int64_t z = blockIdx.z; z < split.chunks; z += gridDim.z) {
    const int64_t k_begin = z * split.chunk, k_end = K < k_begin + split.chunk ? K : k_begin + split.chunk;
    gemm_tile<T>(M, N, k_begin, k_end, load_a, load_b, RowMajorStore<T>{partials + z * M * N, N});
  }
}

// out[i] = sum over z = 0, 1, ..., chunks - 1 of partials[z][i], in that order.
template <typename T>
__global__ void sum_partials_kernel(int64_t n, int64_t chunks, const T* partials, T* out) {
  CXR_GRID_STRIDE_LOOP(i, n) {
    acc_t<T> acc = 0;
    for (int64_t z = 0; z < chunks; ++z) acc += partials[z * n + i];
    out[i] = T(acc);
  }
}

}  // namespace

// conv2d: out = W . im2col(x) + bias. Cost: 2 N HO WO C_out C_in kH kW flops; at least x + w + out
// moved. ResNet-18's 3x3 64 -> 64 conv at 56x56, batch 32: 7.4 GFLOP, >= 110 us on an H100 at
// 67 TFLOP/s (its 51 MB take 15 us): compute-bound. The loaders' index arithmetic and the padding's
// zero taps come on top (not measured here).
void gemm_conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out, const Conv2dParams& p) {
  check_contiguous_output("conv2d", out);
  if (out.numel() == 0) return;
  visit_floating(x.dtype(), "conv2d", [&]<typename T>() {
    const ConvGeometry s = geometry(x.shape(), out.shape(), w.shape(), p);
    const int64_t M = s.C_out, N = out.size(0) * s.HO * s.WO, K = s.C_in * s.KH * s.KW;
    const WeightByOutput<T> a{strided4<T>(w), s.KH, s.KW};
    const Im2col<T> b{strided4<T>(x), s};
    launch("conv2d", gemm_kernel<T, WeightByOutput<T>, Im2col<T>, NchwStore<T>>, gemm_grid<T>("conv2d", M, N, 1),
           kGemmThreads, M, N, K, a, b, nchw_store<T>(out, bias));
  });
}

// conv2d_backward_input: gx = W' . G. Cost: 2 N H W C_in C_out kH kW flops in the GEMM, of which a
// fraction 1 - 1/(sh sw) multiplies the zeros G holds between a strided conv's outputs (the useful
// work is the forward's); at least g + w + gx moved. Floor as the forward's.
void gemm_conv2d_backward_data(const Tensor& grad_out, const Tensor& w, const Tensor& bias, const Tensor& grad_x,
                               const Conv2dParams& p) {
  visit_floating(grad_out.dtype(), "conv2d_backward_input", [&]<typename T>() {
    backward_input_gemm<T>("conv2d_backward_input", grad_out, w, bias, grad_x, p);
  });
}

// conv2d_backward_weight: gw = g . im2col(x)^T, split-K. Cost: 2 C_out C_in kH kW N HO WO flops (the
// forward's); at least g + x + gw moved, plus 2 chunks C_out C_in kH kW for the partial sums (4.7 MB
// for the 64 -> 64 layer above: 32 chunks). Floor as the forward's: >= 110 us for that layer.
void gemm_conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Tensor& grad_w,
                                 const Conv2dParams& p) {
  check_contiguous_output("conv2d_backward_weight", grad_w);
  if (grad_w.numel() == 0) return;
  visit_floating(grad_out.dtype(), "conv2d_backward_weight", [&]<typename T>() {
    const ConvGeometry s = geometry(x.shape(), grad_out.shape(), grad_w.shape(), p);
    const int64_t M = s.C_out, N = s.C_in * s.KH * s.KW, K = x.size(0) * s.HO * s.WO;
    const GradByOutput<T> a{strided4<T>(grad_out), s.HO, s.WO};
    const Im2colTransposed<T> b{strided4<T>(x), s};
    const SplitK split = split_k<T>(M, N, K);
    // One chunk writes grad_w directly; more write partial sums, then add them in order.
    Tensor partials = split.chunks == 1 ? grad_w : empty({split.chunks, M, N}, {grad_w.dtype(), Device::CUDA});
    launch("conv2d_backward_weight", split_k_gemm_kernel<T, GradByOutput<T>, Im2colTransposed<T>>,
           gemm_grid<T>("conv2d_backward_weight", M, N, split.chunks), kGemmThreads, M, N, K, split, a, b,
           device_data<T>(partials));
    if (split.chunks > 1)
      launch("conv2d_backward_weight (sum of the K-chunks)", sum_partials_kernel<T>, blocks_for(M * N), kBlock, M * N,
             split.chunks, device_data<T>(partials), device_data<T>(grad_w));
  });
}

// ---- the backend's kernels (kernels.h): float32 through the ladder, float64 the GEMMs above ----
namespace {
Conv2dShape shape_of(const Tensor& x, const Tensor& w, const Tensor& out) {
  Conv2dShape s;
  s.N = x.size(0), s.C_in = x.size(1), s.H = x.size(2), s.W = x.size(3);
  s.C_out = w.size(0), s.KH = w.size(2), s.KW = w.size(3);
  s.HO = out.size(2), s.WO = out.size(3);
  return s;
}
Conv2dShape with_params(Conv2dShape s, const Conv2dParams& p) {
  s.sh = p.stride.h, s.sw = p.stride.w, s.ph = p.padding.h, s.pw = p.padding.w, s.dh = p.dilation.h,
  s.dw = p.dilation.w;
  return s;
}
}  // namespace

void conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out, const Conv2dParams& p) {
  if (x.dtype() != DType::Float32 || out.numel() == 0) return gemm_conv2d(x, w, bias, out, p);
  const Conv2dShape s = with_params(shape_of(x, w, out), p);
  conv2d_forward_version(conv2d_version(ConvPass::Forward, s), x, w, bias, out, p);
}

void conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Tensor& grad_x, const Conv2dParams& p) {
  if (grad_out.dtype() != DType::Float32 || grad_x.numel() == 0)
    return gemm_conv2d_backward_data(grad_out, w, Tensor(), grad_x, p);
  const Conv2dShape s = with_params(shape_of(grad_x, w, grad_out), p);
  conv2d_backward_data_version(conv2d_version(ConvPass::BackwardData, s), grad_out, w, Tensor(), grad_x, p);
}

void conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Tensor& grad_w, const Conv2dParams& p) {
  if (grad_out.dtype() != DType::Float32 || grad_w.numel() == 0)
    return gemm_conv2d_backward_weight(grad_out, x, grad_w, p);
  const Conv2dShape s = with_params(shape_of(x, grad_w, grad_out), p);
  conv2d_backward_weight_version(conv2d_version(ConvPass::BackwardWeight, s), grad_out, x, grad_w, p);
}

// conv_transpose2d: the backward-data pass with x as the gradient and w (C_in, C_out, kH, kW) as the
// weight of a conv2d from C_out to C_in channels (ops/conv.cpp derives it), + bias. Cost as
// conv2d_backward_input with the roles swapped: 2 N H_out W_out C_out C_in kH kW GEMM flops.
void conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out, const Conv2dParams& p) {
  if (x.dtype() != DType::Float32 || out.numel() == 0) return gemm_conv2d_backward_data(x, w, bias, out, p);
  const Conv2dShape s = with_params(shape_of(out, w, x), p);
  conv2d_backward_data_version(conv2d_version(ConvPass::BackwardData, s), x, w, bias, out, p);
}

}  // namespace cxr::cuda
