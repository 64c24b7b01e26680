// library.cu — the library versions of the GEMM and convolution kernels (CXR_CUDA_KERNELS=library):
// cuBLAS for bmm and cuDNN for conv2d's three passes and conv_transpose2d, in float32, for
// comparison with the hand-written kernels and as a fallback. Float64 and any layout a library
// call cannot express run the hand kernel instead.
//
//   bmm: cublasSgemmStridedBatched with CUBLAS_DEFAULT_MATH (no TF32), each operand read in place
//     when its inner stride is 1 (as either orientation), else through a contiguous copy.
//   conv: NCHW float32 descriptors, the deterministic algorithms (forward IMPLICIT_PRECOMP_GEMM,
//     backward data ALGO_1, backward filter ALGO_1), FP32 math without tensor-op conversions; the
//     workspace comes from the caching allocator.
// Errors name the file, the line and the call (CXR_CUBLAS_CHECK, CXR_CUDNN_CHECK).
#include <cublas_v2.h>
#include <cudnn.h>

#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace cxr::cuda {

[[noreturn]] static void throw_library_error(const char* library, const char* call, const char* what,
                                             const char* file, int line) {
  const char* op = OpScope::current();
  fail(file, ":", line, ": ", call, " failed: ", library, ": ", what, op ? " (in op " : "", op ? op : "",
       op ? ")" : "");
}

#define CXR_CUBLAS_CHECK(call)                                                                      \
  do {                                                                                              \
    const cublasStatus_t cxr_status_ = (call);                                                      \
    if (cxr_status_ != CUBLAS_STATUS_SUCCESS)                                                       \
      throw_library_error("cuBLAS", #call, cublasGetStatusString(cxr_status_), __FILE__, __LINE__); \
  } while (0)

#define CXR_CUDNN_CHECK(call)                                                                    \
  do {                                                                                           \
    const cudnnStatus_t cxr_status_ = (call);                                                    \
    if (cxr_status_ != CUDNN_STATUS_SUCCESS)                                                     \
      throw_library_error("cuDNN", #call, cudnnGetErrorString(cxr_status_), __FILE__, __LINE__); \
  } while (0)

namespace {

cublasHandle_t cublas() {
  static cublasHandle_t h = [] {
    cublasHandle_t handle = nullptr;
    CXR_CUBLAS_CHECK(cublasCreate(&handle));
    CXR_CUBLAS_CHECK(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH));  // FP32, no TF32
    return handle;
  }();
  CXR_CUBLAS_CHECK(cublasSetStream(h, stream()));
  return h;
}

cudnnHandle_t cudnn() {
  static cudnnHandle_t h = [] {
    cudnnHandle_t handle = nullptr;
    CXR_CUDNN_CHECK(cudnnCreate(&handle));
    return handle;
  }();
  CXR_CUDNN_CHECK(cudnnSetStream(h, stream()));
  return h;
}

// A column-major view of a row-major (rows x cols) matrix with strides (rs, cs): cuBLAS wants a
// leading dimension and an orientation; a row-major matrix is a transposed column-major one.
struct GemmOperand {
  bool ok = false;
  cublasOperation_t op = CUBLAS_OP_N;
  int64_t ld = 0;
};
GemmOperand as_cublas(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  // Seen as column-major (cols x rows) = the transpose: stride cs along the leading dim.
  if (cs == 1 && rs >= std::max<int64_t>(cols, 1)) return {true, CUBLAS_OP_N, rs};
  if (rs == 1 && cs >= std::max<int64_t>(rows, 1)) return {true, CUBLAS_OP_T, cs};
  return {};
}

}  // namespace

void cublas_bmm(const Tensor& a, const Tensor& b, const Tensor& out) {
  if (a.dtype() != DType::Float32 || !out.is_contiguous()) return bmm(a, b, out);
  const int64_t B = a.size(0), M = a.size(1), K = a.size(2), N = b.size(2);
  if (B == 0 || M == 0 || N == 0) return;
  if (K == 0) return fill(out, 0.0);
  Tensor A = a, Bm = b;
  GemmOperand ga = as_cublas(M, K, a.stride(1), a.stride(2));
  GemmOperand gb = as_cublas(K, N, b.stride(1), b.stride(2));
  if (!ga.ok) A = contiguous_values(a), ga = as_cublas(M, K, K, 1);
  if (!gb.ok) Bm = contiguous_values(b), gb = as_cublas(K, N, N, 1);
  // Row-major out = A B  <=>  column-major out^T = B^T A^T: cuBLAS computes (N x M) = B' (N x K) A' (K x M).
  const float one = 1.0f, zero = 0.0f;
  CXR_CUBLAS_CHECK(cublasSgemmStridedBatched(cublas(), gb.op, ga.op, int(N), int(M), int(K), &one,
                                             device_data<float>(Bm), int(gb.ld), B > 1 ? Bm.stride(0) : 0,
                                             device_data<float>(A), int(ga.ld), B > 1 ? A.stride(0) : 0, &zero,
                                             device_data<float>(out), int(N), M * N, int(B)));
}

namespace {

struct Descriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  Descriptors(const Shape& xs, const Shape& ws, const Shape& ys, const Conv2dParams& p) {
    CXR_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    CXR_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
    CXR_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    CXR_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    CXR_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(xs[0]), int(xs[1]),
                                               int(xs[2]), int(xs[3])));
    CXR_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(ys[0]), int(ys[1]),
                                               int(ys[2]), int(ys[3])));
    CXR_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, int(ws[0]), int(ws[1]),
                                               int(ws[2]), int(ws[3])));
    CXR_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, int(p.padding.h), int(p.padding.w), int(p.stride.h),
                                                    int(p.stride.w), int(p.dilation.h), int(p.dilation.w),
                                                    CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CXR_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, CUDNN_FMA_MATH));  // no TF32 tensor ops
  }
  ~Descriptors() {
    cudnnDestroyTensorDescriptor(x);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyConvolutionDescriptor(conv);
  }
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;
};

