// cudnn_softmax.cu — cuDNN on the ladder's own SoftmaxArgs, the yardstick of cxr-kernels
// (softmax.h): cudnnSoftmaxForward, CUDNN_SOFTMAX_ACCURATE (max-subtracted) or CUDNN_SOFTMAX_LOG,
// mode INSTANCE over an (rows, cols, 1, 1) float32 NCHW tensor: one softmax per row. cuDNN has no
// fused scale and mask, so a fused problem runs the ladder's scale-and-mask pass first (the
// unfused path with the library's softmax). The emulated build has no cuDNN: there it throws.
#include "cuda/kernels/softmax/softmax.h"

#if defined(CXR_CUDA_EMULATION)
#include "tensor/error.h"

namespace cxr::cuda {
void cudnn_softmax(const SoftmaxArgs&) { fail("softmax: the emulated build has no cuDNN"); }
}  // namespace cxr::cuda

#else
#include <cudnn.h>

#include "cuda/kernels/softmax/rows.cuh"

namespace cxr::cuda {
namespace {

void check_cudnn(cudnnStatus_t status, const char* call) {
  if (status != CUDNN_STATUS_SUCCESS) fail("softmax: ", call, " failed: cuDNN: ", cudnnGetErrorString(status));
}

}  // namespace

void cudnn_softmax(const SoftmaxArgs& args) {
  if (args.rows == 0 || args.cols == 0) return;
  CXR_CHECK(args.rows <= INT32_MAX && args.cols <= INT32_MAX && args.rows * args.cols <= INT32_MAX,
            "softmax: cuDNN takes 32-bit sizes, got rows=", args.rows, " cols=", args.cols);
  static cudnnHandle_t handle = [] {
    cudnnHandle_t h = nullptr;
    check_cudnn(cudnnCreate(&h), "cudnnCreate");
    return h;
  }();
  static cudnnTensorDescriptor_t desc = [] {
    cudnnTensorDescriptor_t d = nullptr;
    check_cudnn(cudnnCreateTensorDescriptor(&d), "cudnnCreateTensorDescriptor");
    return d;
  }();
  check_cudnn(cudnnSetStream(handle, stream()), "cudnnSetStream");
  const SoftmaxArgs a = softmax_rows_common::unfuse(args);
  check_cudnn(cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(a.rows), int(a.cols), 1, 1),
              "cudnnSetTensor4dDescriptor");
  const float one = 1.0f, zero = 0.0f;
  check_cudnn(cudnnSoftmaxForward(handle, a.log ? CUDNN_SOFTMAX_LOG : CUDNN_SOFTMAX_ACCURATE,
                                  CUDNN_SOFTMAX_MODE_INSTANCE, &one, desc, a.x, &zero, desc, a.out),
              "cudnnSoftmaxForward");
}

}  // namespace cxr::cuda
#endif
