// cudnn_conv2d.cu — cuDNN on a pass of the convolution ladder's operands, the yardstick of
// cxr-kernels (conv2d.h): the backend's library kernels of library.cu (NCHW float32, the
// deterministic algorithms, FP32 math without tensor-op conversions). The emulated build has no
// cuDNN: there it throws.
#include "cuda/kernels/conv2d/conv2d.h"
#include "tensor/error.h"

#if !defined(CXR_CUDA_EMULATION)
#include "cuda/kernels.h"
#endif

namespace cxr::cuda {

void cudnn_conv2d_pass(ConvPass pass, const Tensor& a, const Tensor& b, const Tensor& out, const Conv2dParams& p) {
#if defined(CXR_CUDA_EMULATION)
  (void)a, (void)b, (void)out, (void)p;
  fail("conv2d ", conv_pass_name(pass), ": the emulated build has no cuDNN");
#else
  switch (pass) {
    case ConvPass::Forward: return cudnn_conv2d(a, b, Tensor(), out, p);
    case ConvPass::BackwardData: return cudnn_conv2d_backward_input(a, b, out, p);
    case ConvPass::BackwardWeight: return cudnn_conv2d_backward_weight(a, b, out, p);
  }
#endif
}

}  // namespace cxr::cuda