Tensor workspace(size_t bytes) { return empty({int64_t(std::max<size_t>(bytes, 1))}, {DType::Bool, Device::CUDA}); }

bool cudnn_covers(const Tensor& t) { return t.dtype() == DType::Float32 && t.dim() == 4; }

// out (N, C_out, H_out, W_out) = conv(x, w) [+ bias], on contiguous operands.
void forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out, const Conv2dParams& p) {
  const Tensor xc = contiguous_values(x), wc = contiguous_values(w);
  Descriptors d(xc.shape(), wc.shape(), out.shape(), p);
  const auto algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  size_t bytes = 0;
  CXR_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(cudnn(), d.x, d.w, d.conv, d.y, algo, &bytes));
  Tensor ws = workspace(bytes);
  const float one = 1.0f, zero = 0.0f;
  CXR_CUDNN_CHECK(cudnnConvolutionForward(cudnn(), &one, d.x, xc.data_ptr(), d.w, wc.data_ptr(), d.conv, algo,
                                          ws.data_ptr(), bytes, &zero, d.y, out.data_ptr()));
  if (bias.defined()) {
    cudnnTensorDescriptor_t b = nullptr;
    CXR_CUDNN_CHECK(cudnnCreateTensorDescriptor(&b));
    CXR_CUDNN_CHECK(cudnnSetTensor4dDescriptor(b, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, int(out.size(1)), 1, 1));
    const Tensor bc = contiguous_values(bias);
    CXR_CUDNN_CHECK(cudnnAddTensor(cudnn(), &one, b, bc.data_ptr(), &one, d.y, out.data_ptr()));
    cudnnDestroyTensorDescriptor(b);
  }
}

