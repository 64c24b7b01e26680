// vec.cpp — vec_impl.h compiled for the baseline instruction set, and the run-time choice.
#include "tensor/cpu/vec_impl.h"

namespace cxr::cpu {

#if defined(__x86_64__)
const VecKernels& vec_kernels_avx512();
const VecKernels& vec_kernels_avx2();
#endif

bool vec_unary_supported(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg:
    case UnaryOp::Abs:
    case UnaryOp::Relu:
    case UnaryOp::ReluMask:
    case UnaryOp::Sqrt:
    case UnaryOp::Rsqrt:
    case UnaryOp::Exp:
    case UnaryOp::Log:
    case UnaryOp::Tanh:
    case UnaryOp::Sigmoid:
    case UnaryOp::Softplus:
    case UnaryOp::Gelu:
    case UnaryOp::GeluDerivative:
      return true;
    default:
      return false;
  }
}

const VecKernels& vec_kernels(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::Avx512) return vec_kernels_avx512();
  if (isa == Isa::Avx2) return vec_kernels_avx2();
#endif
  (void)isa;
  static const VecKernels generic{make_vec_ops<float>(), make_vec_ops<double>()};
  return generic;
}

}  // namespace cxr::cpu