// grad_x (N, C_in, H, W) from grad_out and the weight: the adjoint of forward.
void backward_data(const Tensor& grad_out, const Tensor& w, const Tensor& grad_x, const Conv2dParams& p) {
  const Tensor gc = contiguous_values(grad_out), wc = contiguous_values(w);
  Descriptors d(grad_x.shape(), wc.shape(), gc.shape(), p);
  const auto algo = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;  // deterministic
  size_t bytes = 0;
  CXR_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(cudnn(), d.w, d.y, d.conv, d.x, algo, &bytes));
  Tensor ws = workspace(bytes);
  const float one = 1.0f, zero = 0.0f;
  CXR_CUDNN_CHECK(cudnnConvolutionBackwardData(cudnn(), &one, d.w, wc.data_ptr(), d.y, gc.data_ptr(), d.conv, algo,
                                               ws.data_ptr(), bytes, &zero, d.x, grad_x.data_ptr()));
}

}  // namespace

void cudnn_conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out, const Conv2dParams& p) {
  if (!cudnn_covers(x) || !out.is_contiguous() || x.numel() == 0 || out.numel() == 0) return conv2d(x, w, bias, out, p);
  forward(x, w, bias, out, p);
}

void cudnn_conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Tensor& grad_x, const Conv2dParams& p) {
  if (!cudnn_covers(grad_out) || !grad_x.is_contiguous() || grad_out.numel() == 0 || grad_x.numel() == 0)
    return conv2d_backward_input(grad_out, w, grad_x, p);
  backward_data(grad_out, w, grad_x, p);
}

void cudnn_conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Tensor& grad_w, const Conv2dParams& p) {
  if (!cudnn_covers(grad_out) || !grad_w.is_contiguous() || grad_out.numel() == 0 || x.numel() == 0)
    return conv2d_backward_weight(grad_out, x, grad_w, p);
  const Tensor gc = contiguous_values(grad_out), xc = contiguous_values(x);
  Descriptors d(xc.shape(), grad_w.shape(), gc.shape(), p);
  const auto algo = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;  // deterministic
  size_t bytes = 0;
  CXR_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnn(), d.x, d.y, d.conv, d.w, algo, &bytes));
  Tensor ws = workspace(bytes);
  const float one = 1.0f, zero = 0.0f;
  CXR_CUDNN_CHECK(cudnnConvolutionBackwardFilter(cudnn(), &one, d.x, xc.data_ptr(), d.y, gc.data_ptr(), d.conv, algo,
                                                 ws.data_ptr(), bytes, &zero, d.w, grad_w.data_ptr()));
}

// conv_transpose2d(x, w) is conv2d's backward data pass with x as the gradient: w (C_in, C_out, kH,
// kW) is the filter of a conv2d from C_out to C_in channels.
void cudnn_conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out,
                            const Conv2dParams& p) {
  if (!cudnn_covers(x) || !out.is_contiguous() || x.numel() == 0 || out.numel() == 0)
    return conv_transpose2d(x, w, bias, out, p);
  backward_data(x, w, out, p);
  if (bias.defined()) {
    cudnnTensorDescriptor_t b = nullptr, y = nullptr;
    CXR_CUDNN_CHECK(cudnnCreateTensorDescriptor(&b));
    CXR_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
    CXR_CUDNN_CHECK(cudnnSetTensor4dDescriptor(b, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, int(out.size(1)), 1, 1));
    CXR_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(out.size(0)),
                                               int(out.size(1)), int(out.size(2)), int(out.size(3))));
    const Tensor bc = contiguous_values(bias);
    const float one = 1.0f;
    CXR_CUDNN_CHECK(cudnnAddTensor(cudnn(), &one, b, bc.data_ptr(), &one, y, out.data_ptr()));
    cudnnDestroyTensorDescriptor(b);
    cudnnDestroyTensorDescriptor(y);
  }
}

}  // namespace cxr::cuda
